// Translated text of the Pingstreams nodes: locales/<lang>/<node>.json through RED._, English as the fallback.
import configCatalogue from './locales/en-US/pingstreams-config.json';
import inCatalogue from './locales/en-US/pingstreams-in.json';
import mapCatalogue from './locales/en-US/pingstreams-map.json';
import metricsCatalogue from './locales/en-US/pingstreams-metrics.json';
import subscriptionCatalogue from './locales/en-US/pingstreams-subscription.json';
import type { NodeAPI } from './api';

/** Module name, the prefix of every i18n namespace of this package's nodes. */
export const MODULE = '@pingstreams/node-red-pingstreams';

// Text lives in locales/en-US/<node>.json. A host whose RED._ has no catalogue (node-red-node-test-helper
// returns the key unchanged) still gets English, read from the same files.
const CATALOGUES: Record<string, Record<string, unknown>> = {
  'pingstreams-config': configCatalogue,
  'pingstreams-in': inCatalogue,
  'pingstreams-subscription': subscriptionCatalogue,
  'pingstreams-map': mapCatalogue,
  'pingstreams-metrics': metricsCatalogue,
};

/** Translates `set:path.to.key` (set = the node file name, e.g. pingstreams-config) with __var__ interpolation. */
export function t(RED: NodeAPI, key: string, vars?: Record<string, unknown>): string {
  const [set, path] = key.split(':', 2);
  const full = `${MODULE}/${set}:${path}`;
  let out: string | undefined;
  try {
    out = RED._(full, vars);
  } catch {
    out = undefined;
  }
  if (typeof out === 'string' && out !== full && out !== path) return out;
  const english = lookup(CATALOGUES[set], path);
  if (typeof english !== 'string') return path;
  // Node-RED's i18next interpolation markers are __name__.
  return english.replace(/__(\w+)__/g, (_m, name: string) => (vars && name in vars ? String(vars[name]) : ''));
}

function lookup(catalogue: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = catalogue;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
