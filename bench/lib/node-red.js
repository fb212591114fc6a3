'use strict';
// A Node-RED 4 runtime (the devDependency) in the bench process through node-red-node-test-helper, with this
// package's built Node-RED nodes, the core nodes a user would wire instead, and a one-line `bench sink` node
// handing each msg.payload to a callback. The helper's sinon spies on Node methods are removed after each
// deploy so neither chain pays for recording its sends.
const path = require('node:path');

const DIST = path.join(__dirname, '..', '..', 'dist', 'node-red');
const CORE = path.dirname(require.resolve('@node-red/nodes/package.json'));
const SINK_KEY = Symbol.for('pingstreams.bench.sink');

function benchSink(RED) {
  function BenchSink(def) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, _send, done) => {
      const sink = globalThis[SINK_KEY];
      if (sink) sink(msg.payload, msg);
      done();
    });
  }
  RED.nodes.registerType('bench sink', BenchSink);
}

const NODE_MODULES = [
  ...['pingstreams-config', 'pingstreams-in', 'pingstreams-map'].map((f) => require(path.join(DIST, `${f}.js`))),
  ...[
    'network/22-websocket.js',
    'parsers/70-JSON.js',
    'sequence/17-split.js',
    'function/10-switch.js',
    'function/15-change.js',
    'common/20-inject.js',
  ].map((f) => require(path.join(CORE, 'core', f))),
  benchSink,
];

class EmbeddedNodeRed {
  async start() {
    this.helper = require('node-red-node-test-helper');
    this.helper.init(require.resolve('node-red'));
    this.helper.settings({ logging: { console: { level: 'off' } } });
    this.warnings = [];
    this.loaded = false;
    return this;
  }

  /** Full deploy; flow nodes go on one tab; `credentials` of a node are passed apart, as the editor does. */
  async deploy(nodes) {
    const credentials = {};
    const flows = [
      { id: 'bench-tab', type: 'tab', label: 'bench' },
      ...nodes.map(({ credentials: creds, ...n }, i) => {
        if (creds) credentials[n.id] = creds;
        return /config|client$/.test(n.type) ? n : { z: 'bench-tab', x: 100, y: 40 * (i + 1), ...n };
      }),
    ];
    if (this.loaded) await this.helper.unload();
    await this.helper.load(NODE_MODULES, flows, credentials);
    this.loaded = true;
    this.harvest();
    // The spies record every call (and keep every msg sent): gone for the measurement.
    this.helper._sandbox.restore();
  }

  harvest() {
    // Warnings and errors of this package's nodes (the helper itself warns about a deprecated call on each load).
    for (const [entry] of this.helper.log().args)
      if (entry && entry.level <= 30 && /^pingstreams/.test(String(entry.type)))
        this.warnings.push(String(entry.msg).slice(0, 300));
  }

  getNode(id) {
    return this.helper.getNode(id);
  }

  setSink(fn) {
    globalThis[SINK_KEY] = fn;
  }

  async stop() {
    globalThis[SINK_KEY] = undefined;
    if (this.loaded) await this.helper.unload();
    this.loaded = false;
  }
}

module.exports = { EmbeddedNodeRed };
