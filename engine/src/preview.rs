//! Display images: which bands make a true-colour (or false-colour) picture, a small RGB(A)
//! preview of a raster (from an overview when the file has a large enough one, else from full
//! resolution, decoding no more than a fixed budget of chunks whatever the file's size), a
//! decimated copy of the labels on the same grid, and labels coloured by a legend.

use std::io::{Read, Seek};

use crate::cnn::bands::{BandRole, BandRoles};
use crate::features::{Normaliser, Validity};
use crate::geotiff::{DecodeError, GeoTiffReader, RasterInfo};
use crate::labels::{LegendEntry, NODATA};
use crate::raster::{SampleType, Window};

/// Why a preview could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreviewError {
    #[error("display band {band} (0-based) does not exist: the raster has {bands} band(s)")]
    NoSuchBand { band: usize, bands: usize },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The bands (0-based) to show as red, green and blue for a true-colour picture.
///
/// Wherever the file says which band is which, the bands' spectral roles decide (the same
/// roles the CNN reads, see [`BandRoles::from_info`]): GDAL band descriptions ("B04", "Red"…),
/// the RGB colour interpretation, or the usual band orders of a band count (a 6-band Landsat
/// TM/ETM+ or a 7-band OLI file stores blue first, so it shows as bands 3, 2, 1, not 1, 2, 3).
/// A panchromatic band shows as grey. Without red, green and blue roles the first data bands
/// are shown ([`RasterInfo::display_bands`]).
pub fn true_colour(info: &RasterInfo) -> [usize; 3] {
    let Ok(roles) = BandRoles::from_info(info) else {
        return info.display_bands();
    };
    let band = |role| role_band(&roles, role);
    if let Some(pan) = band(BandRole::Pan) {
        return [pan; 3];
    }
    match (
        band(BandRole::Red),
        band(BandRole::Green),
        band(BandRole::Blue),
    ) {
        (Some(r), Some(g), Some(b)) => [r, g, b],
        _ => info.display_bands(),
    }
}

/// The bands of the usual false-colour picture (near infrared, red, green shown as red, green,
/// blue: vegetation bright red), where the file's band roles name those three bands.
pub fn false_colour(info: &RasterInfo) -> Option<[usize; 3]> {
    let roles = BandRoles::from_info(info).ok()?;
    let band = |role| role_band(&roles, role);
    Some([
        band(BandRole::Nir)?,
        band(BandRole::Red)?,
        band(BandRole::Green)?,
    ])
}

/// The file band that has `wanted` as its role.
fn role_band(roles: &BandRoles, wanted: BandRole) -> Option<usize> {
    roles
        .bands
        .iter()
        .find(|&&(_, role)| role == wanted)
        .map(|&(band, _)| band)
}

/// An 8-bit RGBA image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// A preview image and how it maps onto the raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub image: Rgba,
    /// Full-resolution raster pixels per preview pixel, along x and y.
    pub scale: (f64, f64),
    /// Whether every preview pixel is the raster pixel at its place on the decimation grid.
    /// `false` for a quick look: the chunks holding those pixels did not fit the
    /// [`PreviewBudget`], so each cell of a coarser grid shows one of its chunks, shrunk (or
    /// stretched) to fill the cell.
    pub exact: bool,
}

/// Most chunks (tiles or strips, each band plane of a planar file counted) a preview decodes by
/// default: 256 chunks cost little bookkeeping even when they are tiny (16×16 tiles), and
/// spread over a 16 × 16 grid they still show the layout of the whole raster.
pub const PREVIEW_CHUNK_BUDGET: usize = 256;

/// Most pixels of decoded chunks a preview decodes by default, 2²³ (8.4 million): 128 tiles of
/// 256², 32 of 512², or 32 strips of 16 rows of a 16384-pixel-wide raster; eight times the
/// pixels of a 1024² preview. It bounds the work where large chunks (whole-width strips, big
/// tiles) make the chunk count meaningless. Decoding a 256² Deflate RGB tile of imagery takes
/// about 0.6 ms natively and 4 to 7 times that in WebAssembly, so the first look of any raster
/// without a large enough overview takes about 0.1 s natively (a 16384² raster took 2 s when
/// every tile was decoded) and well under a second in the browser. Twice this budget would
/// keep a 4096² raster of 256² tiles exact, at the cost the browser found too slow (1.2 s).
pub const PREVIEW_PIXEL_BUDGET: u64 = 1 << 23;

/// How much decoding a preview may do; see [`render_preview_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewBudget {
    /// Most chunks decoded, each band plane of a planar file counted.
    pub chunks: usize,
    /// Most pixels of decoded chunks, each band plane of a planar file counted, full chunks
    /// counted even where they cross the raster's edge.
    pub pixels: u64,
}

impl Default for PreviewBudget {
    /// [`PREVIEW_CHUNK_BUDGET`] chunks and [`PREVIEW_PIXEL_BUDGET`] pixels.
    fn default() -> Self {
        Self {
            chunks: PREVIEW_CHUNK_BUDGET,
            pixels: PREVIEW_PIXEL_BUDGET,
        }
    }
}

impl PreviewBudget {
    /// How many chunk positions (each holding `planes` chunks of `chunk_pixels` pixels) fit;
    /// at least one, since a preview needs some pixels however large a chunk is.
    fn positions(&self, chunk_pixels: u64, planes: u64) -> u64 {
        let planes = planes.max(1);
        let by_count = self.chunks as u64 / planes;
        let by_pixels = self.pixels / chunk_pixels.saturating_mul(planes).max(1);
        by_count.min(by_pixels).max(1)
    }
}

/// Nearest-neighbour decimation of a `width` × `height` grid to at most `max_side` on its longer
/// side: every `step`-th pixel, starting half a step in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimation {
    step: u32,
    width: u32,
    height: u32,
}

impl Decimation {
    fn new(width: u32, height: u32, max_side: u32) -> Self {
        let step = width.max(height).div_ceil(max_side.max(1)).max(1);
        Self {
            step,
            width: width.div_ceil(step),
            height: height.div_ceil(step),
        }
    }

    /// The source coordinate sampled for preview coordinate `i` along an axis of `len` pixels.
    fn source(&self, i: u32, len: u32) -> u32 {
        i.saturating_mul(self.step)
            .saturating_add(self.step / 2)
            .min(len.saturating_sub(1))
    }

    /// Number of preview pixels.
    fn len(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Consecutive preview coordinates along one axis that are read from one chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    /// The chunk's index along the axis (its tile column or row, its strip).
    chunk: u32,
    /// The first preview coordinate of the span.
    first: u32,
    /// The level coordinate read for each preview coordinate from `first` on, ascending, all
    /// inside the chunk.
    sources: Vec<u32>,
}

/// One axis of the level being previewed: its length and its chunks' length, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Axis {
    len: u32,
    chunk: u32,
}

