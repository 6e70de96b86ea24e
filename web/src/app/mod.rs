//! The page: state, layout and start-up.
//!
//! All state lives in [`AppState`] (plain reactive values). Everything that is not `Send`
//! (the worker, the open `File`, off-screen canvases) lives in thread-locals of [`bridge`] and
//! [`map_view`].

mod bridge;
mod controls;
mod dom;
mod downloads;
mod error;
mod file_panel;
mod host;
mod k_curve;
mod legend;
mod map_view;
mod progress;

use engine::labels::LegendEntry;
use engine::relabel::Merge;
use leptos::prelude::*;

use crate::protocol::{FileInfo, Image, RunResult};
use crate::url_state::Settings;

pub use bridge::{cancel, open_blob, run, use_backend};

/// What the worker is busy with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Idle,
    Opening,
    Running,
}

/// The progress of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgressState {
    /// Label of the engine stage (`Stage::label`: band_statistics, sampling, fitting, …).
    pub stage: String,
    /// Fraction of the stage, 0..=1.
    pub fraction: f32,
    /// Estimated seconds left for the whole run.
    pub eta_s: Option<f64>,
}

/// A message shown in the error banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    /// Something unexpected (a panic), not a user error.
    pub panic: bool,
}

/// A finished run as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub result: RunResult,
    pub elapsed_ms: f64,
}

/// One class merge of the shown result and what it replaced (for undo).
#[derive(Debug, Clone, PartialEq)]
pub struct MergeStep {
    /// The merge, named, on the classes the previous merges left.
    pub merge: Merge,
    /// The result and legend before it.
    pub before: Shown,
    pub legend_before: Vec<LegendEntry>,
}

/// The reactive state of the page.
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    pub info: RwSignal<Option<FileInfo>>,
    pub preview: RwSignal<Option<Image>>,
    pub settings: RwSignal<Settings>,
    /// Where runs work: the WebGPU adapter's name or "CPU (WebAssembly)".
    pub backend: RwSignal<String>,
    /// Whether runs work on a GPU.
    pub backend_gpu: RwSignal<bool>,
    /// Whether a backend choice went (or, before the worker starts, will go) to the worker and
    /// its answer has not come yet: the backend shown may still change.
    pub backend_pending: RwSignal<bool>,
    /// Why the CPU was taken although a GPU was allowed (no adapter, a GPU lost mid-run).
    pub backend_note: RwSignal<Option<String>>,
    pub busy: RwSignal<Busy>,
    pub progress: RwSignal<ProgressState>,
    /// `performance.now()` when the current run started.
    pub run_started: RwSignal<f64>,
    pub shown: RwSignal<Option<Shown>>,
    /// The editable legend of the shown result.
    pub legend: RwSignal<Vec<LegendEntry>>,
    /// Class merges applied to the shown result, oldest first, each with what it replaced.
    pub merges: RwSignal<Vec<MergeStep>>,
    /// Classes (label values) selected in the legend for merging.
    pub selected: RwSignal<Vec<u8>>,
    /// Whether the worker is making polygons for a download.
    pub polygons_pending: RwSignal<bool>,
    pub problem: RwSignal<Option<Problem>>,
}

impl AppState {
    fn new() -> Self {
        let query = dom::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        Self {
            info: RwSignal::new(None),
            preview: RwSignal::new(None),
            settings: RwSignal::new(Settings::from_query(&query)),
            backend: RwSignal::new(crate::protocol::CPU_BACKEND.to_owned()),
            backend_gpu: RwSignal::new(false),
            backend_pending: RwSignal::new(true),
            backend_note: RwSignal::new(None),
            busy: RwSignal::new(Busy::Idle),
            progress: RwSignal::new(ProgressState::default()),
            run_started: RwSignal::new(0.0),
            shown: RwSignal::new(None),
            legend: RwSignal::new(Vec::new()),
            merges: RwSignal::new(Vec::new()),
            selected: RwSignal::new(Vec::new()),
            polygons_pending: RwSignal::new(false),
            problem: RwSignal::new(None),
        }
    }

    /// Shows `message` in the error banner.
    pub fn fail(&self, message: impl Into<String>, panic: bool) {
        self.problem.set(Some(Problem {
            message: message.into(),
            panic,
        }));
    }
}

/// Entry point of the page program.
pub fn start() {
    error::install_panic_hook();
    let state = AppState::new();
    bridge::spawn_worker(state);
    leptos::mount::mount_to_body(move || view! { <App state=state /> });
    dom::install_drop_target(state);
    host::listen(state);
    if let Some(body) = dom::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-ready", "1");
    }
}

/// The whole page.
#[component]
fn App(state: AppState) -> impl IntoView {
    // Keep the URL query equal to the settings, so a link reproduces the run.
    Effect::new(move |_| {
        let query = state.settings.with(Settings::to_query);
        dom::replace_query(&query);
    });
    view! {
        <header class="top">
            <h1>"Mapseg"</h1>
            <p class="tagline">
                "Unsupervised land-cover segmentation of GeoTIFFs, in your browser. Nothing is uploaded."
            </p>
        </header>
        <error::ErrorBanner state=state />
        <main class="layout">
            <aside class="side">
                <file_panel::FilePanel state=state />
                <controls::Controls state=state />
                <progress::ProgressBar state=state />
            </aside>
            <section class="content">
                <map_view::MapView state=state />
                <div class="below-map">
                    <legend::Legend state=state />
                    <div class="side-by-side">
                        <k_curve::KCurve state=state />
                        <downloads::Downloads state=state />
                    </div>
                </div>
            </section>
        </main>
    }
}
