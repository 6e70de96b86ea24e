//! Resource bounds for decoding untrusted files.

const MIB: usize = 1024 * 1024;

/// Upper bounds on what decoding one file may allocate or walk.
///
/// Every size taken from a file is checked against these before anything is allocated. The
/// defaults suit a browser tab; [`Limits::unlimited`] lifts every bound on what a file may
/// declare.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest decoded window, in bytes (default 256 MiB).
    pub max_window_bytes: usize,
    /// Largest chunk (strip or tile), compressed or decoded, in bytes (default 64 MiB).
    pub max_chunk_bytes: usize,
    /// Most image file directories followed in the chain (default 1024).
    pub max_ifds: usize,
    /// Largest value of one tag, in bytes, e.g. a tile offset array (default 32 MiB).
    pub max_tag_bytes: usize,
    /// Decoded chunks kept for later windows, in bytes (default 32 MiB).
    pub chunk_cache_bytes: usize,
    /// Most pixels along either side of an image (default 4,194,304 = 2²²).
    pub max_side: u32,
    /// Most pixels of the full-resolution image, width × height (default 2³⁶, about 68.7
    /// billion).
    pub max_pixels: u64,
    /// Most pixels the full-resolution image may claim per byte of the file, once it has more
    /// than [`DENSITY_FREE_PIXELS`] (default 65,536: above what Deflate, LZW, JPEG or ZSTD reach
    /// on real imagery, constant tiles included). Only a file whose chunks are nearly all
    /// missing (sparse) claims more, and segmenting it would take time for pixels the file does
    /// not hold.
    pub max_pixels_per_byte: u64,
    /// Most memory the file's structure may claim, in bytes: every directory, every tag value
    /// as held after widening (a BYTE offset array becomes 8-byte offsets) and the chunk tables
    /// of every level, together (default 256 MiB). It is also held to
    /// [`STRUCTURE_BYTES_PER_FILE_BYTE`] times the file's length plus 1 MiB, which no file
    /// whose directories and arrays do not overlap ever needs.
    pub max_structure_bytes: usize,
}

/// How many bytes of structure (see [`Limits::max_structure_bytes`]) each byte of a file may
/// claim: 8 for widening the narrowest offset array to u64, doubled for slack.
pub const STRUCTURE_BYTES_PER_FILE_BYTE: u64 = 16;

/// Pixels any image may have whatever its file's length (see [`Limits::max_pixels_per_byte`]).
pub const DENSITY_FREE_PIXELS: u64 = 1 << 26;

/// Structure every file may claim whatever its length.
const STRUCTURE_BYTES_BASE: u64 = MIB as u64;

impl Limits {
    /// No bounds on sizes, chunks, directories, tags, dimensions or the structure's memory:
    /// for trusted input on machines with plenty of memory. The chunk cache, a budget rather
    /// than a bound, stays at 256 MiB.
    pub fn unlimited() -> Self {
        Self {
            max_window_bytes: usize::MAX,
            max_chunk_bytes: usize::MAX,
            max_ifds: usize::MAX,
            max_tag_bytes: usize::MAX,
            chunk_cache_bytes: 256 * MIB,
            max_side: u32::MAX,
            max_pixels: u64::MAX,
            max_pixels_per_byte: u64::MAX,
            max_structure_bytes: usize::MAX,
        }
    }

    /// The structure budget for a file of `file_len` bytes: the smaller of
    /// [`Limits::max_structure_bytes`] and [`STRUCTURE_BYTES_PER_FILE_BYTE`] × `file_len` + 1 MiB.
    pub(super) fn structure_budget(&self, file_len: u64) -> u64 {
        if self.max_structure_bytes == usize::MAX {
            return u64::MAX;
        }
        let relative = file_len
            .saturating_mul(STRUCTURE_BYTES_PER_FILE_BYTE)
            .saturating_add(STRUCTURE_BYTES_BASE);
        relative.min(self.max_structure_bytes as u64)
    }

    /// The equivalent bounds for the `tiff` crate's own decoder.
    pub(super) fn to_tiff(&self) -> tiff::decoder::Limits {
        let mut limits = tiff::decoder::Limits::default();
        limits.decoding_buffer_size = self.max_chunk_bytes;
        limits.intermediate_buffer_size = self.max_chunk_bytes;
        limits.ifd_value_size = self.max_tag_bytes;
        limits
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_window_bytes: 256 * MIB,
            max_chunk_bytes: 64 * MIB,
            max_ifds: 1024,
            max_tag_bytes: 32 * MIB,
            chunk_cache_bytes: 32 * MIB,
            max_side: 1 << 22,
            max_pixels: 1 << 36,
            max_pixels_per_byte: 1 << 16,
            max_structure_bytes: 256 * MIB,
        }
    }
}
