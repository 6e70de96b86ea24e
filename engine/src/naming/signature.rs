//! Class signatures: each class's mean raw band values over the full-resolution pixels a
//! [`LabelPreview`] samples, read from a bounded number of chunk rows.

use std::io::{Read, Seek};

use super::NamingError;
use crate::features::Validity;
use crate::geotiff::{GeoTiffReader, Layout};
use crate::labels::NODATA;
use crate::preview::LabelPreview;
use crate::progress::{self, Progress};
use crate::raster::Window;

/// Chunk rows (tile rows or strips) read in the evenly spread pass.
pub const SPREAD_CHUNK_ROWS: usize = 16;
/// Pixels the spread pass may decode when its chunk rows are small (strips of a few rows):
/// then it reads as many chunk rows as fit, beyond [`SPREAD_CHUNK_ROWS`].
pub const SPREAD_PIXELS: u64 = 1 << 24;
/// Chunk rows read at most, beyond the spread pass, for classes it did not meet.
pub const EXTRA_CHUNK_ROWS: usize = 16;
/// Pixels per class after which the spread pass stops early (every class has that many).
pub const ENOUGH_PIXELS: u64 = 4096;

/// One class's spectral signature: statistics of its pixels' raw band values (every band of
/// the file, in file order).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassSignature {
    /// Pixels read (valid, with this class in the preview).
    pub pixels: u64,
    /// Mean value per band; empty when no pixel was read.
    pub mean: Vec<f64>,
    /// Population variance per band; empty when no pixel was read.
    pub variance: Vec<f64>,
    /// The class's share of the preview's labelled pixels (its area share, estimated).
    pub share: f64,
}

impl ClassSignature {
    /// Whether any pixel was read.
    pub fn is_empty(&self) -> bool {
        self.pixels == 0
    }
}

/// The signatures of all classes of a run, by class value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Signatures {
    /// Bands per pixel of the file the values come from.
    pub bands: usize,
    pub classes: Vec<ClassSignature>,
}

impl Signatures {
    /// The scene's mean and standard deviation per band over all read classes, each class
    /// weighted by its area share (not by how many of its pixels happened to be read); `None`
    /// when no class has pixels.
    pub fn scene(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let read: Vec<&ClassSignature> = self.classes.iter().filter(|c| !c.is_empty()).collect();
        let total: f64 = read.iter().map(|c| c.share).sum();
        if read.is_empty() || total <= 0.0 {
            return None;
        }
        let mut mean = vec![0.0; self.bands];
        for c in &read {
            for (m, v) in mean.iter_mut().zip(&c.mean) {
                *m += c.share / total * v;
            }
        }
        let mut std = vec![0.0; self.bands];
        for c in &read {
            for (b, s) in std.iter_mut().enumerate() {
                let d = c.mean[b] - mean[b];
                *s += c.share / total * (c.variance[b] + d * d);
            }
        }
        Some((mean, std.into_iter().map(f64::sqrt).collect()))
    }
}

/// The preview columns that fall in one chunk column.
#[derive(Debug)]
struct ChunkColumn {
    /// First and last raster column sampled.
    first: u32,
    last: u32,
    /// (preview column, raster column) pairs.
    members: Vec<(u32, u32)>,
}

/// Running sums of one class.
#[derive(Debug, Clone)]
struct Sums {
    pixels: u64,
    sum: Vec<f64>,
    squares: Vec<f64>,
}

