//! The worker: owns the open raster and the last result, answers [`ToWorker`] messages.
//!
//! Work happens synchronously inside the message handler; the page cancels a run by
//! terminating the worker and starting a fresh one, so nothing here needs to poll for it.

mod blob_reader;
mod run;

use std::cell::RefCell;

use engine::geotiff::{GeoTiffReader, RasterInfo};
use engine::preview::render_preview;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

pub use blob_reader::BlobReader;

use crate::format::file_info;
use crate::protocol::{FromWorker, Image, PREVIEW_MAX_SIDE, ToWorker};
use crate::transport::{envelope, open};

/// Backend name shown in the page.
pub const BACKEND: &str = "CPU (WebAssembly)";

/// The raster the page opened.
struct Session {
    name: String,
    blob: Blob,
    reader: GeoTiffReader<BlobReader>,
    info: RasterInfo,
}

#[derive(Default)]
struct State {
    session: Option<Session>,
    last: Option<run::LastRun>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Entry point of the worker program: installs the panic hook and the message handler, then
/// tells the page it is ready.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(&FromWorker::Panic {
            message: info.to_string(),
        });
    }));
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        match open::<ToWorker>(&event.data()) {
            Ok((msg, file)) => handle(msg, file),
            Err(e) => post(&FromWorker::Panic {
                message: e.to_string(),
            }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&FromWorker::Ready {
        backend: BACKEND.to_owned(),
    });
}

/// Posts a message to the page.
pub(crate) fn post(msg: &FromWorker) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    match envelope(msg, None) {
        Ok(value) => {
            if let Err(e) = scope.post_message(&value) {
                web_sys::console::error_2(&"mapseg worker: postMessage failed".into(), &e);
            }
        }
        Err(e) => web_sys::console::error_1(&e.to_string().into()),
    }
}

fn handle(msg: ToWorker, file: Option<JsValue>) {
    let reply = STATE.with(|state| {
        let mut guard = state.borrow_mut();
        let state = &mut *guard;
        match msg {
            ToWorker::Open {
                name,
                display,
                with_preview,
            } => open_file(state, name, file, display, with_preview),
            ToWorker::Preview { display } => match state.session.as_mut() {
                Some(s) => preview(s, display).map(|preview| FromWorker::Preview { preview }),
                None => Err("no raster is open".to_owned()),
            },
            ToWorker::Run { method: _, params } => {
                state.last = None;
                match state.session.as_mut() {
                    Some(session) => match run::run(session, &params) {
                        Ok((result, last)) => {
                            state.last = Some(last);
                            Ok(FromWorker::Result(Box::new(result)))
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    None => Err("no raster is open".to_owned()),
                }
            }
            ToWorker::Export { legend } => Ok(match &state.last {
                Some(last) => match last.export(&legend) {
                    Ok(geotiff) => FromWorker::Exported { geotiff },
                    Err(e) => FromWorker::ExportFailed {
                        message: format!("writing the GeoTIFF failed: {e}"),
                    },
                },
                None => FromWorker::ExportFailed {
                    message: "there is no result to export".to_owned(),
                },
            }),
        }
    });
    post(&reply.unwrap_or_else(|message| FromWorker::Error { message }));
}

fn open_file(
    state: &mut State,
    name: String,
    file: Option<JsValue>,
    display: Option<[usize; 3]>,
    with_preview: bool,
) -> Result<FromWorker, String> {
    state.session = None;
    state.last = None;
    let blob: Blob = file
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| "no file was sent to the worker".to_owned())?;
    let source = BlobReader::new(blob.clone()).map_err(|e| e.to_string())?;
    let size = source.len();
    if size == 0 {
        return Err(format!("cannot read {name}: the file is empty"));
    }
    let reader = GeoTiffReader::open(source).map_err(|e| format!("cannot read {name}: {e}"))?;
    let info = reader.info().clone();
    let panel = file_info(&name, size, &info).map_err(|e| e.to_string())?;
    let mut session = Session {
        name,
        blob,
        reader,
        info,
    };
    let bands = display
        .filter(|d| d.iter().all(|&b| b < session.info.bands))
        .unwrap_or(panel.display_bands);
    let image = if with_preview {
        Some(preview(&mut session, bands)?)
    } else {
        None
    };
    state.session = Some(session);
    Ok(FromWorker::Opened {
        info: Box::new(panel),
        preview: image,
    })
}

fn preview(session: &mut Session, bands: [usize; 3]) -> Result<Image, String> {
    if bands.iter().any(|&b| b >= session.info.bands) {
        return Err(format!(
            "display band out of range: the raster has {} band(s)",
            session.info.bands
        ));
    }
    let p = render_preview(&mut session.reader, bands, PREVIEW_MAX_SIDE)
        .map_err(|e| format!("cannot read {}: {e}", session.name))?;
    Ok(Image {
        width: p.image.width,
        height: p.image.height,
        pixels: p.image.pixels,
    })
}
