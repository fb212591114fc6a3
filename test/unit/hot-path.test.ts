// The per-event work done once per frame or once per element (issue 11, the hot path): each shortcut must give
// what the long way gave before. Real protocol text over the fake transport; no option is faked.
import { acquireConnection, closeAllConnections, connectionStats } from '../../core';
import { ResumeRecord } from '../../core/resume';
import { TopicTracker, estimateBytes, evictOldest, fingerprint, sameState } from '../../core/tracker';
import type { Element, RealtimeEvent } from '../../core/types';
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
  test('the shared fingerprint is the one fingerprint() computes, with and without updatedAt', () => {
    const t = new TopicTracker('requests', 100, 100);
    t.applySnapshot([]);
    for (const element of [req('a', { updatedAt: '2026-12-01T10:00:00.000Z' }), req('b', { note: 'no updatedAt' })])
      expect(t.applyLive('CREATE', element)?.fingerprint).toBe(fingerprint(element));
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
    const start = platform.clock.now() - 1;
    expect(events.map((e) => e.receivedAt)).toEqual([
      new Date(start).toISOString(),
      new Date(start).toISOString(),
      new Date(start + 1).toISOString(),
    ]);
    handle.release();
  });
});
