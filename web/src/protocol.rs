//! Messages between the page and the worker.
//!
//! Every message travels as `{ msg, file? }`: `msg` is one of the enums below (serialised with
//! `serde-wasm-bindgen`, tagged by `type`), `file` an optional `Blob` that cannot go through
//! serde (see [`crate::transport`]).
//!
//! The protocol is method-neutral: [`ToWorker::Run`] carries the engine's [`SegmentParams`],
//! whose `method` is a [`engine::pipeline::MethodParams`] holding the method's own parameters.
//! A new method is a new `MethodParams` variant that travels inside `Run` as it is; the worker
//! answers a method it cannot run with [`FromWorker::Error`], never by running another one.
//! Method-specific results are optional fields of [`RunResult`] (the k curve is K-Means only).

use crate::url_state::Settings;
use engine::kmeans::KChoice;
use engine::labels::LegendEntry;
use engine::manifest::RunManifest;
use engine::naming::Suggestion;
use engine::pipeline::SegmentParams;
use engine::polygons::PolygonFormat;
use engine::progress::Stage;
use engine::relabel::Merge;
use engine::stats::ClassRow;
use serde::{Deserialize, Serialize};

/// Longest side, in pixels, of the display image and of the label overlay.
pub const PREVIEW_MAX_SIDE: u32 = 1024;

/// The name shown for the CPU path (and written in its runs' manifests).
pub const CPU_BACKEND: &str = "CPU (WebAssembly)";

/// Where the user wants the heavy work to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// The GPU through WebGPU when the browser has an adapter, else the CPU.
    #[default]
    Auto,
    /// WebGPU (the CPU still takes over when there is no adapter or the device is lost).
    Webgpu,
    /// The CPU (WebAssembly), even where WebGPU exists.
    Cpu,
}

impl BackendChoice {
    pub const ALL: [BackendChoice; 3] = [Self::Auto, Self::Webgpu, Self::Cpu];

    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Webgpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Auto => "Automatic (GPU if available)",
            Self::Webgpu => "WebGPU",
            Self::Cpu => "CPU (WebAssembly)",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The pool's size when the page does not set one: one worker per logical core, at most this
/// many (each holds its own reader and buffers).
pub const DEFAULT_MAX_WORKERS: usize = 8;

/// The most workers a page may ask for (`?workers=`).
pub const MAX_WORKERS: usize = 32;

/// What the page asks of the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Opens the `Blob` sent along as `file` and replies [`FromWorker::Opened`].
    Open {
        name: String,
        /// Bands to show (0-based), or the raster's default mapping.
        display: Option<[usize; 3]>,
        /// Whether to render the display image (a [`FromWorker::Preview`] after
        /// [`FromWorker::Opened`]); false when a fresh worker takes over the
        /// raster after a cancel and the page keeps the image it has.
        with_preview: bool,
        /// Workers that read and label the raster in parallel (the worker's pool); `None`:
        /// one per logical core, at most [`DEFAULT_MAX_WORKERS`].
        workers: Option<usize>,
        /// The settings a run would have now: while the display image is read and the user
        /// looks at the file panel, the worker reads the sample and fits K-Means with them (on
        /// the CPU, on its pool), and a `Run` with the same parameters starts from that fit.
        settings: Option<Box<Settings>>,
    },
    /// Renders the display image of the open raster again with other bands.
    Preview { display: [usize; 3] },
    /// Segments the open raster with the method and parameters of `params`; replies with
    /// progress and then [`FromWorker::Result`].
    Run { params: SegmentParams },
    /// Writes the label GeoTIFF of the last result with this legend (names and colours), after
    /// the class merges `merges` (in order, each on the classes the previous ones left; the
    /// legend is the one after them); replies [`FromWorker::Exported`].
    Export {
        legend: Vec<LegendEntry>,
        #[serde(default)]
        merges: Vec<Merge>,
    },
    /// Writes the class polygons of the last result in `format`, simplified with a tolerance
    /// of `simplify_m` metres, named and coloured after `legend`, after `merges` (as for
    /// [`ToWorker::Export`]); replies [`FromWorker::Polygons`] or
    /// [`FromWorker::PolygonsFailed`].
    Polygons {
        legend: Vec<LegendEntry>,
        #[serde(default)]
        merges: Vec<Merge>,
        format: PolygonFormat,
        simplify_m: f64,
    },
    /// Chooses where runs work (WebGPU or the CPU); replies [`FromWorker::Backend`].
    UseBackend { choice: BackendChoice },
    /// Starts the pool of `workers` that read and label in parallel (`None`: one per logical
    /// core, at most [`DEFAULT_MAX_WORKERS`]) unless it runs with that size; no reply. The page
    /// sends it first, so the helpers load while the user picks a file.
    UsePool { workers: Option<usize> },
}

