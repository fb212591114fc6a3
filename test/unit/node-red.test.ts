// Node-RED nodes without a runtime: the map presets (evaluated with JSONata as Node-RED does), text and
// status helpers, and the consistency of editor files, help, locales, examples and package.json.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jsonata from 'jsonata';
import { MAP_PRESETS } from '../../node-red/map-presets';
import type { Node, NodeAPI, NodeStatus } from '../../node-red/api';
import { t } from '../../node-red/i18n';
import { eventToMessage, messageToEvent } from '../../node-red/messages';
import { connectionStatus, StatusReporter } from '../../node-red/status';
import { RateLimitedError, TokenRefusedError, TOPIC_ID_FIELD_ORDER, TOPIC_KINDS, type RealtimeEvent } from '../../core';

/** Slack blocks and flow nodes are free-form JSON. */
type Json = any;

const DIR = join(__dirname, '..', '..', 'node-red');
const SETS = [
  'pingstreams-config',
  'pingstreams-in',
  'pingstreams-subscription',
  'pingstreams-map',
  'pingstreams-metrics',
];
const read = (...parts: string[]) => readFileSync(join(...parts), 'utf8');
const catalogue = (set: string) => JSON.parse(read(DIR, 'locales', 'en-US', `${set}.json`)) as Record<string, unknown>;

/** A RED whose _() has no catalogue, like node-red-node-test-helper's. */
const bareRED = { _: (key: string) => key } as unknown as NodeAPI;

function lookup(obj: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (cur, part) => (cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined),
      obj,
    );
}

// The request CREATE exactly as the public documentation shows it.
const DOC_REQUEST = {
  _id: '5eb4fc911f9e1f0012d62248',
  status: 200,
  preflight: false,
  participants: ['5eb45fb21f9e1f0012d62201'],
  request_id: 'support-group-1a952f2f-c09a-46be-bc75-11387a95d55f',
  requester: '5eb45fbc1f9e1f0012d62208',
  lead: {},
  first_text: 'hello world',
  department: '5eb45fbc1f9e1f0012d62209',
  id_project: '5eb45fbc1f9e1f0012d62207',
  channel: { name: 'chat21' },
  createdAt: '2020-05-08T06:30:41.094Z',
  updatedAt: '2020-05-08T06:31:00.367Z',
  id: '5eb4fc911f9e1f0012d62248',
};

function event(data: Record<string, unknown>, extra: Partial<RealtimeEvent> = {}): RealtimeEvent {
  return {
    method: 'CREATE',
    topic: '/5eb45fbc1f9e1f0012d62207/requests',
    kind: 'requests',
    projectId: '5eb45fbc1f9e1f0012d62207',
    data,
    snapshot: false,
    recovered: false,
    receivedAt: '2020-05-08T06:31:01.000Z',
    ...extra,
  };
}

/** Evaluates a preset the way the map node does: input = msg, $event and $previous bound. */
async function runPreset(id: string, ev: RealtimeEvent): Promise<Record<string, unknown>> {
  const preset = MAP_PRESETS.find((p) => p.id === id)!;
  const msg = eventToMessage(ev);
  const bound = messageToEvent(msg);
  // JSON round trip: JSONata marks its arrays as sequences; a msg leaving Node-RED carries plain JSON.
  return JSON.parse(
    JSON.stringify(await jsonata(preset.expression).evaluate(msg, { event: bound, previous: bound.previous })),
  ) as Record<string, unknown>;
}

