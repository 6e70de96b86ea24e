//! The k curve: inertia for k = 2..16 on the fitting sample (K-Means: block features; CNN: the
//! standardised embedding features it clusters), with the suggested k marked; nothing is shown
//! for a result without a curve.

use leptos::prelude::*;

use super::AppState;

const W: f64 = 260.0;
const H: f64 = 130.0;
const PAD: f64 = 24.0;

#[component]
pub fn KCurve(state: AppState) -> impl IntoView {
    let curve = move || {
        state.shown.with(|s| {
            s.as_ref()
                .map(|s| (s.result.k_curve.clone(), s.result.suggested_k))
        })
    };
    move || {
        let Some((Some(points), suggested)) = curve() else {
            return ().into_any();
        };
        if points.is_empty() {
            return ().into_any();
        }
        let (k0, k1) = (
            points.first().map_or(2, |p| p.k) as f64,
            points.last().map_or(16, |p| p.k) as f64,
        );
        let max = points
            .iter()
            .map(|p| p.inertia)
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let x = move |k: usize| PAD + (k as f64 - k0) / (k1 - k0).max(1.0) * (W - 2.0 * PAD);
        let y = move |v: f64| H - PAD - v / max * (H - 2.0 * PAD);
        let line = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.k), y(p.inertia)))
            .collect::<Vec<_>>()
            .join(" ");
        let mark = suggested.and_then(|k| points.iter().find(|p| p.k == k)).map(|p| {
            let (cx, cy) = (x(p.k), y(p.inertia));
            view! {
                <circle cx=format!("{cx:.1}") cy=format!("{cy:.1}") r="4" class="suggested" />
                <text x=format!("{cx:.1}") y=format!("{:.1}", cy - 8.0) text-anchor="middle" class="label">
                    {format!("k = {}", p.k)}
                </text>
            }
        });
        view! {
            <figure class="panel k-curve">
                <figcaption>
                    "Help choosing k: inertia by k"
                    {suggested.map(|k| format!(" (suggested k = {k})"))}
                </figcaption>
                <svg
                    data-testid="k-curve"
                    data-suggested-k=suggested.map(|k| k.to_string()).unwrap_or_default()
                    viewBox=format!("0 0 {W} {H}")
                    width=W.to_string()
                    height=H.to_string()
                    role="img"
                >
                    <line x1=PAD.to_string() y1=(H - PAD).to_string() x2=(W - PAD).to_string() y2=(H - PAD).to_string() class="axis" />
                    <line x1=PAD.to_string() y1=PAD.to_string() x2=PAD.to_string() y2=(H - PAD).to_string() class="axis" />
                    <text x=PAD.to_string() y=(H - 8.0).to_string() class="label">{format!("k={k0}")}</text>
                    <text x=(W - PAD).to_string() y=(H - 8.0).to_string() text-anchor="end" class="label">{format!("k={k1}")}</text>
                    <polyline points=line class="curve" fill="none" />
                    {mark}
                </svg>
            </figure>
        }
        .into_any()
    }
}
