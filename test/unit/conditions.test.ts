// The condition engine behind n8n's "Only When" (core/conditions.ts): each comparison over the element and its
// previous state, the combination, and the errors a bad condition gives when the node starts.
import { compileConditions, ConditionError, type Condition, type RealtimeEvent } from '../../core';

const P = '5eb45fbc1f9e1f0012d62207';

function event(data: Record<string, unknown>, previous?: Record<string, unknown>): RealtimeEvent {
  return {
    method: previous ? 'UPDATE' : 'CREATE',
    topic: `/${P}/requests`,
    kind: 'requests',
    projectId: P,
    data,
    previous,
    snapshot: false,
    recovered: false,
    receivedAt: '2026-05-08T06:31:00.367Z',
  } as RealtimeEvent;
}

const test1 = (condition: Condition, e: RealtimeEvent) => compileConditions({ conditions: [condition] })(e);

describe('comparisons', () => {
  const closed = event(
    { status: 1000, lead: { fullname: 'Ada' }, tags: ['vip', 'mail'], first_text: 'refund please' },
    {
      status: 200,
      lead: { fullname: 'Ada' },
      tags: ['vip'],
    },
  );

  test('equals and not equals read the value as the field is typed', () => {
    expect(test1({ field: 'status', operator: 'equals', value: '1000' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'equals', value: '1000.0' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'equals', value: '200' }, closed)).toBe(false);
    expect(test1({ field: 'lead.fullname', operator: 'equals', value: 'Ada' }, closed)).toBe(true);
    expect(test1({ field: 'lead.fullname', operator: 'notEquals', value: 'Ada' }, closed)).toBe(false);
    expect(test1({ field: 'flag', operator: 'equals', value: 'true' }, event({ flag: true }))).toBe(true);
    expect(test1({ field: 'flag', operator: 'equals', value: 'false' }, event({ flag: true }))).toBe(false);
    expect(test1({ field: 'missing', operator: 'equals', value: '' }, closed)).toBe(false);
    expect(test1({ field: 'gone', operator: 'equals', value: 'null' }, event({ gone: null }))).toBe(true);
    // A number field never equals an empty value (Number('') would be 0).
    expect(test1({ field: 'zero', operator: 'equals', value: '' }, event({ zero: 0 }))).toBe(false);
  });

  test('contains: text containing the value, a list with an equal item', () => {
    expect(test1({ field: 'first_text', operator: 'contains', value: 'refund' }, closed)).toBe(true);
    expect(test1({ field: 'tags', operator: 'contains', value: 'mail' }, closed)).toBe(true);
    expect(test1({ field: 'tags', operator: 'contains', value: 'ma' }, closed)).toBe(false);
    expect(test1({ field: 'status', operator: 'contains', value: '10' }, closed)).toBe(false);
  });

  test('greater and less than: numbers, numeric text and ISO times', () => {
    expect(test1({ field: 'status', operator: 'greaterThan', value: '300' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'lessThan', value: '300' }, closed)).toBe(false);
    expect(test1({ field: 'tags.length', operator: 'greaterThan', value: '1' }, closed)).toBe(true);
    const at = event({ createdAt: '2026-05-08T06:31:00.000Z' });
    expect(test1({ field: 'createdAt', operator: 'greaterThan', value: '2026-05-08T06:00:00Z' }, at)).toBe(true);
    expect(test1({ field: 'createdAt', operator: 'lessThan', value: '2026-05-08T06:00:00Z' }, at)).toBe(false);
    expect(test1({ field: 'lead', operator: 'greaterThan', value: '1' }, closed)).toBe(false);
  });

  test('exists', () => {
    expect(test1({ field: 'lead.fullname', operator: 'exists' }, closed)).toBe(true);
    expect(test1({ field: 'lead.email', operator: 'exists' }, closed)).toBe(false);
    expect(test1({ field: 'tags.0', operator: 'exists' }, closed)).toBe(true);
    expect(test1({ field: 'gone', operator: 'exists' }, event({ gone: null }))).toBe(false);
  });

  test('changed, changed to, changed from compare with the previous state', () => {
    expect(test1({ field: 'status', operator: 'changed' }, closed)).toBe(true);
    expect(test1({ field: 'lead', operator: 'changed' }, closed)).toBe(false); // same content, another object
    expect(test1({ field: 'tags', operator: 'changed' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'changedTo', value: '1000' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'changedFrom', value: '200' }, closed)).toBe(true);
    expect(test1({ field: 'status', operator: 'changedFrom', value: '100' }, closed)).toBe(false);
    const stillClosed = event({ status: 1000 }, { status: 1000 });
    expect(test1({ field: 'status', operator: 'changedTo', value: '1000' }, stillClosed)).toBe(false);
    expect(test1({ field: 'status', operator: 'changed' }, stillClosed)).toBe(false);
  });

  test('without a previous state: changed and changed to hold on the current value, changed from cannot', () => {
    const fresh = event({ status: 1000 });
    expect(test1({ field: 'status', operator: 'changed' }, fresh)).toBe(true);
    expect(test1({ field: 'status', operator: 'changedTo', value: '1000' }, fresh)).toBe(true);
    expect(test1({ field: 'status', operator: 'changedTo', value: '200' }, fresh)).toBe(false);
    expect(test1({ field: 'status', operator: 'changedFrom', value: '200' }, fresh)).toBe(false);
  });

  test('paths do not reach inherited properties', () => {
    expect(test1({ field: 'constructor', operator: 'exists' }, closed)).toBe(false);
    expect(test1({ field: 'lead.__proto__', operator: 'exists' }, closed)).toBe(false);
    expect(test1({ field: 'first_text.length', operator: 'exists' }, closed)).toBe(false);
  });
});

test('all (default) and any', () => {
  const conditions: Condition[] = [
    { field: 'status', operator: 'equals', value: '1000' },
    { field: 'channel.name', operator: 'equals', value: 'email' },
  ];
  const e = event({ status: 1000, channel: { name: 'chat' } });
  expect(compileConditions({ conditions })(e)).toBe(false);
  expect(compileConditions({ conditions, combine: 'all' })(e)).toBe(false);
  expect(compileConditions({ conditions, combine: 'any' })(e)).toBe(true);
  expect(compileConditions({ conditions: [] })(e)).toBe(true);
});

test('a bad condition is refused when compiled, saying which one and what to write', () => {
  const bad = (condition: Partial<Condition>) => () =>
    compileConditions({
      conditions: [{ field: 'status', operator: 'equals', value: '1' }, condition as Condition],
    });
  expect(bad({ field: '', operator: 'equals' })).toThrow(ConditionError);
  expect(bad({ field: 'a..b', operator: 'equals' })).toThrow(/Condition 2: the field "a..b" is not a path/);
  expect(bad({ field: 'status', operator: 'greaterThan', value: 'soon' })).toThrow(/"soon" is not a number/);
  expect(bad({ field: 'status', operator: 'changedTo' })).toThrow(/Condition 2 \(status changedTo\): enter a value/);
  expect(bad({ field: 'status', operator: 'matches' as never, value: 'x' })).toThrow(/unknown comparison "matches"/);
  expect(bad({ field: Array(40).fill('a').join('.'), operator: 'exists' })).toThrow(/deeper than 32 levels/);
});
