// Starts the Mapseg app: instantiates the WebAssembly of the page (wasm-bindgen "no-modules"
// glue, loaded just before this script) and registers the service worker. Plain ES5-style
// script on purpose: it must run in old embedded Chromium (QtWebEngine 5.15), where a failure
// is shown in the page instead of leaving it blank.
(function () {
  'use strict';
  var script = document.currentScript;
  var wasm = (script && script.getAttribute('data-wasm')) || 'web_bg.wasm';

  function showError(message) {
    var old = document.querySelector('[data-testid="error"]');
    if (old && old.parentNode) old.parentNode.removeChild(old);
    var div = document.createElement('div');
    div.setAttribute('data-testid', 'error');
    div.setAttribute('data-kind', 'panic');
    div.setAttribute('role', 'alert');
    div.className = 'error panic';
    div.textContent = message;
    document.body.insertBefore(div, document.body.firstChild);
  }

  if (typeof WebAssembly !== 'object' || typeof wasm_bindgen !== 'function') {
    showError('This browser cannot run Mapseg: WebAssembly is not available.');
    return;
  }
  wasm_bindgen({ module_or_path: wasm }).catch(function (error) {
    var text = String(error && error.message ? error.message : error);
    if (/externref|reftypes|reference/i.test(text)) {
      text += ' (this browser needs WebAssembly reference types; in QtWebEngine 5.15 start it ' +
        'with QTWEBENGINE_CHROMIUM_FLAGS="--js-flags=--experimental-wasm-reftypes")';
    }
    showError('Mapseg could not start: ' + text);
  });

  if ('serviceWorker' in navigator && window.isSecureContext) {
    window.addEventListener('load', function () {
      navigator.serviceWorker.register('sw.js').catch(function (error) {
        console.warn('service worker not registered:', error);
      });
    });
  }
})();
