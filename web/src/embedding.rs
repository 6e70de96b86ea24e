//! The embedding contract's messages as plain values, free of browser types, shared by its two
//! transports (`postMessage` and Qt's `QWebChannel`, in `app::host`).
//!
//! A host opens a raster with `{type: 'open', name, url | base64 | buffer, autorun}` and gets
//! `{type: 'ready'}`, `{type: 'result', …}` and `{type: 'error', message}` back. Over Qt every
//! message is JSON text, and a result's GeoTIFF travels as standard base64 (`geotiff_base64`);
//! over `postMessage` messages are structured-cloned objects and the GeoTIFF is a transferred
//! `ArrayBuffer` (`geotiff`), which the transport adds itself.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use engine::labels::LegendEntry;
use engine::stats::ClassRow;
use serde::Serialize;
use serde_json::Value;

/// The name of a raster whose host gave none (and no URL to take one from).
pub const DEFAULT_NAME: &str = "raster.tif";

/// Standard base64 that accepts the text with or without its `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether an `open` message carried a `buffer`, as far as its transport knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BufferField {
    /// The transport carries no binary values (Qt's JSON text).
    #[default]
    Unsupported,
    /// No `buffer` (or `null`, `undefined`).
    Absent,
    /// Some value; whether it holds bytes is the transport's to check.
    Present,
}

/// The fields of an `open` message, read from either transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenFields {
    pub name: Option<String>,
    pub url: Option<String>,
    pub base64: Option<String>,
    pub buffer: BufferField,
    pub autorun: bool,
}

/// Where the host's raster comes from: the one source an `open` message named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RasterSource {
    /// A URL the page fetches (relative, or on the app's own origin).
    Url(String),
    /// The bytes of the file, decoded from `base64`.
    Bytes(Vec<u8>),
    /// The message's `buffer` (postMessage only), which the transport holds.
    Buffer,
}

impl OpenFields {
    /// Reads an `open` message's fields from its JSON form. Empty strings count as absent.
    pub fn from_json(message: &Value) -> Self {
        let text = |key: &str| non_empty(message.get(key).and_then(Value::as_str));
        Self {
            name: text("name"),
            url: text("url"),
            base64: text("base64"),
            buffer: BufferField::Unsupported,
            autorun: message.get("autorun").is_some_and(json_truthy),
        }
    }

    /// The fields the transport accepts as a raster's source, in the words of an error.
    fn accepted(&self) -> &'static str {
        match self.buffer {
            BufferField::Unsupported => "`url` or `base64`",
            BufferField::Absent | BufferField::Present => "`url`, `base64` or `buffer`",
        }
    }

    /// The raster's source: exactly one of `url`, `base64` and `buffer` must be given.
    pub fn source(&self) -> Result<RasterSource, String> {
        let given = [
            self.url.is_some(),
            self.base64.is_some(),
            self.buffer == BufferField::Present,
        ]
        .into_iter()
        .filter(|&g| g)
        .count();
        if given > 1 {
            return Err(format!(
                "the host sent more than one raster (expected exactly one of {})",
                self.accepted()
            ));
        }
        if let Some(url) = &self.url {
            return Ok(RasterSource::Url(url.clone()));
        }
        if let Some(text) = &self.base64 {
            return decode_base64(text).map(RasterSource::Bytes);
        }
        if self.buffer == BufferField::Present {
            return Ok(RasterSource::Buffer);
        }
        Err(format!(
            "the host sent no raster (expected {})",
            self.accepted()
        ))
    }

    /// The raster's name: `name`, else the last segment of `url`, else [`DEFAULT_NAME`].
    pub fn raster_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.url.as_deref().and_then(url_file_name))
            .unwrap_or_else(|| DEFAULT_NAME.to_owned())
    }
}

/// `Some` for a string with something in it.
fn non_empty(text: Option<&str>) -> Option<String> {
    text.filter(|t| !t.is_empty()).map(str::to_owned)
}

/// JavaScript's truthiness of a JSON value (`autorun: 1` runs too).
fn json_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The file name at the end of a URL's path (query and fragment left out).
fn url_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    non_empty(path.rsplit('/').next())
}

