//! The engine's progress reports drawn as a terminal progress bar, and cancellation by Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::progress::{Cancelled, Progress, Stage};
use indicatif::{ProgressBar, ProgressStyle};

/// Set once the user asked to stop (Ctrl-C); every long step checks it between units of work.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that Ctrl-C (SIGINT, and SIGTERM) sets. A second Ctrl-C exits at once.
    pub fn on_ctrl_c() -> anyhow::Result<Self> {
        let cancel = Self::default();
        let flag = cancel.0.clone();
        ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })?;
        Ok(cancel)
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A progress bar (hidden with `--quiet`) that reports the user's cancellation to the engine.
#[derive(Debug, Clone)]
pub struct Bar {
    bar: ProgressBar,
    cancel: Cancel,
}

impl Bar {
    pub fn new(quiet: bool, cancel: Cancel) -> Self {
        if quiet {
            return Self {
                bar: ProgressBar::hidden(),
                cancel,
            };
        }
        let bar = ProgressBar::new(1000);
        let style = ProgressStyle::with_template("{msg:>15} [{bar:40}] {percent:>3}% ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Self { bar, cancel }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// `Err(Cancelled)` once the user asked to stop.
    pub fn check(&self) -> Result<(), Cancelled> {
        engine::progress::check(self)
    }
}

impl Progress for Bar {
    fn report(&self, stage: Stage, fraction: f32) {
        if self.bar.message() != stage.label() {
            self.bar.set_message(stage.label());
            self.bar.reset_eta();
        }
        self.bar
            .set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_set()
    }
}
