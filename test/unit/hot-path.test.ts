// The per-event work done once per frame or once per element (issue 11, the hot path): each shortcut must give
// what the long way gave before. Real protocol text over the fake transport; no option is faked.
import { acquireConnection, closeAllConnections, connectionStats } from '../../core';
import { ResumeRecord } from '../../core/resume';
import { IdIndex, MAX_SAME_HASH, seededHash, type Hashed } from '../../core/id-index';
import { RecencyList, RecencyMap, type RecencyNode } from '../../core/recency';
import { TextArena, type ArenaSlot } from '../../core/text-arena';
import { FrameBatch, MAX_BATCH_CHARS, MAX_BATCH_FRAMES } from '../../core/frame-batch';
import { TopicTracker, estimateBytes, evictOldest, fingerprint, sameState, timeHashOf } from '../../core/tracker';
import type { ConnectionStatus, Element, RealtimeEvent } from '../../core/types';
import { FakePlatform, settle } from '../helpers/fake-platform';

const ENDPOINT = 'ws://127.0.0.1:9/api/';
const LIST = '/p1/requests';
const ONE = '/p1/requests/support-group-a';
const frame = (topic: string, method: string, message: unknown) =>
  JSON.stringify({ action: 'publish', payload: { topic, method, message } });
const req = (id: string, extra: Record<string, unknown> = {}): Element => ({
  _id: id,
  request_id: `support-group-${id}`,
  status: 100,
  ...extra,
});

let platform: FakePlatform;
beforeEach(() => {
  platform = new FakePlatform();
});
afterEach(async () => {
  const closing = closeAllConnections();
  await platform.clock.advance(5_000);
  await closing;
});

describe('the tracker computes a live element fingerprint once and hands it on', () => {
  test('the shared fingerprint is the content hash fingerprint() computes; with an updatedAt none is made', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([]);
    const hashed = req('b', { note: 'no updatedAt' });
    expect(t.applyLive('CREATE', hashed)?.fingerprint).toBe(fingerprint(hashed));
    // The resume record keeps the time itself (the next test checks what it holds).
    expect(t.applyLive('CREATE', req('a', { updatedAt: '2026-12-01T10:00:00.000Z' }))?.fingerprint).toBeUndefined();
  });

  test('a resume record fed the shared fingerprint holds what it held when it computed its own', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([]);
    const shared = new ResumeRecord();
    const own = new ResumeRecord();
    const events: Array<[string, Element]> = [
      ['CREATE', req('a', { updatedAt: '1' })],
      ['CREATE', req('b', { body: 'hashed' })],
      ['UPDATE', req('a', { updatedAt: '2' })],
      ['UPDATE', req('b', { body: 'hashed again' })],
      ['UPDATE', req('c', { status: 1000 })],
      ['DELETE', req('b')],
    ];
    for (const [method, element] of events) {
      const change = t.applyLive(method as 'CREATE', element);
      if (!change) continue;
      shared.record(change, 'requests');
      own.record({ method: change.method, data: change.data }, 'requests');
    }
    expect(shared.toState(LIST)).toEqual(own.toState(LIST));
    expect(shared.estimatedBytes).toBe(own.estimatedBytes);
  });

  test('a live event is dropped exactly when sameState says it repeats the known state', () => {
    const known = req('a', { updatedAt: '1', body: 'x' });
    const candidates = [
      req('a', { updatedAt: '1', body: 'x' }), // same
      req('a', { updatedAt: '1', body: 'y' }), // same fingerprint, other content
      req('a', { updatedAt: '2', body: 'x' }), // other fingerprint
    ];
    for (const candidate of candidates) {
      const t = new TopicTracker('requests', 100, 100);
      t.applySnapshot([known]);
      expect(t.applyLive('UPDATE', candidate) === undefined).toBe(sameState(known, candidate));
    }
  });
});

describe('byte accounting', () => {
  test('evictOldest hands each evicted value to its callback, oldest first', () => {
    const map = new Map(Array.from({ length: 11 }, (_, i) => [i, `v${i}`] as const));
    const seen: string[] = [];
    expect(evictOldest(map, 10, (value) => seen.push(value))).toEqual([0, 1]);
    expect(seen).toEqual(['v0', 'v1']);
  });

  test('the tracker counts what it holds, through count evictions, closures and deletions', () => {
    const t = new TopicTracker('requests', 10, 100);
    t.applySnapshot([]);
    for (let i = 0; i < 50; i++) t.applyLive('CREATE', req(`r${i}`, { body: 'x'.repeat(i) }));
    t.applyLive('UPDATE', req('r49', { status: 1000 }));
    t.applyLive('DELETE', req('r48'));
    const held = t.elements().reduce((sum, element) => sum + estimateBytes(element), 0);
    expect(t.estimatedBytes).toBe(held);
  });

  test("a live element's size is its one-element frame's length, never less than its JSON length", async () => {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: 'hot-path-token', platform, lingerMs: 0 });
    const subscription = handle.subscribe(LIST, { onEvent: () => undefined });
    platform.last.accept();
    await settle();
    platform.last.receive(frame(LIST, 'CREATE', []));
    await subscription.ready;
    const element = req('a', { updatedAt: '1', subject: 'héllo "quoted" \\ \n', tags: ['x', 'y'] });
    const text = frame(LIST, 'CREATE', element);
    platform.last.receive(text);
    await settle(); // frames are handled at the end of the turn that received them (core/frame-batch.ts)
    const { trackedBytes } = connectionStats().connections[0];
    expect(trackedBytes).toBe(text.length);
    expect(trackedBytes).toBeGreaterThanOrEqual(estimateBytes(element));
    handle.release();
  });
});