/// Signatures of `classes` classes over the full-resolution pixels that `preview` samples,
/// every band, nodata pixels ([`Validity`]) and nodata labels skipped.
///
/// **Cost.** The file is never decoded whole. Preview rows are grouped by the chunk row (tile
/// row or strip) they fall in; at most [`SPREAD_CHUNK_ROWS`] of those chunk rows (or, where
/// chunk rows are small, as many as hold [`SPREAD_PIXELS`]), spread evenly over the raster,
/// are read (each chunk once, the preview's rows in it one row at a time through the reader's
/// chunk cache), stopping early once every class of the preview has [`ENOUGH_PIXELS`]. A
/// class of the preview that none of them met gets at most [`EXTRA_CHUNK_ROWS`] more chunk
/// rows in all (the one holding most of its preview pixels). So what is decoded is at most
/// 16 chunk rows or 16 M pixels, whichever is more, plus 16 chunk rows; at most the preview's
/// pixels (1024² for a preview of 1024 per side) are converted. Cancellation is checked
/// between chunk rows.
///
/// # Errors
///
/// [`NamingError::PreviewSize`] when the preview is of another raster's size,
/// [`NamingError::Decode`] when pixels cannot be read, [`NamingError::Cancelled`].
pub fn signatures<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    preview: &LabelPreview,
    classes: usize,
    progress: &impl Progress,
) -> Result<Signatures, NamingError> {
    let info = reader.info().clone();
    if preview.raster_size() != (info.width, info.height) {
        return Err(NamingError::PreviewSize {
            preview: preview.raster_size(),
            raster: (info.width, info.height),
        });
    }
    let (gw, gh) = preview.size();
    let labels = preview.labels();
    let class_of = |l: u8| (l != NODATA && usize::from(l) < classes).then_some(usize::from(l));

    let mut cover = vec![0u64; classes];
    for &l in labels {
        if let Some(c) = class_of(l) {
            cover[c] += 1;
        }
    }
    let labelled: u64 = cover.iter().sum();

    let (chunk_w, chunk_h) = match info.layout {
        Layout::Strips { rows_per_strip } => (info.width, rows_per_strip),
        Layout::Tiles { width, height } => (width, height),
    };
    let (chunk_w, chunk_h) = (chunk_w.max(1), chunk_h.max(1));
    // Preview rows grouped by chunk row, in raster order.
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut last_chunk_row = None;
    for j in 0..gh {
        let r = preview.source_y(j) / chunk_h;
        if last_chunk_row == Some(r) {
            if let Some(group) = groups.last_mut() {
                group.push(j);
            }
        } else {
            groups.push(vec![j]);
            last_chunk_row = Some(r);
        }
    }
    // Preview columns grouped by chunk column.
    let mut columns: Vec<ChunkColumn> = Vec::new();
    for i in 0..gw {
        let x = preview.source_x(i);
        match columns.last_mut() {
            Some(column) if column.first / chunk_w == x / chunk_w => {
                column.last = x;
                column.members.push((i, x));
            }
            _ => columns.push(ChunkColumn {
                first: x,
                last: x,
                members: vec![(i, x)],
            }),
        }
    }

    let validity = Validity::of(&info);
    let bands = info.bands;
    let mut sums = vec![
        Sums {
            pixels: 0,
            sum: vec![0.0; bands],
            squares: vec![0.0; bands],
        };
        classes
    ];
    let mut read_group = |rows: &[u32], sums: &mut [Sums]| -> Result<(), NamingError> {
        for ChunkColumn {
            first,
            last,
            members,
        } in &columns
        {
            for &j in rows {
                let y = preview.source_y(j);
                let row = j as usize * gw as usize;
                if !members
                    .iter()
                    .any(|&(i, _)| class_of(labels[row + i as usize]).is_some())
                {
                    continue;
                }
                let block = reader.read_window(Window::new(*first, y, last - first + 1, 1))?;
                let valid = validity.mask(&block);
                for &(i, x) in members {
                    let Some(c) = class_of(labels[row + i as usize]) else {
                        continue;
                    };
                    let col = x - first;
                    if !valid[col as usize] {
                        continue;
                    }
                    let s = &mut sums[c];
                    s.pixels += 1;
                    for b in 0..bands {
                        let v = block.get(col, 0, b);
                        s.sum[b] += v;
                        s.squares[b] += v * v;
                    }
                }
            }
        }
        Ok(())
    };

    let mut visited = vec![false; groups.len()];
    let chunk_row_pixels = u64::from(chunk_h.min(info.height)) * u64::from(info.width);
    let most = usize::try_from(SPREAD_PIXELS / chunk_row_pixels.max(1))
        .unwrap_or(usize::MAX)
        .max(SPREAD_CHUNK_ROWS);
    for g in spread(groups.len(), most) {
        progress::check(progress)?;
        read_group(&groups[g], &mut sums)?;
        visited[g] = true;
        let enough = (0..classes).all(|c| cover[c] == 0 || sums[c].pixels >= ENOUGH_PIXELS);
        if enough {
            break;
        }
    }
    // Classes of the preview the spread pass did not meet: the unread chunk row holding most
    // of each one's preview pixels.
    let mut extra = 0;
    for c in 0..classes {
        if cover[c] == 0 || sums[c].pixels > 0 || extra >= EXTRA_CHUNK_ROWS {
            continue;
        }
        let best = groups
            .iter()
            .enumerate()
            .filter(|(g, _)| !visited[*g])
            .map(|(g, rows)| {
                let n = rows
                    .iter()
                    .flat_map(|&j| {
                        let row = j as usize * gw as usize;
                        &labels[row..row + gw as usize]
                    })
                    .filter(|&&l| class_of(l) == Some(c))
                    .count();
                (g, n)
            })
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(g, n)| (n, std::cmp::Reverse(g)));
        if let Some((g, _)) = best {
            progress::check(progress)?;
            read_group(&groups[g], &mut sums)?;
            visited[g] = true;
            extra += 1;
        }
    }

    let classes = sums
        .into_iter()
        .zip(&cover)
        .map(|(s, &cover)| {
            let share = if labelled > 0 {
                cover as f64 / labelled as f64
            } else {
                0.0
            };
            if s.pixels == 0 {
                return ClassSignature {
                    pixels: 0,
                    mean: Vec::new(),
                    variance: Vec::new(),
                    share,
                };
            }
            let n = s.pixels as f64;
            let mean: Vec<f64> = s.sum.iter().map(|v| v / n).collect();
            let variance = s
                .squares
                .iter()
                .zip(&mean)
                .map(|(q, m)| (q / n - m * m).max(0.0))
                .collect();
            ClassSignature {
                pixels: s.pixels,
                mean,
                variance,
                share,
            }
        })
        .collect();
    Ok(Signatures { bands, classes })
}

/// At most `most` of the indices `0..n`, spread evenly (each the middle of its `n / most`
/// stretch), in an order where every prefix is spread too (the bit-reversed order of the
/// stretches), so a pass that stops early has still seen the whole raster.
fn spread(n: usize, most: usize) -> Vec<usize> {
    let k = n.min(most);
    if k == 0 {
        return Vec::new();
    }
    let picks: Vec<usize> = (0..k).map(|s| (2 * s + 1) * n / (2 * k)).collect();
    let bits = usize::BITS - (k - 1).leading_zeros();
    (0..1usize << bits)
        .map(|i| i.reverse_bits() >> (usize::BITS - bits.max(1)))
        .filter(|&i| i < k)
        .map(|i| picks[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_covers_evenly_in_a_spread_order() {
        assert_eq!(spread(0, 16), Vec::<usize>::new());
        assert_eq!(spread(1, 16), vec![0]);
        assert_eq!(spread(3, 16), vec![0, 2, 1]);
        let s = spread(100, 16);
        assert_eq!(s.len(), 16);
        let mut sorted = s.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 16);
        assert_eq!((sorted[0], sorted[15]), (3, 96));
        // The first two halves of the order each cover the raster's two halves.
        assert!(s[0] < 50 && s[1] >= 50);
    }
}
