//! The map view: the display image with the label overlay on a canvas, opacity, pan (drag),
//! zoom (wheel) and the class under the cursor.

use std::cell::RefCell;

use engine::labels::NODATA;
use engine::preview::colorize;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, MouseEvent, WheelEvent};

use super::{AppState, dom};
use crate::transport::js_error_text;

/// Size of the drawing buffer of the map canvas (CSS scales it to the page).
const CANVAS_W: u32 = 960;
const CANVAS_H: u32 = 640;

thread_local! {
    /// The display image and the coloured labels, as off-screen canvases.
    static BASE: RefCell<Option<HtmlCanvasElement>> = const { RefCell::new(None) };
    static OVERLAY: RefCell<Option<HtmlCanvasElement>> = const { RefCell::new(None) };
}

/// Zoom and pan: the image is drawn at (`x`, `y`) with `scale` canvas pixels per image pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ViewBox {
    x: f64,
    y: f64,
    scale: f64,
    /// Size of the display image in its own pixels.
    width: f64,
    height: f64,
}

impl ViewBox {
    fn fit(width: u32, height: u32) -> Self {
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let scale = (f64::from(CANVAS_W) / w).min(f64::from(CANVAS_H) / h);
        Self {
            x: (f64::from(CANVAS_W) - w * scale) / 2.0,
            y: (f64::from(CANVAS_H) - h * scale) / 2.0,
            scale,
            width: w,
            height: h,
        }
    }

    /// Position inside the image as fractions (0..1), if the canvas point is on it.
    fn to_image(self, cx: f64, cy: f64) -> Option<(f64, f64)> {
        let u = (cx - self.x) / (self.width * self.scale);
        let v = (cy - self.y) / (self.height * self.scale);
        ((0.0..1.0).contains(&u) && (0.0..1.0).contains(&v)).then_some((u, v))
    }
}

#[component]
pub fn MapView(state: AppState) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let view_box = RwSignal::new(ViewBox::fit(1, 1));
    let opacity = RwSignal::new(0.6_f64);
    let hover = RwSignal::new(String::new());
    let version = RwSignal::new(0_u32);
    let drag = RwSignal::new(None::<(f64, f64, f64, f64)>);

    Effect::new(move |_| {
        let image = state
            .preview
            .with(|p| p.as_ref().map(|p| (p.width, p.height)));
        let built = state.preview.with(|p| {
            p.as_ref()
                .map(|p| image_canvas(p.width, p.height, &p.pixels))
        });
        BASE.with(|b| *b.borrow_mut() = built.and_then(Result::ok));
        if let Some((w, h)) = image {
            view_box.set(ViewBox::fit(w, h));
        }
        version.update(|v| *v += 1);
    });
    Effect::new(move |_| {
        let built = state.shown.with(|s| {
            s.as_ref().map(|s| {
                let r = &s.result;
                state.legend.with(|legend| {
                    let rgba = colorize(r.label_width, r.label_height, &r.labels, legend, 255);
                    image_canvas(rgba.width, rgba.height, &rgba.pixels)
                })
            })
        });
        OVERLAY.with(|o| *o.borrow_mut() = built.and_then(Result::ok));
        version.update(|v| *v += 1);
    });
    Effect::new(move |_| {
        version.track();
        let vb = view_box.get();
        let alpha = opacity.get();
        if let Some(c) = canvas.get() {
            draw(&c, vb, alpha);
        }
    });

    let to_canvas = move |ev: &MouseEvent| -> Option<(f64, f64)> {
        let c = canvas.get_untracked()?;
        let rect = c.get_bounding_client_rect();
        if rect.width() <= 0.0 || rect.height() <= 0.0 {
            return None;
        }
        Some((
            (f64::from(ev.client_x()) - rect.left()) * f64::from(CANVAS_W) / rect.width(),
            (f64::from(ev.client_y()) - rect.top()) * f64::from(CANVAS_H) / rect.height(),
        ))
    };
    let on_move = move |ev: MouseEvent| {
        let Some((cx, cy)) = to_canvas(&ev) else {
            return;
        };
        if let Some((x0, y0, ox, oy)) = drag.get_untracked() {
            view_box.update(|v| {
                v.x = ox + cx - x0;
                v.y = oy + cy - y0;
            });
        }
        let vb = view_box.get_untracked();
        let text = vb
            .to_image(cx, cy)
            .and_then(|(u, v)| class_at(state, u, v))
            .unwrap_or_default();
        hover.set(text);
    };
    let on_down = move |ev: MouseEvent| {
        if let Some((cx, cy)) = to_canvas(&ev) {
            let vb = view_box.get_untracked();
            drag.set(Some((cx, cy, vb.x, vb.y)));
        }
    };
    let on_wheel = move |ev: WheelEvent| {
        ev.prevent_default();
        let Some((cx, cy)) = to_canvas(&ev) else {
            return;
        };
        let factor = if ev.delta_y() < 0.0 { 1.25 } else { 0.8 };
        view_box.update(|v| {
            let scale = (v.scale * factor).clamp(0.05, 64.0);
            let f = scale / v.scale;
            v.x = cx - (cx - v.x) * f;
            v.y = cy - (cy - v.y) * f;
            v.scale = scale;
        });
    };
    view! {
        <section class="panel map">
            <div class="map-tools">
                <label>
                    "Overlay opacity "
                    <input
                        data-testid="opacity"
                        type="range"
                        min="0"
                        max="1"
                        step="0.05"
                        prop:value=move || opacity.get().to_string()
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                opacity.set(v.clamp(0.0, 1.0));
                            }
                        }
                    />
                </label>
                <button
                    class="button small"
                    on:click=move |_| {
                        if let Some((w, h)) = state.preview.with_untracked(|p| p.as_ref().map(|p| (p.width, p.height))) {
                            view_box.set(ViewBox::fit(w, h));
                        }
                    }
                >
                    "Fit"
                </button>
                <span class="hover">"Class: " <span data-testid="hover-class">{move || hover.get()}</span></span>
                <Show when=move || state.shown.with(Option::is_some)>
                    <span
                        class="done"
                        data-testid="result-ready"
                        data-details=move || {
                            let pending = state.shown.with(|s| s.as_ref().is_some_and(|s| s.result.details_pending));
                            if pending { "pending" } else { "ready" }
                        }
                        data-elapsed-ms=move || {
                            state.shown.with(|s| s.as_ref().map(|s| format!("{:.0}", s.elapsed_ms)).unwrap_or_default())
                        }
                    >
                        {move || state.shown.with(|s| s.as_ref().map(|s| format!("done in {:.1} s", s.elapsed_ms / 1000.0)))}
                    </span>
                </Show>
            </div>
            <canvas
                data-testid="map-canvas"
                data-preview=move || state.preview.with(Option::is_some).then_some("shown")
                node_ref=canvas
                width=CANVAS_W.to_string()
                height=CANVAS_H.to_string()
                on:mousemove=on_move
                on:mousedown=on_down
                on:mouseup=move |_| drag.set(None)
                on:mouseleave=move |_| {
                    drag.set(None);
                    hover.set(String::new());
                }
                on:wheel=on_wheel
            ></canvas>
            <Show when=move || state.preview.with(Option::is_none)>
                <p class="empty">"Open a GeoTIFF, drop one here, or try the sample."</p>
            </Show>
        </section>
    }
}

