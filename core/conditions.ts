// Conditions on an event's element and its previous state, without an expression language: what n8n's condition
// editor offers in place of a JSONata "only when". Compiled once (a bad condition is reported when the node starts),
// evaluated synchronously, bounded by the element's own size (a path is at most MAX_PATH_SEGMENTS deep).
import type { RealtimeEvent } from './types';

export const CONDITION_OPERATORS = [
  'equals',
  'notEquals',
  'contains',
  'greaterThan',
  'lessThan',
  'exists',
  'changed',
  'changedTo',
  'changedFrom',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** Operators that compare with a value (the others ignore it). */
const NEEDS_VALUE: ReadonlySet<ConditionOperator> = new Set([
  'equals',
  'notEquals',
  'contains',
  'greaterThan',
  'lessThan',
  'changedTo',
  'changedFrom',
]);

export interface Condition {
  /** Dotted path into the element: `status`, `lead.fullname`, `participants.0`, `participants.length`. */
  field: string;
  operator: ConditionOperator;
  /** Text as typed: compared as a number with numbers, as true/false with booleans, as text otherwise. */
  value?: string;
}

export interface ConditionSet {
  conditions: readonly Condition[];
  /** `all`: every condition holds (default); `any`: at least one does. */
  combine?: 'all' | 'any';
}

export const MAX_PATH_SEGMENTS = 32;

export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionError';
  }
}

type Path = readonly string[];

function parsePath(field: string, index: number): Path {
  const segments = field.trim().split('.');
  if (!field.trim() || segments.some((s) => s === ''))
    throw new ConditionError(
      `Condition ${index + 1}: the field "${field}" is not a path. Write the element's field, e.g. status or lead.fullname.`,
    );
  if (segments.length > MAX_PATH_SEGMENTS)
    throw new ConditionError(`Condition ${index + 1}: the field is deeper than ${MAX_PATH_SEGMENTS} levels.`);
  return segments;
}

function read(element: unknown, path: Path): unknown {
  let at = element;
  for (const segment of path) {
    if (at === null || typeof at !== 'object') return undefined;
    if (Array.isArray(at) && segment === 'length') return at.length;
    if (!Object.prototype.hasOwnProperty.call(at, segment)) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  return at;
}

/** The typed text read the way the field's value is typed. */
function matches(actual: unknown, expected: string): boolean {
  if (actual === undefined) return false;
  if (actual === null) return expected === 'null' || expected === '';
  if (typeof actual === 'number') return expected.trim() !== '' && Number(expected) === actual;
  if (typeof actual === 'boolean') return expected.trim().toLowerCase() === String(actual);
  if (typeof actual === 'string') return actual === expected;
  return false;
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
    const t = Date.parse(value); // ISO times compare as times
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

type Test = (event: RealtimeEvent) => boolean;

function compileOne(condition: Condition, index: number): Test {
  if (!CONDITION_OPERATORS.includes(condition.operator))
    throw new ConditionError(
      `Condition ${index + 1}: unknown comparison "${String(condition.operator)}"; one of ${CONDITION_OPERATORS.join(', ')}.`,
    );
  const path = parsePath(String(condition.field ?? ''), index);
  const value = condition.value === undefined || condition.value === null ? '' : String(condition.value);
  if (NEEDS_VALUE.has(condition.operator) && value === '' && condition.operator !== 'equals')
    throw new ConditionError(`Condition ${index + 1} (${path.join('.')} ${condition.operator}): enter a value.`);
  const now = (e: RealtimeEvent) => read(e.data, path);
  // Without a previous state (a new element, the snapshot, or a change found after a restart, when only
  // fingerprints are kept) the element is taken as changed: that is why the event arrived. Its old value is unknown.
  const before = (e: RealtimeEvent) => (e.previous === undefined ? undefined : read(e.previous, path));
  switch (condition.operator) {
    case 'equals':
      return (e) => matches(now(e), value);
    case 'notEquals':
      return (e) => !matches(now(e), value);
    case 'contains':
      return (e) => {
        const actual = now(e);
        if (typeof actual === 'string') return actual.includes(value);
        if (Array.isArray(actual)) return actual.some((item) => matches(item, value));
        return false;
      };
    case 'greaterThan':
    case 'lessThan': {
      const limit = numberOf(value);
      if (limit === undefined)
        throw new ConditionError(`Condition ${index + 1}: "${value}" is not a number or an ISO time.`);
      const greater = condition.operator === 'greaterThan';
      return (e) => {
        const actual = numberOf(now(e));
        return actual !== undefined && (greater ? actual > limit : actual < limit);
      };
    }
    case 'exists':
      return (e) => now(e) !== undefined && now(e) !== null;
    case 'changed':
      return (e) => e.previous === undefined || !same(before(e), now(e));
    case 'changedTo':
      return (e) => matches(now(e), value) && (e.previous === undefined || !matches(before(e), value));
    case 'changedFrom':
      return (e) => e.previous !== undefined && matches(before(e), value) && !matches(now(e), value);
  }
}

/** One predicate for the set; an empty set lets every event through. Throws ConditionError for a bad condition. */
export function compileConditions(set: ConditionSet): (event: RealtimeEvent) => boolean {
  const tests = set.conditions.map(compileOne);
  if (tests.length === 0) return () => true;
  if (set.combine === 'any') return (event) => tests.some((t) => t(event));
  return (event) => tests.every((t) => t(event));
}
