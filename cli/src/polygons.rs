//! Class polygons: `mapseg segment --polygons` and `mapseg polygons` (from a label GeoTIFF).
//!
//! The file's extension picks the format: `.fgb` (FlatGeobuf in the raster's CRS) or
//! `.geojson` / `.json` (GeoJSON in WGS 84). Polygons are written like every other output,
//! through a temporary file renamed into place once complete.

use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use engine::geotiff::{GeoReference, RasterInfo};
use engine::labels::{LegendEntry, default_legend};
use engine::pipeline::{SegmentError, UnitSink};
use engine::polygons::{
    PolygonFormat, PolygonLimits, SourceCrs, Topology, Tracer, write_flatgeobuf, write_geojson,
};
use engine::progress::{Progress, Stage};
use engine::raster::{Samples, Window};

use crate::args::PolygonsArgs;
use crate::info::open;
use crate::output;
use crate::progress::{Bar, Cancel};

/// What `--polygons` and `--simplify` ask for, checked before any work.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub path: &'a Path,
    pub format: PolygonFormat,
    pub simplify_m: f64,
}

impl<'a> Request<'a> {
    /// The request for `path` (`None`: no polygons; `--simplify` alone is refused), checked
    /// against the raster `info` describes: a known extension, a tolerance ≥ 0,
    /// georeferencing, and for GeoJSON a CRS that can be reprojected to WGS 84.
    pub fn new(
        path: Option<&'a Path>,
        simplify_m: Option<f64>,
        info: &RasterInfo,
    ) -> anyhow::Result<Option<Request<'a>>> {
        let Some(path) = path else {
            if simplify_m.is_some() {
                bail!("--simplify applies to --polygons only");
            }
            return Ok(None);
        };
        let format = path
            .extension()
            .and_then(|e| e.to_str())
            .and_then(PolygonFormat::from_extension)
            .with_context(|| {
                format!(
                    "--polygons {}: the file name must end in .fgb (FlatGeobuf, in the raster's CRS) or .geojson (GeoJSON, in WGS 84)",
                    path.display()
                )
            })?;
        let simplify_m = simplify_m.unwrap_or(0.0);
        if !simplify_m.is_finite() || simplify_m < 0.0 {
            bail!("--simplify must be a number of metres ≥ 0 (got {simplify_m})");
        }
        let georef = georef(info)?;
        if format == PolygonFormat::GeoJson {
            SourceCrs::of(georef).context("--polygons: GeoJSON needs WGS 84 coordinates")?;
        }
        Ok(Some(Request {
            path,
            format,
            simplify_m,
        }))
    }

    /// A tracer for the raster `info` describes.
    pub fn tracer(&self, info: &RasterInfo) -> anyhow::Result<Tracer> {
        Ok(Tracer::new(
            info.width,
            info.height,
            info.georef.as_ref(),
            PolygonLimits::DEFAULT,
        )?)
    }

    /// Simplifies `topology` and writes it, named and coloured after `legend`, through a
    /// temporary file that is renamed onto the target when `persist` is called.
    pub fn write(
        &self,
        topology: &Topology,
        legend: &[LegendEntry],
        bar: &Bar,
    ) -> anyhow::Result<Written> {
        let start = Instant::now();
        let polygons = topology
            .simplify(self.simplify_m, bar)
            .context("polygons failed")?;
        let tmp = output::temporary_beside(self.path)?;
        let sink = BufWriter::with_capacity(1 << 20, tmp.reopen()?);
        let sink = match self.format {
            PolygonFormat::FlatGeobuf => write_flatgeobuf(&polygons, legend, sink, bar),
            PolygonFormat::GeoJson => write_geojson(&polygons, legend, sink, bar),
        }
        .with_context(|| format!("cannot write {}", self.path.display()))?;
        sink.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(Written {
            tmp,
            vertices: polygons.vertices(),
            regions: topology.regions(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

/// Polygons written to a temporary file, waiting to be renamed onto their target.
#[derive(Debug)]
pub struct Written {
    tmp: tempfile::NamedTempFile,
    /// Vertices after simplification.
    pub vertices: usize,
    pub regions: usize,
    pub seconds: f64,
}

impl Written {
    pub fn persist(self, path: &Path) -> anyhow::Result<()> {
        self.tmp
            .persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

fn georef(info: &RasterInfo) -> anyhow::Result<&GeoReference> {
    info.georef
        .as_ref()
        .context("--polygons needs a georeferenced raster: this one has no CRS or transform")
}

/// The labels of one unit, kept (when `keep`) for the tracer on the main thread, which must
/// see the units in order.
#[derive(Debug, Default)]
pub struct UnitLabels {
    pub keep: bool,
    pub labels: Option<(Window, Vec<u8>)>,
}

impl UnitSink for UnitLabels {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        if self.keep {
            self.labels = Some((unit, labels.to_vec()));
        }
        Ok(())
    }
}

/// `mapseg polygons`: the classes of a label GeoTIFF (1 band, u8, 255 nodata) as polygons.
pub fn run(args: &PolygonsArgs, cancel: &Cancel) -> anyhow::Result<()> {
    let start = Instant::now();
    output::check_distinct(&args.input, &[("the output", args.output.as_path())])?;
    let mut reader = open(&args.input)?;
    let info = reader.info().clone();
    let request =
        Request::new(Some(&args.output), Some(args.simplify), &info)?.context("no output")?;
    if info.bands != 1 || info.sample_type != engine::raster::SampleType::U8 {
        bail!(
            "{} is not a label raster: it has {} {} band(s), not one u8 band",
            args.input.display(),
            info.bands,
            info.sample_type.name()
        );
    }
    let bar = Bar::new(args.quiet, cancel.clone());
    let mut tracer = request.tracer(&info)?;
    let strip = 256u32;
    let mut max_label = 0u8;
    for y in (0..info.height).step_by(strip as usize) {
        bar.check()?;
        bar.report(Stage::Assigning, y as f32 / info.height as f32);
        let window = Window::new(0, y, info.width, strip.min(info.height - y));
        let block = reader
            .read_window(window)
            .with_context(|| format!("cannot read {}", args.input.display()))?;
        let Samples::U8(labels) = block.samples else {
            bail!("{} is not a u8 raster", args.input.display());
        };
        max_label = labels
            .iter()
            .filter(|&&l| l != engine::labels::NODATA)
            .fold(max_label, |m, &l| m.max(l));
        tracer.add_rows(y, &labels)?;
    }
    let topology = tracer.finish()?;
    // The file's names and colours (a relabelled raster's merged names), defaults beyond them.
    let mut legend = crate::relabel::file_legend(&info);
    let classes = usize::from(max_label) + 1;
    if legend.len() < classes {
        let known = legend.len();
        legend.extend(default_legend(classes).into_iter().skip(known));
    }
    let written = request.write(&topology, &legend, &bar)?;
    bar.check()?;
    let (vertices, regions) = (written.vertices, written.regions);
    written.persist(&args.output)?;
    bar.finish();
    if !args.quiet {
        println!(
            "wrote {} in {:.2} s: {regions} polygons, {vertices} vertices",
            args.output.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
