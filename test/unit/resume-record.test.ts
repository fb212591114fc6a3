// The resume record and the one snapshot diff it shares with the tracker.
import { ResumeRecord, MAX_RESUME_ENTRIES, UNDELIVERED_CREATE, UNDELIVERED_FINGERPRINT } from '../../core/resume';
import { diffSnapshot } from '../../core/snapshot-diff';
import { TopicTracker, fingerprint } from '../../core/tracker';
import type { RealtimeEvent } from '../../core/types';

const TOPIC = '/p/requests';
const req = (id: string, updatedAt: string, extra: Record<string, unknown> = {}) => ({
  _id: id,
  request_id: `support-group-${id}`,
  updatedAt,
  status: 200,
  ...extra,
});

describe('diffSnapshot', () => {
  test('new elements CREATE, changed UPDATE (with previous when the caller keeps elements), unchanged nothing', () => {
    const known = new Map([
      ['a', req('a', '1')],
      ['b', req('b', '1')],
    ]);
    const compared: string[] = [];
    const { changes, present } = diffSnapshot([req('a', '1'), req('b', '2'), req('c', '1'), { no: 'id' }], {
      known: (id) => known.get(id),
      same: (k, e) => k.updatedAt === e.updatedAt,
      previous: (k) => k,
      compared: (id) => compared.push(id),
    });
    expect(changes).toEqual([
      { method: 'UPDATE', data: req('b', '2'), previous: req('b', '1') },
      { method: 'CREATE', data: req('c', '1') },
    ]);
    expect([...present]).toEqual(['a', 'b', 'c']);
    expect(compared).toEqual(['a', 'b', 'c']);
  });

  test('the tracker and the resume record find the same changes in the same snapshot', () => {
    const before = [req('a', '1'), req('b', '1'), req('gone', '1')];
    const after = [req('a', '1'), req('b', '2'), req('new', '1')];
    const tracker = new TopicTracker('requests', 100, 100);
    tracker.applySnapshot(before);
    const record = new ResumeRecord();
    for (const element of before) record.remember(element);
    const fromTracker = tracker.applySnapshot(after).changes.map((c) => [c.method, c.data._id]);
    const fromRecord = record.diff(after).changes.map((c) => [c.method, c.data._id]);
    expect(fromRecord).toEqual(fromTracker);
    expect(fromTracker).toEqual([
      ['UPDATE', 'b'],
      ['CREATE', 'new'],
    ]);
  });
});

