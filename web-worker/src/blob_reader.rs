//! `Read + Seek` over a `Blob` (a `File`) with `FileReaderSync` and `Blob.slice`: only the bytes
//! asked for (plus a small read-ahead) are ever in memory, so rasters larger than the
//! WebAssembly memory can be processed.
//!
//! Each `FileReaderSync` read costs about 2 ms whatever its size (a round trip to the browser's
//! file service), more than decoding a chunk: the engine asks for a window's neighbouring
//! chunks in one read, and a large read goes straight into the caller's buffer.
//!
//! Every such read is also a new `ArrayBuffer` that lingers until V8 collects it. A caller
//! that knows which ranges its next reads ask for has them fetched ahead, asynchronously and
//! into one reused buffer ([`Stager::stage`]), or takes them from another worker that read
//! them ([`Stager::put`]); the reads then come from those bytes.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

use web_sys::{Blob, FileReaderSync};

use web::transport::js_error_text;

use crate::byte_stream::{StreamBuffer, read_range, read_span};

/// Bytes read ahead of a small read (TIFF headers and tags come in many tiny reads).
const READ_AHEAD: u64 = 256 * 1024;

thread_local! {
    /// Bytes this worker has read from files so far, all readers together.
    static FETCHED: Cell<u64> = const { Cell::new(0) };
}

/// Bytes this worker has read from files so far ([`BlobReader`]s together).
pub fn fetched() -> u64 {
    FETCHED.with(Cell::get)
}

/// A seekable reader over a `Blob`; usable in workers only (`FileReaderSync`).
#[derive(Debug)]
pub struct BlobReader {
    blob: Blob,
    reader: FileReaderSync,
    size: u64,
    pos: u64,
    /// Bytes of the blob from `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    /// Ranges fetched ahead by this reader's [`Stager`].
    staged: Rc<RefCell<Staged>>,
}

/// Ranges of the file fetched ahead, `(offset, bytes)`, and emptied buffers for the next.
#[derive(Debug, Default)]
struct Staged {
    ranges: Vec<(u64, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
}

impl Staged {
    /// Copies the staged bytes at `pos` into `out` (as many as one range holds); how many.
    fn copy(&self, pos: u64, out: &mut [u8]) -> Option<usize> {
        let (start, bytes) = self
            .ranges
            .iter()
            .find(|(start, bytes)| pos >= *start && pos < start + bytes.len() as u64)?;
        let from = (pos - start) as usize;
        let n = out.len().min(bytes.len() - from);
        out[..n].copy_from_slice(&bytes[from..from + n]);
        Some(n)
    }
}

/// Ranges a [`Stager`] reads at once: a read costs a round trip to the browser's file service,
/// and four at once take about a third of the time of one after the other.
const CONCURRENT_READS: usize = 4;

/// The largest gap between two ranges that [`Stager::stage_spans`] reads through rather than
/// starting another read. A read of a `Blob` costs a round trip to the browser's file service
/// (about a millisecond on a quiet machine, several while the other cores are busy); reading
/// through costs about 0.8 ms per MiB.
const READ_THROUGH_BYTES: u64 = 1 << 20;

/// `ranges` (`(offset, length)` each) as `[start, end)` runs in file order, overlapping and
/// touching ranges joined.
fn union(ranges: &[(u64, usize)]) -> Vec<(u64, u64)> {
    let mut sorted: Vec<(u64, u64)> = ranges
        .iter()
        .filter(|&&(_, len)| len > 0)
        .map(|&(offset, len)| (offset, offset + len as u64))
        .collect();
    sorted.sort_unstable();
    let mut runs: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match runs.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => runs.push((a, b)),
        }
    }
    runs
}

/// Fetches ranges of a [`BlobReader`]'s file ahead of its reads.
#[derive(Debug)]
pub struct Stager {
    blob: Blob,
    staged: Rc<RefCell<Staged>>,
    /// One buffer per concurrent read.
    buffers: Vec<StreamBuffer>,
    /// Whether the browser reads a `Blob` into a given buffer (else nothing is staged).
    byob: bool,
}

impl Stager {
    /// Fetches `ranges` (`(offset, length)` each) of the file, replacing what was staged; the
    /// reader's reads inside them then cost no round trip and leave no garbage. Where the
    /// browser cannot read into a reused buffer nothing is staged, and the reads go as before.
    pub async fn stage(&mut self, ranges: &[(u64, usize)]) -> Result<(), String> {
        self.clear();
        for wave in ranges.chunks(CONCURRENT_READS) {
            if !self.byob {
                break;
            }
            self.buffers
                .resize_with(CONCURRENT_READS, StreamBuffer::default);
            let mut outs: Vec<Vec<u8>> = {
                let mut staged = self.staged.borrow_mut();
                wave.iter()
                    .map(|_| staged.spare.pop().unwrap_or_default())
                    .collect()
            };
            let blob = &self.blob;
            let reads = wave
                .iter()
                .zip(self.buffers.iter_mut())
                .zip(outs.iter_mut())
                .map(|((&(offset, len), buffer), out)| read_range(blob, offset, len, buffer, out));
            let done = futures_util::future::join_all(reads).await;
            let mut staged = self.staged.borrow_mut();
            for ((&(offset, len), bytes), read) in wave.iter().zip(outs).zip(done) {
                if read? {
                    FETCHED.with(|f| f.set(f.get() + len as u64));
                    staged.ranges.push((offset, bytes));
                } else {
                    self.byob = false;
                    staged.spare.push(bytes);
                }
            }
        }
        Ok(())
    }

