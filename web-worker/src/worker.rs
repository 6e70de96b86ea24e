//! The worker: owns the open raster and the last result, answers [`ToWorker`] messages.
//!
//! Messages become jobs on a queue, answered one at a time in the order they came: the message
//! handler only pushes the job and, when none is running, starts the loop that drains the queue
//! ([`drain`]). A job takes what it needs (the open raster, the last result) out of the state,
//! works without holding any borrow of it (a run awaits the engine's unit driver), puts it back
//! and posts its reply; only then does the next job start. So a `Preview` or an `Export` sent
//! during a run is answered after the run. The page cancels a run by terminating the worker and
//! starting a fresh one, so nothing here needs to poll for it.
//!
//! The same program runs the pool's helpers ([`crate::pool`]): a helper gets its jobs from the
//! worker that started it, under their own key, through the same queue.

use std::cell::RefCell;
use std::collections::VecDeque;

use engine::geotiff::{GeoTiffReader, Limits, RasterInfo};
use engine::preview::{PreviewBudget, PreviewError, PreviewRead};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

use crate::blob_reader::{self, BlobReader, Stager};
use crate::hashing::BackgroundHash;
use crate::pool::messages::{JOB_KEY, REPLY_KEY};
use crate::pool::{self, Pool};
use crate::{backend, run, warm_up};

use web::format::file_info;
use web::protocol::{FileInfo, FromWorker, Image, PREVIEW_MAX_SIDE, ToWorker};
use web::transport::{envelope_as, open, open_as};

use crate::backend::CPU;

/// The chunk cache of this worker's own reader. The helpers label K-Means runs, so this
/// reader mostly decodes each chunk once (the display image, class names); a CNN run labels
/// here and decodes some chunks twice. WebAssembly memory never shrinks: a cache of the
/// default 32 MiB would stay allocated for the whole session.
const CHUNK_CACHE_BYTES: usize = 8 << 20;

/// Bytes a helper reads from the file between two returns to the event loop.
const YIELD_AFTER_BYTES: u64 = 32 << 20;

/// The raster the page opened.
pub(crate) struct Session {
    pub(crate) name: String,
    pub(crate) blob: Blob,
    pub(crate) reader: GeoTiffReader<BlobReader>,
    pub(crate) info: RasterInfo,
    /// The file's hash for the run manifest, computed in the background once started.
    pub(crate) hash: BackgroundHash,
    /// A K-Means fit done since it was opened, with the page's settings then.
    pub(crate) prepared: Option<run::Prepared>,
    /// Fetches ranges of the file ahead of the reader's reads (the display image's).
    stager: Stager,
}

/// A message waiting its turn, with the `Blob` sent along (for `Open`): from the page, or,
/// in a helper, a job of the pool.
enum Job {
    Page(ToWorker, Option<JsValue>),
    Pool(pool::messages::Job, Option<JsValue>),
    /// The rest of a fit begun on opening a raster, before the jobs that came meanwhile.
    Ahead(run::Ahead),
    /// A run on synthetic rasters while no file is open ([`warm_up`]), once per worker, from
    /// the scene `from`.
    WarmUp {
        from: usize,
    },
}

