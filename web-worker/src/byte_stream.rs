//! Reading a `Blob`'s bytes without leaving garbage behind: a `ReadableStreamBYOBReader` reads
//! into one buffer that is handed back and forth, where every `FileReaderSync` read or default
//! stream piece is a new `ArrayBuffer`. V8 frees those only once tens of MiB have piled up in
//! each worker, so reading a large file that way keeps that much dead memory in every worker.
//!
//! Browsers whose `Blob.stream()` is not a byte stream (Chromium before 89) have no BYOB
//! reader: [`ByteStream::open`] then returns `None`, and the caller reads as before.

use js_sys::{ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, ReadableStreamByobReader, ReadableStreamDefaultReader, ReadableStreamReadResult,
};

use web::transport::js_error_text;

/// Size of the buffer a stream reads into.
const BUFFER_BYTES: u32 = 1 << 20;

/// A buffer for [`ByteStream`]s, reused from one stream to the next.
#[derive(Debug, Default)]
pub struct StreamBuffer(Option<ArrayBuffer>);

/// A `Blob`'s bytes, read piece by piece into a [`StreamBuffer`].
#[derive(Debug)]
pub struct ByteStream {
    reader: ReadableStreamByobReader,
}

impl ByteStream {
    /// A BYOB reader of `blob`'s bytes; `None` where the browser has none for a `Blob`.
    pub fn open(blob: &Blob) -> Option<Self> {
        let stream = blob.stream();
        let get_reader: Function = Reflect::get(&stream, &"getReader".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let options = Object::new();
        Reflect::set(&options, &"mode".into(), &"byob".into()).ok()?;
        let reader = get_reader.call1(&stream, &options).ok()?;
        reader.dyn_into().ok().map(|reader| Self { reader })
    }

    /// The next piece of the stream, at most `max` bytes (at least 1), read into `buffer` and
    /// handed to `take`; `Ok(false)` at the end of the stream.
    pub async fn next(
        &self,
        buffer: &mut StreamBuffer,
        max: usize,
        take: impl FnOnce(&Uint8Array),
    ) -> Result<bool, String> {
        let failed = |e: JsValue| format!("reading the file failed: {}", js_error_text(&e));
        let space = buffer
            .0
            .take()
            .unwrap_or_else(|| ArrayBuffer::new(BUFFER_BYTES));
        let len = (max.clamp(1, BUFFER_BYTES as usize)) as u32;
        let view = Uint8Array::new_with_byte_offset_and_length(&space, 0, len);
        let read: ReadableStreamReadResult =
            JsFuture::from(self.reader.read_with_array_buffer_view(&view))
                .await
                .map_err(failed)?
                .unchecked_into();
        // The buffer comes back (transferred) with the piece, or empty at the end.
        if let Some(piece) = read.get_value().dyn_ref::<Uint8Array>() {
            buffer.0 = Some(piece.buffer());
            if read.get_done() != Some(true) {
                take(piece);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stops reading (the rest of the stream is not wanted).
    pub fn cancel(&self) {
        let _ = self.reader.cancel();
    }
}

/// Reads the `len` bytes of `blob` from `offset` in one stream, through `buffer`, handing each
/// piece to `take` with the file offset of its first byte; `Ok(false)` where the browser has no
/// BYOB reader (nothing is read then). Fewer bytes than asked for is an error.
pub async fn read_span(
    blob: &Blob,
    offset: u64,
    len: u64,
    buffer: &mut StreamBuffer,
    mut take: impl FnMut(u64, &Uint8Array),
) -> Result<bool, String> {
    let end = offset + len;
    let part = blob
        .slice_with_f64_and_f64(offset as f64, end as f64)
        .map_err(|e| format!("reading the file failed: {}", js_error_text(&e)))?;
    let Some(stream) = ByteStream::open(&part) else {
        return Ok(false);
    };
    let mut pos = offset;
    while pos < end {
        let mut got = 0;
        let more = stream
            .next(
                buffer,
                usize::try_from(end - pos).unwrap_or(usize::MAX),
                |piece| {
                    got = u64::from(piece.length());
                    take(pos, piece);
                },
            )
            .await?;
        pos += got;
        if !more || got == 0 {
            break;
        }
    }
    if pos < end {
        stream.cancel();
        return Err(format!(
            "reading the file failed: {} of {len} bytes at {offset} came",
            pos - offset
        ));
    }
    Ok(true)
}

/// Reads `len` bytes of `blob` from `offset` into `out` (cleared first) with a BYOB reader;
/// `Ok(false)` where the browser has none (nothing is read then).
pub async fn read_range(
    blob: &Blob,
    offset: u64,
    len: usize,
    buffer: &mut StreamBuffer,
    out: &mut Vec<u8>,
) -> Result<bool, String> {
    out.clear();
    read_span(blob, offset, len as u64, buffer, |_, piece| {
        let start = out.len();
        out.resize(start + piece.length() as usize, 0);
        piece.copy_to(&mut out[start..]);
    })
    .await
}

/// Reads `len` bytes of `blob` from `offset` into a new buffer of exactly that size, for a
/// transfer to another worker (which then holds the only reference); `Ok(None)` where the
/// browser has no BYOB reader (nothing is read then). Unlike [`read_span`], the stream reads
/// straight into that buffer, piece after piece, with no copy.
pub async fn read_range_into_new(
    blob: &Blob,
    offset: u64,
    len: usize,
) -> Result<Option<Uint8Array>, String> {
    let failed = |e: JsValue| format!("reading the file failed: {}", js_error_text(&e));
    let end = offset + len as u64;
    let part = blob
        .slice_with_f64_and_f64(offset as f64, end as f64)
        .map_err(failed)?;
    let Some(stream) = ByteStream::open(&part) else {
        return Ok(None);
    };
    let total = u32::try_from(len).map_err(|_| format!("a read of {len} bytes is too large"))?;
    let mut space = ArrayBuffer::new(total);
    let mut got = 0u32;
    while got < total {
        let view = Uint8Array::new_with_byte_offset_and_length(&space, got, total - got);
        let read: ReadableStreamReadResult =
            JsFuture::from(stream.reader.read_with_array_buffer_view(&view))
                .await
                .map_err(failed)?
                .unchecked_into();
        let Some(piece) = read.get_value().dyn_ref::<Uint8Array>().cloned() else {
            break;
        };
        space = piece.buffer();
        if read.get_done() == Some(true) || piece.length() == 0 {
            break;
        }
        got += piece.length();
    }
    if got < total {
        return Err(format!(
            "reading the file failed: {got} of {len} bytes at {offset} came"
        ));
    }
    Ok(Some(Uint8Array::new(&space)))
}

/// A whole `Blob`, piece by piece: through a BYOB reader where the browser has one, else
/// through the stream's default reader (a new buffer per piece).
#[derive(Debug)]
pub enum Pieces {
    Byob(ByteStream, StreamBuffer),
    Default(ReadableStreamDefaultReader),
}

impl Pieces {
    pub fn of(blob: &Blob) -> Self {
        match ByteStream::open(blob) {
            Some(stream) => Self::Byob(stream, StreamBuffer::default()),
            None => Self::Default(blob.stream().get_reader().unchecked_into()),
        }
    }

    /// Puts the next piece into `piece`; `Ok(false)` at the end of the blob.
    pub async fn next(&mut self, piece: &mut Vec<u8>) -> Result<bool, String> {
        let copy = |bytes: &Uint8Array, piece: &mut Vec<u8>| {
            piece.resize(bytes.length() as usize, 0);
            bytes.copy_to(piece);
        };
        match self {
            Self::Byob(stream, buffer) => {
                stream
                    .next(buffer, usize::MAX, |bytes| copy(bytes, piece))
                    .await
            }
            Self::Default(reader) => {
                let failed = |e: JsValue| format!("reading the file failed: {}", js_error_text(&e));
                let read: ReadableStreamReadResult = JsFuture::from(reader.read())
                    .await
                    .map_err(failed)?
                    .unchecked_into();
                if read.get_done() == Some(true) {
                    return Ok(false);
                }
                let bytes: Uint8Array = read.get_value().dyn_into().map_err(failed)?;
                copy(&bytes, piece);
                Ok(true)
            }
        }
    }

    /// Stops reading.
    pub fn cancel(&self) {
        match self {
            Self::Byob(stream, _) => stream.cancel(),
            Self::Default(reader) => {
                let _ = reader.cancel();
            }
        }
    }
}