/// What the worker tells the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker is listening; messages sent before this are queued by the page.
    Ready {
        backend: String,
    },
    /// The worker's warm-up (a run on synthetic rasters, so the first real run has optimised
    /// code) is done; sent only when it ran to the end, not when a message cut it short.
    WarmedUp,
    /// Where runs work from now on: the adapter's name or "CPU (WebAssembly)"; `note` says
    /// why the CPU was taken when the choice was not the CPU.
    Backend {
        name: String,
        gpu: bool,
        note: Option<String>,
    },
    /// The GPU failed during a run (device lost, allocation refused): the run goes on, and
    /// later runs work, on the CPU.
    Fallback {
        message: String,
    },
    /// What the file panel shows; the display image, when `Open` asked for it, follows in
    /// [`FromWorker::Preview`].
    Opened {
        info: Box<FileInfo>,
    },
    Preview {
        preview: Image,
    },
    /// `fraction` (0..=1) of `stage` is done.
    Progress {
        stage: Stage,
        fraction: f32,
    },
    Result(Box<RunResult>),
    /// What follows the result just sent (the map comes first): the suggested class names,
    /// read from the raster under the label preview, the k curve when it was still being
    /// drawn (on a helper, while the others labelled; `None`: the result's own), and the run
    /// manifest when the input's hash waited until the map was shown (the helpers labelled on
    /// every core; `None`: the result's own). It replaces the result's, whose input hash is
    /// empty, keeping the class merges made meanwhile.
    Details {
        k_curve: Option<Vec<KChoice>>,
        suggested_k: Option<usize>,
        suggestions: Vec<Option<Suggestion>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest: Option<String>,
    },
    /// The label GeoTIFF asked for by [`ToWorker::Export`]. Its bytes travel beside the
    /// message (the envelope's `file`, a transferred buffer), never through serde, whose
    /// tagged enums buffer every byte of a field as a value of its own.
    Exported,
    /// The answer to an [`ToWorker::Export`] that could not be written.
    ExportFailed {
        message: String,
    },
    /// The class polygons asked for by [`ToWorker::Polygons`]; the file travels beside the
    /// message, as for [`FromWorker::Exported`].
    Polygons {
        format: PolygonFormat,
        /// Polygons (regions) and vertices written.
        regions: usize,
        vertices: usize,
    },
    /// The answer to a [`ToWorker::Polygons`] that could not be written.
    PolygonsFailed {
        message: String,
    },
    /// A failure the user can act on (bad file, bad parameters); the text names the problem.
    Error {
        message: String,
    },
    /// Something unexpected: a panic in the worker. The page replaces the worker.
    Panic {
        message: String,
    },
}

impl FromWorker {
    /// Takes out the bytes this message carries (a display image's pixels, a result's label
    /// preview), which travel beside it in a transferred buffer: serde's tagged enums would
    /// buffer every byte as a value of its own, and cost about a second for a 1024² image.
    pub fn take_bytes(&mut self) -> Option<Vec<u8>> {
        match self {
            FromWorker::Preview { preview: image } => Some(std::mem::take(&mut image.pixels)),
            FromWorker::Result(result) => Some(std::mem::take(&mut result.labels)),
            _ => None,
        }
    }

    /// Puts back the bytes [`Self::take_bytes`] took out; false when this message carries none.
    pub fn put_bytes(&mut self, bytes: Vec<u8>) -> bool {
        match self {
            FromWorker::Preview { preview: image } => image.pixels = bytes,
            FromWorker::Result(result) => result.labels = bytes,
            _ => return false,
        }
        true
    }
}

/// An RGBA8 image (row-major) and how it maps onto the raster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Travels beside the message ([`FromWorker::take_bytes`]), not through serde.
    #[serde(skip)]
    pub pixels: Vec<u8>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Decimated labels on the grid of the display image (255 = nodata).
    pub label_width: u32,
    pub label_height: u32,
    /// Travels beside the message ([`FromWorker::take_bytes`]), not through serde.
    #[serde(skip)]
    pub labels: Vec<u8>,
    pub legend: Vec<LegendEntry>,
    pub rows: Vec<ClassRow>,
    /// The run manifest as JSON. Its input's `blake3` is empty while the details are pending
    /// when the hash waited until the map was shown ([`FromWorker::Details`] brings it).
    pub manifest: String,
    /// Inertia and silhouette for k = 2..=16 on the fitting sample, as the method clusters it.
    pub k_curve: Option<Vec<KChoice>>,
    /// The k the curve suggests, if any.
    pub suggested_k: Option<usize>,
    /// A suggested name for each class (by value) from its mean spectrum, where the bands
    /// allow one: shown for the user to take or edit, never as a classification.
    #[serde(default)]
    pub suggestions: Vec<Option<Suggestion>>,
    /// Whether the suggested names (and the k curve, if it has none) follow in
    /// [`FromWorker::Details`].
    #[serde(default)]
    pub details_pending: bool,
}

