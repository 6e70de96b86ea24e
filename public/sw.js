// Mapseg's service worker: the app works offline once it has been opened. App files are
// fetched from the network first (so a new build is picked up at once) and fall back to the
// cache; everything is same-origin, nothing else is ever requested.
'use strict';

var CACHE = 'mapseg-v2';
var FILES = [
  './',
  'index.html',
  'style.css',
  'web.js',
  'web_bg.wasm',
  'boot.js',
  'worker_loader.js',
  'sample/OSBS_029.tif',
  'models/mapseg-cnn-s1/meta.json',
  'models/mapseg-cnn-s1/weights.bpk',
];

// The worker program this browser loads (as worker_loader.js picks it): `worker` where
// WebAssembly SIMD is supported, else `worker_legacy`.
var SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
function workerFiles() {
  var simd = false;
  try {
    simd = WebAssembly.validate(SIMD_PROBE);
  } catch (e) {
    simd = false;
  }
  var program = simd ? 'worker' : 'worker_legacy';
  return [program + '.js', program + '_bg.wasm'];
}

self.addEventListener('install', function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return Promise.all(FILES.concat(workerFiles()).map(function (file) {
        return cache.add(file).catch(function () { /* cached on first use instead */ });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) {
    return;
  }
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) {
          // The page's URL carries the run settings: cache it under its path only.
          cache.put(request.mode === 'navigate' ? new URL(request.url).pathname : request, copy);
        });
      }
      return response;
    }).catch(function () {
      return caches.match(request, { ignoreSearch: true }).then(function (hit) {
        return hit || caches.match('index.html');
      });
    })
  );
});
