// Mapseg's service worker: the app works offline once it has been opened. App files are
// fetched from the network first (so a new build is picked up at once) and fall back to the
// cache; everything is same-origin, nothing else is ever requested.
'use strict';

var CACHE = 'mapseg-v3';
var FILES = [
  './',
  'index.html',
  'style.css',
  'web.js',
  'web_bg.wasm',
  'boot.js',
  'manifest.webmanifest',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'icons/icon-maskable-512.png',
  'worker_loader.js',
  'worker_program.js',
  'sample/OSBS_029.tif',
  'models/mapseg-cnn-s1/meta.json',
  'models/mapseg-cnn-s1/weights.bpk',
];

// The worker program this browser loads, as worker_loader.js picks it.
importScripts('./worker_program.js');
function workerFiles() {
  var program = mapsegWorkerProgram();
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