describe('map presets', () => {
  test('Slack new request: Block Kit blocks with the request text, status, channel and id', async () => {
    const out = await runPreset('slackNewRequest', event(DOC_REQUEST));
    expect(out.text).toBe('New support request: hello world');
    const blocks = out.blocks as Array<Record<string, Json>>;
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(blocks[1].text).toEqual({ type: 'mrkdwn', text: 'hello world' });
    expect(blocks[2].fields.map((f: { text: string }) => f.text)).toEqual(['*Status*\nassigned', '*Channel*\nchat21']);
    expect(blocks[3].elements[0].text).toBe(
      'Request `support-group-1a952f2f-c09a-46be-bc75-11387a95d55f` · created 2020-05-08T06:30:41.094Z',
    );
  });

  test('Slack new request: user text is escaped for mrkdwn and clipped to what Slack accepts', async () => {
    const long = `<@channel> & ${'x'.repeat(5000)}`;
    const out = await runPreset('slackNewRequest', event({ ...DOC_REQUEST, first_text: long }));
    const section = (out.blocks as Array<Record<string, Json>>)[1].text.text as string;
    expect(section.startsWith('&lt;@channel&gt; &amp; xxx')).toBe(true);
    expect(section.length).toBe(2900);
    expect(section.endsWith('…')).toBe(true);
    expect((out.text as string).length).toBeLessThanOrEqual('New support request: '.length + 150);
  });

  test('Slack new request: a request without text or channel still gives a valid message', async () => {
    const out = await runPreset('slackNewRequest', event({ _id: 'a', request_id: 'r-1', status: 100 }));
    expect(out.text).toBe('New support request: (no text)');
    const blocks = out.blocks as Array<Record<string, Json>>;
    expect(blocks[1].text.text).toBe('_(no text)_');
    expect(blocks[2].fields[1].text).toBe('*Channel*\nunknown');
    expect(blocks[3].elements[0].text).toBe('Request `r-1` · created 2020-05-08T06:31:01.000Z');
  });

  test('Slack closed request: previous status and how long it was open', async () => {
    const closed = { ...DOC_REQUEST, status: 1000, updatedAt: '2020-05-08T07:00:41.094Z' };
    const out = await runPreset('slackClosedRequest', event(closed, { method: 'UPDATE', previous: DOC_REQUEST }));
    expect(out.text).toBe('Request closed: hello world');
    const fields = (out.blocks as Array<Record<string, Json>>)[2].fields.map((f: { text: string }) => f.text);
    expect(fields).toEqual(['*Was*\nassigned', '*Open for*\n30 min', '*Agents*\n1']);
  });

  test('summary: compact fields and the keys that changed since the previous state', async () => {
    const updated = { ...DOC_REQUEST, status: 300, updatedAt: '2020-05-08T06:40:00.000Z' };
    const out = await runPreset('requestSummary', event(updated, { method: 'UPDATE', previous: DOC_REQUEST }));
    expect(out).toEqual({
      requestId: DOC_REQUEST.request_id,
      id: DOC_REQUEST._id,
      event: 'UPDATE',
      status: 300,
      statusLabel: 'served',
      text: 'hello world',
      channel: 'chat21',
      participants: 1,
      createdAt: DOC_REQUEST.createdAt,
      updatedAt: '2020-05-08T06:40:00.000Z',
      changed: ['status', 'updatedAt'],
      snapshot: false,
      recovered: false,
    });
  });

  test('every preset has a label in the en-US catalogue', () => {
    const labels = catalogue('pingstreams-map').presets as Record<string, string>;
    for (const preset of MAP_PRESETS) expect(labels[preset.id]).toEqual(expect.any(String));
  });
});