#[derive(Default)]
struct State {
    /// The open raster; taken out while a job uses it.
    session: Option<Session>,
    /// What the last run left to export; taken out while an export uses it.
    last: Option<run::LastRun>,
    /// The backend and the fetched models; taken out while a run or a backend change uses them.
    resources: Option<run::Resources>,
    /// The helpers that read and label in parallel, started when a raster is opened; taken
    /// out while a run uses them.
    pool: Option<Pool>,
    /// Jobs not started yet, oldest first.
    queue: VecDeque<Job>,
    /// Whether the drain loop is running (it then takes every job queued meanwhile).
    draining: bool,
    /// What this worker had read from files ([`blob_reader::fetched`]) when it last returned
    /// to the event loop between two jobs of its pool.
    fetched_at_yield: u64,
    /// Whether the warm-up was queued (it runs once, when the page first sets up the pool).
    warm_up_queued: bool,
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
        let data = event.data();
        let job = if js_sys::Reflect::has(&data, &JOB_KEY.into()).unwrap_or(false) {
            open_as(JOB_KEY, &data).map(|(job, file)| Job::Pool(job, file))
        } else {
            open::<ToWorker>(&data).map(|(msg, file)| Job::Page(msg, file))
        };
        match job {
            Ok(job) => enqueue(job),
            Err(e) => post(&FromWorker::Panic {
                message: e.to_string(),
            }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    with_state(|state| state.resources = Some(run::Resources::default()));
    post(&FromWorker::Ready {
        backend: CPU.to_owned(),
    });
}

/// Posts a message to the page.
pub(crate) fn post(msg: &FromWorker) {
    send(msg, None);
}

/// A job's answer: a message, and the file it announces (an exported GeoTIFF, polygons).
struct Reply {
    msg: FromWorker,
    file: Option<Vec<u8>>,
}

impl From<FromWorker> for Reply {
    fn from(msg: FromWorker) -> Self {
        Reply { msg, file: None }
    }
}

/// Posts a reply, its file (or the image or label preview it carries) beside the message in a
/// transferred buffer.
fn post_reply(mut reply: Reply) {
    let file = reply
        .file
        .or_else(|| reply.msg.take_bytes())
        .map(|bytes| js_sys::Uint8Array::from(bytes.as_slice()));
    send(&reply.msg, file.as_ref());
}

fn send(msg: &FromWorker, payload: Option<&js_sys::Uint8Array>) {
    send_as("msg", msg, payload.map(AsRef::as_ref));
}

/// Posts `msg` under `key` to whoever started this worker (the page, or the worker whose
/// helper this is), `file` beside it: bytes (a `Uint8Array`) in a transferred buffer, or a
/// `Blob`.
fn send_as(key: &str, msg: &impl serde::Serialize, file: Option<&JsValue>) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let bytes = file.and_then(|f| f.dyn_ref::<js_sys::Uint8Array>());
    let posted = envelope_as(key, msg, file).map(|value| match bytes {
        Some(b) => scope.post_message_with_transfer(&value, &js_sys::Array::of1(&b.buffer())),
        None => scope.post_message(&value),
    });
    match posted {
        Ok(Ok(())) => {}
        Ok(Err(e)) => web_sys::console::error_2(&"mapseg worker: postMessage failed".into(), &e),
        Err(e) => web_sys::console::error_1(&e.to_string().into()),
    }
}

/// Queues `job` and starts the drain loop unless it is running.
fn enqueue(job: Job) {
    let start = with_state(|state| {
        state.queue.push_back(job);
        !std::mem::replace(&mut state.draining, true)
    });
    if start {
        wasm_bindgen_futures::spawn_local(drain());
    }
}

/// Runs the queued jobs one after the other, posting each reply before the next job starts;
/// stops when the queue is empty.
async fn drain() {
    while let Some(next) = with_state(|state| {
        let next = state.queue.pop_front();
        state.draining = next.is_some();
        next
    }) {
        match next {
            Job::Page(msg, file) => match job(msg, file).await {
                Ok(Some(reply)) => post_reply(reply),
                Ok(None) => {}
                Err(message) => post_reply(FromWorker::Error { message }.into()),
            },
            Job::Ahead(ahead) => fit_ahead(ahead).await,
            Job::WarmUp { from } => warm(from).await,
            Job::Pool(job, file) => {
                let (reply, payload) = pool::helper::answer(job, file).await;
                post_pool_reply(&reply, payload);
                // Jobs follow each other without a pause: let the browser free the buffers of
                // the file's reads now and then (a return to the event loop costs about a
                // millisecond, as much as labelling a tenth of a unit).
                let fetched = blob_reader::fetched();
                if fetched - with_state(|state| state.fetched_at_yield) >= YIELD_AFTER_BYTES {
                    with_state(|state| state.fetched_at_yield = fetched);
                    pool::next_task().await;
                }
            }
        }
    }
}

/// Warms the code up from the scene `from`; when a message cuts it short, it goes on after
/// that message unless a raster was opened meanwhile (the real run then needs no warm-up).
async fn warm(from: usize) {
    match warm_up::run(from, || with_state(|state| !state.queue.is_empty())).await {
        Ok(warm_up::Outcome::Done) => post(&FromWorker::WarmedUp),
        Ok(warm_up::Outcome::GaveWay { next }) => with_state(|state| {
            let opening = state
                .queue
                .iter()
                .any(|job| matches!(job, Job::Page(ToWorker::Open { .. }, _)));
            if state.session.is_none() && !opening {
                state.queue.push_back(Job::WarmUp { from: next });
            }
        }),
        Err(e) => web_sys::console::warn_1(&format!("no warm-up: {e}").into()),
    }
}

/// Finishes the fit begun on opening the raster and keeps it for the run (a failure only
/// costs the head start: the run fits again and reports it).
async fn fit_ahead(ahead: run::Ahead) {
    let Some(mut pool) = with_state(|state| state.pool.take()) else {
        return;
    };
    let prepared = ahead.finish(&mut pool).await;
    with_state(|state| {
        match (prepared, state.session.as_mut()) {
            (Ok(prepared), Some(session)) => session.prepared = Some(prepared),
            (Ok(_), None) => {}
            (Err(e), _) => web_sys::console::warn_1(&format!("no fit ahead: {e}").into()),
        }
        state.pool = Some(pool).filter(|p| p.broken().is_none());
    });
}

/// Posts a helper's reply to the worker that started it, with the `Blob` that goes beside it.
fn post_pool_reply(reply: &pool::messages::Reply, file: Option<JsValue>) {
    send_as(REPLY_KEY, reply, file.as_ref());
}

/// A short borrow of the state; never held across a job's work or an `await`.
fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|state| f(&mut state.borrow_mut()))
}