describe('delivery', () => {
  test('events keep the key order of RealtimeEvent, and every holder gets its own event', async () => {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: 'hot-path-token', platform, lingerMs: 0 });
    const list: RealtimeEvent[] = [];
    const list2: RealtimeEvent[] = [];
    const one: RealtimeEvent[] = [];
    const subscriptions = [
      handle.subscribe(LIST, { onEvent: (e) => list.push(e) }),
      handle.subscribe(LIST, { onEvent: (e) => list2.push(e) }),
      handle.subscribe(ONE, { onEvent: (e) => one.push(e) }),
    ];
    platform.last.accept();
    await settle();
    platform.last.receive(frame(LIST, 'CREATE', []));
    platform.last.receive(frame(ONE, 'CREATE', req('a', { updatedAt: '0' })));
    await Promise.all(subscriptions.map((s) => s.ready));
    platform.last.receive(frame(LIST, 'CREATE', req('a', { updatedAt: '1' })));
    platform.last.receive(frame(LIST, 'UPDATE', req('a', { updatedAt: '2' })));
    platform.last.receive(frame(ONE, 'UPDATE', req('a', { updatedAt: '1' })));
    await settle();
    const keys = (e: RealtimeEvent) => Object.keys(e).join(',');
    expect(list.map(keys)).toEqual([
      'method,topic,kind,projectId,data,snapshot,recovered,receivedAt',
      'method,topic,kind,projectId,data,previous,snapshot,recovered,receivedAt',
    ]);
    expect(one.map(keys)).toEqual([
      'method,topic,kind,projectId,requestId,data,previous,snapshot,recovered,receivedAt',
    ]);
    expect(list2).toEqual(list);
    expect(list2[0]).not.toBe(list[0]);
    handle.release();
  });

  test('receivedAt is the time the frame arrived, to the millisecond', async () => {
    const handle = acquireConnection({ endpoint: ENDPOINT, token: 'hot-path-token', platform, lingerMs: 0 });
    const events: RealtimeEvent[] = [];
    const subscription = handle.subscribe(LIST, { onEvent: (e) => events.push(e) });
    platform.last.accept();
    await settle();
    platform.last.receive(frame(LIST, 'CREATE', []));
    await subscription.ready;
    platform.last.receive(frame(LIST, 'CREATE', req('a', { updatedAt: '1' })));
    platform.last.receive(frame(LIST, 'CREATE', req('b', { updatedAt: '1' })));
    await platform.clock.advance(1);
    platform.last.receive(frame(LIST, 'CREATE', req('c', { updatedAt: '1' })));
    await settle();
    const start = platform.clock.now() - 1;
    expect(events.map((e) => e.receivedAt)).toEqual([
      new Date(start).toISOString(),
      new Date(start).toISOString(),
      new Date(start + 1).toISOString(),
    ]);
    handle.release();
  });
});

// The tracker keeps an element seen once as its one-element frame's text, and the parsed tree of an element that
// changed since or came in a snapshot. What the events carry must be what it was when the tracker held only trees.
// Content a second parse of the text could get wrong if it were not the same parse: escapes, non-BMP characters, a
// lone surrogate, an own "__proto__" key, -0 and numbers at the edge of doubles, nesting. Sent as written here.
const trickyJson = (id: string, updatedAt: string): string =>
  `{"_id":"${id}","request_id":"support-group-${id}","status":100,"updatedAt":"${updatedAt}",` +
  `"subject":"h\\u00e9llo \\"q\\" \\\\ \\n \\ud83d\\ude00 \\ud800","__proto__":{"polluted":true},` +
  `"n":[1e308,-0,5e-324,123456789012345678901234567890],"deep":{"a":[{"b":null}]}}`;
const tricky = (id: string, updatedAt: string): Element => JSON.parse(trickyJson(id, updatedAt)) as Element;
const rawFrame = (topic: string, method: string, messageJson: string) =>
  `{"action":"publish","payload":{"topic":"${topic}","method":"${method}","message":${messageJson}}}`;

async function open(onEvent: (event: RealtimeEvent) => void) {
  const handle = acquireConnection({ endpoint: ENDPOINT, token: 'hot-path-token', platform, lingerMs: 0 });
  const subscription = handle.subscribe(LIST, { onEvent });
  platform.last.accept();
  await settle();
  platform.last.receive(frame(LIST, 'CREATE', []));
  await subscription.ready;
  return handle;
}

