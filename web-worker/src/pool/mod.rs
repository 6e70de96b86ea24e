//! The worker's pool: helpers (more instances of this worker program, started by the worker
//! itself, so plain static hosting suffices: no shared memory, no COOP/COEP headers) that each
//! open the same `File` with a reader of their own and take jobs: read sample windows, label
//! units, draw the k curve. The worker hands them out and takes the answers back in job order,
//! exactly as the CLI's threads do, so the output equals a one-helper run's byte for byte.
//!
//! A helper gets this worker's compiled WebAssembly module first, so starting one costs no
//! download and no compilation. A helper answers its jobs one at a time, in the order it got them, so the pool only keeps,
//! per helper, what each unanswered job was for. Helpers start in the background when a raster
//! is opened; jobs for a helper that is not ready yet wait in its queue. The page cancels a run
//! by terminating the worker, which ends its helpers too.

pub mod helper;
pub mod messages;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::task::{Poll, Waker};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use web::protocol::{DEFAULT_MAX_WORKERS, FromWorker, MAX_WORKERS};
use web::transport::{envelope_as, open, open_as};

use messages::{JOB_KEY, Job, REPLY_KEY, Reply};

/// The script that starts a helper (the worker's own loader, beside it).
const HELPER_SCRIPT: &str = "worker_loader.js";

/// The name every helper is started with (`self.name` in the helper).
pub const HELPER_NAME: &str = "mapseg-helper";

/// Jobs a helper may hold at once: one it works on and one waiting, so it never idles between
/// two answers.
const DEPTH: usize = 2;

/// Why the pool could not do a job.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    #[error("a parallel worker could not start: {0}")]
    Start(String),
    /// A helper stopped (a panic, or its program failed to load): the pool is unusable.
    #[error("a parallel worker stopped: {0}")]
    Stopped(String),
    /// A job failed; the message names the problem.
    #[error("{0}")]
    Job(String),
    #[error("{0}")]
    Message(String),
}

/// A job of [`Pool::spread`], with what goes beside it: `file` (a `Blob`, bytes, an array of
/// them) and the buffers transferred with it.
pub struct Outgoing {
    pub job: Job,
    pub file: Option<JsValue>,
    pub transfer: Option<js_sys::Array>,
}

impl Outgoing {
    /// `job` alone.
    pub fn job(job: Job) -> Self {
        Self {
            job,
            file: None,
            transfer: None,
        }
    }
}

/// A job one helper does while the others take the items of [`Pool::map`]; its answer is kept
/// until asked for ([`Pool::side`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The k curve of the run's fit ([`Job::KCurve`]).
    KCurve = 0,
    /// A fit begun on opening the raster ([`Job::Fit`]).
    Fit = 1,
}

/// How many kinds of [`Side`] jobs there are.
const SIDES: usize = 2;

/// What an unanswered job was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// Its answer only says it is done (open, sampler, labeller).
    Control,
    /// A side job sent while the `generation`-th file was open.
    Side { side: Side, generation: u64 },
    /// Item `i` of the current [`Pool::map`].
    Item(usize),
}

/// A message from a helper.
#[derive(Debug)]
enum Incoming {
    Reply(Reply, Option<JsValue>),
    /// The helper stopped: a panic, or a failure to start.
    Stopped(String),
}

/// Answers waiting for the worker, and the task to wake when one arrives.
#[derive(Debug, Default)]
struct Inbox {
    arrived: VecDeque<(usize, Incoming)>,
    waker: Option<Waker>,
}

/// A helper's link: its `Worker`, and what waits until it is ready.
#[derive(Debug)]
struct Link {
    worker: Worker,
    ready: bool,
    /// Envelopes posted before the helper was ready (a message it cannot yet handle is lost).
    queue: Vec<(JsValue, Option<js_sys::Array>)>,
}

impl Link {
    fn post(&mut self, envelope: JsValue, transfer: Option<js_sys::Array>) -> Result<(), String> {
        if !self.ready {
            self.queue.push((envelope, transfer));
            return Ok(());
        }
        post_to(&self.worker, &envelope, transfer.as_ref())
    }

    fn become_ready(&mut self) -> Result<(), String> {
        self.ready = true;
        for (envelope, transfer) in std::mem::take(&mut self.queue) {
            post_to(&self.worker, &envelope, transfer.as_ref())?;
        }
        Ok(())
    }
}

