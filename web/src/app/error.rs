//! The error banner, and the panic hook that shows a panic in the page instead of a blank one.

use leptos::prelude::*;

use super::AppState;

/// Shows `state.problem`; `data-kind="panic"` marks the unexpected ones.
#[component]
pub fn ErrorBanner(state: AppState) -> impl IntoView {
    view! {
        <Show when=move || state.problem.with(Option::is_some)>
            <div class="banner">
                <div
                    data-testid="error"
                    role="alert"
                    class="error"
                    data-kind=move || {
                        if state.problem.with(|p| p.as_ref().is_some_and(|p| p.panic)) {
                            "panic"
                        } else {
                            "error"
                        }
                    }
                >
                    {move || state.problem.with(|p| p.as_ref().map(|p| p.message.clone()))}
                </div>
                <button
                    class="dismiss"
                    title="Dismiss"
                    on:click=move |_| state.problem.set(None)
                >
                    "Dismiss"
                </button>
            </div>
        </Show>
    }
}

/// Logs panics to the console and shows them in the page. The hook touches the DOM directly:
/// after a panic the reactive system may be in any state.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_panic(&format!("unexpected error: {info}"));
    }));
}

/// Replaces any error element by one that shows `message` with `data-kind="panic"`.
pub fn show_panic(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    while let Ok(Some(old)) = document.query_selector("[data-testid=error]") {
        old.remove();
    }
    let Ok(div) = document.create_element("div") else {
        return;
    };
    let _ = div.set_attribute("data-testid", "error");
    let _ = div.set_attribute("data-kind", "panic");
    let _ = div.set_attribute("role", "alert");
    let _ = div.set_attribute("class", "error panic");
    div.set_text_content(Some(message));
    if let Some(body) = document.body() {
        let _ = body.insert_before(&div, body.first_child().as_ref());
    }
}
