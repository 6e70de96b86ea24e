//! The legend: colour (editable), name (editable), pixels, area and share of every class.

use leptos::prelude::*;

use super::AppState;

#[component]
pub fn Legend(state: AppState) -> impl IntoView {
    move || {
        let Some(rows) = state
            .shown
            .with(|s| s.as_ref().map(|s| s.result.rows.clone()))
        else {
            return ().into_any();
        };
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
                view! {
                    <tr data-testid=format!("legend-row-{i}")>
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
                <table data-testid="legend">
                    <thead>
                        <tr>
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

/// "#rrggbb" → [r, g, b].
fn parse_colour(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let part = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([part(0)?, part(2)?, part(4)?])
}