fn post_to(
    worker: &Worker,
    envelope: &JsValue,
    transfer: Option<&js_sys::Array>,
) -> Result<(), String> {
    match transfer {
        Some(t) => worker.post_message_with_transfer(envelope, t),
        None => worker.post_message(envelope),
    }
    .map_err(|e| web::transport::js_error_text(&e))
}

#[derive(Debug)]
struct Helper {
    link: Rc<RefCell<Link>>,
    pending: VecDeque<Tag>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

/// Where a side job stands.
#[derive(Debug, Clone)]
enum SideState {
    Idle,
    Pending,
    Done(Result<Reply, PoolError>),
}

/// The helpers of one worker.
#[derive(Debug)]
pub struct Pool {
    helpers: Vec<Helper>,
    inbox: Rc<RefCell<Inbox>>,
    /// Counts the files opened, so a side job's answer about an earlier one is never taken for
    /// the current.
    generation: u64,
    sides: [SideState; SIDES],
    /// Why the pool is unusable, once a helper stopped.
    broken: Option<PoolError>,
}

/// The pool's size: `requested`, else one helper per logical core, at most
/// [`DEFAULT_MAX_WORKERS`]; always 1..=[`MAX_WORKERS`].
pub fn size(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| cores().min(DEFAULT_MAX_WORKERS))
        .clamp(1, MAX_WORKERS)
}

/// The browser's logical cores (`navigator.hardwareConcurrency`; 1 when it says nothing).
pub fn cores() -> usize {
    let cores = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .navigator()
        .hardware_concurrency();
    if cores.is_finite() && cores >= 1.0 {
        cores as usize
    } else {
        1
    }
}

