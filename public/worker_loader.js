// Starts the Mapseg worker: loads the wasm-bindgen "no-modules" glue and instantiates the
// worker's WebAssembly (its `main` installs the message handler and posts `ready`). A failure
// to start is reported to the page like a panic, in the page's message format.
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' }).catch(function (error) {
  self.postMessage({
    msg: { type: 'panic', message: 'the worker could not start: ' + String(error && error.message ? error.message : error) },
  });
});
