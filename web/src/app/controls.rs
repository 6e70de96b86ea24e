//! The run controls: method, k, resolution, the method's own settings (K-Means: pre-smoothing,
//! normalisation; CNN: weight of the band values, band roles), smoothing, minimum mapping unit,
//! seed, where the work runs, bands, display.

use engine::normalise::Normalisation;
use leptos::prelude::*;

use super::{AppState, Busy, bridge};
use crate::protocol::BackendChoice;
use crate::url_state::{K_RANGE, Method, RESOLUTIONS, SMOOTHING, SPECTRA, Settings};

/// A weight of the band values beside the CNN's features, for the select box.
fn spectra_label(v: f32) -> String {
    if v == 0.0 {
        "off (features only)".to_owned()
    } else if v == 1.0 {
        "× 1 (equal share)".to_owned()
    } else {
        format!("× {v}")
    }
}

/// A short description of a normalisation for the select box.
fn normalisation_label(n: Normalisation) -> String {
    match n {
        Normalisation::Auto => format!(
            "Automatic ({})",
            normalisation_label(Normalisation::DEFAULT)
        ),
        Normalisation::Unit => "÷ 255 (8-bit only)".to_owned(),
        Normalisation::Stretch => "2–98 % stretch".to_owned(),
        Normalisation::Zscore => "z-score".to_owned(),
        Normalisation::Robust => "robust z-score".to_owned(),
        Normalisation::RobustClip => "robust z-score, clipped".to_owned(),
    }
}

