//! Downloads of a result: label GeoTIFF, overlay PNG, class statistics CSV, run manifest.

use engine::stats::to_csv;
use leptos::prelude::*;

use super::bridge::{self, ExportFor};
use super::{AppState, dom, map_view};
use crate::format::stem;

#[component]
pub fn Downloads(state: AppState) -> impl IntoView {
    let name = move |suffix: &str| format!("{}{suffix}", stem(&bridge::file_name(state)));
    let csv = move |_| {
        let rows = state
            .shown
            .with_untracked(|s| s.as_ref().map(|s| s.result.rows.clone()));
        let Some(mut rows) = rows else { return };
        state.legend.with_untracked(|legend| {
            for row in &mut rows {
                if let Some(e) = legend.get(usize::from(row.class)) {
                    row.name.clone_from(&e.name);
                }
            }
        });
        if let Err(e) =
            dom::download_bytes(&name("_classes.csv"), to_csv(&rows).as_bytes(), "text/csv")
        {
            state.fail(e, false);
        }
    };
    let manifest = move |_| {
        let json = state
            .shown
            .with_untracked(|s| s.as_ref().map(|s| s.result.manifest.clone()));
        if let Some(json) = json
            && let Err(e) =
                dom::download_bytes(&name("_manifest.json"), json.as_bytes(), "application/json")
        {
            state.fail(e, false);
        }
    };
    let png = move |_| {
        if let Err(e) = map_view::download_overlay_png(&name("_classes.png")) {
            state.fail(e, false);
        }
    };
    view! {
        <Show when=move || state.shown.with(Option::is_some)>
            <section class="panel downloads">
                <h2>"Downloads"</h2>
                <button
                    class="button primary"
                    data-testid="download-geotiff"
                    on:click=move |_| bridge::export(state, ExportFor::Download)
                >
                    "Label GeoTIFF"
                </button>
                <button class="button" data-testid="download-png" on:click=png>
                    "Overlay PNG"
                </button>
                <button class="button" data-testid="download-csv" on:click=csv>
                    "Class statistics (CSV)"
                </button>
                <button class="button" data-testid="download-manifest" on:click=manifest>
                    "Run manifest (JSON)"
                </button>
                <p class="hint">"The GeoTIFF and CSV use the legend's names and colours."</p>
            </section>
        </Show>
    }
}