/// What the file panel shows about a raster, formatted in the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    pub name: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    /// Every band but alpha (0-based).
    pub data_bands: Vec<usize>,
    pub alpha_band: Option<usize>,
    pub sample_type: String,
    pub compression: String,
    pub crs_name: String,
    /// "EPSG:32617", or "—" for a user-defined CRS.
    pub epsg: String,
    pub pixel_size: String,
    pub extent: String,
    pub nodata: String,
    /// The default display mapping (0-based bands for red, green, blue): true colour wherever
    /// the file's band roles allow.
    pub display_bands: [usize; 3],
    /// The false-colour mapping (near infrared, red, green), where the file names those bands.
    #[serde(default)]
    pub false_colour: Option<[usize; 3]>,
}

/// `manifest` (JSON) with the input identity of `from`, the manifest of
/// [`FromWorker::Details`]: the hash that came after the map, with whatever the page recorded
/// meanwhile (class merges) kept. When either does not parse, `from` as it is.
pub fn with_input_of(manifest: &str, from: String) -> String {
    match (
        serde_json::from_str::<RunManifest>(manifest),
        serde_json::from_str::<RunManifest>(&from),
    ) {
        (Ok(mut kept), Ok(new)) => {
            kept.input = new.input;
            kept.to_json()
        }
        _ => from,
    }
}

#[cfg(test)]
mod tests {
    use engine::kmeans::model::KMeansParams;

    use super::*;

    #[test]
    fn images_and_label_previews_travel_beside_the_message() {
        let image = Image {
            width: 2,
            height: 1,
            pixels: vec![1, 2, 3, 255, 4, 5, 6, 255],
        };
        let mut msg = FromWorker::Preview {
            preview: image.clone(),
        };
        let bytes = msg.take_bytes().unwrap();
        assert_eq!(bytes, image.pixels);
        let text = serde_json::to_string(&msg).unwrap();
        assert!(!text.contains("pixels"), "{text}");
        let mut back: FromWorker = serde_json::from_str(&text).unwrap();
        assert!(back.put_bytes(bytes));
        assert_eq!(back, FromWorker::Preview { preview: image });

        let mut none = FromWorker::Progress {
            stage: engine::progress::Stage::Assigning,
            fraction: 0.5,
        };
        assert_eq!(none.take_bytes(), None);
        assert!(!none.put_bytes(vec![1]));
        assert_eq!(FromWorker::Exported.take_bytes(), None);
    }

    #[test]
    fn a_run_carries_its_method() {
        let msg = ToWorker::Run {
            params: SegmentParams::kmeans(KMeansParams {
                k: 5,
                ..KMeansParams::default()
            }),
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "run");
        assert_eq!(json["params"]["method"]["name"], "kmeans");
        assert_eq!(json["params"]["method"]["k"], 5);
        let back: ToWorker = serde_json::from_value(json).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn a_run_without_a_known_method_is_refused() {
        let json = serde_json::json!({
            "type": "run",
            "params": { "method": { "name": "no_such_method" } },
        });
        assert!(serde_json::from_value::<ToWorker>(json).is_err());
    }

    #[test]
    fn progress_names_its_stage_in_snake_case() {
        let msg = FromWorker::Progress {
            stage: Stage::BandStatistics,
            fraction: 0.5,
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["stage"], Stage::BandStatistics.label());
        assert_eq!(json["stage"], "band_statistics");
        assert_eq!(serde_json::from_value::<FromWorker>(json).unwrap(), msg);
    }

    #[test]
    fn polygons_name_their_format() {
        let msg = ToWorker::Polygons {
            legend: Vec::new(),
            merges: vec![Merge {
                classes: vec![1, 3],
                name: None,
            }],
            format: PolygonFormat::GeoJson,
            simplify_m: 15.0,
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "polygons");
        assert_eq!(json["format"], "geo_json");
        assert_eq!(serde_json::from_value::<ToWorker>(json).unwrap(), msg);
        let reply = FromWorker::Polygons {
            format: PolygonFormat::FlatGeobuf,
            regions: 3,
            vertices: 40,
        };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["format"], "flat_geobuf");
        assert_eq!(serde_json::from_value::<FromWorker>(json).unwrap(), reply);
    }

    #[test]
    fn a_result_may_have_no_k_curve() {
        let result = RunResult {
            label_width: 1,
            label_height: 1,
            labels: vec![0],
            legend: Vec::new(),
            rows: Vec::new(),
            manifest: String::new(),
            k_curve: None,
            suggested_k: None,
            suggestions: Vec::new(),
            details_pending: false,
        };
        let msg = FromWorker::Result(Box::new(result));
        let mut sent = msg.clone();
        let labels = sent.take_bytes().unwrap();
        let json = serde_json::to_value(&sent).unwrap();
        assert!(json["k_curve"].is_null());
        let mut back = serde_json::from_value::<FromWorker>(json).unwrap();
        assert!(back.put_bytes(labels));
        assert_eq!(back, msg);
    }
}
