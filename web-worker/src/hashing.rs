//! The opened file's BLAKE3 for the run manifest, computed by the worker in the background from
//! the moment the file is opened: a few megabytes at a time, returning to the event loop after
//! each step, so the worker keeps handing out jobs to its helpers meanwhile and a run waits for
//! the hash only if it finishes first. Reading the file once more costs about a second per
//! 700 MB; overlapped with the run, it costs nothing on a helper.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;
use std::task::{Poll, Waker};

use engine::manifest::InputHasher;
use web_sys::Blob;

use crate::blob_reader::BlobReader;
use crate::pool::next_task;

/// Bytes hashed between two returns to the event loop (a few milliseconds of work).
const STEP: usize = 4 << 20;

#[derive(Debug, Default)]
struct Shared {
    /// The BLAKE3 and length, or why the file could not be read, once done.
    done: Option<Result<(String, u64), String>>,
    waker: Option<Waker>,
    /// Set when the hash is no longer wanted (another file was opened).
    dropped: bool,
}

/// A hash being computed in the background; dropping it stops the computation.
#[derive(Debug)]
pub struct BackgroundHash {
    shared: Rc<RefCell<Shared>>,
}

impl BackgroundHash {
    /// Starts hashing `blob`.
    pub fn start(blob: Blob) -> Self {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let task = Rc::clone(&shared);
        wasm_bindgen_futures::spawn_local(async move {
            let result = hash(blob, &task).await;
            let mut shared = task.borrow_mut();
            shared.done = Some(result.map_err(|e| e.to_string()));
            if let Some(waker) = shared.waker.take() {
                waker.wake();
            }
        });
        Self { shared }
    }

    /// The BLAKE3 (hex) and length of the file, waiting for them if need be.
    pub async fn result(&self) -> Result<(String, u64), String> {
        std::future::poll_fn(|cx| {
            let mut shared = self.shared.borrow_mut();
            match &shared.done {
                Some(result) => Poll::Ready(result.clone()),
                None => {
                    shared.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for BackgroundHash {
    fn drop(&mut self) {
        self.shared.borrow_mut().dropped = true;
    }
}

/// Hashes `blob` step by step; stops early (with an error nobody reads) once dropped.
async fn hash(blob: Blob, shared: &RefCell<Shared>) -> std::io::Result<(String, u64)> {
    let mut source = BlobReader::new(blob)?;
    let mut hasher = InputHasher::default();
    let mut buf = vec![0u8; STEP];
    loop {
        if shared.borrow().dropped {
            return Err(std::io::Error::other("the file was closed"));
        }
        let n = source.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
        next_task().await;
    }
}