/// The legend name of the class at fractions (`u`, `v`) of the raster.
fn class_at(state: AppState, u: f64, v: f64) -> Option<String> {
    let class = state.shown.with_untracked(|s| {
        let r = &s.as_ref()?.result;
        let x = ((u * f64::from(r.label_width)) as usize).min(r.label_width as usize - 1);
        let y = ((v * f64::from(r.label_height)) as usize).min(r.label_height as usize - 1);
        r.labels.get(y * r.label_width as usize + x).copied()
    })?;
    if class == NODATA {
        return Some("nodata".to_owned());
    }
    state
        .legend
        .with_untracked(|l| l.get(usize::from(class)).map(|e| e.name.clone()))
}

/// An off-screen canvas holding an RGBA image.
fn image_canvas(width: u32, height: u32, pixels: &[u8]) -> Result<HtmlCanvasElement, String> {
    let fail = |e: JsValue| js_error_text(&e);
    let document = dom::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let canvas: HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "not a canvas".to_owned())?;
    canvas.set_width(width);
    canvas.set_height(height);
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(pixels), width, height)
        .map_err(fail)?;
    context(&canvas)?
        .put_image_data(&data, 0.0, 0.0)
        .map_err(fail)?;
    Ok(canvas)
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .map_err(|e| js_error_text(&e))?
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| "no 2D canvas context".to_owned())
}

fn draw(canvas: &HtmlCanvasElement, vb: ViewBox, opacity: f64) {
    let Ok(ctx) = context(canvas) else { return };
    ctx.clear_rect(0.0, 0.0, f64::from(CANVAS_W), f64::from(CANVAS_H));
    ctx.set_image_smoothing_enabled(false);
    let (w, h) = (vb.width * vb.scale, vb.height * vb.scale);
    BASE.with(|b| {
        if let Some(base) = b.borrow().as_ref() {
            let _ = ctx.draw_image_with_html_canvas_element_and_dw_and_dh(base, vb.x, vb.y, w, h);
        }
    });
    OVERLAY.with(|o| {
        if let Some(overlay) = o.borrow().as_ref() {
            ctx.set_global_alpha(opacity);
            let _ =
                ctx.draw_image_with_html_canvas_element_and_dw_and_dh(overlay, vb.x, vb.y, w, h);
            ctx.set_global_alpha(1.0);
        }
    });
}

/// Downloads the coloured labels (the overlay at full opacity) as a PNG.
pub fn download_overlay_png(name: &str) -> Result<(), String> {
    let canvas = OVERLAY
        .with(|o| o.borrow().clone())
        .ok_or("there is no result to save")?;
    let name = name.to_owned();
    let callback = Closure::once_into_js(move |blob: JsValue| {
        if let Ok(blob) = blob.dyn_into::<web_sys::Blob>()
            && let Err(e) = dom::download_blob(&name, &blob)
        {
            web_sys::console::error_1(&e.into());
        }
    });
    canvas
        .to_blob(callback.unchecked_ref())
        .map_err(|e| js_error_text(&e))
}
