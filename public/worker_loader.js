// Starts the Mapseg worker: loads the wasm-bindgen "no-modules" glue of the program this browser
// runs (worker_program.js) and instantiates its WebAssembly (its `main` installs the message
// handler and posts `ready`). A failure to start is reported to the page like a panic, in the
// page's message format.
'use strict';

importScripts('./worker_program.js');
var program = mapsegWorkerProgram();
importScripts('./' + program + '.js');
wasm_bindgen({ module_or_path: './' + program + '_bg.wasm' }).catch(function (error) {
  self.postMessage({
    msg: { type: 'panic', message: 'the worker could not start: ' + String(error && error.message ? error.message : error) },
  });
});
