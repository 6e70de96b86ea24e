//! The engine's progress reports drawn as a terminal progress bar.

use engine::progress::{Progress, Stage};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar (hidden with `--quiet`) that never cancels.
#[derive(Debug, Clone)]
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(quiet: bool) -> Self {
        if quiet {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(1000);
        let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {percent:>3}% ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Self(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn report(&self, stage: Stage, fraction: f32) {
        if self.0.message() != stage.label() {
            self.0.set_message(stage.label());
            self.0.reset_eta();
        }
        self.0
            .set_position((fraction.clamp(0.0, 1.0) * 1000.0) as u64);
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}
