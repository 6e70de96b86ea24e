//! Positioned reads through a buffer that survives seeks.
//!
//! Chunks and tag values are read at scattered offsets. A `BufReader` drops its buffer on every
//! seek, so a file of millions of tiny chunks would cost one buffer refill (a system call and
//! up to its whole capacity copied) per chunk; this buffer serves every read that falls inside
//! the bytes it already holds. A reader that knows which chunks come next (a window's) has
//! their whole run of bytes read at once ([`Source::prefetch`]): a source where every read
//! costs a round trip (a browser's `FileReaderSync`, about 2 ms) then pays one per run.

use std::io::{self, Read, Seek, SeekFrom};

/// Bytes read ahead on a miss; reads at least this long bypass the buffer.
const READ_AHEAD: usize = 64 * 1024;

/// A `Read + Seek` source of `len` bytes, read at positions.
#[derive(Debug)]
pub(super) struct Source<R> {
    inner: R,
    len: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
}

impl<R: Read + Seek> Source<R> {
    /// Wraps `inner`, whose length is measured by seeking to its end.
    pub fn new(mut inner: R) -> io::Result<Self> {
        let len = inner.seek(SeekFrom::End(0))?;
        Ok(Self {
            inner,
            len,
            buf: Vec::new(),
            buf_start: 0,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Reads `offset..offset + len` into the buffer with one read, so the reads inside that
    /// range that follow come from memory. A range that does not lie inside the source is left
    /// to the reads themselves (which report it).
    pub fn prefetch(&mut self, offset: u64, len: usize) -> io::Result<()> {
        match self.span_prefetch(offset, len) {
            Some((offset, len)) => self.fill(offset, len),
            None => Ok(()),
        }
    }

    /// The bytes `(offset, length)` that [`Self::prefetch`] reads from the inner source, or
    /// `None` when it reads nothing.
    pub fn span_prefetch(&self, offset: u64, len: usize) -> Option<(u64, usize)> {
        let outside = offset
            .checked_add(len as u64)
            .is_none_or(|end| end > self.len);
        (!outside && !self.holds(offset, len)).then_some((offset, len))
    }

    /// Reads the `len` bytes at `offset` into the buffer (emptied if the read fails).
    fn fill(&mut self, offset: u64, len: usize) -> io::Result<()> {
        self.buf.resize(len, 0);
        self.inner.seek(SeekFrom::Start(offset))?;
        if let Err(e) = self.inner.read_exact(&mut self.buf) {
            self.buf.clear();
            return Err(e);
        }
        self.buf_start = offset;
        Ok(())
    }

    /// Whether the buffer holds `offset..offset + len`.
    fn holds(&self, offset: u64, len: usize) -> bool {
        offset >= self.buf_start
            && offset.saturating_add(len as u64) <= self.buf_start + self.buf.len() as u64
    }

    /// The bytes `(offset, length)` that [`Self::read_at`] of `len` bytes at `offset` reads
    /// from the inner source, or `None` when the buffer holds them.
    pub fn span_read_at(&self, offset: u64, len: usize) -> Option<(u64, usize)> {
        (!self.holds(offset, len)).then(|| self.span_unbuffered(offset, len))
    }

    /// The bytes `(offset, length)` that [`Self::read_at`] of `len` bytes at `offset` reads
    /// from the inner source when the buffer holds none of them: small reads read ahead.
    pub fn span_unbuffered(&self, offset: u64, len: usize) -> (u64, usize) {
        if len >= READ_AHEAD {
            (offset, len)
        } else {
            let fill = (self.len.saturating_sub(offset)).min(READ_AHEAD as u64) as usize;
            (offset, fill)
        }
    }

    /// Fills `out` with the bytes at `offset`; the caller has checked that they lie inside the
    /// source.
    pub fn read_at(&mut self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        match self.span_read_at(offset, out.len()) {
            Some(_) if out.len() >= READ_AHEAD => {
                self.inner.seek(SeekFrom::Start(offset))?;
                return self.inner.read_exact(out);
            }
            Some((offset, fill)) => self.fill(offset, fill)?,
            None => {}
        }
        let start = (offset - self.buf_start) as usize;
        let held = self.buf.get(start..start + out.len()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            )
        })?;
        out.copy_from_slice(held);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn reads_inside_and_outside_the_buffer_return_the_files_bytes() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut source = Source::new(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(source.len(), 200_000);
        for (offset, len) in [
            (5, 3),
            (6, 1),
            (0, 10),
            (70_000, 100),
            (65_000, 2_000),
            (199_990, 10),
            (10, 100_000),
        ] {
            let mut out = vec![0; len];
            source.read_at(offset, &mut out).unwrap();
            assert_eq!(
                out,
                bytes[offset as usize..offset as usize + len],
                "{offset}+{len}"
            );
        }
        let mut past = [0; 4];
        assert!(source.read_at(199_998, &mut past).is_err());
    }
}