describe('text and status helpers', () => {
  test('t() uses Node-RED translations when there are, the bundled English otherwise', () => {
    expect(t(bareRED, 'pingstreams-config:status.rateLimited', { seconds: 30 })).toBe('rate limited, retrying in 30 s');
    const translating = { _: (key: string, vars: { count: number }) => `[${key}|${vars.count}]` } as unknown as NodeAPI;
    expect(t(translating, 'pingstreams-in:status.connected', { count: 3 })).toBe(
      '[@pingstreams/node-red-pingstreams/pingstreams-in:status.connected|3]',
    );
  });

  test('connection states map to the documented statuses', () => {
    const s = (status: Parameters<typeof connectionStatus>[1], text?: string) =>
      connectionStatus(bareRED, status, text);
    expect(s({ state: 'connecting' })).toEqual({ fill: 'yellow', shape: 'ring', text: 'connecting' });
    expect(s({ state: 'connected' }, 'connected · events: 4')).toEqual({
      fill: 'green',
      shape: 'dot',
      text: 'connected · events: 4',
    });
    expect(s({ state: 'reconnecting', retryInMs: 4200, error: new Error('dropped') })).toEqual({
      fill: 'yellow',
      shape: 'ring',
      text: 'reconnecting in 5 s',
    });
    expect(s({ state: 'connecting', retryInMs: 30_000, error: new RateLimitedError(429, 'busy', 30_000) })).toEqual({
      fill: 'red',
      shape: 'ring',
      text: 'rate limited, retrying in 30 s',
    });
    expect(s({ state: 'failed', error: new TokenRefusedError() })).toEqual({
      fill: 'red',
      shape: 'ring',
      text: 'token refused',
    });
    expect(s({ state: 'closed' })).toEqual({ fill: 'grey', shape: 'ring', text: 'disconnected' });
  });

  test('event <-> msg: payload, topic, method, and the rest under msg.pingstreams', () => {
    const ev = event(DOC_REQUEST, { method: 'UPDATE', previous: { status: 100 }, requestId: 'r' });
    const msg = eventToMessage(ev);
    expect(msg).toEqual({
      payload: DOC_REQUEST,
      topic: ev.topic,
      method: 'UPDATE',
      pingstreams: {
        kind: 'requests',
        projectId: ev.projectId,
        requestId: 'r',
        previous: { status: 100 },
        snapshot: false,
        recovered: false,
        receivedAt: ev.receivedAt,
      },
    });
    expect(messageToEvent(msg)).toEqual(ev);
  });

  test('StatusReporter: state changes show at once, counter updates at most once a second', () => {
    jest.useFakeTimers();
    try {
      const shown: NodeStatus[] = [];
      let count = 0;
      const node = { status: (s: NodeStatus) => shown.push(s) } as unknown as Node;
      const reporter = new StatusReporter(bareRED, node, () => `connected · events: ${count}`);
      reporter.setConnection({ state: 'connected' });
      expect(shown.at(-1)?.text).toBe('connected · events: 0');
      for (count = 1; count <= 50; count += 1) reporter.bump();
      expect(shown).toHaveLength(1);
      jest.advanceTimersByTime(1000);
      expect(shown).toHaveLength(2);
      expect(shown.at(-1)?.text).toBe('connected · events: 51');
      reporter.setProblem(Object.assign(new Error('no snapshot'), { code: 'SUBSCRIPTION_TIMEOUT' }));
      expect(shown.at(-1)).toEqual({ fill: 'red', shape: 'ring', text: 'subscription refused' });
      reporter.bump();
      reporter.close();
      jest.advanceTimersByTime(5000);
      expect(shown).toHaveLength(3);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('editor files, help, locales, examples and package.json agree', () => {
  const pkg = JSON.parse(read(__dirname, '..', '..', 'package.json')) as {
    'node-red': { version: string; nodes: Record<string, string> };
  };
  const html = Object.fromEntries(SETS.map((set) => [set, read(DIR, `${set}.html`)]));
  const ts = Object.fromEntries(SETS.map((set) => [set, read(DIR, `${set}.ts`)]));
  const typeOf = (set: string) => /RED\.nodes\.registerType\('([^']+)'/.exec(html[set])![1];

  test('package.json lists each node file once, built from a .ts next to its .html', () => {
    expect(pkg['node-red'].version).toBe('>=4.0.0');
    expect(pkg['node-red'].nodes).toEqual(Object.fromEntries(SETS.map((set) => [set, `dist/node-red/${set}.js`])));
  });

  test('the editor and the runtime register the same types; each has its help, category and icon', () => {
    for (const set of SETS) {
      const type = typeOf(set);
      expect(ts[set]).toContain(`RED.nodes.registerType('${type}'`);
      expect(html[set]).toContain(`data-template-name="${type}"`);
      expect(read(DIR, 'locales', 'en-US', `${set}.html`)).toContain(`data-help-name="${type}"`);
      if (set !== 'pingstreams-config') {
        expect(html[set]).toContain("category: 'Pingstreams'");
        expect(html[set]).toContain("icon: 'pingstreams.svg'");
      }
    }
    expect(read(DIR, 'icons', 'pingstreams.svg')).toMatch(/^<svg [^>]*viewBox="0 0 40 60"/);
  });

  test('every label in an edit dialog is documented in the sidebar help', () => {
    for (const set of SETS) {
      const labels = [
        ...html[set].matchAll(
          /<label for="node-(?:config-)?input-(\w+)"><i [^>]*><\/i> <span data-i18n="([\w.]+)"><\/span><\/label>/g,
        ),
      ]
        .filter(([, field]) => field !== 'name' || set === 'pingstreams-config')
        .map(([, , key]) => lookup(catalogue(set), key) as string);
      expect(labels.length).toBeGreaterThan(2);
      const help = read(DIR, 'locales', 'en-US', `${set}.html`);
      for (const label of labels) expect(help).toContain(`<dt>${label} <span class="property-type">`);
    }
  });

  test('every text key the runtime and the editor use exists in every locale, so none shows as a bare key', () => {
    // Keys built at run time, by their prefix: every value the code can put after it.
    const metricsTs = read(DIR, 'pingstreams-metrics.ts');
    const dynamic: Record<string, readonly string[]> = {
      'pingstreams-in:label.': [...TOPIC_ID_FIELD_ORDER, 'topic'],
      'pingstreams-in:kinds.': TOPIC_KINDS,
      'pingstreams-map:presets.': MAP_PRESETS.map((p) => p.id),
      'pingstreams-metrics:label.': [...metricsTs.matchAll(/field\(RED, def, '(\w+)'/g)].map((m) => m[1]),
    };
    const used = new Set<string>();
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
      const source = read(DIR, file);
      for (const [, key] of source.matchAll(/\bt\(\s*RED,\s*'([\w-]+:[\w.]+)'/g)) used.add(key);
      for (const [, prefix] of source.matchAll(/\bt\(\s*RED,\s*`([\w-]+:[\w.]+\.)\$\{/g)) {
        expect([file, prefix, dynamic[prefix]?.length]).toEqual([file, prefix, expect.any(Number)]);
        for (const value of dynamic[prefix]) used.add(prefix + value);
      }
    }
    for (const set of SETS) {
      for (const [, key] of html[set].matchAll(/data-i18n="(?:\[placeholder\])?([\w./:-]+)"/g))
        used.add(key.includes(':') ? `${key.split(':')[0].split('/')[1]}:${key.split(':')[1]}` : `${set}:${key}`);
      // RED._(NS + ...) and node._(...): every quoted key in the argument; 'kinds.' + kind is a prefix.
      for (const [, args] of html[set].matchAll(/(?:RED\._\(NS \+|node\._\()([^;]*?)\)[;.)]/g)) {
        // (A quoted value after || is a default kind, not a key.)
        for (const [, path] of args.matchAll(/(?<!\|\| )'([\w.]+)'/g)) {
          if (!path.endsWith('.')) used.add(`${set}:${path}`);
          else {
            expect([set, path, dynamic[`${set}:${path}`]?.length]).toEqual([set, path, expect.any(Number)]);
            for (const value of dynamic[`${set}:${path}`]) used.add(`${set}:${path}${value}`);
          }
        }
      }
    }
    expect(used.size).toBeGreaterThan(100);
    const locales = readdirSync(join(DIR, 'locales'));
    expect(locales).toContain('en-US');
    const missing: string[] = [];
    for (const locale of locales) {
      for (const key of used) {
        const [set, path] = key.split(':');
        const file = join(DIR, 'locales', locale, `${set}.json`);
        const text = existsSync(file) ? lookup(JSON.parse(read(file)), path) : undefined;
        if (typeof text !== 'string' || text === '') missing.push(`${locale}/${set}.json: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test("each node's texts reach the runtime's English fallback (RED._ without catalogues)", () => {
    for (const set of SETS) expect(t(bareRED, `${set}:paletteLabel`)).toBe(catalogue(set).paletteLabel);
  });

  test('examples: Node-RED flows only, one connection without credentials, map expressions = the presets', () => {
    const dir = join(__dirname, '..', '..', 'examples', 'node-red');
    const files = readdirSync(dir);
    expect(files.sort()).toEqual([
      'follow-request-messages.json',
      'live-metrics-dashboard.json',
      'live-queue-to-debug.json',
      'new-request-to-slack.json',
      'supervisor-dashboard.json',
    ]);
    // A user may import several examples: apart from a shared connection, no two examples may share a node id.
    const owners = new Map<string, string>();
    for (const file of files) {
      const flow = JSON.parse(read(dir, file)) as Array<Record<string, Json>>;
      const ids = new Set(flow.map((n) => n.id));
      expect(ids.size).toBe(flow.length);
      for (const node of flow) {
        if (node.type === 'pingstreams-config') continue;
        expect([node.id, owners.get(node.id) ?? file]).toEqual([node.id, file]);
        owners.set(node.id, file);
      }
      const configs = flow.filter((n) => n.type === 'pingstreams-config');
      expect(configs).toHaveLength(1);
      expect(configs[0]).not.toHaveProperty('credentials');
      expect(configs[0].endpoint).toBe('wss://eu.rtmv3.pingstreams.com/api/');
      for (const node of flow) {
        for (const target of (node.wires ?? []).flat()) expect(ids.has(target)).toBe(true);
        if (node.server !== undefined) expect(node.server).toBe(configs[0].id);
        if (node.type === 'pingstreams map')
          expect(node.expression).toBe(MAP_PRESETS.find((p) => p.id === node.preset)?.expression);
      }
    }
    // The supervisor wall: no function node does a package node's work; every widget's group and page exist.
    const wall = JSON.parse(read(dir, 'supervisor-dashboard.json')) as Array<Record<string, Json>>;
    const wallIds = new Set(wall.map((n) => n.id));
    expect(wall.filter((n) => n.type === 'function')).toEqual([]);
    for (const node of wall)
      for (const ref of ['group', 'page', 'ui', 'theme'])
        if (node[ref] !== undefined) expect([node.name, ref, wallIds.has(node[ref])]).toEqual([node.name, ref, true]);
    expect(new Set(wall.map((n) => n.type))).toEqual(
      new Set([
        'comment',
        'pingstreams metrics',
        'pingstreams in',
        'switch',
        'ui-gauge',
        'ui-text',
        'ui-chart',
        'ui-table',
        'ui-base',
        'ui-theme',
        'ui-page',
        'ui-group',
        'pingstreams-config',
      ]),
    );
    // Node-RED offers every .json under examples/: the Node-RED package ships the Node-RED flows only.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PACKAGES } = require('../../scripts/pack.js') as { PACKAGES: Record<string, { examples?: string }> };
    expect(PACKAGES['node-red'].examples).toBe('examples/node-red');
  });
});