impl Axis {
    /// The decimation grid's samples along this axis (`n` of them), grouped by chunk.
    fn exact_spans(self, grid: &Decimation, n: u32) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for i in 0..n {
            let source = grid.source(i, self.len);
            let chunk = source / self.chunk.max(1);
            match spans.last_mut() {
                Some(span) if span.chunk == chunk => span.sources.push(source),
                _ => spans.push(Span {
                    chunk,
                    first: i,
                    sources: vec![source],
                }),
            }
        }
        spans
    }

    /// `groups` spans (at most `exact.len()`) standing for the `exact` ones: consecutive exact
    /// spans are grouped evenly, and each group's preview coordinates are read from the middle
    /// chunk of the group, spread evenly over it (half a step in, as [`Decimation`] samples).
    fn strided_spans(self, exact: &[Span], groups: usize) -> Vec<Span> {
        let n = exact.len();
        if n == 0 {
            return Vec::new();
        }
        let groups = groups.clamp(1, n);
        let mut spans = Vec::with_capacity(groups);
        let mut lo = 0;
        for g in 0..groups {
            let hi = (g + 1) * n / groups;
            let middle = (lo + hi).saturating_sub(1) / 2;
            let (Some(members), Some(middle)) = (exact.get(lo..hi), exact.get(middle)) else {
                continue;
            };
            let count: usize = members.iter().map(|span| span.sources.len()).sum();
            spans.push(Span {
                chunk: middle.chunk,
                first: members.first().map_or(0, |span| span.first),
                sources: self.spread(middle.chunk, count),
            });
            lo = hi;
        }
        spans
    }

    /// `count` coordinates spread evenly over chunk `chunk`, half a step in.
    fn spread(self, chunk: u32, count: usize) -> Vec<u32> {
        let start = chunk.saturating_mul(self.chunk);
        let len = u64::from(self.chunk.min(self.len.saturating_sub(start)).max(1));
        let count = count as u64;
        (0..count)
            .map(|k| start + ((2 * k + 1) * len / (2 * count)) as u32)
            .collect()
    }
}

/// Which level coordinates fill the preview, as spans along x and y, and whether they are the
/// decimation grid's own.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadPlan {
    columns: Vec<Span>,
    rows: Vec<Span>,
    exact: bool,
}

impl ReadPlan {
    /// The decimation grid's chunks when they fit `budget`, else an evenly strided grid of as
    /// many chunk positions as fit, in about the proportions of the needed ones; an axis
    /// whose needed chunks all stay keeps the decimation grid's coordinates.
    fn new(grid: &Decimation, x: Axis, y: Axis, planes: u64, budget: &PreviewBudget) -> Self {
        let columns = x.exact_spans(grid, grid.width);
        let rows = y.exact_spans(grid, grid.height);
        let chunk_pixels = u64::from(x.chunk) * u64::from(y.chunk);
        let positions = budget.positions(chunk_pixels, planes);
        let (nx, ny) = (columns.len() as u64, rows.len() as u64);
        if nx * ny <= positions {
            return Self {
                columns,
                rows,
                exact: true,
            };
        }
        let (kx, ky) = strided_grid(nx, ny, positions);
        let stride = |axis: Axis, spans: Vec<Span>, groups: u64| {
            if groups < spans.len() as u64 {
                axis.strided_spans(&spans, groups as usize)
            } else {
                spans
            }
        };
        Self {
            columns: stride(x, columns, kx),
            rows: stride(y, rows, ky),
            exact: false,
        }
    }
}

/// Spans along x and y (at most `nx` and `ny`, at least one each) whose product fits
/// `positions`, in about the proportion of `nx` to `ny`.
fn strided_grid(nx: u64, ny: u64, positions: u64) -> (u64, u64) {
    let share = (positions as f64 / (nx as f64 * ny as f64)).sqrt();
    let kx = ((nx as f64 * share).floor() as u64).clamp(1, nx.max(1));
    let ky = (positions / kx).clamp(1, ny.max(1));
    let kx = (positions / ky).clamp(1, nx.max(1));
    (kx, ky)
}

/// The display values (three per pixel) and validity of the preview's pixels, as read.
#[derive(Debug, Clone, PartialEq)]
struct Canvas {
    width: u32,
    /// Three display values per pixel, in `f32`: a display needs no more, and a 1024² canvas
    /// then takes 12 MiB of memory instead of 24.
    values: Vec<f32>,
    valid: Vec<bool>,
}

impl Canvas {
    fn new(grid: &Decimation) -> Self {
        Self {
            width: grid.width,
            values: vec![0.0f32; grid.len() * 3],
            valid: vec![false; grid.len()],
        }
    }
}

/// Reads a display image of at most `max_side` pixels on its longer side from `bands` (three
/// 0-based bands, repeated for grey), within the default [`PreviewBudget`]; see
/// [`render_preview_within`].
///
/// # Errors
///
/// [`PreviewError::NoSuchBand`] when a band is not one of the raster's, and
/// [`PreviewError::Decode`] when the pixels cannot be read.
pub fn render_preview<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    bands: [usize; 3],
    max_side: u32,
) -> Result<Preview, PreviewError> {
    render_preview_within(reader, bands, max_side, &PreviewBudget::default())
}

/// Reads a display image of at most `max_side` pixels on its longer side from `bands` (three
/// 0-based bands, repeated for grey), decoding no more chunks than `budget` allows.
///
/// Reads the smallest overview at least as large as the preview, else full resolution. When
/// the chunks holding the decimation grid's pixels fit `budget`, each is decoded once and the
/// preview is exact ([`Preview::exact`]); otherwise it is a quick look from an evenly strided
/// grid of chunks. 8-bit bands are shown as they are, other types stretched per band between
/// their 2nd and 98th percentile; nodata is transparent.
///
/// # Errors
///
/// [`PreviewError::NoSuchBand`] when a band is not one of the raster's, and
/// [`PreviewError::Decode`] when the pixels cannot be read.
pub fn render_preview_within<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    bands: [usize; 3],
    max_side: u32,
    budget: &PreviewBudget,
) -> Result<Preview, PreviewError> {
    let mut read = PreviewRead::new(reader, bands, max_side, budget)?;
    while read.read_row(reader)? {}
    Ok(read.finish())
}

/// A preview read row of chunks by row of chunks ([`render_preview_within`] in steps), so
/// that a caller whose reads are slow or asynchronous can fetch each row's bytes ahead
/// ([`PreviewRead::next_ranges`]).
#[derive(Debug)]
pub struct PreviewRead {
    level: usize,
    bands: [usize; 3],
    grid: Decimation,
    plan: ReadPlan,
    canvas: Canvas,
    validity: Validity,
    sample_type: SampleType,
    scale: (f64, f64),
    /// The next row of the plan to read.
    row: usize,
}

