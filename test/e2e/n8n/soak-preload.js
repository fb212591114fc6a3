// Loaded into the soak's n8n with NODE_OPTIONS=--require. The faults come every few seconds, so with the
// production backoff (full jitter up to 60 s, reset only after 30 s stable) 50 faults would take over half an
// hour; this shortens the backoff to what the core soak uses. The budget of new connections per minute and
// everything else stay at the package's defaults: that is what the soak checks.
'use strict';
const Module = require('node:module');
const TARGET = /n8n-nodes-pingstreams[\\/]dist[\\/]core[\\/]connection\.js$/;
const tuning = JSON.parse(process.env.PINGSTREAMS_SOAK_DEFAULTS || '{}');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const exports = load.apply(this, arguments);
  // Look at the request first: touching exports of a module still loading (a cycle) makes Node warn.
  if (
    typeof request === 'string' &&
    /(^|[\\/])connection(\.js)?$/.test(request) &&
    exports &&
    exports.DEFAULTS &&
    !exports.DEFAULTS.__soakTuned
  ) {
    let file = '';
    try {
      file = Module._resolveFilename(request, parent, isMain);
    } catch {
      // not resolvable from here: not ours
    }
    if (TARGET.test(file)) {
      Object.assign(exports.DEFAULTS, tuning);
      Object.defineProperty(exports.DEFAULTS, '__soakTuned', { value: true });
    }
  }
  return exports;
};
