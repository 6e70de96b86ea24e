//! Typed access to the tags of one image file directory.

use std::io::{Read, Seek};

use tiff::decoder::{Decoder, ifd::Value};
use tiff::tags::Tag;
use tiff::{Directory, TiffError};

use super::error::{DecodeError, FormatError, LimitExceeded, Unsupported};

/// Reads tag values of `dir` through `decoder`, which owns the file.
pub(super) struct Tags<'a, R: Read + Seek> {
    pub decoder: &'a mut Decoder<R>,
    pub dir: &'a Directory,
}

impl<R: Read + Seek> Tags<'_, R> {
    fn value(&mut self, code: u16, name: &'static str) -> Result<Option<Value>, DecodeError> {
        let tag = Tag::from_u16_exhaustive(code);
        if !self.dir.contains(tag) {
            return Ok(None);
        }
        self.decoder
            .read_directory_tags(self.dir)
            .find_tag(tag)
            .map_err(|e| from_tiff(e, &format!("the tag {name}")))
    }

    fn convert<T>(
        &mut self,
        code: u16,
        name: &'static str,
        into: impl FnOnce(Value) -> tiff::TiffResult<T>,
    ) -> Result<Option<T>, DecodeError> {
        self.value(code, name)?
            .map(into)
            .transpose()
            .map_err(|_| FormatError::InvalidTag(name).into())
    }

    /// A single unsigned integer.
    pub fn uint(&mut self, code: u16, name: &'static str) -> Result<Option<u64>, DecodeError> {
        self.convert(code, name, Value::into_u64)
    }

    /// A single unsigned integer, required.
    pub fn required_uint(&mut self, code: u16, name: &'static str) -> Result<u64, DecodeError> {
        self.uint(code, name)?
            .ok_or(FormatError::MissingTag(name).into())
    }

    /// An array of unsigned integers that fit 16 bits.
    pub fn shorts(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<u16>>, DecodeError> {
        self.convert(code, name, Value::into_u16_vec)
    }

    /// An array of unsigned integers.
    pub fn uints(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<u64>>, DecodeError> {
        self.convert(code, name, Value::into_u64_vec)
    }

    /// An array of doubles.
    pub fn doubles(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<f64>>, DecodeError> {
        self.convert(code, name, Value::into_f64_vec)
    }

    /// An ASCII string.
    pub fn ascii(&mut self, code: u16, name: &'static str) -> Result<Option<String>, DecodeError> {
        self.convert(code, name, Value::into_string)
    }

    /// Raw bytes.
    pub fn bytes(&mut self, code: u16, name: &'static str) -> Result<Option<Vec<u8>>, DecodeError> {
        self.convert(code, name, Value::into_u8_vec)
    }
}

/// Classifies an error of the `tiff` crate that happened while reading `context`.
pub(super) fn from_tiff(err: TiffError, context: &str) -> DecodeError {
    match err {
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated(format!("{context} ends past the end of the file"))
        }
        TiffError::IoError(e) => DecodeError::Io(e),
        TiffError::LimitsExceeded => LimitExceeded::Decoder(context.to_owned()).into(),
        TiffError::UnsupportedError(e) => Unsupported::Codec(format!("{context}: {e}")).into(),
        TiffError::FormatError(
            tiff::TiffFormatError::TiffSignatureNotFound
            | tiff::TiffFormatError::TiffSignatureInvalid,
        ) => DecodeError::NotTiff,
        other => FormatError::Codec(format!("{context}: {other}")).into(),
    }
}