impl PreviewRead {
    /// Plans the preview of `bands` at most `max_side` on its longer side within `budget` (as
    /// [`render_preview_within`] does); nothing is read yet.
    ///
    /// # Errors
    ///
    /// [`PreviewError::NoSuchBand`] when a band is not one of the raster's.
    pub fn new<R: Read + Seek>(
        reader: &GeoTiffReader<R>,
        bands: [usize; 3],
        max_side: u32,
        budget: &PreviewBudget,
    ) -> Result<Self, PreviewError> {
        let info = reader.info();
        if let Some(&band) = bands.iter().find(|&&b| b >= info.bands) {
            return Err(PreviewError::NoSuchBand {
                band,
                bands: info.bands,
            });
        }
        let level = preview_level(info, max_side);
        let (lw, lh) = info.level_size(level).unwrap_or((info.width, info.height));
        let (cw, ch) = reader.chunk_size(level).unwrap_or((lw, lh));
        let grid = Decimation::new(lw, lh, max_side);
        let planes = if info.planar { info.bands as u64 } else { 1 };
        let x = Axis { len: lw, chunk: cw };
        let y = Axis { len: lh, chunk: ch };
        Ok(Self {
            level,
            bands,
            plan: ReadPlan::new(&grid, x, y, planes, budget),
            canvas: Canvas::new(&grid),
            validity: Validity::of(info),
            sample_type: info.sample_type,
            scale: (
                f64::from(info.width) / f64::from(grid.width),
                f64::from(info.height) / f64::from(grid.height),
            ),
            grid,
            row: 0,
        })
    }

    /// The file ranges `(offset, length)` that the next [`Self::read_row`] reads with `reader`
    /// as it is now (a row's chunks in one span where they lie close together in the file);
    /// empty once every row is read.
    pub fn next_ranges<R: Read + Seek>(&self, reader: &GeoTiffReader<R>) -> Vec<(u64, usize)> {
        let Some(rows) = self.plan.rows.get(self.row) else {
            return Vec::new();
        };
        let windows = self.row_windows(rows);
        match reader.prefetch_span(self.level, &windows, ROW_SPAN_BYTES) {
            Some(span) => vec![span],
            None => windows
                .iter()
                .flat_map(|&w| reader.ranges_to_read(self.level, w).unwrap_or_default())
                .collect(),
        }
    }

    /// Reads the next row of chunks into the preview; `false` when every row was read.
    ///
    /// # Errors
    ///
    /// [`PreviewError::Decode`] when the pixels cannot be read.
    pub fn read_row<R: Read + Seek>(
        &mut self,
        reader: &mut GeoTiffReader<R>,
    ) -> Result<bool, PreviewError> {
        let Some(rows) = self.plan.rows.get(self.row) else {
            return Ok(false);
        };
        // A row's chunks in one read where they lie close together in the file.
        reader.prefetch_windows(self.level, &self.row_windows(rows), ROW_SPAN_BYTES)?;
        for columns in &self.plan.columns {
            fill_cell(
                reader,
                self.level,
                self.bands,
                &self.validity,
                columns,
                rows,
                &mut self.canvas,
            )?;
        }
        self.row += 1;
        Ok(true)
    }

    /// The preview of the rows read.
    pub fn finish(self) -> Preview {
        let pixels = if self.sample_type == SampleType::U8 {
            rgba_u8(&self.canvas)
        } else {
            rgba(
                &display_normaliser(self.sample_type, &self.canvas),
                &self.canvas,
            )
        };
        Preview {
            image: Rgba {
                width: self.grid.width,
                height: self.grid.height,
                pixels,
            },
            scale: self.scale,
            exact: self.plan.exact,
        }
    }

    /// The level pixels the cells of one row of the plan read.
    fn row_windows(&self, rows: &Span) -> Vec<Window> {
        self.plan
            .columns
            .iter()
            .filter_map(|columns| cell_window(columns, rows))
            .collect()
    }
}

/// The smallest overview at least as large as a preview of at most `max_side` pixels of full
/// resolution, else 0 (full resolution).
fn preview_level(info: &RasterInfo, max_side: u32) -> usize {
    let full = Decimation::new(info.width, info.height, max_side);
    (1..info.levels())
        .filter_map(|l| info.level_size(l).map(|size| (l, size)))
        .filter(|(_, (w, h))| *w >= full.width && *h >= full.height)
        .min_by_key(|(_, (w, h))| u64::from(*w) * u64::from(*h))
        .map_or(0, |(l, _)| l)
}

/// Largest span of the file read at once for one row of a preview's chunks.
const ROW_SPAN_BYTES: usize = 8 << 20;

/// The level pixels [`fill_cell`] reads for `columns` × `rows`.
fn cell_window(columns: &Span, rows: &Span) -> Option<Window> {
    let (&left, &right) = (columns.sources.first()?, columns.sources.last()?);
    let (&top, &bottom) = (rows.sources.first()?, rows.sources.last()?);
    Some(Window::new(left, top, right - left + 1, bottom - top + 1))
}

/// Fills the preview pixels of `columns` × `rows`, which one chunk position holds, reading one
/// window per distinct source row (only the span's columns). The chunk is decoded once: the
/// reader keeps its newest chunk, and a planar file's band chunks of one position as long as
/// they fit its chunk cache together.
fn fill_cell<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    level: usize,
    bands: [usize; 3],
    validity: &Validity,
    columns: &Span,
    rows: &Span,
    canvas: &mut Canvas,
) -> Result<(), DecodeError> {
    let (Some(&left), Some(&right)) = (columns.sources.first(), columns.sources.last()) else {
        return Ok(());
    };
    let mut j = rows.first as usize;
    for run in rows.sources.chunk_by(|a, b| a == b) {
        let Some(&y) = run.first() else {
            continue;
        };
        let row = reader.read_window_at_level(level, Window::new(left, y, right - left + 1, 1))?;
        let mask = validity.mask(&row);
        for _ in run {
            let line = j * canvas.width as usize;
            for (i, &x) in columns.sources.iter().enumerate() {
                let p = line + columns.first as usize + i;
                let col = x - left;
                canvas.valid[p] = mask[col as usize];
                for (c, &b) in bands.iter().enumerate() {
                    canvas.values[p * 3 + c] = row.get(col, 0, b) as f32;
                }
            }
            j += 1;
        }
    }
    Ok(())
}

