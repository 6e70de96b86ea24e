//! The page's side of the worker: start it, queue messages until it is ready, dispatch its
//! replies into [`AppState`], and replace it on cancel or panic.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use engine::pipeline::{MethodParams, SegmentParams};
use engine::polygons::PolygonFormat;
use engine::progress::Stage;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use super::{AppState, Busy, ProgressState, Shown, dom, host};
use crate::format::stem;
use crate::protocol::{BackendChoice, FromWorker, ToWorker, with_input_of};
use crate::transport::{envelope, js_error_text, open};

/// Script that loads the worker program (written by trunk's loader shim).
const WORKER_SCRIPT: &str = "./worker_loader.js";

/// Who asked for the label GeoTIFF that the worker writes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFor {
    Download,
    Host,
}

struct Handle {
    worker: Worker,
    ready: bool,
    queue: Vec<wasm_bindgen::JsValue>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// The open raster, kept to open it again in a fresh worker.
struct OpenFile {
    name: String,
    blob: wasm_bindgen::JsValue,
}

thread_local! {
    static WORKER: RefCell<Option<Handle>> = const { RefCell::new(None) };
    /// The run in progress, kept to start it again on the CPU if the GPU takes the worker down.
    static RUNNING: RefCell<Option<SegmentParams>> = const { RefCell::new(None) };
    /// Whether the run in progress started on a GPU.
    static RUN_ON_GPU: Cell<bool> = const { Cell::new(false) };
    /// Set once a GPU took a worker down: later workers stay on the CPU.
    static GPU_BROKEN: Cell<bool> = const { Cell::new(false) };
    /// Counts the workers started; a worker's handlers ignore events once it is not the last.
    static GENERATION: Cell<u32> = const { Cell::new(0) };
    static FILE: RefCell<Option<OpenFile>> = const { RefCell::new(None) };
    static EXPORTS: RefCell<VecDeque<ExportFor>> = const { RefCell::new(VecDeque::new()) };
}

/// Starts a worker (replacing none).
pub fn spawn_worker(state: AppState) {
    let worker = match Worker::new(WORKER_SCRIPT) {
        Ok(w) => w,
        Err(e) => {
            state.fail(
                format!("could not start the worker: {}", js_error_text(&e)),
                true,
            );
            return;
        }
    };
    let generation = GENERATION.get().wrapping_add(1);
    GENERATION.set(generation);
    let current = move || GENERATION.get() == generation;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if !current() {
            return;
        }
        match open::<FromWorker>(&event.data()) {
            Ok((mut msg, file)) => {
                let mut file = file.map(|f| js_sys::Uint8Array::new(&f));
                // An image or a label preview travels beside its message.
                if let Some(bytes) = file.as_ref().map(js_sys::Uint8Array::to_vec)
                    && msg.put_bytes(bytes)
                {
                    file = None;
                }
                dispatch(state, msg, file)
            }
            Err(e) => state.fail(e.to_string(), true),
        }
    });
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        event.prevent_default();
        if !current() || rerun_on_cpu(state, &event.message()) {
            return;
        }
        state.busy.set(Busy::Idle);
        state.fail(format!("the worker stopped: {}", event.message()), true);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    WORKER.with(|w| {
        *w.borrow_mut() = Some(Handle {
            worker,
            ready: false,
            queue: Vec::new(),
            _on_message: on_message,
            _on_error: on_error,
        });
    });
    let choice = if GPU_BROKEN.get() {
        BackendChoice::Cpu
    } else {
        state.settings.with_untracked(|s| s.backend)
    };
    send(
        &ToWorker::UsePool {
            workers: state.settings.with_untracked(|s| s.workers),
        },
        None,
    );
    state.backend_pending.set(true);
    send(&ToWorker::UseBackend { choice }, None);
}

/// Asks the worker to run on `choice` from now on.
pub fn use_backend(state: AppState, choice: BackendChoice) {
    GPU_BROKEN.set(false);
    state.backend_pending.set(true);
    send(&ToWorker::UseBackend { choice }, None);
}

