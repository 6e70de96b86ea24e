// Starts the Mapseg worker: loads the wasm-bindgen "no-modules" glue of the program this browser
// runs (worker_program.js) and instantiates its WebAssembly (its `main` installs the message
// handler and posts `ready`). A helper of the worker's pool (named `mapseg-helper`) waits for
// the program and compiled module its worker sends first, so the module is neither fetched nor
// compiled again and always matches the worker's. A failure to start is reported like a panic,
// in the page's message format.
'use strict';

importScripts('./worker_program.js');
var mapsegProgram = mapsegWorkerProgram();

function mapsegStart(moduleOrPath) {
  importScripts('./' + mapsegProgram + '.js');
  wasm_bindgen({ module_or_path: moduleOrPath || './' + mapsegProgram + '_bg.wasm' }).then(function (exports) {
    // The program's static constructors, once (web-worker/build.rs), before any message.
    if (exports && typeof exports.__wasm_call_ctors === 'function') exports.__wasm_call_ctors();
  }).catch(function (error) {
    self.postMessage({
      msg: { type: 'panic', message: 'the worker could not start: ' + String(error && error.message ? error.message : error) },
    });
  });
}

if (self.name === 'mapseg-helper') {
  self.onmessage = function (event) {
    self.onmessage = null;
    var data = event.data || {};
    if (data.program === 'worker' || data.program === 'worker_legacy') mapsegProgram = data.program;
    mapsegStart(data.module instanceof WebAssembly.Module ? data.module : null);
  };
} else {
  mapsegStart(null);
}