/// How the canvas' values become 0..1: 8-bit values as they are, others stretched per display
/// band between the 2nd and 98th percentile of its valid pixels.
fn display_normaliser(sample_type: SampleType, canvas: &Canvas) -> Normaliser {
    if sample_type == SampleType::U8 {
        return Normaliser::unit_u8(3);
    }
    let mut per_band: Vec<Vec<f64>> = (0..3)
        .map(|c| {
            canvas
                .values
                .chunks_exact(3)
                .zip(&canvas.valid)
                .filter(|(_, ok)| **ok)
                .map(|(v, _)| f64::from(v[c]))
                .collect()
        })
        .collect();
    Normaliser::fit(crate::normalise::Normalisation::Stretch, &mut per_band)
}

/// The canvas as RGBA bytes, nodata transparent.
fn rgba(normaliser: &Normaliser, canvas: &Canvas) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(canvas.valid.len() * 4);
    for (v, &ok) in canvas.values.chunks_exact(3).zip(&canvas.valid) {
        for (c, &x) in v.iter().enumerate() {
            pixels.push((normaliser.apply(c, f64::from(x)).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        pixels.push(if ok { 255 } else { 0 });
    }
    pixels
}

/// The canvas of 8-bit bands as RGBA bytes, nodata transparent: what [`rgba`] makes with the
/// 8-bit display normaliser (each value as it is), without its arithmetic per value.
fn rgba_u8(canvas: &Canvas) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(canvas.valid.len() * 4);
    for (v, &ok) in canvas.values.chunks_exact(3).zip(&canvas.valid) {
        // The values are 8-bit samples, exact in f32.
        pixels.extend([v[0] as u8, v[1] as u8, v[2] as u8, if ok { 255 } else { 0 }]);
    }
    pixels
}

/// A decimated copy of a label raster, filled unit by unit as the labels are produced, on the
/// grid [`render_preview`] uses for full resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPreview {
    raster: (u32, u32),
    grid: Decimation,
    labels: Vec<u8>,
}

impl LabelPreview {
    pub fn new(width: u32, height: u32, max_side: u32) -> Self {
        let grid = Decimation::new(width, height, max_side);
        Self {
            raster: (width, height),
            grid,
            labels: vec![NODATA; grid.len()],
        }
    }

    /// Takes the labels of `unit` (row-major, `unit.len()` of them).
    ///
    /// # Panics
    ///
    /// When `labels` holds fewer than `unit.len()` labels.
    pub fn add(&mut self, unit: Window, labels: &[u8]) {
        let samples = self.samples(unit, labels);
        self.add_samples(unit, &samples);
    }

    /// The labels of `unit` (its `labels`, row-major) that the preview keeps, in preview order:
    /// all another worker needs to send for [`Self::add_samples`].
    pub fn samples(&self, unit: Window, labels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.for_each_in(unit, |x, y, _| {
            let src = (y - unit.y) as usize * unit.width as usize + (x - unit.x) as usize;
            out.push(labels[src]);
        });
        out
    }

    /// Puts the [`Self::samples`] of `unit` in place (extra or missing samples are ignored).
    pub fn add_samples(&mut self, unit: Window, samples: &[u8]) {
        let mut next = samples.iter();
        let mut places = Vec::new();
        self.for_each_in(unit, |_, _, dst| places.push(dst));
        for dst in places {
            if let Some(&label) = next.next() {
                self.labels[dst] = label;
            }
        }
    }

    /// Calls `f(x, y, index)` for every preview pixel whose source pixel (`x`, `y`) lies in
    /// `unit`, in preview order (`index` into the preview's labels).
    fn for_each_in(&self, unit: Window, mut f: impl FnMut(u32, u32, usize)) {
        let (w, h) = self.raster;
        for j in 0..self.grid.height {
            let y = self.grid.source(j, h);
            if y < unit.y || y >= unit.bottom() {
                continue;
            }
            for i in 0..self.grid.width {
                let x = self.grid.source(i, w);
                if x >= unit.x && x < unit.right() {
                    f(x, y, j as usize * self.grid.width as usize + i as usize);
                }
            }
        }
    }

    /// Width and height of the preview grid.
    pub fn size(&self) -> (u32, u32) {
        (self.grid.width, self.grid.height)
    }

    /// Width and height of the label raster the preview samples.
    pub fn raster_size(&self) -> (u32, u32) {
        self.raster
    }

    /// The preview's labels so far, row-major ([`NODATA`] where no unit has been added).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raster column that preview column `i` samples.
    pub fn source_x(&self, i: u32) -> u32 {
        self.grid.source(i, self.raster.0)
    }

    /// The raster row that preview row `j` samples.
    pub fn source_y(&self, j: u32) -> u32 {
        self.grid.source(j, self.raster.1)
    }

    /// Width, height and labels of the preview.
    pub fn finish(self) -> (u32, u32, Vec<u8>) {
        (self.grid.width, self.grid.height, self.labels)
    }
}

