// A fake Qt host for the app's QWebChannel transport (README, "Embedding contract"): the page gets
// Qt's real qwebchannel.js and a `window.qt.webChannelTransport` that plays the Qt side of the
// QWebChannel protocol for one object, `mapsegHost` (slot `post(text)`, signal `message(text)`),
// the way QGIS's QWebEngineView sets them up before the app starts.

import { execFileSync } from 'node:child_process';

const PYTHON = process.env.MAPSEG_PYTHON || '/usr/bin/python3';

/** Prints qwebchannel.js from Qt's resources (PyQt5's QtWebChannel registers them). */
const READ_QWEBCHANNEL = `
import sys
from PyQt5.QtCore import QFile, QIODevice
from PyQt5 import QtWebChannel
f = QFile(':/qtwebchannel/qwebchannel.js')
if not f.open(QIODevice.ReadOnly):
    sys.exit('no :/qtwebchannel/qwebchannel.js in Qt resources')
sys.stdout.buffer.write(bytes(f.readAll()))
`;

let qwebchannel = null;

/** Qt's own qwebchannel.js, read once from Qt's resources through PyQt5. */
export function qwebchannelJs() {
  if (qwebchannel === null) {
    try {
      qwebchannel = execFileSync(PYTHON, ['-c', READ_QWEBCHANNEL], { encoding: 'utf8' });
    } catch (error) {
      throw new Error(`could not read Qt's qwebchannel.js through ${PYTHON} and PyQt5 `
        + `(Debian: python3-pyqt5.qtwebchannel): ${error.message}`);
    }
  }
  return qwebchannel;
}

/**
 * In the page, before any of its scripts: `window.qt.webChannelTransport`, the Qt side of the
 * QWebChannel protocol for `mapsegHost`. `window.__qtHost` records what the app posts (`posted`,
 * parsed JSON), the protocol messages it saw (`protocol`), and emits the signal `message` (`emit`).
 */
function fakeQtTransport() {
  const TYPE = { signal: 1, propertyUpdate: 2, init: 3, idle: 4, debug: 5, invokeMethod: 6, connectToSignal: 7, disconnectFromSignal: 8, setProperty: 9, response: 10 };
  const OBJECT = 'mapsegHost';
  const SIGNAL_MESSAGE = 5;
  const METHOD_POST = 6;
  // What Qt 5.15's QMetaObjectPublisher describes for such a QObject: methods and signals by
  // name and by signature, with their meta-method index; no properties the client needs.
  const DESCRIPTION = {
    methods: [['post', METHOD_POST], ['post(QString)', METHOD_POST]],
    signals: [['message', SIGNAL_MESSAGE], ['message(QString)', SIGNAL_MESSAGE]],
    properties: [],
    enums: {},
  };
  const host = { posted: [], protocol: [], connected: false, errors: [] };
  const deliver = (message) => setTimeout(() => transport.onmessage({ data: JSON.stringify(message) }), 0);
  const transport = {
    onmessage: null,
    send(text) {
      const message = JSON.parse(text);
      host.protocol.push(message.type);
      switch (message.type) {
        case TYPE.init:
          deliver({ type: TYPE.response, id: message.id, data: { [OBJECT]: DESCRIPTION } });
          break;
        case TYPE.idle:
          break;
        case TYPE.connectToSignal:
          if (message.object === OBJECT && message.signal === SIGNAL_MESSAGE) host.connected = true;
          else host.errors.push(`connectToSignal ${message.object}::${message.signal}`);
          break;
        case TYPE.invokeMethod:
          if (message.object !== OBJECT || !['post', 'post(QString)', METHOD_POST].includes(message.method)) {
            host.errors.push(`invokeMethod ${message.object}::${message.method}`);
          } else {
            host.posted.push(JSON.parse(message.args[0]));
          }
          // A void slot answers null.
          if ('id' in message) deliver({ type: TYPE.response, id: message.id, data: null });
          break;
        default:
          host.errors.push(`unexpected message type ${message.type}`);
      }
    },
  };
  host.emit = (text) => {
    if (!host.connected) throw new Error('the app did not connect to mapsegHost.message');
    deliver({ type: TYPE.signal, object: OBJECT, signal: SIGNAL_MESSAGE, args: [text] });
  };
  window.qt = { webChannelTransport: transport };
  window.__qtHost = host;
}

/**
 * Makes every page of `context` a fake Qt host's page: Qt's qwebchannel.js (unless
 * `qwebchannel: false`) and the fake transport, injected before the page's own scripts.
 */
export async function installFakeQtHost(context, { qwebchannel = true } = {}) {
  // qwebchannel.js declares `var QWebChannel`; it is made a property of `window` explicitly,
  // as a global of the page, whatever the wrapping of init scripts.
  const channel = qwebchannel ? `${qwebchannelJs()}\n;window.QWebChannel = QWebChannel;\n` : '';
  await context.addInitScript({ content: `${channel}(${fakeQtTransport.toString()})();` });
}

/** Emits `mapsegHost.message` with the JSON text of `message`. */
export const qtSend = (page, message) => page.evaluate((text) => window.__qtHost.emit(text), JSON.stringify(message));

/** Waits until the app has posted a message whose type is one of `types`; returns it. */
export async function qtReceive(page, types, timeout = 240_000) {
  await page.waitForFunction((wanted) => window.__qtHost.posted.some((m) => wanted.includes(m.type)), types, { timeout })
    .catch(async () => {
      const state = await page.evaluate(() => ({ posted: window.__qtHost.posted.map((m) => m.type), errors: window.__qtHost.errors }));
      throw new Error(`the app posted no ${types.join(' or ')} over Qt within ${timeout} ms (posted: ${JSON.stringify(state)})`);
    });
  return page.evaluate((wanted) => window.__qtHost.posted.find((m) => wanted.includes(m.type)), types);
}

/** The protocol errors the fake host saw (calls it does not know). */
export const qtErrors = (page) => page.evaluate(() => window.__qtHost.errors);