/// Answers one message (some need no answer).
async fn job(msg: ToWorker, file: Option<JsValue>) -> Result<Option<Reply>, String> {
    let reply = match msg {
        ToWorker::UsePool { workers } => {
            ensure_pool(workers);
            with_state(|state| {
                if !std::mem::replace(&mut state.warm_up_queued, true) {
                    state.queue.push_back(Job::WarmUp { from: 0 });
                }
            });
            return Ok(None);
        }
        ToWorker::Open {
            name,
            display,
            with_preview,
            workers,
            settings,
        } => {
            with_state(|state| {
                state.session = None;
                state.last = None;
            });
            ensure_pool(workers);
            let (session, panel) = open_file(name, file)?;
            // The helpers open the file, and read the sample of a fit with the page's
            // settings, while the preview is read; the fit goes on right after this job.
            open_in_pool(&session);
            if let Some(settings) = settings {
                let params = settings.params(&panel.data_bands);
                let ahead = with_state(|state| {
                    let pool = state.pool.as_mut()?;
                    run::Ahead::start(pool, &session.info, &params)
                });
                if let Some(ahead) = ahead {
                    with_state(|state| state.queue.push_front(Job::Ahead(ahead)));
                }
            }
            if with_preview {
                // The file panel goes out now and the display image right after it, before
                // the rest of the fit: a run asked for meanwhile waits for both, not for the
                // panel, and the image may be slow to read (a quick look of a raster with no
                // overview).
                let display = display
                    .filter(|d| d.iter().all(|&b| b < session.info.bands))
                    .unwrap_or(panel.display_bands);
                with_state(|state| {
                    state
                        .queue
                        .push_front(Job::Page(ToWorker::Preview { display }, None))
                });
            }
            with_state(|state| state.session = Some(session));
            Ok(FromWorker::Opened {
                info: Box::new(panel),
            }
            .into())
        }
        ToWorker::Preview { display } => {
            let mut session = with_state(|state| state.session.take())
                .ok_or_else(|| "no raster is open".to_owned())?;
            let image = preview(&mut session, display).await;
            with_state(|state| state.session = Some(session));
            image.map(|preview| FromWorker::Preview { preview }.into())
        }
        ToWorker::Run { params } => {
            let mut session = with_state(|state| {
                state.last = None;
                state.session.take()
            })
            .ok_or_else(|| "no raster is open".to_owned())?;
            let mut resources = take_resources();
            let mut pool = with_state(|state| state.pool.take());
            let outcome = run::run(&mut session, &params, &mut resources, pool.as_mut()).await;
            with_state(|state| state.resources = Some(resources));
            let reply = match outcome {
                Ok(finished) => {
                    // The map first; the suggested names (a k curve still being drawn on a
                    // helper, the manifest when the hash waited for the map) follow.
                    post_reply(FromWorker::Result(Box::new(finished.result)).into());
                    let mut last = finished.last;
                    let details = run::details(
                        finished.later,
                        &mut session,
                        &mut last,
                        &params,
                        pool.as_mut(),
                    )
                    .await;
                    with_state(|state| state.last = Some(last));
                    Ok(details.into())
                }
                Err(e) => Err(e.to_string()),
            };
            with_state(|state| {
                state.session = Some(session);
                state.pool = pool.filter(|p| p.broken().is_none());
            });
            reply
        }
        ToWorker::UseBackend { choice } => {
            let mut resources = take_resources();
            let (chosen, note) = backend::choose(choice, &mut resources.webgpu).await;
            resources.backend = chosen;
            let reply = FromWorker::Backend {
                name: resources.backend.name(),
                gpu: resources.backend.gpu.is_some(),
                note,
            };
            with_state(|state| state.resources = Some(resources));
            Ok(reply.into())
        }
        ToWorker::Polygons {
            legend,
            merges,
            format,
            simplify_m,
        } => {
            let Some(last) = with_state(|state| state.last.take()) else {
                return Ok(Some(
                    FromWorker::PolygonsFailed {
                        message: "there is no result to make polygons of".to_owned(),
                    }
                    .into(),
                ));
            };
            let written = last.polygons(&legend, &merges, format, simplify_m);
            with_state(|state| state.last = Some(last));
            Ok(match written {
                Ok(file) => Reply {
                    msg: FromWorker::Polygons {
                        format,
                        regions: file.regions,
                        vertices: file.vertices,
                    },
                    file: Some(file.bytes),
                },
                Err(e) => FromWorker::PolygonsFailed {
                    message: format!("making the polygons failed: {e}"),
                }
                .into(),
            })
        }
        ToWorker::Export { legend, merges } => {
            let Some(last) = with_state(|state| state.last.take()) else {
                return Ok(Some(
                    FromWorker::ExportFailed {
                        message: "there is no result to export".to_owned(),
                    }
                    .into(),
                ));
            };
            let written = last.export(&legend, &merges);
            with_state(|state| state.last = Some(last));
            Ok(match written {
                Ok(geotiff) => Reply {
                    msg: FromWorker::Exported,
                    file: Some(geotiff),
                },
                Err(e) => FromWorker::ExportFailed {
                    message: format!("writing the GeoTIFF failed: {e}"),
                }
                .into(),
            })
        }
    };
    reply.map(Some)
}