describe('what the tracker holds', () => {
  test('an element seen once is not held as the object delivered; one that changed since is', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([]);
    const first = req('a', { updatedAt: '1' });
    t.applyLive('CREATE', first, frame(LIST, 'CREATE', first));
    expect(t.get('a')).toEqual(first);
    expect(t.get('a')).not.toBe(first);
    const second = req('a', { updatedAt: '2' });
    t.applyLive('UPDATE', second, frame(LIST, 'UPDATE', second));
    expect(t.get('a')).toBe(second);
  });

  test('get() hands out the same object until the element changes (the look-ups of missing requests rely on it)', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([req('a', { updatedAt: '1' })]);
    const read = t.get('a');
    expect(t.get('a')).toBe(read);
    t.applyLive('UPDATE', req('a', { updatedAt: '2' }));
    expect(t.get('a')).not.toBe(read);
    expect(t.get('a')).toEqual(req('a', { updatedAt: '2' }));
  });

  test('the elements of a partial snapshot that left it are the objects get() returns', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([req('a', { updatedAt: '1' }), req('b', { updatedAt: '1' })]);
    t.applyLive('CREATE', req('c', { updatedAt: '1' }), frame(LIST, 'CREATE', req('c', { updatedAt: '1' })));
    const { missing } = t.applySnapshot([req('a', { updatedAt: '1' })]);
    expect(missing.map((e) => e._id)).toEqual(['b', 'c']);
    for (const element of missing) expect(t.get(String(element._id))).toBe(element);
  });

  test('an entry reused after an eviction holds only its new element (get, previous, a repeat)', () => {
    const t = new TopicTracker('requests', 10, 100);
    t.applySnapshot([]);
    const elements = Array.from({ length: 40 }, (_, i) => req(`r${i}`, { updatedAt: '1', n: i }));
    for (const element of elements) {
      t.applyLive('CREATE', element, frame(LIST, 'CREATE', element));
      expect(t.get(String(element._id))).toEqual(element); // read, as the look-ups of missing requests do
    }
    const held = t.elements().map((e) => String(e._id));
    expect(held).toEqual(elements.slice(-held.length).map((e) => String(e._id)));
    for (const id of held) expect(t.get(id)).toEqual(elements[Number(id.slice(1))]);
    for (const { _id } of elements.slice(0, 40 - held.length)) expect(t.get(String(_id))).toBeUndefined();
    // A held one repeated is dropped; changed, its previous is its own state.
    const last = elements[39];
    expect(t.applyLive('UPDATE', last, frame(LIST, 'UPDATE', last))).toBeUndefined();
    expect(t.applyLive('UPDATE', { ...last, updatedAt: '2' })?.previous).toEqual(last);
    // One evicted comes back as new: no previous.
    expect(t.applyLive('UPDATE', { ...elements[0], updatedAt: '2' })?.previous).toBeUndefined();
  });

  test('a held tree is not read to find its element or to tell another updatedAt; the same updatedAt still is', () => {
    // The tree held since an element's last change is out of the CPU's caches by its next one: the entry tells.
    const reads: string[] = [];
    const counted = (element: Element): Element =>
      new Proxy(element, {
        get: (target, key) => (typeof key === 'string' && reads.push(key), Reflect.get(target, key)),
      });
    const t = new TopicTracker('requests', 100, 100);
    const held = counted(req('a', { updatedAt: '1', body: 'x' }));
    t.applySnapshot([]);
    t.applyLive('UPDATE', req('a', { updatedAt: '0' }));
    t.applyLive('UPDATE', held); // now the tree held for 'a'
    reads.length = 0;
    const next = req('a', { updatedAt: '2', body: 'x' });
    expect(t.applyLive('UPDATE', next, frame(LIST, 'UPDATE', next))?.previous).toBe(held);
    expect(reads).toEqual([]);
    // The same updatedAt: the content decides, so the held tree is read.
    const again = counted(req('a', { updatedAt: '3', body: 'x' }));
    t.applyLive('UPDATE', again);
    reads.length = 0;
    const repeat = req('a', { updatedAt: '3', body: 'x' });
    expect(t.applyLive('UPDATE', repeat)).toBeUndefined();
    expect(reads).toContain('updatedAt');
    expect(t.applyLive('UPDATE', { ...repeat, body: 'y' })?.previous).toBe(again);
  });

  test('an updatedAt whose last characters are the same (a day later) is still a change, in every held form', () => {
    const before = '2026-12-05T10:00:00.000Z';
    const after = '2026-12-06T10:00:00.000Z';
    expect(timeHashOf({ updatedAt: before })).toBe(timeHashOf({ updatedAt: after })); // proves nothing: compared
    expect(timeHashOf({ updatedAt: before })).not.toBe(timeHashOf({ updatedAt: '2026-12-05T10:00:00.001Z' }));
    expect(timeHashOf({})).toBe(-1);
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([req('s', { updatedAt: before })]);
    const seen = req('f', { updatedAt: before });
    t.applyLive('CREATE', seen, frame(LIST, 'CREATE', seen)); // held as text
    t.applyLive('UPDATE', req('u', { updatedAt: '1' }));
    t.applyLive('UPDATE', req('u', { updatedAt: before })); // held as a tree
    for (const id of ['s', 'f', 'u']) {
      const change = t.applyLive('UPDATE', req(id, { updatedAt: after }));
      expect(change?.previous).toEqual(req(id, { updatedAt: before }));
      expect(t.applyLive('UPDATE', req(id, { updatedAt: after }))).toBeUndefined();
    }
  });

  test('an element held as text: the same content in another text is a repeat; a change is an UPDATE with it', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([]);
    // With updatedAt, and without (fingerprinted by a hash of the content).
    for (const first of [req('a', { updatedAt: '1', body: 'x' }), req('b', { body: 'x' })]) {
      t.applyLive('CREATE', first, frame(LIST, 'CREATE', first));
      const spaced = `{"action":"publish","payload":{"topic":"${LIST}","method":"UPDATE","message": ${JSON.stringify(first, null, 1)}}}`;
      expect(t.applyLive('UPDATE', JSON.parse(spaced).payload.message, spaced)).toBeUndefined();
      const changed = { ...first, body: 'y' }; // the same updatedAt, other content
      const change = t.applyLive('UPDATE', changed, frame(LIST, 'UPDATE', changed));
      expect(change).toMatchObject({ method: 'UPDATE', data: changed, previous: first });
      expect(t.applyLive('UPDATE', { ...changed }, frame(LIST, 'UPDATE', changed))).toBeUndefined();
    }
  });

  test("the byte count is each held element's frame length or JSON length, through every form", () => {
    const t = new TopicTracker('requests', 10, 100);
    t.applySnapshot([req('s', { body: 'snapshot' })]);
    const sizes = new Map<string, number>([['s', estimateBytes(req('s', { body: 'snapshot' }))]]);
    for (let i = 0; i < 30; i++) {
      const id = `r${i % 12}`;
      const element = req(id, { updatedAt: String(i), body: 'x'.repeat(i) });
      const text = i % 2 ? frame(LIST, 'UPDATE', element) : undefined;
      t.applyLive(i < 12 ? 'CREATE' : 'UPDATE', element, text);
      sizes.set(id, text?.length ?? estimateBytes(element));
    }
    const held = t.elements().reduce((sum, element) => sum + (sizes.get(String(element._id)) as number), 0);
    expect(t.elements().length).toBeLessThanOrEqual(10);
    expect(t.estimatedBytes).toBe(held);
  });
});