    /// Fetches `ranges` (`(offset, length)` each, in any order, overlapping or not) of the
    /// file like [`Self::stage`], but front to back in as few reads as their gaps allow: the
    /// ranges less than [`READ_THROUGH_BYTES`] apart come in one read, the bytes between them
    /// dropped as they come. Only the ranges stay staged.
    pub async fn stage_spans(&mut self, ranges: &[(u64, usize)]) -> Result<(), String> {
        self.clear();
        if !self.byob {
            return Ok(());
        }
        let runs = union(ranges);
        let mut first = 0;
        while first < runs.len() {
            let mut last = first;
            while last + 1 < runs.len() && runs[last + 1].0 - runs[last].1 < READ_THROUGH_BYTES {
                last += 1;
            }
            if !self.read_through(&runs[first..=last]).await? {
                self.byob = false;
                self.clear();
                return Ok(());
            }
            first = last + 1;
        }
        Ok(())
    }

    /// Reads the file from the start of the first of `runs` (`[start, end)` each, in file
    /// order, apart) to the end of the last in one stream, staging each run's bytes;
    /// `Ok(false)` where the browser cannot read a `Blob` into a given buffer.
    async fn read_through(&mut self, runs: &[(u64, u64)]) -> Result<bool, String> {
        let (start, end) = (runs[0].0, runs[runs.len() - 1].1);
        let mut outs: Vec<Vec<u8>> = {
            let mut staged = self.staged.borrow_mut();
            runs.iter()
                .map(|&(a, b)| {
                    let mut out = staged.spare.pop().unwrap_or_default();
                    out.resize((b - a) as usize, 0);
                    out
                })
                .collect()
        };
        self.buffers.resize_with(1, StreamBuffer::default);
        // The first run not yet filled to its end.
        let mut open = 0;
        let read = read_span(
            &self.blob,
            start,
            end - start,
            &mut self.buffers[0],
            |pos, piece| {
                let piece_end = pos + u64::from(piece.length());
                for (&(a, b), out) in runs[open..].iter().zip(&mut outs[open..]) {
                    if a >= piece_end {
                        break;
                    }
                    let (from, to) = (a.max(pos), b.min(piece_end));
                    if from < to {
                        piece
                            .subarray((from - pos) as u32, (to - pos) as u32)
                            .copy_to(&mut out[(from - a) as usize..(to - a) as usize]);
                    }
                }
                while open < runs.len() && runs[open].1 <= piece_end {
                    open += 1;
                }
            },
        )
        .await?;
        if !read {
            return Ok(false);
        }
        FETCHED.with(|f| f.set(f.get() + (end - start)));
        let mut staged = self.staged.borrow_mut();
        staged.ranges.extend(runs.iter().map(|&(a, _)| a).zip(outs));
        Ok(true)
    }

    /// Stages `ranges` that another worker read for this one: `(offset, bytes)` each, copied
    /// in, replacing what was staged.
    pub fn put(&mut self, ranges: impl IntoIterator<Item = (u64, js_sys::Uint8Array)>) {
        self.clear();
        let mut staged = self.staged.borrow_mut();
        for (offset, bytes) in ranges {
            let mut out = staged.spare.pop().unwrap_or_default();
            out.resize(bytes.length() as usize, 0);
            bytes.copy_to(&mut out);
            FETCHED.with(|f| f.set(f.get() + out.len() as u64));
            staged.ranges.push((offset, out));
        }
    }

    /// Drops the staged ranges (keeping their buffers for the next).
    pub fn clear(&self) {
        let mut staged = self.staged.borrow_mut();
        let Staged { ranges, spare } = &mut *staged;
        spare.extend(ranges.drain(..).map(|(_, bytes)| bytes));
    }
}

impl BlobReader {
    pub fn new(blob: Blob) -> io::Result<Self> {
        let reader = FileReaderSync::new().map_err(js_io)?;
        let size = blob.size() as u64;
        Ok(Self {
            blob,
            reader,
            size,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
            staged: Rc::default(),
        })
    }

    /// The [`Stager`] that fetches ranges ahead for this reader.
    pub fn stager(&self) -> Stager {
        Stager {
            blob: self.blob.clone(),
            staged: Rc::clone(&self.staged),
            buffers: Vec::new(),
            byob: true,
        }
    }

    /// Size of the blob in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Reads `start..end` of the blob.
    fn slice(&self, start: u64, end: u64) -> io::Result<js_sys::Uint8Array> {
        let part = self
            .blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(js_io)?;
        let buffer = self.reader.read_as_array_buffer(&part).map_err(js_io)?;
        FETCHED.with(|f| f.set(f.get() + (end - start)));
        Ok(js_sys::Uint8Array::new(&buffer))
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        if let Some(n) = self.staged.borrow().copy(self.pos, out) {
            self.pos += n as u64;
            return Ok(n);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= buf_end {
            let want = out.len() as u64;
            let end = self.size.min(self.pos + want.max(READ_AHEAD));
            if want >= READ_AHEAD {
                // A large read (a whole chunk): straight into the caller's buffer.
                let bytes = self.slice(self.pos, end)?;
                let n = bytes.length() as usize;
                bytes.copy_to(&mut out[..n]);
                self.pos += n as u64;
                return Ok(n);
            }
            self.buf = self.slice(self.pos, end)?.to_vec();
            self.buf_start = self.pos;
        }
        let offset = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - offset);
        out[..n].copy_from_slice(&self.buf[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }
}

fn js_io(error: wasm_bindgen::JsValue) -> io::Error {
    io::Error::other(format!(
        "reading the file failed: {}",
        js_error_text(&error)
    ))
}
