//! Downloads of a result: label GeoTIFF, overlay PNG, class statistics CSV, run manifest and
//! class polygons (GeoJSON or FlatGeobuf, with a simplification tolerance).

use engine::polygons::PolygonFormat;
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
    let format = RwSignal::new(PolygonFormat::GeoJson);
    let tolerance = RwSignal::new("0".to_owned());
    let polygons = move |_| match parse_tolerance(&tolerance.get_untracked()) {
        Ok(metres) => bridge::polygons(state, format.get_untracked(), metres),
        Err(e) => state.fail(e, false),
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
                <button
                    class="button"
                    data-testid="download-manifest"
                    on:click=manifest
                    // The input's hash may follow the map, with the details.
                    disabled=move || state.shown.with(|s| s.as_ref().is_some_and(|s| s.result.details_pending))
                >
                    "Run manifest (JSON)"
                </button>
                <fieldset class="polygons">
                    <legend>"Class polygons"</legend>
                    <label for="polygon-format">"Format"</label>
                    <select
                        id="polygon-format"
                        data-testid="polygon-format"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            if let Some(f) = PolygonFormat::from_extension(&v) {
                                format.set(f);
                            }
                        }
                    >
                        <option value="geojson" selected=move || format.get() == PolygonFormat::GeoJson>
                            "GeoJSON (WGS 84)"
                        </option>
                        <option value="fgb" selected=move || format.get() == PolygonFormat::FlatGeobuf>
                            "FlatGeobuf (the raster's CRS)"
                        </option>
                    </select>
                    <label for="polygon-simplify">"Simplify (m)"</label>
                    <input
                        id="polygon-simplify"
                        data-testid="polygon-simplify"
                        type="number"
                        min="0"
                        step="any"
                        title="Tolerance in metres; 0 keeps every pixel edge. Neighbouring classes keep sharing their boundaries: no gaps, no overlaps."
                        prop:value=move || tolerance.get()
                        on:input=move |ev| tolerance.set(event_target_value(&ev))
                    />
                    <button
                        class="button"
                        data-testid="download-polygons"
                        disabled=move || state.polygons_pending.get()
                        on:click=polygons
                    >
                        {move || if state.polygons_pending.get() { "Making polygons…" } else { "Polygons" }}
                    </button>
                </fieldset>
                <p class="hint">"The GeoTIFF, CSV and polygons use the legend's names and colours."</p>
            </section>
        </Show>
    }
}

/// The simplification tolerance typed in the polygon controls, in metres (empty means 0).
fn parse_tolerance(text: &str) -> Result<f64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0.0);
    }
    match text.parse::<f64>() {
        Ok(m) if m.is_finite() && m >= 0.0 => Ok(m),
        _ => Err(format!(
            "the polygon simplification must be a number of metres, 0 or more (got \"{text}\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_tolerance;

    #[test]
    fn tolerances_are_metres_zero_or_more() {
        assert_eq!(parse_tolerance(""), Ok(0.0));
        assert_eq!(parse_tolerance(" 12.5 "), Ok(12.5));
        assert!(parse_tolerance("-1").unwrap_err().contains("\"-1\""));
        assert!(parse_tolerance("ten").is_err());
        assert!(parse_tolerance("inf").is_err());
    }
}