describe('events over the connection are what they were when the tracker held trees', () => {
  test("previous is the element's state before, exactly, from a frame, a one-element list and a snapshot", async () => {
    const events: RealtimeEvent[] = [];
    const handle = await open((e) => events.push(e));
    const states = ['1', '2', '3', '4'].map((at) => tricky('a', at));
    platform.last.receive(rawFrame(LIST, 'CREATE', trickyJson('a', '1')));
    platform.last.receive(rawFrame(LIST, 'UPDATE', `[${trickyJson('a', '2')}]`));
    platform.last.receive(rawFrame(LIST, 'UPDATE', trickyJson('a', '3')));
    platform.last.receive(rawFrame(LIST, 'UPDATE', trickyJson('a', '4')));
    await settle();
    expect(events.map((e) => e.data)).toEqual(states);
    expect(events.map((e) => e.previous)).toEqual([undefined, ...states.slice(0, 3)]);
    const second = events[1].previous as Element;
    expect(Object.prototype.hasOwnProperty.call(second, '__proto__')).toBe(true);
    expect(Object.is((second.n as number[])[1], -0)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // JSON, a structured clone and a spread carry it as a plain property.
    expect(JSON.parse(JSON.stringify(events[1])).previous).toEqual(JSON.parse(JSON.stringify(states[0])));
    expect(structuredClone(events[1]).previous).toEqual(states[0]);
    expect({ ...events[1] }.previous).toBe(events[1].previous);
    handle.release();
  });

  test('a repeated frame is dropped exactly when sameState says so, whatever form the known state has', async () => {
    const events: RealtimeEvent[] = [];
    const handle = await open((e) => events.push(e));
    const a = req('a', { updatedAt: '1', body: 'x' });
    const reordered = { body: 'x', ...a }; // same fingerprint, other key order: other JSON, so not the same
    const sends: Array<[string, unknown]> = [
      ['CREATE', a], // new: kept as its frame
      ['CREATE', a], // the same frame text: dropped
      ['UPDATE', a], // another frame, same element: dropped
      ['UPDATE', [a]], // a one-element list of it: dropped
      ['UPDATE', reordered], // emitted, and the element now counts as changed: kept as its tree
      ['UPDATE', reordered], // dropped against the tree
      ['UPDATE', req('a', { updatedAt: '1', body: 'y' })], // same fingerprint, other content: emitted
    ];
    for (const [method, message] of sends) platform.last.receive(frame(LIST, method, message));
    await settle();
    expect(events.map((e) => [e.method, e.data.body])).toEqual([
      ['CREATE', 'x'],
      ['UPDATE', 'x'],
      ['UPDATE', 'y'],
    ]);
    expect(sameState(a, reordered)).toBe(false);
    expect(connectionStats().connections[0].stats.duplicatesDropped).toBe(4);
    handle.release();
  });

  test('a host that changes the data it was given does not change the next previous of an element seen once', async () => {
    const events: RealtimeEvent[] = [];
    const handle = await open((e) => {
      events.push(e);
      e.data.status = 'changed by the host';
    });
    platform.last.receive(frame(LIST, 'CREATE', req('a', { updatedAt: '1' })));
    platform.last.receive(frame(LIST, 'UPDATE', req('a', { updatedAt: '2' })));
    await settle();
    expect(events[1].previous).toEqual(req('a', { updatedAt: '1' }));
    handle.release();
  });

  test('changes found in a snapshot after a reconnect carry previous from the held text', async () => {
    const events: RealtimeEvent[] = [];
    const handle = acquireConnection({
      endpoint: ENDPOINT,
      token: 'hot-path-token',
      platform,
      lingerMs: 0,
      backoffInitialMs: 10,
    });
    const subscription = handle.subscribe(LIST, { onEvent: (e) => events.push(e) });
    platform.last.accept();
    await settle();
    platform.last.receive(
      rawFrame(LIST, 'CREATE', `[${trickyJson('a', '1')},${JSON.stringify(req('b', { updatedAt: '1' }))}]`),
    );
    await subscription.ready;
    platform.last.receive(frame(LIST, 'CREATE', req('c', { updatedAt: '1' })));
    platform.last.drop();
    await platform.clock.advance(2_000);
    platform.last.accept();
    await settle();
    const rest = [req('b', { updatedAt: '1' }), req('c', { updatedAt: '2' })].map((e) => JSON.stringify(e));
    platform.last.receive(rawFrame(LIST, 'CREATE', `[${[trickyJson('a', '2'), ...rest].join(',')}]`));
    await settle();
    expect(events.slice(1).map((e) => [e.recovered, e.data._id, e.previous])).toEqual([
      [true, 'a', tricky('a', '1')],
      [true, 'c', req('c', { updatedAt: '1' })],
    ]);
    handle.release();
  });
});

test('a subscription keeps a resume record only when asked: exportState() without one says how to get one', async () => {
  const handle = acquireConnection({ endpoint: ENDPOINT, token: 'hot-path-token', platform, lingerMs: 0 });
  const plain = handle.subscribe(LIST, { onEvent: () => undefined });
  const resumable = handle.subscribe(LIST, { onEvent: () => undefined, resumable: true });
  platform.last.accept();
  await settle();
  platform.last.receive(frame(LIST, 'CREATE', [req('a', { updatedAt: '1' })]));
  await Promise.all([plain.ready, resumable.ready]);
  platform.last.receive(frame(LIST, 'CREATE', req('b', { updatedAt: '1' })));
  await settle();
  expect(() => plain.exportState()).toThrow(/keeps no resume record\. Subscribe with resumable: true/);
  expect(resumable.exportState().seen).toEqual({ a: 'u:1', b: 'u:1' });
  handle.release();
});

describe('the text arena', () => {
  const slot = (): ArenaSlot => ({ chunk: undefined, at: -1, bytes: 0 });

  test('gives back each text as added, as chunks fill and empty, within twice what it holds and three chunks', () => {
    const arena = new TextArena();
    const held = new Map<ArenaSlot, string>();
    let bytes = 0;
    for (let i = 0; i < 3_000; i++) {
      // From 1 to about 2 000 characters, some of them not ASCII (two, three and four UTF-8 bytes).
      const text = `${i}:${'é€😀x'.repeat((i * 7919) % 400)}`;
      const s = slot();
      expect(arena.add(s, text)).toBe(true);
      held.set(s, text);
      bytes += Buffer.byteLength(text);
      // Release most, oldest first, so the arena grows, compacts in place, then shrinks when few are left.
      for (const [old] of held) {
        if (held.size < (i < 1_500 ? 200 : 5) || (i + old.at) % 3 === 0) break;
        arena.release(old);
        bytes -= Buffer.byteLength(held.get(old) as string);
        held.delete(old);
      }
      if (i % 97 === 0) for (const [s2, t] of held) expect(arena.read(s2)).toBe(t);
      expect(arena.heldBytes).toBe(bytes);
      expect(arena.capacity).toBeLessThanOrEqual(2 * bytes + 3 * 64 * 1024);
    }
    for (const [s, t] of held) expect(arena.read(s)).toBe(t);
    // A handful held at the end: a chunk or two.
    expect(arena.capacity).toBeLessThanOrEqual(2 * 64 * 1024);
  });

  test('released in any order: texts move out of sparse chunks, read back the same, within the bound', () => {
    const arena = new TextArena();
    const held: Array<[ArenaSlot, string]> = [];
    let bytes = 0;
    let seed = 11;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let i = 0; i < 20_000; i++) {
      const text = `${i}:${'x'.repeat(random(1_500))}${i % 7 ? '' : 'é'}`;
      const s = slot();
      arena.add(s, text);
      held.push([s, text]);
      bytes += Buffer.byteLength(text);
      // Keep about 300 held, releasing one at random (the long-lived ones pin their chunks).
      if (held.length > 300) {
        const [old, oldText] = held.splice(random(held.length), 1)[0];
        arena.release(old);
        bytes -= Buffer.byteLength(oldText);
      }
      expect(arena.capacity).toBeLessThanOrEqual(2 * bytes + 3 * 64 * 1024);
      if (i % 1_000 === 0) for (const [s2, t] of held) expect(arena.read(s2)).toBe(t);
    }
    for (const [s, t] of held) expect(arena.read(s)).toBe(t);
    expect(arena.heldBytes).toBe(bytes);
  });

  test('keeps the chunks a tenth of what it holds frees at once as spares (at least two), and reuses them', () => {
    const arena = new TextArena();
    const chunk = 64 * 1024;
    const slots = Array.from({ length: 5_000 }, () => slot());
    for (const s of slots) arena.add(s, 'x'.repeat(700)); // the tracker's default bound, of 700-byte frames
    // Its evictions, oldest first: the first 500 texts sat partly in the small first chunks; the next 500 fill
    // whole ones (350 000 bytes: five at least, all kept, within an eighth of the 3.15 MB held).
    for (const s of slots.slice(0, 500)) arena.release(s);
    for (const s of slots.slice(0, 500)) arena.add(s, 'y'.repeat(700));
    expect(arena.spareBytes).toBe(0); // written again
    const capacity = arena.capacity;
    for (const s of slots.slice(500, 1_000)) arena.release(s);
    expect(arena.spareBytes).toBeGreaterThanOrEqual(5 * chunk);
    expect(arena.spareBytes).toBeLessThanOrEqual(Math.ceil(arena.heldBytes / 8 / chunk) * chunk);
    expect(arena.capacity).toBe(capacity - arena.spareBytes);
    for (const s of slots.slice(500, 1_000)) arena.add(s, 'z'.repeat(700));
    expect(arena.capacity).toBe(capacity); // the spares, no new buffer
    for (const s of slots) arena.release(s);
    expect(arena.spareBytes).toBeLessThanOrEqual(2 * chunk); // holding nothing: two
  });

  test('takes no text UTF-8 would change (a lone surrogate) and none too long to gain from it', () => {
    const arena = new TextArena();
    for (const text of ['a\ud800b', '\udc00', 'x'.repeat(64 * 1024 + 1)]) {
      const s = slot();
      expect(arena.add(s, text)).toBe(false);
      expect(s.at).toBe(-1);
    }
    const s = slot();
    expect(arena.add(s, 'a\ud83d\ude00b')).toBe(true); // a well-formed pair
    expect(arena.read(s)).toBe('a\ud83d\ude00b');
    expect(arena.heldBytes).toBe(6);
  });

  test('a slot released and added again holds its new text; clear() releases every slot', () => {
    const arena = new TextArena();
    const [a, b] = [slot(), slot()];
    arena.add(a, 'first');
    arena.add(b, 'other');
    arena.release(a);
    arena.add(a, 'second');
    for (let i = 0; i < 100; i++) arena.release((arena.add(slot(), 'x'.repeat(1_000)), slot())); // forces compactions
    expect([arena.read(a), arena.read(b)]).toEqual(['second', 'other']);
    arena.clear();
    expect([a.at, b.at, arena.heldBytes]).toEqual([-1, -1, 0]);
  });

  test('the tracker keeps a frame the arena does not take as its string, and gives the same events', async () => {
    const events: RealtimeEvent[] = [];
    const handle = await open((e) => events.push(e));
    // Raw lone surrogates in the text itself (a socket decoding UTF-8 never gives one; a host's platform may).
    const texts = ['a', 'b'].map((id) => rawFrame(LIST, 'CREATE', `{"_id":"${id}","updatedAt":"1","s":"\ud800é"}`));
    const update = rawFrame(LIST, 'UPDATE', '{"_id":"a","updatedAt":"2"}');
    for (const text of texts) platform.last.receive(text);
    platform.last.receive(texts[0]); // the same text: dropped
    platform.last.receive(update);
    await settle();
    expect(events.map((e) => [e.method, e.data._id])).toEqual([
      ['CREATE', 'a'],
      ['CREATE', 'b'],
      ['UPDATE', 'a'],
    ]);
    expect(events[2].previous).toEqual({ _id: 'a', updatedAt: '1', s: '\ud800é' });
    expect(connectionStats().connections[0].trackedBytes).toBe(texts[1].length + update.length);
    handle.release();
  });
});

