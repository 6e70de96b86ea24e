// Which worker program this browser runs, for worker_loader.js and sw.js (both load this with
// importScripts): `worker` (WebGPU, burn's flex CPU backend) where WebAssembly SIMD is
// supported, else `worker_legacy` (burn's ndarray CPU backend, no WebGPU) for browsers such as
// Chromium 87 / QtWebEngine 5.15, which refuse to compile any module holding SIMD code.
'use strict';

// A module of one function using SIMD instructions (i8x16.splat, i8x16.popcnt): it validates
// only where WebAssembly SIMD is supported.
var MAPSEG_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

function mapsegWorkerProgram() {
  try {
    return WebAssembly.validate(MAPSEG_SIMD_PROBE) ? 'worker' : 'worker_legacy';
  } catch (e) {
    return 'worker_legacy';
  }
}