/// Starts the pool (of `workers` helpers, or the default size) unless it runs with that size.
/// Helpers load in the background. A pool that cannot start only costs the parallelism: the
/// worker then does every job itself.
fn ensure_pool(workers: Option<usize>) {
    let size = pool::size(workers);
    let mut current = with_state(|state| state.pool.take()).filter(|p| p.len() == size);
    if current.is_none() {
        current = Pool::start(size)
            .inspect_err(|e| web_sys::console::warn_1(&e.to_string().into()))
            .ok();
    }
    with_state(|state| state.pool = current);
}

/// Has the pool open the raster of `session` (and start hashing it).
fn open_in_pool(session: &Session) {
    let opened = with_state(|state| {
        state
            .pool
            .as_mut()
            .map(|p| p.open(&session.name, session.blob.as_ref()))
    });
    if let Some(Err(e)) = opened {
        web_sys::console::warn_1(&e.to_string().into());
        with_state(|state| state.pool = None);
    }
}

/// The resources out of the state (jobs run one at a time, so they are always there).
fn take_resources() -> run::Resources {
    with_state(|state| state.resources.take()).unwrap_or_default()
}

/// Opens the `Blob` sent along as `file`; returns the session and what the file panel shows.
fn open_file(name: String, file: Option<JsValue>) -> Result<(Session, FileInfo), String> {
    let blob: Blob = file
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| "no file was sent to the worker".to_owned())?;
    let source = BlobReader::new(blob.clone()).map_err(|e| e.to_string())?;
    let stager = source.stager();
    let size = source.len();
    if size == 0 {
        return Err(format!("cannot read {name}: the file is empty"));
    }
    let mut limits = Limits::default();
    limits.chunk_cache_bytes = CHUNK_CACHE_BYTES;
    let reader = GeoTiffReader::with_limits(source, limits)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let info = reader.info().clone();
    let panel = file_info(&name, size, &info).map_err(|e| e.to_string())?;
    let session = Session {
        name,
        hash: BackgroundHash::of(blob.clone()),
        prepared: None,
        stager,
        blob,
        reader,
        info,
    };
    Ok((session, panel))
}

/// Bytes of one read of the display image's rows: a row's span comes in pieces of this size,
/// a few at once.
const PREVIEW_PIECE_BYTES: usize = 1 << 20;

/// Renders the display image, each row of chunks fetched ahead (asynchronously, a few
/// pieces at once) instead of with one blocking read.
async fn preview(session: &mut Session, bands: [usize; 3]) -> Result<Image, String> {
    let failed = |e: PreviewError| match e {
        PreviewError::NoSuchBand { .. } => e.to_string(),
        e => format!("cannot read {}: {e}", session.name),
    };
    let mut read = PreviewRead::new(
        &session.reader,
        bands,
        PREVIEW_MAX_SIDE,
        &PreviewBudget::default(),
    )
    .map_err(failed)?;
    loop {
        let pieces: Vec<(u64, usize)> = read
            .next_ranges(&session.reader)
            .into_iter()
            .flat_map(|(offset, len)| {
                (0..len)
                    .step_by(PREVIEW_PIECE_BYTES)
                    .map(move |at| (offset + at as u64, PREVIEW_PIECE_BYTES.min(len - at)))
            })
            .collect();
        session.stager.stage(&pieces).await?;
        let more = read.read_row(&mut session.reader);
        session.stager.clear();
        if !more.map_err(failed)? {
            break;
        }
    }
    let p = read.finish();
    Ok(Image {
        width: p.image.width,
        height: p.image.height,
        pixels: p.image.pixels,
    })
}