describe('frames received together are handled together', () => {
  test('a batch is handed over in order at the end of the turn, when full, or when flushed', async () => {
    const batches: string[][] = [];
    const batch = new FrameBatch((texts) => batches.push(texts));
    batch.push('a');
    batch.push('b');
    expect(batches).toEqual([]);
    await Promise.resolve();
    expect(batches).toEqual([['a', 'b']]);
    for (let i = 0; i < MAX_BATCH_FRAMES + 1; i++) batch.push(String(i));
    expect(batches[1]).toHaveLength(MAX_BATCH_FRAMES); // full: handed over at once
    batch.push('x'.repeat(MAX_BATCH_CHARS)); // with the one left over, past the character bound
    expect(batches[2]).toEqual([String(MAX_BATCH_FRAMES), 'x'.repeat(MAX_BATCH_CHARS)]);
    batch.push('last');
    batch.flush();
    await settle();
    expect(batches.slice(3)).toEqual([['last']]); // the turn's end finds nothing left
  });

  test('the frames of one turn are all parsed before the first is handled, at most a full batch at a time', async () => {
    const parsedBefore: number[] = [];
    let parses = 0;
    const parse = JSON.parse;
    const spy = jest.spyOn(JSON, 'parse').mockImplementation((text, reviver) => ((parses += 1), parse(text, reviver)));
    try {
      const handle = await open(() => parsedBefore.push(parses));
      parses = 0;
      const count = MAX_BATCH_FRAMES + 6;
      for (let i = 0; i < count; i++) platform.last.receive(frame(LIST, 'CREATE', req(`r${i}`, { updatedAt: '1' })));
      await settle();
      expect(parsedBefore).toEqual([
        ...Array<number>(MAX_BATCH_FRAMES).fill(MAX_BATCH_FRAMES),
        ...Array<number>(6).fill(count),
      ]);
      handle.release();
    } finally {
      spy.mockRestore();
    }
  });

  test('frames received before the socket closed, in the same turn, are handled before the close', async () => {
    const log: string[] = [];
    const handle = await open((e) => log.push(`event ${String(e.data._id)}`));
    handle.onStatus((status: ConnectionStatus) => log.push(status.state));
    log.length = 0;
    platform.last.receive(frame(LIST, 'CREATE', req('a', { updatedAt: '1' })));
    platform.last.receive(frame(LIST, 'CREATE', req('b', { updatedAt: '1' })));
    platform.last.drop();
    await settle();
    expect(log).toEqual(['event a', 'event b', 'reconnecting']);
    handle.release();
  });
});

