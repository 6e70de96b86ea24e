//! Messages between the page and the worker.
//!
//! Every message travels as `{ msg, file? }`: `msg` is one of the enums below (serialised with
//! `serde-wasm-bindgen`, tagged by `type`), `file` an optional `Blob` that cannot go through
//! serde (see [`crate::transport`]). The protocol is method-neutral: a run names its method, so
//! a later CNN/WebGPU path adds a variant of [`Method`] and nothing else changes shape.

use engine::kmeans::KChoice;
use engine::labels::LegendEntry;
use engine::pipeline::SegmentParams;
use engine::stats::ClassRow;
use serde::{Deserialize, Serialize};

/// Longest side, in pixels, of the display image and of the label overlay.
pub const PREVIEW_MAX_SIDE: u32 = 1024;

/// The segmentation method of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// K-Means on the CPU (WebAssembly).
    #[default]
    Kmeans,
}

/// What the page asks of the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Opens the `Blob` sent along as `file` and replies [`FromWorker::Opened`].
    Open {
        name: String,
        /// Bands to show (0-based), or the raster's default mapping.
        display: Option<[usize; 3]>,
        /// Whether to render the display image; false when a fresh worker takes over the
        /// raster after a cancel and the page keeps the image it has.
        with_preview: bool,
    },
    /// Renders the display image of the open raster again with other bands.
    Preview { display: [usize; 3] },
    /// Segments the open raster; replies with progress and then [`FromWorker::Result`].
    Run {
        method: Method,
        params: SegmentParams,
    },
    /// Writes the label GeoTIFF of the last result with this legend (names and colours);
    /// replies [`FromWorker::Exported`].
    Export { legend: Vec<LegendEntry> },
}

/// What the worker tells the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker is listening; messages sent before this are queued by the page.
    Ready {
        backend: String,
    },
    Opened {
        info: Box<FileInfo>,
        /// The display image, when it was asked for.
        preview: Option<Image>,
    },
    Preview {
        preview: Image,
    },
    Progress {
        stage: String,
        fraction: f32,
    },
    Result(Box<RunResult>),
    Exported {
        #[serde(with = "serde_bytes")]
        geotiff: Vec<u8>,
    },
    /// The answer to an [`ToWorker::Export`] that could not be written.
    ExportFailed {
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

/// An RGBA8 image (row-major) and how it maps onto the raster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    #[serde(with = "serde_bytes")]
    pub pixels: Vec<u8>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Decimated labels on the grid of the display image (255 = nodata).
    pub label_width: u32,
    pub label_height: u32,
    #[serde(with = "serde_bytes")]
    pub labels: Vec<u8>,
    pub legend: Vec<LegendEntry>,
    pub rows: Vec<ClassRow>,
    /// The run manifest as JSON.
    pub manifest: String,
    /// Inertia and silhouette for k = 2..=16 on the fitting sample.
    pub k_curve: Vec<KChoice>,
    pub suggested_k: Option<usize>,
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
    /// The default display mapping (0-based bands for red, green, blue).
    pub display_bands: [usize; 3],
}