/// Colours `labels` with `legend` at opacity `alpha`; nodata and labels beyond the legend are
/// transparent.
pub fn colorize(width: u32, height: u32, labels: &[u8], legend: &[LegendEntry], alpha: u8) -> Rgba {
    let mut pixels = Vec::with_capacity(labels.len() * 4);
    for &l in labels {
        match legend.get(usize::from(l)).filter(|_| l != NODATA) {
            Some(e) => pixels.extend_from_slice(&[e.colour[0], e.colour[1], e.colour[2], alpha]),
            None => pixels.extend_from_slice(&[0, 0, 0, 0]),
        }
    }
    Rgba {
        width,
        height,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::{Cursor, SeekFrom};
    use std::rc::Rc;

    use super::*;
    use crate::geotiff::Limits;
    use crate::labels::default_legend;

    #[test]
    fn decimation_covers_the_raster() {
        let d = Decimation::new(1000, 300, 256);
        assert_eq!((d.step, d.width, d.height), (4, 250, 75));
        assert_eq!(d.source(249, 1000), 998);
        let small = Decimation::new(50, 40, 256);
        assert_eq!((small.step, small.width, small.height), (1, 50, 40));
    }

    #[test]
    fn label_preview_takes_units_in_any_order() {
        let (w, h) = (10u32, 6u32);
        let all: Vec<u8> = (0..w * h).map(|i| (i % 7) as u8).collect();
        let mut whole = LabelPreview::new(w, h, 4);
        whole.add(Window::new(0, 0, w, h), &all);
        let mut parts = LabelPreview::new(w, h, 4);
        // As the worker's pool does it: each unit's samples taken by another preview.
        let mut sent = LabelPreview::new(w, h, 4);
        let elsewhere = LabelPreview::new(w, h, 4);
        for unit in [
            Window::new(5, 3, 5, 3),
            Window::new(0, 0, 5, 3),
            Window::new(5, 0, 5, 3),
            Window::new(0, 3, 5, 3),
        ] {
            let labels: Vec<u8> = (unit.y..unit.bottom())
                .flat_map(|y| (unit.x..unit.right()).map(move |x| (y, x)))
                .map(|(y, x)| all[(y * w + x) as usize])
                .collect();
            parts.add(unit, &labels);
            sent.add_samples(unit, &elsewhere.samples(unit, &labels));
        }
        assert_eq!(whole, parts);
        assert_eq!(whole, sent);
        assert_eq!((whole.size(), whole.raster_size()), ((4, 2), (10, 6)));
        assert_eq!((whole.source_x(3), whole.source_y(1)), (9, 4));
        assert_eq!(whole.labels()[4 + 3], all[(4 * w + 9) as usize]);
        assert!(!whole.finish().2.contains(&NODATA));
    }

    #[test]
    fn a_band_outside_the_raster_is_an_error() {
        use crate::geotiff::{GeoTiffWriter, WriterOptions};
        use crate::raster::Samples;
        let options = WriterOptions::new(3, 2, 2, SampleType::U8);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
        writer.write_strip(&Samples::U8((0..12).collect())).unwrap();
        let file = writer.finish().unwrap().into_inner();
        let mut reader = GeoTiffReader::open(Cursor::new(file)).unwrap();
        for bands in [[0, 1, 2], [2, 0, 0], [0, 0, usize::MAX]] {
            let err = render_preview(&mut reader, bands, 16).unwrap_err();
            assert!(
                matches!(err, PreviewError::NoSuchBand { bands: 2, .. }),
                "{bands:?}: {err}"
            );
        }
        let ok = render_preview(&mut reader, [1, 0, 1], 16).unwrap();
        assert_eq!((ok.image.width, ok.image.height), (3, 2));
        // Pixel (1, 0) holds samples 2 and 3: shown as red 3, green 2, blue 3.
        assert_eq!(&ok.image.pixels[4..8], &[3, 2, 3, 255]);
    }

    /// How a hand-made test image is cut into chunks.
    #[derive(Debug, Clone, Copy)]
    enum Cut {
        Tiles(u32),
        Strips(u32),
    }

    /// One image of a hand-made TIFF: `bits`-bit unsigned samples, pixel-interleaved,
    /// uncompressed, `pixel(x, y, band)` each.
    struct Image<'a> {
        width: u32,
        height: u32,
        bands: u16,
        bits: u16,
        cut: Cut,
        pixel: &'a dyn Fn(u32, u32, u16) -> u16,
    }

    impl Image<'_> {
        /// The stored chunks, in storage order (tiles padded with zeros past the edges).
        fn chunks(&self) -> Vec<Vec<u8>> {
            let (cw, ch) = match self.cut {
                Cut::Tiles(side) => (side, side),
                Cut::Strips(rows) => (self.width, rows),
            };
            let mut chunks = Vec::new();
            for y0 in (0..self.height).step_by(ch as usize) {
                for x0 in (0..self.width).step_by(cw as usize) {
                    let rows = match self.cut {
                        Cut::Tiles(_) => ch,
                        Cut::Strips(_) => ch.min(self.height - y0),
                    };
                    let mut bytes = Vec::new();
                    for y in y0..y0 + rows {
                        for x in x0..x0 + cw {
                            for b in 0..self.bands {
                                let inside = x < self.width && y < self.height;
                                let v = if inside { (self.pixel)(x, y, b) } else { 0 };
                                match self.bits {
                                    8 => bytes.push(v as u8),
                                    _ => bytes.extend(v.to_le_bytes()),
                                }
                            }
                        }
                    }
                    chunks.push(bytes);
                }
            }
            chunks
        }
    }

    /// A little-endian TIFF of `images`, the first full resolution and the others its
    /// overviews, with GDAL_NODATA `nodata` when given.
    fn tiff(images: &[Image<'_>], nodata: Option<&str>) -> Vec<u8> {
        const SHORT: u16 = 3;
        const LONG: u16 = 4;
        let mut file = b"II\x2a\x00\0\0\0\0".to_vec();
        let mut link = 4; // where the offset of the next directory goes
        for (n, image) in images.iter().enumerate() {
            let mut offsets = Vec::new();
            let mut counts = Vec::new();
            for chunk in image.chunks() {
                offsets.push(file.len() as u32);
                counts.push(chunk.len() as u32);
                file.extend(chunk);
            }
            let longs = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>();
            let shorts = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>();
            let bands = usize::from(image.bands);
            let rgb = image.bands == 3 && image.bits == 8;
            let mut entries: Vec<(u16, u16, u32, Vec<u8>)> = vec![
                (254, LONG, 1, longs(&[u32::from(n > 0)])),
                (256, LONG, 1, longs(&[image.width])),
                (257, LONG, 1, longs(&[image.height])),
                (258, SHORT, bands as u32, shorts(&vec![image.bits; bands])),
                (259, SHORT, 1, shorts(&[1])),
                (262, SHORT, 1, shorts(&[if rgb { 2 } else { 1 }])),
                (277, SHORT, 1, shorts(&[image.bands])),
                (284, SHORT, 1, shorts(&[1])),
            ];
            let chunks = offsets.len() as u32;
            match image.cut {
                Cut::Tiles(side) => entries.extend([
                    (322, LONG, 1, longs(&[side])),
                    (323, LONG, 1, longs(&[side])),
                    (324, LONG, chunks, longs(&offsets)),
                    (325, LONG, chunks, longs(&counts)),
                ]),
                Cut::Strips(rows) => entries.extend([
                    (273, LONG, chunks, longs(&offsets)),
                    (278, LONG, 1, longs(&[rows])),
                    (279, LONG, chunks, longs(&counts)),
                ]),
            }
            if let (0, Some(text)) = (n, nodata) {
                let mut ascii = text.as_bytes().to_vec();
                ascii.push(0);
                entries.push((42113, 2, ascii.len() as u32, ascii));
            }
            entries.sort_by_key(|e| e.0);
            let at = file.len() as u32;
            file[link..link + 4].copy_from_slice(&at.to_le_bytes());
            let mut values = at as usize + 2 + 12 * entries.len() + 4;
            let mut ifd = (entries.len() as u16).to_le_bytes().to_vec();
            let mut outside: Vec<u8> = Vec::new();
            for (tag, kind, count, bytes) in &entries {
                ifd.extend(tag.to_le_bytes());
                ifd.extend(kind.to_le_bytes());
                ifd.extend(count.to_le_bytes());
                if bytes.len() <= 4 {
                    let mut inline = bytes.clone();
                    inline.resize(4, 0);
                    ifd.extend(inline);
                } else {
                    ifd.extend((values as u32).to_le_bytes());
                    values += bytes.len();
                    outside.extend(bytes);
                }
            }
            link = file.len() + ifd.len();
            ifd.extend([0; 4]);
            file.extend(ifd);
            file.extend(outside);
        }
        file
    }

    /// Bytes and seeks made through a source, shared with the test that reads it.
    #[derive(Debug, Default)]
    struct Traffic {
        bytes: Cell<u64>,
        seeks: Cell<u64>,
    }

    /// A `Read + Seek` over a file in memory that counts what is read through it.
    struct Counting {
        file: Cursor<Vec<u8>>,
        traffic: Rc<Traffic>,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.file.read(buf)?;
            self.traffic.bytes.set(self.traffic.bytes.get() + n as u64);
            Ok(n)
        }
    }

    impl Seek for Counting {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.traffic.seeks.set(self.traffic.seeks.get() + 1);
            self.file.seek(pos)
        }
    }

    /// A reader of `file` (with `limits`) whose traffic after opening is counted.
    fn counted(file: Vec<u8>, limits: Limits) -> (GeoTiffReader<Counting>, Rc<Traffic>) {
        let traffic = Rc::new(Traffic::default());
        let source = Counting {
            file: Cursor::new(file),
            traffic: Rc::clone(&traffic),
        };
        let reader = GeoTiffReader::with_limits(source, limits).unwrap();
        traffic.bytes.set(0);
        traffic.seeks.set(0);
        (reader, traffic)
    }

    /// The preview as it was made before the read budget: the decimation grid of the chosen
    /// level, read one full-width row per preview row.
    fn row_by_row<R: Read + Seek>(
        reader: &mut GeoTiffReader<R>,
        bands: [usize; 3],
        max_side: u32,
    ) -> Rgba {
        let info = reader.info().clone();
        let level = preview_level(&info, max_side);
        let (lw, lh) = info.level_size(level).unwrap();
        let grid = Decimation::new(lw, lh, max_side);
        let validity = Validity::of(&info);
        let mut canvas = Canvas::new(&grid);
        for j in 0..grid.height {
            let window = Window::new(0, grid.source(j, lh), lw, 1);
            let row = reader.read_window_at_level(level, window).unwrap();
            let row_valid = validity.mask(&row);
            for i in 0..grid.width {
                let x = grid.source(i, lw);
                let p = j as usize * grid.width as usize + i as usize;
                canvas.valid[p] = row_valid[x as usize];
                for (c, &b) in bands.iter().enumerate() {
                    canvas.values[p * 3 + c] = row.get(x, 0, b) as f32;
                }
            }
        }
        Rgba {
            width: grid.width,
            height: grid.height,
            pixels: rgba(&display_normaliser(info.sample_type, &canvas), &canvas),
        }
    }

    #[test]
    fn a_quick_look_of_many_chunks_reads_a_fixed_share_of_them() {
        // 2048² RGB in 16×16 tiles: 16384 chunks, 12.6 MB.
        let pixel = |x: u32, y: u32, b: u16| match b {
            0 => (x / 16) as u16 + 1,
            1 => (y / 16) as u16 + 1,
            _ => 200,
        };
        let image = Image {
            width: 2048,
            height: 2048,
            bands: 3,
            bits: 8,
            cut: Cut::Tiles(16),
            pixel: &pixel,
        };
        let file = tiff(&[image], None);
        let len = file.len() as u64;
        let (mut reader, traffic) = counted(file, Limits::default());
        let p = render_preview(&mut reader, [0, 1, 2], 1024).unwrap();
        assert!(!p.exact);
        assert_eq!((p.image.width, p.image.height), (1024, 1024));
        // Each chunk the budget allows is read with at most one seek, and a small share of the
        // file is read (the reader reads ahead by up to 64 KiB on each seek).
        let (bytes, seeks) = (traffic.bytes.get(), traffic.seeks.get());
        assert!(seeks <= PREVIEW_CHUNK_BUDGET as u64, "{seeks} seeks");
        assert!(bytes * 5 < len, "{bytes} of {len} bytes read");
        // The 128 tile columns and rows fall into 16 cells of 8 along each axis; every preview
        // pixel shows a tile of its own cell, and has data.
        let grid = Decimation::new(2048, 2048, 1024);
        for (n, px) in p.image.pixels.chunks_exact(4).enumerate() {
            let (i, j) = (n as u32 % 1024, n as u32 / 1024);
            let (tx, ty) = (u32::from(px[0]) - 1, u32::from(px[1]) - 1);
            assert_eq!(tx / 8, grid.source(i, 2048) / 16 / 8, "pixel {i}, {j}");
            assert_eq!(ty / 8, grid.source(j, 2048) / 16 / 8, "pixel {i}, {j}");
            assert_eq!(&px[2..], &[200, 255]);
        }
    }

    #[test]
    fn a_quick_look_fills_each_cell_with_its_middle_chunk_shrunk() {
        use crate::geotiff::{GeoTiffWriter, WriterOptions};
        use crate::raster::Samples;
        // 1024² written by the engine (256² tiles: 4 × 4), each pixel telling where it lies.
        let (side, bands) = (1024u32, 3usize);
        let options = WriterOptions::new(side, side, bands, SampleType::U8);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
        for y0 in (0..side).step_by(256) {
            let strip: Vec<u8> = (y0..y0 + 256)
                .flat_map(|y| (0..side).flat_map(move |x| [(x / 8) as u8, (y / 8) as u8, 9]))
                .collect();
            writer.write_strip(&Samples::U8(strip)).unwrap();
        }
        let file = writer.finish().unwrap().into_inner();
        let mut reader = GeoTiffReader::open(Cursor::new(file)).unwrap();
        let budget = PreviewBudget {
            chunks: 4,
            pixels: u64::MAX,
        };
        let p = render_preview_within(&mut reader, [0, 1, 2], 256, &budget).unwrap();
        assert!(!p.exact);
        // 2 × 2 cells of 2 × 2 tiles, 128 preview pixels each way; each shows its first tile
        // (the middle one, rounding down), every other pixel of it.
        let source = |i: u32| (i / 128) * 512 + (i % 128) * 2 + 1;
        for (n, px) in p.image.pixels.chunks_exact(4).enumerate() {
            let (i, j) = (n as u32 % 256, n as u32 / 256);
            let expected = [(source(i) / 8) as u8, (source(j) / 8) as u8, 9, 255];
            assert_eq!(px, expected, "pixel {i}, {j}");
        }
    }

    #[test]
    fn previews_whose_chunks_fit_are_the_exact_decimation_each_chunk_read_once() {
        // u16 with nodata (0) in a corner, stretched; 8-bit RGB shown as it is.
        let wide = |x: u32, y: u32, b: u16| {
            if x < 40 && y < 30 {
                0
            } else {
                (x * 7 + y * 13 + u32::from(b) * 101) as u16 % 4000 + 1
            }
        };
        let rgb = |x: u32, y: u32, b: u16| ((x * 3 + y * 5) as u16 + b * 50) % 256;
        let cases: [(Image<'_>, u32); 4] = [
            // 19 × 13 = 247 tiles, all needed.
            (
                Image {
                    width: 300,
                    height: 200,
                    bands: 4,
                    bits: 16,
                    cut: Cut::Tiles(16),
                    pixel: &wide,
                },
                100,
            ),
            // Only some tiles hold samples (step 38 > 16).
            (
                Image {
                    width: 300,
                    height: 200,
                    bands: 3,
                    bits: 8,
                    cut: Cut::Tiles(16),
                    pixel: &rgb,
                },
                8,
            ),
            // Strips of 3 rows, a shorter last one.
            (
                Image {
                    width: 250,
                    height: 301,
                    bands: 4,
                    bits: 16,
                    cut: Cut::Strips(3),
                    pixel: &wide,
                },
                64,
            ),
            (
                Image {
                    width: 250,
                    height: 301,
                    bands: 3,
                    bits: 8,
                    cut: Cut::Strips(1),
                    pixel: &rgb,
                },
                200,
            ),
        ];
        for (n, (image, max_side)) in cases.into_iter().enumerate() {
            let file = tiff(&[image], Some("0"));
            let reference = {
                let mut reader = GeoTiffReader::open(Cursor::new(file.clone())).unwrap();
                row_by_row(&mut reader, [0, 1, 2], max_side)
            };
            let mut reader = GeoTiffReader::open(Cursor::new(file)).unwrap();
            let p = render_preview(&mut reader, [0, 1, 2], max_side).unwrap();
            assert!(p.exact, "case {n}");
            assert_eq!(p.image, reference, "case {n}");
            let transparent = p.image.pixels.chunks_exact(4).any(|px| px[3] == 0);
            assert_eq!(transparent, n % 2 == 0, "case {n}");
        }
    }

    #[test]
    fn each_row_of_an_exact_preview_is_read_at_once_each_chunk_once() {
        // Chunks of at least 64 KiB, which the reader reads without reading ahead. A row's
        // chunks come in one read, the chunks between them too when they are at most half of
        // it; each chunk is decoded once.
        let pixel = |x: u32, y: u32, b: u16| (x + 2 * y + u32::from(b)) as u16;
        let tiles = Image {
            width: 1000,
            height: 700,
            bands: 4,
            bits: 16,
            cut: Cut::Tiles(128),
            pixel: &pixel,
        };
        let strips = Image {
            width: 1000,
            height: 309,
            bands: 4,
            bits: 16,
            cut: Cut::Strips(20),
            pixel: &pixel,
        };
        // Step 200: columns 100, 300, 500, 700, 900 lie in tile columns 0, 2, 3, 5, 7 (of 8),
        // read as one span of all 8, and rows 100, 300, 500, 699 in tile rows 0, 2, 3, 5 (of
        // 6); step 10: every strip holds samples.
        let cases = [
            (tiles, 5, 4, 4 * 8 * 128 * 128 * 8),
            (strips, 100, 16, 1000 * 309 * 8),
        ];
        for (image, max_side, chunks, bytes) in cases {
            let file = tiff(&[image], None);
            let reference = {
                let mut reader = GeoTiffReader::open(Cursor::new(file.clone())).unwrap();
                row_by_row(&mut reader, [0, 1, 2], max_side)
            };
            // With room for a single chunk in the cache, a chunk used twice would be read twice.
            let one_chunk = Limits {
                chunk_cache_bytes: 1,
                ..Limits::default()
            };
            let (mut reader, traffic) = counted(file, one_chunk);
            let p = render_preview(&mut reader, [0, 1, 2], max_side).unwrap();
            assert!(p.exact);
            assert_eq!(p.image, reference);
            assert_eq!((traffic.seeks.get(), traffic.bytes.get()), (chunks, bytes));
        }
    }

    #[test]
    fn a_preview_read_row_by_row_reads_the_ranges_it_announces() {
        // Tiles of 128² 16-bit samples (at least 64 KiB, read without read-ahead), an exact
        // preview and a quick look of the same file.
        let pixel = |x: u32, y: u32, b: u16| (x * 7 + 3 * y + u32::from(b)) as u16;
        let image = Image {
            width: 1000,
            height: 700,
            bands: 3,
            bits: 16,
            cut: Cut::Tiles(128),
            pixel: &pixel,
        };
        let file = tiff(&[image], None);
        let quick_look = PreviewBudget {
            chunks: 6,
            pixels: u64::MAX,
        };
        for budget in [PreviewBudget::default(), quick_look] {
            let whole = {
                let mut reader = GeoTiffReader::open(Cursor::new(file.clone())).unwrap();
                render_preview_within(&mut reader, [0, 1, 2], 5, &budget).unwrap()
            };
            let (mut reader, traffic) = counted(file.clone(), Limits::default());
            let mut read = PreviewRead::new(&reader, [0, 1, 2], 5, &budget).unwrap();
            let mut rows = 0;
            loop {
                let announced = read.next_ranges(&reader);
                let (seeks, bytes) = (traffic.seeks.get(), traffic.bytes.get());
                if !read.read_row(&mut reader).unwrap() {
                    assert!(announced.is_empty());
                    break;
                }
                rows += 1;
                assert!(!announced.is_empty());
                assert_eq!(traffic.seeks.get() - seeks, announced.len() as u64);
                let announced_bytes: usize = announced.iter().map(|&(_, len)| len).sum();
                assert_eq!(traffic.bytes.get() - bytes, announced_bytes as u64);
            }
            assert!(rows > 1);
            let stepped = read.finish();
            assert_eq!(stepped.image, whole.image);
            assert_eq!(stepped.exact, whole.exact);
        }
    }

    #[test]
    fn a_quick_look_of_thin_strips_reads_evenly_spaced_strips() {
        // 512 × 4096 RGB in strips of one row: 4096 strips, 1024 of them hold samples.
        let pixel = |_: u32, y: u32, b: u16| if b == 0 { (y / 16) as u16 } else { 1 };
        let image = Image {
            width: 512,
            height: 4096,
            bands: 3,
            bits: 8,
            cut: Cut::Strips(1),
            pixel: &pixel,
        };
        let file = tiff(&[image], Some("0"));
        let len = file.len() as u64;
        let (mut reader, traffic) = counted(file.clone(), Limits::default());
        let p = render_preview(&mut reader, [0, 1, 2], 1024).unwrap();
        assert!(!p.exact);
        assert_eq!((p.image.width, p.image.height), (128, 1024));
        assert!(traffic.seeks.get() <= PREVIEW_CHUNK_BUDGET as u64);
        // 256 strips, each standing for 4 preview rows, one of them its own.
        let grid = Decimation::new(512, 4096, 1024);
        for (n, px) in p.image.pixels.chunks_exact(4).enumerate() {
            let j = n as u32 / 128;
            let shown = grid.source(j - j % 4 + 1, 4096);
            assert_eq!(px, [(shown / 16) as u8, 1, 1, 255], "row {j}");
        }
        // 16 strips 256 rows apart: each read with one seek, at most 64 KiB read ahead.
        let (mut reader, traffic) = counted(file, Limits::default());
        let budget = PreviewBudget {
            chunks: 16,
            pixels: u64::MAX,
        };
        let p = render_preview_within(&mut reader, [0, 1, 2], 1024, &budget).unwrap();
        assert!(p.image.pixels.chunks_exact(4).all(|px| px[3] == 255));
        let (bytes, seeks) = (traffic.bytes.get(), traffic.seeks.get());
        assert!(seeks <= 16, "{seeks} seeks");
        assert!(
            bytes <= 16 * 65536 && bytes * 6 < len,
            "{bytes} of {len} bytes"
        );
    }

    #[test]
    fn a_large_enough_overview_is_the_only_level_read() {
        let full = |_: u32, _: u32, _: u16| 10;
        let overview = |x: u32, y: u32, b: u16| ((x + y) as u16 + b) % 200 + 20;
        let images = [
            Image {
                width: 2048,
                height: 1536,
                bands: 3,
                bits: 8,
                cut: Cut::Tiles(16),
                pixel: &full,
            },
            Image {
                width: 512,
                height: 384,
                bands: 3,
                bits: 8,
                cut: Cut::Tiles(256),
                pixel: &overview,
            },
        ];
        let overview_bytes: u64 = images[1].chunks().iter().map(|c| c.len() as u64).sum();
        let file = tiff(&images, None);
        let reference = {
            let mut reader = GeoTiffReader::open(Cursor::new(file.clone())).unwrap();
            row_by_row(&mut reader, [0, 1, 2], 300)
        };
        let (mut reader, traffic) = counted(file, Limits::default());
        let p = render_preview(&mut reader, [0, 1, 2], 300).unwrap();
        assert!(p.exact);
        assert_eq!((p.image.width, p.image.height), (256, 192));
        assert_eq!(p.image, reference);
        assert!(!p.image.pixels.chunks_exact(4).any(|px| px[0] == 10));
        // Its 2 × 2 tiles of 192 KiB, each read once, a row of them with one seek.
        assert_eq!(
            (traffic.seeks.get(), traffic.bytes.get()),
            (2, overview_bytes)
        );
    }

    #[test]
    fn budgets_fit_at_least_one_chunk_position() {
        let budget = PreviewBudget::default();
        assert_eq!(budget.positions(256 * 256, 1), 128);
        assert_eq!(budget.positions(16 * 16, 1), 256);
        assert_eq!(budget.positions(16 * 16, 4), 64);
        assert_eq!(budget.positions(16384 * 16, 1), 32);
        assert_eq!(budget.positions(u64::MAX, 3), 1);
        assert_eq!(strided_grid(128, 128, 256), (16, 16));
        assert_eq!(strided_grid(1, 1024, 256), (1, 256));
        assert_eq!(strided_grid(16, 16, 128), (11, 11));
    }

    #[test]
    fn read_plans_stride_only_the_axes_that_do_not_fit() {
        // 1-row strips of a 512 × 4096 raster: one chunk across, 1024 rows of strips needed.
        let grid = Decimation::new(512, 4096, 1024);
        let x = Axis {
            len: 512,
            chunk: 512,
        };
        let y = Axis {
            len: 4096,
            chunk: 1,
        };
        let plan = ReadPlan::new(&grid, x, y, 1, &PreviewBudget::default());
        assert!(!plan.exact);
        assert_eq!(plan.columns, x.exact_spans(&grid, grid.width));
        assert_eq!(plan.rows.len(), 256);
        let firsts: Vec<u32> = plan.rows.iter().map(|span| span.first).take(3).collect();
        assert_eq!(firsts, [0, 4, 8]);
        // Each strip stands for four preview rows: the second of its group of strips.
        assert_eq!(plan.rows[1].chunk, grid.source(5, 4096));
        assert_eq!(plan.rows[1].sources, [plan.rows[1].chunk; 4]);
    }

    /// Times the preview the web app renders (1024 px) of the benchmark rasters in
    /// `~/.cache/mapseg-bench`, when they are there, each with a fresh reader: the old
    /// row-by-row read, the budgeted preview, and the exact one without a budget.
    /// `cargo test -p engine --lib preview_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "times local benchmark rasters"]
    fn preview_timing() {
        let Some(home) = std::env::var_os("HOME") else {
            return;
        };
        let dir = std::path::PathBuf::from(home).join(".cache/mapseg-bench");
        let unbounded = PreviewBudget {
            chunks: usize::MAX,
            pixels: u64::MAX,
        };
        for name in ["yell_4096.tif", "yell_16384.tif"] {
            let path = dir.join(name);
            if !path.exists() {
                eprintln!("{name}: absent, skipped");
                continue;
            }
            let open = || {
                let file = std::fs::File::open(&path).unwrap();
                GeoTiffReader::open(std::io::BufReader::new(file)).unwrap()
            };
            let bands = true_colour(open().info());
            let start = std::time::Instant::now();
            row_by_row(&mut open(), bands, 1024);
            let old = start.elapsed().as_secs_f64();
            let start = std::time::Instant::now();
            let quick = render_preview(&mut open(), bands, 1024).unwrap();
            let budgeted = start.elapsed().as_secs_f64();
            let start = std::time::Instant::now();
            render_preview_within(&mut open(), bands, 1024, &unbounded).unwrap();
            let exact = start.elapsed().as_secs_f64();
            eprintln!(
                "{name}: row by row {old:.3} s, budgeted {budgeted:.3} s (exact: {}), \
                 exact without budget {exact:.3} s",
                quick.exact
            );
        }
    }

    #[test]
    fn eight_bit_canvases_make_the_bytes_of_the_display_normaliser() {
        let values: Vec<f32> = (0..=255u8)
            .flat_map(|v| [f32::from(v), 0.0, 255.0])
            .collect();
        let canvas = Canvas {
            width: 16,
            valid: (0..256).map(|i| i % 5 != 0).collect(),
            values,
        };
        let normaliser = display_normaliser(SampleType::U8, &canvas);
        assert_eq!(rgba_u8(&canvas), rgba(&normaliser, &canvas));
    }

    #[test]
    fn colorize_makes_nodata_transparent() {
        let img = colorize(2, 1, &[1, NODATA], &default_legend(2), 200);
        assert_eq!(&img.pixels[..4], &[255, 127, 14, 200]);
        assert_eq!(&img.pixels[4..], &[0, 0, 0, 0]);
    }
}
