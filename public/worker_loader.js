// Starts the Mapseg worker: loads the wasm-bindgen "no-modules" glue and instantiates the
// worker's WebAssembly (its `main` installs the message handler and posts `ready`). A failure
// to start is reported to the page like a panic, in the page's message format.
//
// Browsers with WebAssembly SIMD get `worker` (WebGPU, burn's flex CPU backend); older ones
// (Chromium 87 / QtWebEngine 5.15), which refuse to compile any module holding SIMD code, get
// `worker_legacy` (burn's ndarray CPU backend, no WebGPU).
'use strict';

// A module of one function using SIMD instructions (i8x16.splat, i8x16.popcnt): it validates
// only where WebAssembly SIMD is supported. sw.js holds the same probe.
var SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
var hasSimd = false;
try {
  hasSimd = WebAssembly.validate(SIMD_PROBE);
} catch (e) {
  hasSimd = false;
}
var program = hasSimd ? 'worker' : 'worker_legacy';

importScripts('./' + program + '.js');
wasm_bindgen({ module_or_path: './' + program + '_bg.wasm' }).catch(function (error) {
  self.postMessage({
    msg: { type: 'panic', message: 'the worker could not start: ' + String(error && error.message ? error.message : error) },
  });
});
