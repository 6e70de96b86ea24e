//! Links the worker programs as reactors. Some dependencies register things in static
//! constructors (`inventory`, through burn's WebGPU stack), and a wasm module with constructors
//! that does not export `__wasm_call_ctors` gets "command-style linkage": the linker then runs
//! every constructor again at the start of every exported function, which here means every
//! allocation the JavaScript glue asks for and every callback, hundreds of microseconds each.
//! Exported, the constructors run once: `public/worker_loader.js` calls them after start-up.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-bins=--export-if-defined=__wasm_call_ctors");
    }
}
