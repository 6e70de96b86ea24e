//! The Web Worker program: runs the engine off the page's thread (see `web::worker`).

#[cfg(target_arch = "wasm32")]
fn main() {
    web::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the Mapseg worker runs in a browser: build it with `trunk build`");
}