/// The bytes of standard base64 text (padding optional, line breaks and spaces ignored).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    // Copied without whitespace only when there is some (a raster's text is large).
    let compact: Cow<'_, str> = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        Cow::Owned(text.chars().filter(|c| !c.is_ascii_whitespace()).collect())
    } else {
        Cow::Borrowed(text)
    };
    LENIENT_BASE64
        .decode(compact.as_bytes())
        .map_err(|e| format!("the host's `base64` is not valid base64: {e}"))
}

/// A message from a host over Qt, parsed from its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromHost {
    Open(OpenFields),
    /// A message of another `type` (ignored, like over `postMessage`).
    Other(String),
}

/// Parses the JSON text of a host's message.
pub fn parse_host_message(text: &str) -> Result<FromHost, String> {
    let message: Value = serde_json::from_str(text)
        .map_err(|e| format!("the host sent a message that is not JSON: {e}"))?;
    if !message.is_object() {
        return Err("the host sent a message that is not a JSON object".to_owned());
    }
    match message.get("type").and_then(Value::as_str) {
        Some("open") => Ok(FromHost::Open(OpenFields::from_json(&message))),
        other => Ok(FromHost::Other(other.unwrap_or_default().to_owned())),
    }
}

/// A finished run, as a host receives it.
#[derive(Debug, Clone, Copy)]
pub struct HostResult<'a> {
    pub name: &'a str,
    /// The label GeoTIFF with the current legend.
    pub geotiff: &'a [u8],
    pub legend: &'a [LegendEntry],
    pub stats: &'a [ClassRow],
    /// The run manifest's JSON text.
    pub manifest: &'a str,
}

/// A message from the app to its host.
#[derive(Debug, Clone, Copy)]
pub enum ToHost<'a> {
    Ready,
    Result(HostResult<'a>),
    Error(&'a str),
}

/// How a result's GeoTIFF travels in a message's serialised form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoTiffField {
    /// As standard base64 text in `geotiff_base64` (Qt).
    Base64,
    /// Left out: the transport adds it beside the rest (a transferred `ArrayBuffer`).
    Beside,
}

/// The serialised form of a [`ToHost`].
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Wire<'a> {
    Ready,
    Result {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        geotiff_base64: Option<String>,
        legend: &'a [LegendEntry],
        stats: &'a [ClassRow],
        manifest: &'a str,
    },
    Error {
        message: &'a str,
    },
}

