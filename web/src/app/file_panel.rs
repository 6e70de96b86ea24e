//! The file panel: open a raster (picker, drop, sample) and what it holds.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

use super::{AppState, Busy, bridge, dom};
use crate::format::bytes;
use crate::protocol::FileInfo;

/// Where the sample raster is served, relative to the page.
const SAMPLE_PATH: &str = "sample/OSBS_029.tif";

#[component]
pub fn FilePanel(state: AppState) -> impl IntoView {
    let on_pick = move |ev: leptos::ev::Event| {
        let input: Option<HtmlInputElement> = ev.target().and_then(|t| t.dyn_into().ok());
        if let Some(input) = input {
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                bridge::open_blob(state, file.name(), file.into());
            }
            // Let the same file be picked again.
            input.set_value("");
        }
    };
    let try_sample = move |_| {
        wasm_bindgen_futures::spawn_local(async move {
            match dom::fetch_blob(SAMPLE_PATH).await {
                Ok(blob) => bridge::open_blob(state, "OSBS_029.tif".to_owned(), blob.into()),
                Err(e) => state.fail(e, false),
            }
        });
    };
    let field = move |f: fn(&FileInfo) -> String| {
        move || state.info.with(|i| i.as_ref().map(f)).unwrap_or_default()
    };
    view! {
        <section class="panel" data-testid="file-panel">
            <h2>"Raster"</h2>
            <div class="open-row">
                <label class="button primary" for="file-input">
                    "Open a GeoTIFF…"
                </label>
                <input
                    id="file-input"
                    data-testid="file-input"
                    class="visually-hidden"
                    type="file"
                    accept=".tif,.tiff,image/tiff"
                    on:change=on_pick
                />
                <button data-testid="try-sample" class="button" on:click=try_sample>
                    "Try a sample"
                </button>
            </div>
            <p class="hint">"…or drop a file anywhere on the page. It never leaves your computer."</p>
            <Show when=move || state.busy.get() == Busy::Opening>
                <p class="hint">"Reading…"</p>
            </Show>
            <dl class="facts" hidden=move || state.info.with(Option::is_none)>
                <dt>"Name"</dt>
                <dd data-testid="file-name">{field(|i| i.name.clone())}</dd>
                <dt>"Size"</dt>
                <dd data-testid="file-size">{field(|i| bytes(i.size))}</dd>
                <dt>"Pixels"</dt>
                <dd data-testid="file-dimensions">{field(|i| format!("{} × {}", i.width, i.height))}</dd>
                <dt>"Bands"</dt>
                <dd data-testid="file-bands">
                    {field(|i| match i.alpha_band {
                        Some(a) => format!("{} (band {} is alpha)", i.bands, a + 1),
                        None => i.bands.to_string(),
                    })}
                </dd>
                <dt>"Type"</dt>
                <dd data-testid="file-type">{field(|i| i.sample_type.clone())}</dd>
                <dt>"Compression"</dt>
                <dd data-testid="file-compression">{field(|i| i.compression.clone())}</dd>
                <dt>"CRS"</dt>
                <dd data-testid="file-crs">{field(|i| i.crs_name.clone())}</dd>
                <dt>"EPSG"</dt>
                <dd data-testid="file-epsg">{field(|i| i.epsg.clone())}</dd>
                <dt>"Pixel size"</dt>
                <dd data-testid="file-pixel-size">{field(|i| i.pixel_size.clone())}</dd>
                <dt>"Extent"</dt>
                <dd data-testid="file-extent">{field(|i| i.extent.clone())}</dd>
                <dt>"Nodata"</dt>
                <dd data-testid="file-nodata">{field(|i| i.nodata.clone())}</dd>
            </dl>
        </section>
    }
}