#[component]
pub fn Controls(state: AppState) -> impl IntoView {
    let s = state.settings;
    let running = move || state.busy.get() == Busy::Running;
    let number = move |f: fn(&Settings) -> String| move || s.with(f);
    let cnn = move || s.with(|s| s.method == Method::Cnn);
    let kmeans = move || !cnn();
    view! {
        <section class="panel controls">
            <h2>"Segmentation"</h2>
            <div class="grid">
                <label for="method">"Method"</label>
                <select
                    id="method"
                    data-testid="method"
                    on:change=move |ev| {
                        if let Some(m) = Method::from_name(&event_target_value(&ev)) {
                            s.update(|s| s.method = m);
                        }
                    }
                >
                    {Method::ALL
                        .into_iter()
                        .map(|m| {
                            view! {
                                <option value=m.name() selected=move || s.with(|s| s.method == m)>
                                    {m.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="k">"Classes (k)"</label>
                <input
                    id="k"
                    data-testid="k"
                    type="number"
                    min=K_RANGE.start().to_string()
                    max=K_RANGE.end().to_string()
                    step="1"
                    prop:value=number(|s| s.k.to_string())
                    on:change=move |ev| {
                        if let Ok(k) = event_target_value(&ev).trim().parse::<usize>() {
                            s.update(|s| s.k = k.clamp(*K_RANGE.start(), *K_RANGE.end()));
                        }
                    }
                />
                <label for="resolution">"Resolution"</label>
                <select
                    id="resolution"
                    data-testid="resolution"
                    on:change=move |ev| {
                        if let Ok(r) = event_target_value(&ev).parse::<u32>() {
                            s.update(|s| s.resolution = r);
                        }
                    }
                >
                    {RESOLUTIONS
                        .iter()
                        .map(|&r| {
                            view! {
                                <option
                                    value=r.to_string()
                                    selected=move || s.with(|s| s.resolution == r)
                                >
                                    {format!("{r} × {r} px")}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="presmooth" hidden=cnn>"Pre-smoothing"</label>
                <label class="check" hidden=cnn>
                    <input
                        id="presmooth"
                        data-testid="presmooth"
                        type="checkbox"
                        prop:checked=move || s.with(|s| s.presmooth)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            s.update(|s| s.presmooth = on);
                        }
                    />
                    "3 × 3 mean"
                </label>
                <label for="normalise" hidden=cnn>"Normalisation"</label>
                <select
                    id="normalise"
                    data-testid="normalise"
                    hidden=cnn
                    on:change=move |ev| {
                        if let Ok(n) = event_target_value(&ev).parse::<Normalisation>() {
                            s.update(|s| s.normalise = n);
                        }
                    }
                >
                    {Normalisation::ALL
                        .into_iter()
                        .map(|n| {
                            view! {
                                <option
                                    value=n.name()
                                    selected=move || s.with(|s| s.normalise == n)
                                >
                                    {normalisation_label(n)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="spectra" hidden=kmeans>"Band values"</label>
                <select
                    id="spectra"
                    data-testid="spectra"
                    hidden=kmeans
                    title="Weight of the file's own band values beside the network's features"
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<f32>() {
                            s.update(|s| s.spectra = v);
                        }
                    }
                >
                    {SPECTRA
                        .into_iter()
                        .map(|v| {
                            view! {
                                <option value=v.to_string() selected=move || s.with(|s| s.spectra == v)>
                                    {spectra_label(v)}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="roles" hidden=kmeans>"Band roles"</label>
                <input
                    id="roles"
                    data-testid="roles"
                    type="text"
                    hidden=kmeans
                    placeholder="from the file"
                    title="Which band is which, e.g. red,green,blue,nir or 4=nir,3=red (- skips a band)"
                    prop:value=move || s.with(|s| s.roles.clone().unwrap_or_default())
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        s.update(|s| s.roles = (!v.trim().is_empty()).then(|| v.trim().to_owned()));
                    }
                />
                <label for="smooth">"Smoothing"</label>
                <select
                    id="smooth"
                    data-testid="smooth"
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<usize>() {
                            s.update(|s| s.smooth = v);
                        }
                    }
                >
                    {SMOOTHING
                        .iter()
                        .map(|&v| {
                            view! {
                                <option
                                    value=v.to_string()
                                    selected=move || s.with(|s| s.smooth == v)
                                >
                                    {if v == 0 { "off".to_owned() } else { format!("{v} × {v} majority") }}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="mmu">"Minimum unit (px)"</label>
                <input
                    id="mmu"
                    data-testid="mmu"
                    type="number"
                    min="0"
                    step="1"
                    prop:value=number(|s| s.mmu.to_string())
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).trim().parse::<u32>() {
                            s.update(|s| s.mmu = v);
                        }
                    }
                />
                <label for="seed">"Seed"</label>
                <input
                    id="seed"
                    data-testid="seed"
                    type="number"
                    min="0"
                    step="1"
                    prop:value=number(|s| s.seed.to_string())
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).trim().parse::<u64>() {
                            s.update(|s| s.seed = v);
                        }
                    }
                />
                <label for="backend-choice">"Compute"</label>
                <select
                    id="backend-choice"
                    data-testid="backend-choice"
                    on:change=move |ev| {
                        if let Some(b) = BackendChoice::from_name(&event_target_value(&ev)) {
                            s.update(|s| s.backend = b);
                            bridge::use_backend(state, b);
                        }
                    }
                >
                    {BackendChoice::ALL
                        .into_iter()
                        .map(|b| {
                            view! {
                                <option value=b.name() selected=move || s.with(|s| s.backend == b)>
                                    {b.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <span>"Running on"</span>
                <span
                    data-testid="backend"
                    data-gpu=move || state.backend_gpu.get().to_string()
                    data-pending=move || state.backend_pending.get().to_string()
                >
                    {move || state.backend.get()}
                </span>
                <span class="backend-note" data-testid="backend-note" hidden=move || state.backend_note.with(Option::is_none)>
                    {move || state.backend_note.get().unwrap_or_default()}
                </span>
            </div>
            <BandPickers state=state />
            <div class="run-row">
                <button
                    data-testid="run"
                    class="button primary"
                    disabled=move || state.info.with(Option::is_none) || state.busy.get() != Busy::Idle
                    on:click=move |_| bridge::run(state)
                >
                    "Segment"
                </button>
                <button
                    data-testid="cancel"
                    class="button"
                    hidden=move || !running()
                    disabled=move || !running()
                    on:click=move |_| bridge::cancel(state)
                >
                    "Cancel"
                </button>
            </div>
        </section>
    }
}

/// Band checkboxes (segmentation) and the red/green/blue display pickers.
#[component]
fn BandPickers(state: AppState) -> impl IntoView {
    let s = state.settings;
    move || {
        let Some(info) = state.info.get() else {
            return ().into_any();
        };
        let data_bands = info.data_bands.clone();
        let boxes = (0..info.bands)
            .map(|b| {
                let is_alpha = info.alpha_band == Some(b);
                let data = data_bands.clone();
                let data2 = data_bands.clone();
                let n = b + 1;
                view! {
                    <label class="band">
                        <input
                            type="checkbox"
                            data-testid=format!("band-{n}")
                            disabled=is_alpha
                            prop:checked=move || {
                                !is_alpha
                                    && s.with(|s| s.bands.as_ref().is_none_or(|c| c.contains(&b)))
                            }
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                s.update(|s| {
                                    let mut chosen = s.bands.clone().unwrap_or_else(|| data.clone());
                                    chosen.retain(|&x| x != b);
                                    if on {
                                        chosen.push(b);
                                        chosen.sort_unstable();
                                    }
                                    s.bands = if chosen.is_empty() || chosen == data2 {
                                        None
                                    } else {
                                        Some(chosen)
                                    };
                                });
                            }
                        />
                        {if is_alpha { format!("{n} (alpha)") } else { n.to_string() }}
                    </label>
                }
            })
            .collect_view();
        let default_display = info.display_bands;
        let bands = info.bands;
        let pickers = ["r", "g", "b"]
            .into_iter()
            .enumerate()
            .map(|(channel, name)| {
                let current = move || s.with(|s| s.display.unwrap_or(default_display)[channel]);
                view! {
                    <label class="display">
                        {name.to_uppercase()}
                        <select
                            data-testid=format!("display-{name}")
                            on:change=move |ev| {
                                // Option values are 1-based band numbers, like the labels.
                                if let Some(b) = event_target_value(&ev)
                                    .parse::<usize>()
                                    .ok()
                                    .and_then(|n| n.checked_sub(1))
                                {
                                    let mut d = s.with_untracked(|s| s.display.unwrap_or(default_display));
                                    d[channel] = b;
                                    s.update(|s| s.display = Some(d));
                                    bridge::set_display(d);
                                }
                            }
                        >
                            {(0..bands)
                                .map(|b| {
                                    view! {
                                        <option value=(b + 1).to_string() selected=move || current() == b>
                                            {(b + 1).to_string()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                }
            })
            .collect_view();
        let show = move |d: [usize; 3]| {
            s.update(|s| s.display = (d != default_display).then_some(d));
            bridge::set_display(d);
        };
        let presets = info.false_colour.map(|false_colour| {
            view! {
                <div class="display-presets">
                    <button
                        type="button"
                        class="button small"
                        data-testid="display-true-colour"
                        on:click=move |_| show(default_display)
                    >
                        "True colour"
                    </button>
                    <button
                        type="button"
                        class="button small"
                        data-testid="display-false-colour"
                        title="Near infrared as red, red as green, green as blue: vegetation shows bright red"
                        on:click=move |_| show(false_colour)
                    >
                        "False colour (NIR, red, green)"
                    </button>
                </div>
            }
        });
        view! {
            <fieldset class="bands">
                <legend>"Bands to segment"</legend>
                {boxes}
            </fieldset>
            <fieldset class="bands" hidden=bands < 2>
                <legend>"Display (red, green, blue)"</legend>
                {pickers}
                {presets}
            </fieldset>
        }
        .into_any()
    }
}