/// When the worker died during a run on the GPU: starts a fresh worker on the CPU, runs the
/// same run there and says so. False when there was no such run (the caller reports the
/// failure).
fn rerun_on_cpu(state: AppState, message: &str) -> bool {
    let params = RUNNING.with(|r| r.borrow().clone());
    let Some(params) = params else {
        return false;
    };
    if state.busy.get_untracked() != Busy::Running || !RUN_ON_GPU.get() {
        return false;
    }
    RUN_ON_GPU.set(false);
    let gpu = state.backend.get_untracked();
    GPU_BROKEN.set(true);
    state.backend_gpu.set(false);
    state.backend_note.set(Some(format!(
        "{gpu} stopped the worker ({}); the run was done again on the CPU",
        gist(message)
    )));
    restart(state);
    state.run_started.set(dom::now_ms());
    send(&ToWorker::Run { params }, None);
    true
}

/// Terminates the worker and starts a fresh one that opens the current raster again.
fn restart(state: AppState) {
    WORKER.with(|w| {
        if let Some(old) = w.borrow_mut().take() {
            // Events the old worker already queued (the error of a trapped instance) must not
            // reach its handlers, which are dropped here.
            old.worker.set_onmessage(None);
            old.worker.set_onerror(None);
            old.worker.terminate();
        }
    });
    EXPORTS.with(|e| e.borrow_mut().clear());
    state.polygons_pending.set(false);
    spawn_worker(state);
    let reopen = FILE.with(|f| {
        f.borrow()
            .as_ref()
            .map(|f| (f.name.clone(), f.blob.clone()))
    });
    if let Some((name, blob)) = reopen
        && state.info.with_untracked(Option::is_some)
    {
        // The page keeps its file panel and image and stays usable: a run asked for meanwhile
        // queues behind this message in the worker.
        send(
            &ToWorker::Open {
                name,
                display: state.settings.with_untracked(|s| s.display),
                with_preview: false,
                workers: state.settings.with_untracked(|s| s.workers),
                settings: Some(Box::new(state.settings.get_untracked())),
            },
            Some(&blob),
        );
    }
}

/// Posts `msg` to the worker, or queues it until the worker is ready.
fn send(msg: &ToWorker, file: Option<&wasm_bindgen::JsValue>) {
    let value = match envelope(msg, file) {
        Ok(v) => v,
        Err(e) => {
            web_sys::console::error_1(&e.to_string().into());
            return;
        }
    };
    WORKER.with(|w| {
        if let Some(handle) = w.borrow_mut().as_mut() {
            if handle.ready {
                if let Err(e) = handle.worker.post_message(&value) {
                    web_sys::console::error_1(&e);
                }
            } else {
                handle.queue.push(value);
            }
        }
    });
}

/// Opens a raster (`blob` is a `Blob` or `File`) in the worker; a running job is cancelled.
pub fn open_blob(state: AppState, name: String, blob: wasm_bindgen::JsValue) {
    if state.busy.get_untracked() == Busy::Running {
        // Forget the old raster first, so the fresh worker does not re-attach it.
        FILE.with(|f| *f.borrow_mut() = None);
        cancel(state);
    }
    FILE.with(|f| {
        *f.borrow_mut() = Some(OpenFile {
            name: name.clone(),
            blob: blob.clone(),
        })
    });
    state.problem.set(None);
    state.shown.set(None);
    state.info.set(None);
    state.preview.set(None);
    state.busy.set(Busy::Opening);
    // The display mapping of the URL applies to the first raster only.
    let settings = state.settings.get_untracked();
    send(
        &ToWorker::Open {
            name,
            display: settings.display,
            with_preview: true,
            workers: settings.workers,
            settings: Some(Box::new(settings)),
        },
        Some(&blob),
    );
}