impl<'a> ToHost<'a> {
    /// The serialisable form, with the GeoTIFF as `geotiff` says.
    pub fn wire(&self, geotiff: GeoTiffField) -> Wire<'a> {
        match *self {
            ToHost::Ready => Wire::Ready,
            ToHost::Error(message) => Wire::Error { message },
            ToHost::Result(r) => Wire::Result {
                name: r.name,
                geotiff_base64: (geotiff == GeoTiffField::Base64)
                    .then(|| STANDARD.encode(r.geotiff)),
                legend: r.legend,
                stats: r.stats,
                manifest: r.manifest,
            },
        }
    }

    /// The JSON text Qt's transport carries (the GeoTIFF in `geotiff_base64`).
    pub fn to_json(&self) -> Result<String, String> {
        serde_json::to_string(&self.wire(GeoTiffField::Base64))
            .map_err(|e| format!("could not write the message for the host: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &str) -> OpenFields {
        match parse_host_message(text) {
            Ok(FromHost::Open(fields)) => fields,
            other => panic!("not an open message: {other:?}"),
        }
    }

    #[test]
    fn an_open_with_a_url_names_the_raster_after_it() {
        let fields = open(r#"{"type":"open","url":"/rasters/scene.tif?v=2","autorun":true}"#);
        assert!(fields.autorun);
        assert_eq!(fields.raster_name(), "scene.tif");
        assert_eq!(
            fields.source(),
            Ok(RasterSource::Url("/rasters/scene.tif?v=2".to_owned()))
        );
    }

    #[test]
    fn an_open_with_base64_decodes_it_with_or_without_padding() {
        let fields = open(r#"{"type":"open","name":"a.tif","base64":"SUkqAA=="}"#);
        assert_eq!(fields.raster_name(), "a.tif");
        assert!(!fields.autorun);
        assert_eq!(
            fields.source(),
            Ok(RasterSource::Bytes(vec![73, 73, 42, 0]))
        );
        let unpadded = open(r#"{"type":"open","base64":"SUkq\nAA"}"#);
        assert_eq!(
            unpadded.source(),
            Ok(RasterSource::Bytes(vec![73, 73, 42, 0]))
        );
        assert_eq!(unpadded.raster_name(), DEFAULT_NAME);
    }

    #[test]
    fn bad_base64_is_an_error_that_says_so() {
        let error = open(r#"{"type":"open","base64":"not base64!"}"#).source();
        assert!(error.is_err_and(|e| e.contains("not valid base64")));
    }

    #[test]
    fn an_open_without_a_source_names_the_accepted_fields() {
        let qt = open(r#"{"type":"open","name":"a.tif","url":""}"#).source();
        assert_eq!(
            qt,
            Err("the host sent no raster (expected `url` or `base64`)".to_owned())
        );
        let window = OpenFields {
            buffer: BufferField::Absent,
            ..OpenFields::default()
        };
        assert!(window.source().is_err_and(|e| e.contains("`buffer`")));
    }

    #[test]
    fn an_open_with_two_sources_is_refused() {
        let fields = OpenFields {
            url: Some("a.tif".to_owned()),
            buffer: BufferField::Present,
            ..OpenFields::default()
        };
        assert!(fields.source().is_err_and(|e| e.contains("more than one")));
        let buffer = OpenFields {
            buffer: BufferField::Present,
            ..OpenFields::default()
        };
        assert_eq!(buffer.source(), Ok(RasterSource::Buffer));
    }

    #[test]
    fn other_messages_are_recognised_and_bad_text_refused() {
        assert_eq!(
            parse_host_message(r#"{"type":"ping"}"#),
            Ok(FromHost::Other("ping".to_owned()))
        );
        assert!(parse_host_message("open").is_err());
        assert!(parse_host_message("[1]").is_err());
    }

    #[test]
    fn autorun_is_truthy_like_javascript() {
        assert!(open(r#"{"type":"open","autorun":1}"#).autorun);
        assert!(!open(r#"{"type":"open","autorun":0}"#).autorun);
        assert!(!open(r#"{"type":"open","autorun":null}"#).autorun);
    }

    #[test]
    fn a_result_for_qt_carries_the_geotiff_as_base64() {
        let legend = [LegendEntry {
            name: "class 0".to_owned(),
            colour: [1, 2, 3],
        }];
        let stats = [ClassRow {
            class: 0,
            name: "class 0".to_owned(),
            pixels: 4,
            area_m2: Some(4.0),
            area_ha: None,
            percent: 100.0,
        }];
        let result = ToHost::Result(HostResult {
            name: "a.tif",
            geotiff: &[73, 73, 42, 0],
            legend: &legend,
            stats: &stats,
            manifest: "{}",
        });
        let json: Value = serde_json::from_str(&result.to_json().expect("json")).expect("parse");
        assert_eq!(json["type"], "result");
        assert_eq!(json["geotiff_base64"], "SUkqAA==");
        assert_eq!(json["legend"][0]["colour"], serde_json::json!([1, 2, 3]));
        assert_eq!(json["stats"][0]["area_ha"], Value::Null);
        assert_eq!(json["manifest"], "{}");
        let beside = serde_json::to_value(result.wire(GeoTiffField::Beside)).expect("value");
        assert!(beside.get("geotiff_base64").is_none());
    }

    #[test]
    fn ready_and_error_are_tagged_by_type() {
        assert_eq!(
            ToHost::Ready.to_json(),
            Ok(r#"{"type":"ready"}"#.to_owned())
        );
        assert_eq!(
            ToHost::Error("no").to_json(),
            Ok(r#"{"type":"error","message":"no"}"#.to_owned())
        );
    }
}