impl Pool {
    /// Starts `size` helpers; they load in the background.
    pub fn start(size: usize) -> Result<Self, PoolError> {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let helpers = (0..size)
            .map(|index| spawn(index, &inbox))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            helpers,
            inbox,
            generation: 0,
            sides: [const { SideState::Idle }; SIDES],
            broken: None,
        })
    }

    /// Number of helpers.
    pub fn len(&self) -> usize {
        self.helpers.len()
    }

    /// Why the pool can no longer be used, if it cannot.
    pub fn broken(&self) -> Option<&PoolError> {
        self.broken.as_ref()
    }

    /// Has every helper open `blob` (the raster the page opened, named `name`). Returns at
    /// once: the helpers answer while other work goes on.
    pub fn open(&mut self, name: &str, blob: &JsValue) -> Result<(), PoolError> {
        self.generation += 1;
        self.sides = [const { SideState::Idle }; SIDES];
        for index in 0..self.helpers.len() {
            let job = Job::Open {
                name: name.to_owned(),
            };
            self.send(index, Tag::Control, &job, Some(blob), None)?;
        }
        Ok(())
    }

    /// Has the least busy helper do `job` as side job `side`, while the others go on.
    pub fn start_side(&mut self, side: Side, job: &Job) -> Result<(), PoolError> {
        let index = self
            .helpers
            .iter()
            .enumerate()
            .min_by_key(|(i, h)| (h.pending.len(), *i))
            .map(|(i, _)| i)
            .ok_or_else(|| PoolError::Start("the pool has no workers".to_owned()))?;
        let generation = self.generation;
        self.send(index, Tag::Side { side, generation }, job, None, None)?;
        self.sides[side as usize] = SideState::Pending;
        Ok(())
    }

    /// Whether side job `side` has answered (its answer is kept for [`Pool::side`]).
    pub fn side_ready(&self, side: Side) -> bool {
        matches!(self.sides[side as usize], SideState::Done(_))
    }

    /// The answer to side job `side`, waiting for it if need be (a failed job's message as an
    /// error).
    pub async fn side(&mut self, side: Side) -> Result<Reply, PoolError> {
        loop {
            match &self.sides[side as usize] {
                SideState::Done(result) => return result.clone(),
                SideState::Idle => {
                    return Err(PoolError::Message(format!("{side:?} was never started")));
                }
                SideState::Pending => {
                    let (index, incoming) = self.next().await;
                    self.account(index, incoming)?;
                }
            }
        }
    }

    /// Sends `job` to every helper. It does not wait for their answers: a helper does its
    /// jobs in the order it gets them, so it has done `job` before any job sent after it (a
    /// helper still busy with a side job must not hold up the others), and a failure comes
    /// back with the next job's answers.
    pub fn broadcast(&mut self, job: &Job) -> Result<(), PoolError> {
        for index in 0..self.helpers.len() {
            self.send(index, Tag::Control, job, None, None)?;
        }
        Ok(())
    }

    /// Has the helpers do `jobs` and hands each answer to `take` in job order (with the job's
    /// index), keeping every helper busy and at most four jobs per helper ahead of `take`.
    /// Returns the helper that did each job. Stops at the first failure, which is that of the
    /// lowest failing job whatever the timing (a failed job, or an error of `take`); the jobs
    /// already handed out are waited for.
    pub async fn map<E: From<PoolError>>(
        &mut self,
        jobs: Vec<Job>,
        take: impl FnMut(usize, Reply, Option<JsValue>) -> Result<(), E>,
    ) -> Result<Vec<usize>, E> {
        self.map_placed(jobs, None, take).await
    }

    /// [`Pool::map`] with job `i` done by helper `on[i]` (what an earlier `map` returned: a
    /// helper may still hold what that job left, such as decoded pixels).
    pub async fn map_on<E: From<PoolError>>(
        &mut self,
        jobs: Vec<Job>,
        on: &[usize],
        take: impl FnMut(usize, Reply, Option<JsValue>) -> Result<(), E>,
    ) -> Result<Vec<usize>, E> {
        if on.len() != jobs.len() || on.iter().any(|&h| h >= self.helpers.len()) {
            return Err(PoolError::Message(format!(
                "{} jobs cannot go to the parallel workers {on:?}",
                jobs.len()
            ))
            .into());
        }
        self.map_placed(jobs, Some(on), take).await
    }

    /// `jobs`, each sent when a helper has room (to helper `on[i]` if given), and every answer
    /// handed to `take` in job order; returns the helper that did each job.
    async fn map_placed<E: From<PoolError>>(
        &mut self,
        jobs: Vec<Job>,
        on: Option<&[usize]>,
        mut take: impl FnMut(usize, Reply, Option<JsValue>) -> Result<(), E>,
    ) -> Result<Vec<usize>, E> {
        let ahead = 4 * self.helpers.len();
        let total = jobs.len();
        let mut jobs = jobs.into_iter().enumerate().peekable();
        let mut waiting = BTreeMap::new();
        let mut taken = 0;
        let mut failure: Option<E> = None;
        let mut done_by = Vec::with_capacity(total);
        loop {
            while failure.is_none()
                && let Some(&(i, _)) = jobs.peek()
                && i < taken + ahead
                && let Some(index) = on.map_or_else(|| self.free_helper(), |on| Some(on[i]))
            {
                let Some((i, job)) = jobs.next() else { break };
                done_by.push(index);
                if let Err(e) = self.send(index, Tag::Item(i), &job, None, None) {
                    failure = Some(e.into());
                }
            }
            let in_flight = self
                .helpers
                .iter()
                .any(|h| h.pending.iter().any(|t| matches!(t, Tag::Item(_))));
            if taken == total || (failure.is_some() && !in_flight) {
                break;
            }
            let (index, incoming) = self.next().await;
            match self.account(index, incoming) {
                Ok(Some((i, reply, file))) => {
                    waiting.insert(i, (reply, file));
                }
                Ok(None) => {}
                Err(e) => return Err(failure.unwrap_or(e.into())),
            }
            while let Some((reply, file)) = waiting.remove(&taken) {
                if failure.is_none() {
                    let result = match reply {
                        Reply::Failed { message } => Err(PoolError::Job(message).into()),
                        reply => take(taken, reply, file),
                    };
                    failure = result.err();
                }
                taken += 1;
            }
        }
        failure.map_or(Ok(done_by), Err)
    }

    /// Has the helpers do `count` jobs, whose answers may be taken in any order, and hands
    /// each answer to `take` as it arrives (with the job's index). `make(i, helper)` makes job
    /// `i` for the helper about to get it, with what travels beside it (such as the file's
    /// bytes it will read, fetched meanwhile: the helper still has its previous job to do).
    /// The jobs are cut into one run of neighbours per helper, which each helper takes in
    /// order (so its reader still holds the chunks its last job decoded); a helper that has
    /// finished its run takes the last job of the longest run left. Stops handing out jobs at
    /// the first failure and, once the jobs handed out are answered, returns the failure of
    /// the lowest of the jobs that failed.
    pub async fn spread<E: From<PoolError>, F: Future<Output = Result<Outgoing, E>>>(
        &mut self,
        count: usize,
        mut make: impl FnMut(usize, usize) -> F,
        mut take: impl FnMut(usize, Reply, Option<JsValue>) -> Result<(), E>,
    ) -> Result<(), E> {
        let helpers = self.helpers.len();
        let mut runs: Vec<VecDeque<usize>> = (0..helpers).map(|_| VecDeque::new()).collect();
        for i in 0..count {
            runs[i * helpers / count].push_back(i);
        }
        let mut answered = 0;
        let mut failure: Option<(usize, E)> = None;
        loop {
            while failure.is_none()
                && let Some(index) = self.free_helper()
            {
                let next = match runs[index].pop_front() {
                    Some(i) => Some(i),
                    None => runs
                        .iter_mut()
                        .max_by_key(|run| run.len())
                        .and_then(VecDeque::pop_back),
                };
                let Some(i) = next else { break };
                let sent = match make(i, index).await {
                    Ok(out) => self
                        .send(
                            index,
                            Tag::Item(i),
                            &out.job,
                            out.file.as_ref(),
                            out.transfer,
                        )
                        .map_err(E::from),
                    Err(e) => Err(e),
                };
                if let Err(e) = sent {
                    failure = Some((i, e));
                }
            }
            let in_flight = self
                .helpers
                .iter()
                .any(|h| h.pending.iter().any(|t| matches!(t, Tag::Item(_))));
            if !in_flight && (answered == count || failure.is_some()) {
                break;
            }
            let (index, incoming) = self.next().await;
            match self.account(index, incoming) {
                Ok(Some((i, reply, file))) => {
                    answered += 1;
                    let result = match reply {
                        Reply::Failed { message } => Err(PoolError::Job(message).into()),
                        reply if failure.is_none() => take(i, reply, file),
                        _ => Ok(()),
                    };
                    if let Err(e) = result
                        && failure.as_ref().is_none_or(|(lowest, _)| i < *lowest)
                    {
                        failure = Some((i, e));
                    }
                }
                Ok(None) => {}
                Err(e) => return Err(failure.map_or(e.into(), |(_, f)| f)),
            }
        }
        failure.map_or(Ok(()), |(_, e)| Err(e))
    }

    /// The helper with the fewest unanswered jobs, if one has room (one doing a side job has
    /// none).
    fn free_helper(&self) -> Option<usize> {
        self.helpers
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.pending.len() < DEPTH && !h.pending.iter().any(|t| matches!(t, Tag::Side { .. }))
            })
            .min_by_key(|(i, h)| (h.pending.len(), *i))
            .map(|(i, _)| i)
    }

    /// Posts `job` (with `file` beside it) to helper `index`, remembering what it is for.
    fn send(
        &mut self,
        index: usize,
        tag: Tag,
        job: &Job,
        file: Option<&JsValue>,
        transfer: Option<js_sys::Array>,
    ) -> Result<(), PoolError> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let envelope =
            envelope_as(JOB_KEY, job, file).map_err(|e| PoolError::Message(e.to_string()))?;
        let helper = &mut self.helpers[index];
        helper
            .link
            .borrow_mut()
            .post(envelope, transfer)
            .map_err(PoolError::Message)?;
        helper.pending.push_back(tag);
        Ok(())
    }

    /// Books an answer of helper `index`: a control answer or a hash is kept here; an item's
    /// answer is returned with the item's index.
    fn account(
        &mut self,
        index: usize,
        incoming: Incoming,
    ) -> Result<Option<(usize, Reply, Option<JsValue>)>, PoolError> {
        let (reply, file) = match incoming {
            Incoming::Reply(reply, file) => (reply, file),
            Incoming::Stopped(message) => {
                let error = PoolError::Stopped(message);
                self.broken = Some(error.clone());
                for state in &mut self.sides {
                    if matches!(state, SideState::Pending) {
                        *state = SideState::Done(Err(error.clone()));
                    }
                }
                return Err(error);
            }
        };
        let Some(tag) = self.helpers[index].pending.pop_front() else {
            return Err(PoolError::Message(format!(
                "worker {index} answered a job it was not given"
            )));
        };
        match (tag, reply) {
            (Tag::Item(i), reply) => Ok(Some((i, reply, file))),
            (Tag::Side { side, generation }, reply) => {
                if generation == self.generation {
                    self.sides[side as usize] = SideState::Done(match reply {
                        Reply::Failed { message } => Err(PoolError::Job(message)),
                        reply => Ok(reply),
                    });
                }
                Ok(None)
            }
            (Tag::Control, Reply::Done) => Ok(None),
            (Tag::Control, Reply::Failed { message }) => Err(PoolError::Job(message)),
            (Tag::Control, other) => Err(unexpected(&other)),
        }
    }

    /// The next message of any helper.
    async fn next(&self) -> (usize, Incoming) {
        std::future::poll_fn(|cx| {
            let mut inbox = self.inbox.borrow_mut();
            match inbox.arrived.pop_front() {
                Some(arrival) => Poll::Ready(arrival),
                None => {
                    inbox.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for helper in &self.helpers {
            let worker = &helper.link.borrow().worker;
            // The handlers below are dropped with the pool; a helper stopped while it loads
            // may still report an error, which must not reach the page as this worker's own.
            worker.set_onmessage(None);
            ERROR_SINK.with(|sink| worker.set_onerror(Some(sink.as_ref().unchecked_ref())));
            worker.terminate();
        }
    }
}

thread_local! {
    /// An error handler that only keeps a stopped helper's error from going up to the page.
    static ERROR_SINK: Closure<dyn FnMut(ErrorEvent)> =
        Closure::new(|event: ErrorEvent| event.prevent_default());
}

/// Returns to the event loop and resumes in a new task (through a `MessageChannel`, which
/// `setTimeout`'s clamping does not slow), so the browser can free what the task left behind:
/// a long run of jobs would otherwise never give it the chance.
pub async fn next_task() {
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        channel.port1().set_onmessage(Some(&resolve));
        if channel.port2().post_message(&JsValue::NULL).is_err() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    channel.port1().set_onmessage(None);
}

fn unexpected(reply: &Reply) -> PoolError {
    PoolError::Message(format!(
        "unexpected answer from a parallel worker: {reply:?}"
    ))
}

/// Starts helper `index`, its messages going to `inbox`.
fn spawn(index: usize, inbox: &Rc<RefCell<Inbox>>) -> Result<Helper, PoolError> {
    let options = web_sys::WorkerOptions::new();
    options.set_name(HELPER_NAME);
    let worker = Worker::new_with_options(HELPER_SCRIPT, &options)
        .map_err(|e| PoolError::Start(web::transport::js_error_text(&e)))?;
    let link = Rc::new(RefCell::new(Link {
        worker: worker.clone(),
        ready: false,
        queue: Vec::new(),
    }));
    let deliver = {
        let inbox = inbox.clone();
        move |incoming: Incoming| {
            let mut inbox = inbox.borrow_mut();
            inbox.arrived.push_back((index, incoming));
            if let Some(waker) = inbox.waker.take() {
                waker.wake();
            }
        }
    };
    let on_message = {
        let (link, deliver) = (link.clone(), deliver.clone());
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Ok((reply, file)) = open_as::<Reply>(REPLY_KEY, &data) {
                deliver(Incoming::Reply(reply, file));
                return;
            }
            match open::<FromWorker>(&data) {
                Ok((FromWorker::Ready { .. }, _)) => {
                    if let Err(e) = link.borrow_mut().become_ready() {
                        deliver(Incoming::Stopped(e));
                    }
                }
                Ok((FromWorker::Panic { message }, _)) => deliver(Incoming::Stopped(message)),
                Ok((other, _)) => deliver(Incoming::Stopped(format!(
                    "unexpected message from a parallel worker: {other:?}"
                ))),
                Err(e) => deliver(Incoming::Stopped(e.to_string())),
            }
        })
    };
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        // Handled here: an error of a helper must not go up to the page as this worker's.
        event.prevent_default();
        deliver(Incoming::Stopped(event.message()));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The helper's loader waits for this worker's program and compiled module
    // (`worker_loader.js`).
    let first = js_sys::Object::new();
    let program = js_sys::Reflect::get(&js_sys::global(), &"mapsegProgram".into())
        .map_err(|e| PoolError::Start(web::transport::js_error_text(&e)))?;
    for (key, value) in [("module", wasm_bindgen::module()), ("program", program)] {
        js_sys::Reflect::set(&first, &key.into(), &value)
            .map_err(|e| PoolError::Start(web::transport::js_error_text(&e)))?;
    }
    worker
        .post_message(&first)
        .map_err(|e| PoolError::Start(web::transport::js_error_text(&e)))?;
    Ok(Helper {
        link,
        pending: VecDeque::new(),
        _on_message: on_message,
        _on_error: on_error,
    })
}