/// Starts a run with the current settings.
pub fn run(state: AppState) {
    let Some(data_bands) = state
        .info
        .with_untracked(|i| i.as_ref().map(|i| i.data_bands.clone()))
    else {
        return;
    };
    let params = state.settings.with_untracked(|s| s.params(&data_bands));
    RUNNING.with(|r| *r.borrow_mut() = Some(params.clone()));
    RUN_ON_GPU.set(state.backend_gpu.get_untracked());
    state.problem.set(None);
    state.shown.set(None);
    state.progress.set(ProgressState {
        stage: Stage::BandStatistics.label().to_owned(),
        fraction: 0.0,
        eta_s: None,
    });
    state.run_started.set(dom::now_ms());
    state.busy.set(Busy::Running);
    send(&ToWorker::Run { params }, None);
}

/// The message of a panic (`panicked at FILE:LINE:COL:` and the stack left out), at most 120
/// characters.
fn gist(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let text = if first.starts_with("panicked at ") {
        lines.next().unwrap_or(first)
    } else {
        first
    };
    let mut short: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        short.push('…');
    }
    short
}

/// Whether the run in progress is a CNN run.
fn running_cnn() -> bool {
    RUNNING.with(|r| {
        r.borrow()
            .as_ref()
            .is_some_and(|p| matches!(p.method, MethodParams::Cnn(_)))
    })
}

/// Stops the running job at once: the worker is terminated and replaced.
pub fn cancel(state: AppState) {
    RUNNING.with(|r| *r.borrow_mut() = None);
    state.busy.set(Busy::Idle);
    state.progress.set(ProgressState::default());
    restart(state);
}

/// Renders the display image again with other bands.
pub fn set_display(display: [usize; 3]) {
    send(&ToWorker::Preview { display }, None);
}

/// Asks the worker for the label GeoTIFF with the current legend.
pub fn export(state: AppState, purpose: ExportFor) {
    if state.shown.with_untracked(Option::is_none) {
        return;
    }
    EXPORTS.with(|e| e.borrow_mut().push_back(purpose));
    let legend = state.legend.get_untracked();
    let merges = state
        .merges
        .with_untracked(|m| m.iter().map(|s| s.merge.clone()).collect());
    send(&ToWorker::Export { legend, merges }, None);
}

/// Asks the worker for the class polygons in `format`, simplified with a tolerance of
/// `simplify_m` metres, with the current legend and merges.
pub fn polygons(state: AppState, format: PolygonFormat, simplify_m: f64) {
    if state.shown.with_untracked(Option::is_none) || state.polygons_pending.get_untracked() {
        return;
    }
    state.polygons_pending.set(true);
    let legend = state.legend.get_untracked();
    let merges = state
        .merges
        .with_untracked(|m| m.iter().map(|s| s.merge.clone()).collect());
    send(
        &ToWorker::Polygons {
            legend,
            merges,
            format,
            simplify_m,
        },
        None,
    );
}

/// The name of the open raster.
pub fn file_name(state: AppState) -> String {
    state
        .info
        .with_untracked(|i| i.as_ref().map(|i| i.name.clone()))
        .unwrap_or_else(|| "raster.tif".to_owned())
}

