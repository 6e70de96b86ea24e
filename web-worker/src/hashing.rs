//! The opened file's BLAKE3 for the run manifest, computed by the worker in the background. It
//! starts with the first run's labelling when a core is free for it, so the worker hashes
//! while the helpers label, else once the map is shown (`run::details`); a file only looked at
//! is never hashed. Started earlier, it would hold up the messages the worker answers while the
//! file panel is shown, the run among them. The file streams in
//! (`Blob.stream()`: the browser hands over its bytes in pieces without a round trip per piece,
//! into one reused buffer where it can, and every piece is an `await`), so the worker keeps
//! handing out jobs to its helpers meanwhile, and a run waits for the hash only if it finishes
//! first.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Poll, Waker};

use engine::manifest::InputHasher;
use web_sys::Blob;

use crate::byte_stream::Pieces;

#[derive(Debug, Default)]
struct Shared {
    /// The BLAKE3 and length, or why the file could not be read, once done.
    done: Option<Result<(String, u64), String>>,
    waker: Option<Waker>,
    /// Set when the hash is no longer wanted (another file was opened).
    dropped: bool,
}

/// A hash computed in the background once started; dropping it stops the computation.
#[derive(Debug)]
pub struct BackgroundHash {
    /// The file, until the hash starts.
    blob: Option<Blob>,
    shared: Rc<RefCell<Shared>>,
}

impl BackgroundHash {
    /// A hash of `blob`, not started yet.
    pub fn of(blob: Blob) -> Self {
        Self {
            blob: Some(blob),
            shared: Rc::default(),
        }
    }

    /// Starts hashing, unless it started already.
    pub fn start(&mut self) {
        let Some(blob) = self.blob.take() else {
            return;
        };
        let task = Rc::clone(&self.shared);
        wasm_bindgen_futures::spawn_local(async move {
            let result = hash(blob, &task).await;
            let mut shared = task.borrow_mut();
            shared.done = Some(result);
            if let Some(waker) = shared.waker.take() {
                waker.wake();
            }
        });
    }

    /// The BLAKE3 (hex) and length of the file, waiting for them if need be (starting the
    /// hash if it has not started).
    pub async fn result(&mut self) -> Result<(String, u64), String> {
        self.start();
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

/// Hashes `blob` as it streams in; stops early (with an error nobody reads) once dropped.
async fn hash(blob: Blob, shared: &RefCell<Shared>) -> Result<(String, u64), String> {
    let mut pieces = Pieces::of(&blob);
    let mut hasher = InputHasher::default();
    let mut piece = Vec::new();
    loop {
        if shared.borrow().dropped {
            pieces.cancel();
            return Err("the file was closed".to_owned());
        }
        if !pieces.next(&mut piece).await? {
            return Ok(hasher.finish());
        }
        hasher.update(&piece);
    }
}
