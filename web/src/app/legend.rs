//! The legend: colour (editable), name (editable), pixels, area and share of every class; a
//! checkbox per class to merge two or more of them (undoable).
//!
//! Where the run suggested a name for a class (from its mean spectrum), a button under its
//! name takes it, and "Use suggested names" takes them all; they stay editable.
//!
//! A merge rewrites the shown result at once (the label preview, the statistics rows, the
//! manifest) with the engine's [`engine::relabel`] mapping and keeps what it replaced; the
//! worker applies the same merges to its label tiles when the GeoTIFF is exported.

use engine::manifest::RunManifest;
use engine::naming::{self, Suggestion};
use engine::relabel::{Merge, plan};
use leptos::prelude::*;

use super::{AppState, MergeStep};

#[component]
pub fn Legend(state: AppState) -> impl IntoView {
    move || {
        let Some((rows, suggestions)) = state.shown.with(|s| {
            s.as_ref()
                .map(|s| (s.result.rows.clone(), s.result.suggestions.clone()))
        }) else {
            return ().into_any();
        };
        let any_suggestion = suggestions.iter().any(Option::is_some);
        let body = rows
            .into_iter()
            .map(|row| {
                let i = usize::from(row.class);
                let colour = move || {
                    state.legend.with(|l| {
                        l.get(i)
                            .map(|e| format!("#{:02x}{:02x}{:02x}", e.colour[0], e.colour[1], e.colour[2]))
                            .unwrap_or_default()
                    })
                };
                let name = move || state.legend.with(|l| l.get(i).map(|e| e.name.clone()).unwrap_or_default());
                let suggestion = suggestions.get(i).cloned().flatten();
                let class = row.class;
                                let checked = move || state.selected.with(|s| s.contains(&class));
                view! {
                    <tr data-testid=format!("legend-row-{i}")>
                        <td>
                            <input
                                type="checkbox"
                                title="Select for merging"
                                data-testid=format!("legend-select-{i}")
                                prop:checked=checked
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    state.selected.update(|s| {
                                        s.retain(|&c| c != class);
                                        if on {
                                            s.push(class);
                                        }
                                    });
                                }
                            />
                        </td>
                        <td>
                            <input
                                type="color"
                                title="Class colour"
                                prop:value=colour
                                on:input=move |ev| {
                                    if let Some(c) = parse_colour(&event_target_value(&ev)) {
                                        state.legend.update(|l| {
                                            if let Some(e) = l.get_mut(i) {
                                                e.colour = c;
                                            }
                                        });
                                    }
                                }
                            />
                        </td>
                        <td>
                            <input
                                type="text"
                                data-testid=format!("legend-name-{i}")
                                prop:value=name
                                on:input=move |ev| {
                                    let v = event_target_value(&ev);
                                    state.legend.update(|l| {
                                        if let Some(e) = l.get_mut(i) {
                                            e.name = v;
                                        }
                                    });
                                }
                            />
                            {suggestion.map(|s| suggestion_button(state, i, s))}
                        </td>
                        <td class="num" data-testid=format!("legend-pixels-{i}")>{row.pixels.to_string()}</td>
                        <td class="num" data-testid=format!("legend-area-{i}")>
                            {row.area_ha.map_or_else(|| "—".to_owned(), crate::format::hectares)}
                        </td>
                        <td class="num" data-testid=format!("legend-percent-{i}")>{format!("{:.2}", row.percent)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel legend">
                <h2>"Legend"</h2>
                <div class="legend-actions">
                    <button
                        class="button"
                        data-testid="merge-selected"
                        title="Merge the selected classes into one (the first one's colour, the names joined)"
                        prop:disabled=move || state.selected.with(|s| s.len() < 2)
                        on:click=move |_| merge_selected(state)
                    >
                        "Merge selected"
                    </button>
                    <button
                        class="button"
                        data-testid="use-suggested-names"
                        title="Name every class that has a suggestion after it (you can still edit each name)"
                        hidden=!any_suggestion
                        on:click=move |_| use_all_suggestions(state)
                    >
                        "Use suggested names"
                    </button>
                    <button
                        class="button"
                        data-testid="undo-merge"
                        prop:disabled=move || state.merges.with(Vec::is_empty)
                        on:click=move |_| undo_merge(state)
                    >
                        "Undo merge"
                    </button>
                </div>
                <p class="hint" hidden=!any_suggestion>
                    "Suggested names are guesses from each class's mean spectrum (spectral indices, or brightness and greenness for RGB), not a classification: check them against the image."
                </p>
                <table data-testid="legend">
                    <thead>
                        <tr>
                            <th>"Merge"</th>
                            <th>"Colour"</th>
                            <th>"Name"</th>
                            <th class="num">"Pixels"</th>
                            <th class="num">"Area (ha)"</th>
                            <th class="num">"%"</th>
                        </tr>
                    </thead>
                    <tbody>{body}</tbody>
                </table>
            </section>
        }
        .into_any()
    }
}

/// The suggested name of class `i` as a button that takes it, hidden while the name is the
/// suggestion.
fn suggestion_button(state: AppState, i: usize, suggestion: Suggestion) -> impl IntoView {
    let title = format!(
        "Suggested from the class's mean spectrum: {}. A guess to check, not a classification.",
        suggestion.basis
    );
    let name = suggestion.name;
    let taken = {
        let name = name.clone();
        move || {
            state
                .legend
                .with(|l| l.get(i).is_some_and(|e| e.name == name))
        }
    };
    let label = format!("suggested: {name}");
    view! {
        <button
            class="button small suggestion"
            data-testid=format!("legend-suggest-{i}")
            title=title
            hidden=taken
            on:click=move |_| {
                state.legend.update(|l| {
                    if let Some(e) = l.get_mut(i) {
                        e.name.clone_from(&name);
                    }
                });
            }
        >
            {label}
        </button>
    }
}

/// Names every class that has a suggestion after it.
fn use_all_suggestions(state: AppState) {
    let suggestions = state
        .shown
        .with_untracked(|s| s.as_ref().map(|s| s.result.suggestions.clone()))
        .unwrap_or_default();
    state
        .legend
        .update(|legend| naming::take_suggestions(legend, &suggestions));
}

/// Merges the selected classes of the shown result into the lowest of them.
fn merge_selected(state: AppState) {
    let classes = state.selected.get_untracked();
    let Some(before) = state.shown.get_untracked() else {
        return;
    };
    let legend_before = state.legend.get_untracked();
    let merge = Merge {
        classes,
        name: None,
    };
    let relabelling = match plan(&legend_before, std::slice::from_ref(&merge)) {
        Ok(r) => r,
        Err(e) => {
            state.fail(format!("cannot merge: {e}"), false);
            return;
        }
    };
    let Some(record) = relabelling.records.first().cloned() else {
        return;
    };
    let mut shown = before.clone();
    let result = &mut shown.result;
    relabelling.map.apply(&mut result.labels);
    result.rows = relabelling.map.rows(&result.rows, &relabelling.legend);
    result.legend.clone_from(&relabelling.legend);
    result.suggestions = relabelling
        .map
        .shared(&result.suggestions, |a, b| a.name == b.name);
    if let Ok(mut manifest) = serde_json::from_str::<RunManifest>(&result.manifest) {
        manifest.merges.push(record.clone());
        result.manifest = manifest.to_json();
    }
    state.merges.update(|m| {
        m.push(MergeStep {
            merge: Merge {
                classes: record.classes,
                name: Some(record.name),
            },
            before,
            legend_before,
        });
    });
    state.selected.set(Vec::new());
    state.legend.set(relabelling.legend);
    state.shown.set(Some(shown));
}

/// Undoes the last merge: the result and legend it replaced come back.
fn undo_merge(state: AppState) {
    let mut step = None;
    state.merges.update(|m| step = m.pop());
    if let Some(step) = step {
        state.selected.set(Vec::new());
        state.legend.set(step.legend_before);
        state.shown.set(Some(step.before));
    }
}

/// "#rrggbb" → [r, g, b].
fn parse_colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let part = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([part(0)?, part(2)?, part(4)?])
}
