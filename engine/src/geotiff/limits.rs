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
}

impl Limits {
    /// No bounds on sizes, chunks, directories or tags: for trusted input on machines with
    /// plenty of memory. The chunk cache, a budget rather than a bound, stays at 256 MiB.
    pub fn unlimited() -> Self {
        Self {
            max_window_bytes: usize::MAX,
            max_chunk_bytes: usize::MAX,
            max_ifds: usize::MAX,
            max_tag_bytes: usize::MAX,
            chunk_cache_bytes: 256 * MIB,
        }
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
        }
    }
}