describe('the recency list and map', () => {
  interface Node extends RecencyNode<number, Node> {
    value: number;
  }

  test('keeps the order and evicts what a Map moved by delete and set, with evictOldest, kept and evicted', () => {
    const recency = new RecencyList<Node>();
    const byKey = new Map<number, Node>(); // the owner's index, as the tracker's IdIndex
    const plain = new Map<number, number>();
    const evicted: number[][] = [[], []];
    let seed = 7;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    for (let i = 0; i < 20_000; i++) {
      const key = random(300);
      const step = random(10);
      const held = byKey.get(key);
      if (step === 0) {
        // a removal
        if (held) recency.remove(held);
        byKey.delete(key);
        plain.delete(key);
      } else if (held) {
        held.value = i;
        recency.touch(held);
        plain.delete(key);
        plain.set(key, i);
      } else {
        const node = { key, older: undefined, newer: undefined, value: i };
        recency.append(node);
        byKey.set(key, node);
        plain.set(key, i);
      }
      recency.evictOver(100, (node) => {
        byKey.delete(node.key);
        evicted[0].push(node.key);
      });
      evicted[1].push(...evictOldest(plain, 100));
      if (i % 500 === 0) expect([...recency.values()].map((n) => [n.key, n.value])).toEqual([...plain]);
    }
    expect(evicted[0]).toEqual(evicted[1]);
    expect(evicted[0].length).toBeGreaterThan(1_000);
    expect(recency.size).toBe(plain.size);
  });

  test('a loop over the values may remove the one it was given; a key is added once', () => {
    const recency = new RecencyMap<number, Node>();
    for (let key = 0; key < 5; key++) recency.add({ key, older: undefined, newer: undefined, value: key });
    for (const node of recency.values()) if (node.key % 2 === 0) recency.remove(node);
    expect([...recency.values()].map((n) => n.key)).toEqual([1, 3]);
    expect(recency.size).toBe(2);
    expect(recency.get(2)).toBeUndefined();
    expect(recency.oldest?.key).toBe(1);
    expect(() => recency.add({ key: 1, older: undefined, newer: undefined, value: 1 })).toThrow(/held already/);
  });
});