describe('ResumeRecord', () => {
  test('remembers fingerprints and request ids; a closed request or a delete leaves it', () => {
    const record = new ResumeRecord();
    record.remember(req('a', '1'));
    record.remember(req('b', '1'));
    expect(record.toState(TOPIC)).toEqual({
      topic: TOPIC,
      seen: { a: 'u:1', b: 'u:1' },
      requestIds: { a: 'support-group-a', b: 'support-group-b' },
    });
    record.record({ method: 'UPDATE', data: req('a', '2', { status: 1000 }) }, 'requests');
    record.record({ method: 'DELETE', data: { _id: 'b' } }, 'requests');
    expect(record.toState(TOPIC)).toEqual({ topic: TOPIC, seen: {} });
    expect(record.estimatedBytes).toBe(0);
  });

  test('a closed element of a non-request topic stays (only requests close)', () => {
    const record = new ResumeRecord();
    record.record({ method: 'UPDATE', data: { _id: 'm', status: 1000, updatedAt: 'x' } }, 'messages');
    expect(record.has('m')).toBe(true);
  });

  test('bounded: over the entry bound the oldest tenth goes, the newest stays', () => {
    const record = new ResumeRecord();
    for (let i = 0; i <= MAX_RESUME_ENTRIES; i++) record.remember({ _id: `e${i}`, updatedAt: String(i) });
    expect(record.size).toBe(MAX_RESUME_ENTRIES - MAX_RESUME_ENTRIES / 10);
    expect(record.has(`e${MAX_RESUME_ENTRIES}`)).toBe(true);
    expect(record.has('e0')).toBe(false);
  });

  test('an entry reused after an eviction holds only its new element: fingerprint, request id, byte count', () => {
    const record = new ResumeRecord(10, Number.POSITIVE_INFINITY);
    // With updatedAt or without (a hash), with a request_id or without, and some removed.
    const elements = Array.from({ length: 60 }, (_, i) => ({
      _id: `e${i}`,
      ...(i % 2 ? { updatedAt: String(i) } : { body: `b${i}` }),
      ...(i % 3 ? { request_id: `r${i}` } : {}),
    }));
    for (const [i, element] of elements.entries()) {
      record.record({ method: 'CREATE', data: element }, 'requests');
      if (i % 7 === 0) record.record({ method: 'DELETE', data: element }, 'requests');
    }
    const state = record.toState(TOPIC);
    const held = Object.keys(state.seen);
    expect(held.length).toBeGreaterThan(5);
    let bytes = 0;
    for (const id of held) {
      const element = elements[Number(id.slice(1))];
      expect(state.seen[id]).toBe(fingerprint(element));
      expect(state.requestIds?.[id]).toBe(element.request_id);
      bytes += id.length + fingerprint(element).length + (element.request_id?.length ?? 0);
    }
    expect(record.estimatedBytes).toBe(bytes);
  });

  test('bounded by bytes too', () => {
    const record = new ResumeRecord(1_000, 1_000);
    for (let i = 0; i < 20; i++) record.remember({ _id: `${'x'.repeat(90)}${i}`, updatedAt: '1' });
    expect(record.estimatedBytes).toBeLessThanOrEqual(1_000);
    expect(record.has(`${'x'.repeat(90)}19`)).toBe(true);
  });

  test('read from storage: own string entries only, ids like __proto__ are just ids, not trimmed', () => {
    const seen = JSON.parse('{"__proto__":"u:1","constructor":"u:2","n":3}') as Record<string, string>;
    const record = ResumeRecord.read({ topic: TOPIC, seen, requestIds: { __proto__: 'r' } as Record<string, string> });
    expect(record.fingerprintOf('__proto__')).toBe('u:1');
    expect(record.fingerprintOf('constructor')).toBe('u:2');
    expect(record.has('n')).toBe(false);
    const many = Object.fromEntries(Array.from({ length: MAX_RESUME_ENTRIES + 5 }, (_, i) => [`e${i}`, 'u:1']));
    expect(ResumeRecord.read({ topic: TOPIC, seen: many }).size).toBe(MAX_RESUME_ENTRIES + 5);
  });

  test('stored with undelivered events: a create marked as one, an update marked, a removed one put back with its request id', () => {
    const a = req('a', '1');
    const b = req('b', '1');
    const record = new ResumeRecord();
    record.remember(a);
    record.remember(b);
    const event = (method: RealtimeEvent['method'], data: Record<string, unknown>): RealtimeEvent => ({
      method,
      topic: TOPIC,
      kind: 'requests',
      projectId: 'p',
      data,
      snapshot: false,
      recovered: false,
      receivedAt: '',
    });
    const recorded = record.toState(TOPIC);
    const state = record.toState(TOPIC, [
      event('CREATE', a),
      event('UPDATE', b),
      event('UPDATE', req('c', '1', { status: 1000 })),
      event('UPDATE', req('b', 'newer-than-recorded')),
      { ...event('CREATE', req('x', '1')), topic: '/other/requests' },
    ]);
    expect(state).toEqual({
      topic: TOPIC,
      seen: { a: UNDELIVERED_CREATE + fingerprint(a), b: UNDELIVERED_FINGERPRINT, c: UNDELIVERED_FINGERPRINT },
      requestIds: { a: 'support-group-a', b: 'support-group-b', c: 'support-group-c' },
    });
    expect(
      ResumeRecord.read(state)
        .diff([a, b])
        .changes.map((c) => c.method),
    ).toEqual(['CREATE', 'UPDATE']);
    expect(record.toState(TOPIC)).toEqual(recorded); // the live record is not changed by what is stored
    expect(fingerprint(b)).not.toBe(UNDELIVERED_FINGERPRINT);
  });
});
