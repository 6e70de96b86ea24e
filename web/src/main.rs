//! The page program: mounts the leptos app (see `web::app`).

#[cfg(target_arch = "wasm32")]
fn main() {
    web::app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the Mapseg web app runs in a browser: `cargo xtask serve` builds and serves it");
}