describe('ids that share a hash', () => {
  interface Entry extends Hashed<Entry> {
    id: string;
  }
  const entry = (id: string): Entry => ({ id, idHash: 0, sameHash: undefined });
  const sameHash = () => 7;
  /** As the tracker's find(): entries of another hash share a slot. */
  const findIn = (index: IdIndex<Entry>, id: string) => {
    const hash = index.hash(id);
    for (let candidate = index.first(hash); candidate; candidate = candidate.sameHash)
      if (candidate.idHash === hash && candidate.id === id) return candidate;
    return undefined;
  };

  test('the index finds each entry of one hash by its id, and a ninth of them pushes out the earliest', () => {
    const index = new IdIndex<Entry>(sameHash);
    const entries = Array.from({ length: MAX_SAME_HASH }, (_, i) => entry(`e${i}`));
    for (const added of entries) expect(index.add(added, index.hash(added.id))).toBeUndefined();
    const find = (id: string) => findIn(index, id);
    for (const held of entries) expect(find(held.id)).toBe(held);
    expect(find('absent')).toBeUndefined();
    // Removed from the middle, the latest (the head) and the earliest (the tail): the others are still found.
    for (const removed of [entries[3], entries[7], entries[0]]) index.remove(removed);
    for (const held of entries)
      expect(find(held.id)).toBe([3, 7, 0].includes(entries.indexOf(held)) ? undefined : held);
    // Five held: three more fill the hash, and the next one pushes out the earliest still held (e1).
    for (const added of [entry('f0'), entry('f1'), entry('f2')]) expect(index.add(added, 7)).toBeUndefined();
    expect(index.add(entry('f3'), 7)).toBe(entries[1]);
  });

  test('as the index grows, every entry stays found, and a hash full of entries still pushes out its earliest', () => {
    // Hashes far apart share a slot of the first table and are split as it doubles.
    const hashOf = (id: string) => Number(id.slice(1));
    const index = new IdIndex<Entry>(hashOf);
    const find = (id: string) => findIn(index, id);
    const spread = Array.from({ length: 5_000 }, (_, i) => entry(`e${(i * 4_099) % 65_536}`));
    for (const added of spread) expect(index.add(added, index.hash(added.id))).toBeUndefined();
    // Eight of one hash, added across the growth: a ninth pushes out the first of them, not another hash's entry.
    const crowd = Array.from({ length: MAX_SAME_HASH }, () => ({ ...entry('e1'), idHash: 0 }));
    for (const added of crowd) expect(index.add(added, 1)).toBeUndefined();
    for (let i = 5_000; i < 9_000; i++) index.add(entry(`e${100_000 + i}`), 100_000 + i);
    expect(index.add({ ...entry('e1'), idHash: 0 }, 1)).toBe(crowd[0]);
    for (const held of spread) expect(find(held.id)).toBe(held);
    for (const removed of spread.slice(0, 2_500)) index.remove(removed);
    for (const [i, held] of spread.entries()) expect(find(held.id)).toBe(i < 2_500 ? undefined : held);
    index.clear();
    expect(find(spread[4_000].id)).toBeUndefined();
  });

  test('the seeded hash is a small integer, the same for the same id, and differs between indexes', () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => `5eb45fbc1f9e1f0012d6${i.toString(16).padStart(4, '0')}`);
    const [one, other] = [seededHash(1), seededHash(2)];
    for (const id of ids) {
      expect(Number.isInteger(one(id)) && one(id) >= 0 && one(id) < 2 ** 30).toBe(true);
      expect(one(id)).toBe(one(id));
    }
    expect(new Set(ids.map(one)).size).toBe(ids.length);
    expect(ids.filter((id) => one(id) === other(id)).length).toBeLessThan(5);
  });

  test('a tracker whose ids all share one hash gives the changes a tracker with the real hash gives', () => {
    // Six ids, so no hash holds more than MAX_SAME_HASH; numbers and strings that print alike are different ids.
    const ids: Array<string | number> = ['a', 'b', 'c', '1', 1, 2];
    const shared = new TopicTracker('requests', 100, 100, Number.POSITIVE_INFINITY, sameHash);
    const real = new TopicTracker('requests', 100, 100);
    const snapshot = [req('a', { updatedAt: '0' }), { ...req('x'), _id: 1, updatedAt: '0' }];
    expect(shared.applySnapshot(snapshot)).toEqual(real.applySnapshot(snapshot));
    let seed = 11;
    const random = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
    const outcomes: unknown[][] = [[], []];
    for (let i = 0; i < 3_000; i++) {
      const id = ids[random(ids.length)];
      const method = (['CREATE', 'UPDATE', 'UPDATE', 'UPDATE', 'DELETE'] as const)[random(5)];
      const element: Element = { _id: id, request_id: `support-group-${id}`, status: random(8) === 0 ? 1000 : 100 };
      if (random(3) > 0)
        element.updatedAt = String(random(4)); // repeats and changes
      else element.body = `b${random(3)}`;
      const text = random(2) ? frame(LIST, method, element) : undefined;
      outcomes[0].push(shared.applyLive(method, element, text));
      outcomes[1].push(real.applyLive(method, element, text));
      if (i % 300 === 299) {
        const partial = ids.slice(0, 1 + random(ids.length)).map((k) => ({ _id: k, status: 100, updatedAt: '9' }));
        outcomes[0].push(shared.applySnapshot(partial), shared.elements());
        outcomes[1].push(real.applySnapshot(partial), real.elements());
      }
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0].filter((outcome) => outcome === undefined).length).toBeGreaterThan(100); // repeats dropped
  });

  test('finding an element does not parse the held text of one whose hash only shares its slot', () => {
    // 5 and 21 share a slot of the first table (16 slots): finding one must not read the other's frame.
    const hashOf = (id: string) => (id === 'a' ? 5 : 21);
    const t = new TopicTracker('requests', 100, 100, Number.POSITIVE_INFINITY, hashOf);
    t.applySnapshot([]);
    const parse = jest.spyOn(JSON, 'parse');
    try {
      for (const id of ['a', 'b']) {
        const element = req(id, { updatedAt: '1' });
        t.applyLive('CREATE', element, frame(LIST, 'CREATE', element));
      }
      const change = req('a', { updatedAt: '2' });
      const previous = t.applyLive('UPDATE', change, frame(LIST, 'UPDATE', change))?.previous;
      expect(previous).toEqual(req('a', { updatedAt: '1' }));
      expect(parse).toHaveBeenCalledTimes(1); // a's own text, for its previous
    } finally {
      parse.mockRestore();
    }
  });

  test('in a tracker, a ninth element of one hash pushes out the earliest: its next change comes without previous', () => {
    const t = new TopicTracker('requests', 100, 100, Number.POSITIVE_INFINITY, sameHash);
    t.applySnapshot([]);
    const elements = Array.from({ length: MAX_SAME_HASH + 1 }, (_, i) => req(`r${i}`, { updatedAt: '1' }));
    for (const element of elements) t.applyLive('CREATE', element, frame(LIST, 'CREATE', element));
    expect(t.get('r0')).toBeUndefined();
    expect(t.elements().map((e) => e._id)).toEqual(elements.slice(1).map((e) => e._id));
    expect(t.applyLive('UPDATE', req('r0', { updatedAt: '2' }))?.previous).toBeUndefined();
    expect(t.applyLive('UPDATE', req('r5', { updatedAt: '2' }))?.previous).toEqual(elements[5]);
  });
});
