//! The worker program for browsers with WebAssembly SIMD (WebGPU and burn's flex CPU backend); see the `web_worker` library.

#[cfg(target_arch = "wasm32")]
fn main() {
    web_worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the Mapseg worker runs in a browser: build it with `trunk build`");
}
