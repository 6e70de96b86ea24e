//! The progress bar: stage, fraction and time left.

use leptos::prelude::*;

use super::{AppState, Busy};

#[component]
pub fn ProgressBar(state: AppState) -> impl IntoView {
    let p = state.progress;
    view! {
        <section
            class="panel progress"
            data-testid="progress"
            data-stage=move || p.with(|p| p.stage.clone())
            data-fraction=move || p.with(|p| format!("{:.3}", p.fraction))
            hidden=move || state.busy.get() != Busy::Running
        >
            <div class="progress-line">
                <span data-testid="progress-stage">{move || p.with(|p| p.stage.clone())}</span>
                <span data-testid="progress-eta">
                    {move || p.with(|p| match p.eta_s {
                        Some(s) if s < 1.0 => "less than a second left".to_owned(),
                        Some(s) if s < 90.0 => format!("about {} s left", s.round()),
                        Some(s) => format!("about {} min left", (s / 60.0).round()),
                        None => "estimating…".to_owned(),
                    })}
                </span>
            </div>
            <div class="bar">
                <div class="fill" style:width=move || p.with(|p| format!("{:.1}%", p.fraction * 100.0))></div>
            </div>
        </section>
    }
}