/// Handles a message of the worker, with the file it carries beside it (an exported
/// GeoTIFF, polygons).
fn dispatch(state: AppState, msg: FromWorker, file: Option<js_sys::Uint8Array>) {
    match msg {
        FromWorker::WarmedUp => {
            // For measurements: a file dropped now gets the optimised code from the start
            // (`body[data-worker-warm]`).
            if let Some(body) = dom::window()
                .and_then(|w| w.document())
                .and_then(|d| d.body())
            {
                let _ = body.set_attribute("data-worker-warm", "1");
            }
        }
        FromWorker::Ready { backend } => {
            state.backend.set(backend);
            // For measurements: the worker can take a file now (`body[data-worker-ready]`).
            if let Some(body) = dom::window()
                .and_then(|w| w.document())
                .and_then(|d| d.body())
            {
                let _ = body.set_attribute("data-worker-ready", "1");
            }
            WORKER.with(|w| {
                if let Some(handle) = w.borrow_mut().as_mut() {
                    handle.ready = true;
                    for value in handle.queue.drain(..) {
                        if let Err(e) = handle.worker.post_message(&value) {
                            web_sys::console::error_1(&e);
                        }
                    }
                }
            });
        }
        FromWorker::Backend { name, gpu, note } => {
            state.backend.set(name);
            state.backend_gpu.set(gpu);
            state.backend_pending.set(false);
            if !GPU_BROKEN.get() {
                state.backend_note.set(note);
            }
        }
        FromWorker::Fallback { message } => {
            state.backend.set(crate::protocol::CPU_BACKEND.to_owned());
            state.backend_gpu.set(false);
            state.backend_note.set(Some(message));
        }
        FromWorker::Opened { info } => {
            state.settings.update(|s| {
                if s.display
                    .is_some_and(|d| d.iter().any(|&b| b >= info.bands))
                {
                    s.display = None;
                }
                if s.bands
                    .as_ref()
                    .is_some_and(|b| b.iter().any(|x| !info.data_bands.contains(x)))
                {
                    s.bands = None;
                }
            });
            state.info.set(Some(*info));
            if state.busy.get_untracked() == Busy::Opening {
                state.busy.set(Busy::Idle);
            }
        }
        FromWorker::Preview { preview } => {
            // While another raster opens, an image still on its way is the last raster's.
            if state.busy.get_untracked() != Busy::Opening {
                state.preview.set(Some(preview));
            }
        }
        FromWorker::Progress { stage, fraction } => {
            let elapsed_s = (dom::now_ms() - state.run_started.get_untracked()) / 1000.0;
            let overall = overall_fraction(running_cnn(), stage, fraction);
            let eta_s =
                (overall > 0.03 && elapsed_s > 0.3).then(|| elapsed_s * (1.0 - overall) / overall);
            state.progress.set(ProgressState {
                stage: stage.label().to_owned(),
                fraction,
                eta_s,
            });
        }
        FromWorker::Details {
            k_curve,
            suggested_k,
            suggestions,
            manifest,
        } => {
            // They belong to the result shown, unless another run started since.
            if RUNNING.with(|r| r.borrow().is_none()) {
                state.shown.update(|shown| {
                    if let Some(shown) = shown {
                        if let Some(curve) = &k_curve {
                            shown.result.k_curve = Some(curve.clone());
                            shown.result.suggested_k = suggested_k;
                        }
                        if let Some(json) = &manifest {
                            shown.result.manifest =
                                with_input_of(&shown.result.manifest, json.clone());
                        }
                        shown.result.suggestions = suggestions;
                        shown.result.details_pending = false;
                    }
                });
                // An undo of a merge made meanwhile brings back the curve and the manifest's
                // hash too, and ends the wait for the details (the suggested names stay as the
                // snapshot had them).
                state.merges.update(|steps| {
                    for step in steps {
                        let before = &mut step.before.result;
                        if let Some(curve) = &k_curve {
                            before.k_curve = Some(curve.clone());
                            before.suggested_k = suggested_k;
                        }
                        if let Some(json) = &manifest {
                            before.manifest = with_input_of(&before.manifest, json.clone());
                        }
                        before.details_pending = false;
                    }
                });
            }
        }
        FromWorker::Result(result) => {
            RUNNING.with(|r| *r.borrow_mut() = None);
            let elapsed_ms = dom::now_ms() - state.run_started.get_untracked();
            state.legend.set(result.legend.clone());
            state.merges.set(Vec::new());
            state.selected.set(Vec::new());
            state.shown.set(Some(Shown {
                result: *result,
                elapsed_ms,
            }));
            state.busy.set(Busy::Idle);
            if host::attached() {
                export(state, ExportFor::Host);
            }
        }
        FromWorker::Exported => {
            let purpose = EXPORTS.with(|e| e.borrow_mut().pop_front());
            let Some(geotiff) = file else {
                state.fail("the worker sent no GeoTIFF", true);
                return;
            };
            match purpose {
                Some(ExportFor::Host) => host::send_result(state, &geotiff.to_vec()),
                Some(ExportFor::Download) | None => {
                    let name = format!("{}_classes.tif", stem(&file_name(state)));
                    if let Err(e) = dom::download_array(&name, &geotiff, "image/tiff") {
                        state.fail(e, false);
                    }
                }
            }
        }
        FromWorker::Polygons { format, .. } => {
            state.polygons_pending.set(false);
            let Some(bytes) = file else {
                state.fail("the worker sent no polygons", true);
                return;
            };
            let name = format!("{}_classes.{}", stem(&file_name(state)), format.extension());
            let mime = match format {
                PolygonFormat::GeoJson => "application/geo+json",
                PolygonFormat::FlatGeobuf => "application/octet-stream",
            };
            if let Err(e) = dom::download_array(&name, &bytes, mime) {
                state.fail(e, false);
            }
        }
        FromWorker::PolygonsFailed { message } => {
            state.polygons_pending.set(false);
            state.fail(message, false);
        }
        FromWorker::ExportFailed { message } => {
            // Answers the oldest export request, like `Exported`.
            if EXPORTS.with(|e| e.borrow_mut().pop_front()) == Some(ExportFor::Host) {
                host::send_error(&message);
            }
            state.fail(message, false);
        }
        FromWorker::Error { message } => {
            RUNNING.with(|r| *r.borrow_mut() = None);
            if state.busy.get_untracked() == Busy::Opening {
                FILE.with(|f| *f.borrow_mut() = None);
                state.info.set(None);
                state.preview.set(None);
            }
            state.busy.set(Busy::Idle);
            host::send_error(&message);
            state.fail(message, false);
        }
        FromWorker::Panic { message } => {
            if rerun_on_cpu(state, &message) {
                return;
            }
            RUNNING.with(|r| *r.borrow_mut() = None);
            let opening = state.busy.get_untracked() == Busy::Opening;
            state.busy.set(Busy::Idle);
            if opening {
                FILE.with(|f| *f.borrow_mut() = None);
                state.info.set(None);
                state.preview.set(None);
            }
            host::send_error(&message);
            state.fail(format!("unexpected error in the worker: {message}"), true);
            // A panicked WebAssembly instance cannot be trusted again. A worker that never
            // started is not restarted (it would fail the same way).
            let started = WORKER.with(|w| w.borrow().as_ref().is_some_and(|h| h.ready));
            if started {
                restart(state);
            }
        }
    }
}

/// The fraction of the whole run done, from a stage and its fraction (the stages of a run in
/// the worker, in their order; a CNN run spends its fit on the sample's embeddings).
fn overall_fraction(cnn: bool, stage: Stage, fraction: f32) -> f64 {
    let (start, span) = if cnn {
        match stage {
            Stage::BandStatistics => (0.0, 0.05),
            Stage::Sampling => (0.05, 0.28),
            Stage::Fitting => (0.33, 0.04),
            Stage::KCurve => (0.37, 0.04),
            Stage::Assigning => (0.41, 0.55),
            Stage::Hashing => (0.96, 0.02),
            Stage::Writing => (0.98, 0.02),
            _ => (0.0, 0.0),
        }
    } else {
        match stage {
            Stage::BandStatistics => (0.0, 0.1),
            Stage::Sampling => (0.1, 0.1),
            Stage::Fitting => (0.2, 0.15),
            Stage::KCurve => (0.35, 0.05),
            Stage::Assigning => (0.4, 0.5),
            // The hash is taken while the units are labelled; the run waits for it after.
            Stage::Hashing => (0.9, 0.05),
            Stage::Writing => (0.95, 0.05),
            _ => (0.0, 0.0),
        }
    };
    start + span * f64::from(fraction)
}
