// JSONata, compiled once per expression text and cached. The input is the element (event.data);
// $event is the whole event and $previous the element's last known state.
//
// Every evaluation has a budget of time and depth (see docs/limits.md). JSONata calls an entry hook before it
// evaluates each node of the expression: the hook measures the run, stops it past the budget, and yields to the
// event loop every few milliseconds, so a runaway expression never freezes the host (heartbeats, signals, other
// workflows keep running). A regular expression is one native call the hook cannot interrupt: expressions that
// contain one run in a worker thread, which is terminated when the budget is spent.
import jsonata from 'jsonata';
import { ExpressionError } from './errors';
import { evaluateInWorker } from './expression-worker';
import type { RealtimeEvent } from './types';

export interface CompiledExpression {
  readonly source: string;
  readonly budget: Required<ExpressionBudget>;
  evaluate(event: RealtimeEvent): Promise<unknown>;
  /** Evaluate against any input, with extra bindings (used to map plain items). */
  evaluateWith(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

export interface ExpressionBudget {
  /** Longest run of one evaluation, in milliseconds. Default 1 000. */
  timeMs?: number;
  /** Deepest nesting of one evaluation (recursion included). Default 1 000. */
  depth?: number;
}

export const EXPRESSION_BUDGET_DEFAULTS: Required<ExpressionBudget> = { timeMs: 1_000, depth: 1_000 };
export const EXPRESSION_BUDGET_BOUNDS = { timeMs: [10, 60_000], depth: [10, 10_000] } as const;
/** The longest the event loop runs an expression without letting anything else run. */
const YIELD_EVERY_MS = 10;

const CACHE_LIMIT = 500;
const cache = new Map<string, CompiledExpression>();
const ENTRY_HOOK = Symbol.for('jsonata.__evaluate_entry');
const EXIT_HOOK = Symbol.for('jsonata.__evaluate_exit');
// The per-evaluation meter travels as a binding: the compiled expression (and its hook) is shared by every run.
const METER = '__pingstreamsBudget';

interface JsonataFailure {
  message?: string;
  position?: number;
  token?: string;
  code?: string;
}

interface Meter {
  started: number;
  lastYield: number;
  /** Counted by the hooks themselves: JSONata versions before 2.1 (Node-RED's) keep no depth of their own. */
  depth: number;
  budget: Required<ExpressionBudget>;
}

function newMeter(budget: Required<ExpressionBudget>): Meter {
  const now = Date.now();
  return { started: now, lastYield: now, depth: 0, budget };
}

/** Past the budget: the expression was stopped. The code names what ran out. */
export class ExpressionBudgetError extends ExpressionError {
  constructor(source: string, what: 'time' | 'depth', budget: Required<ExpressionBudget>) {
    const spent =
      what === 'time'
        ? `ran longer than its time budget of ${budget.timeMs} ms`
        : `nested deeper than its depth budget of ${budget.depth} levels`;
    super(
      source,
      `The JSONata expression was stopped: it ${spent}. It may recurse without end, loop over a huge range, or use a ` +
        `regular expression that backtracks; simplify it, or raise the expression ${what} limit if the work is really needed. ` +
        `The event is skipped; later events are unaffected. Expression: ${abbreviate(source)}`,
    );
  }
}

class BudgetSpent {
  constructor(readonly what: 'time' | 'depth') {}
}

function toExpressionError(
  source: string,
  error: unknown,
  phase: 'compile' | 'evaluate',
  budget: Required<ExpressionBudget>,
): ExpressionError {
  if (error instanceof ExpressionError) return error;
  if (error instanceof BudgetSpent) return new ExpressionBudgetError(source, error.what, budget);
  const failure = (error ?? {}) as JsonataFailure;
  if (failure.code === 'D1011') return new ExpressionBudgetError(source, 'depth', budget);
  if (failure.code === 'D1012') return new ExpressionBudgetError(source, 'time', budget);
  const where = typeof failure.position === 'number' ? ` at position ${failure.position}` : '';
  const near = failure.token !== undefined ? ` near "${String(failure.token).slice(0, 40)}"` : '';
  const verb = phase === 'compile' ? 'is not valid JSONata' : 'failed while evaluating';
  const code = failure.code ? ` (${failure.code})` : '';
  return new ExpressionError(
    source,
    `The JSONata expression ${verb}${where}${near}: ${failure.message ?? String(error)}${code}. Expression: ${abbreviate(source)}`,
    failure.position,
  );
}

function abbreviate(source: string): string {
  const oneLine = source.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

/** Runs before JSONata evaluates each node: stops the run past its budget, and lets the event loop breathe. */
function entryHook(_expr: unknown, _input: unknown, environment: Environment): Promise<void> | void {
  const meter = environment.lookup(METER) as Meter | undefined;
  if (!meter) return;
  meter.depth += 1;
  if (meter.depth > meter.budget.depth) throw new BudgetSpent('depth');
  const now = Date.now();
  if (now - meter.started > meter.budget.timeMs) throw new BudgetSpent('time');
  if (now - meter.lastYield >= YIELD_EVERY_MS) {
    meter.lastYield = now;
    return new Promise((resolve) => setImmediate(resolve));
  }
}

function exitHook(_expr: unknown, _input: unknown, environment: Environment): void {
  const meter = environment.lookup(METER) as Meter | undefined;
  if (meter) meter.depth -= 1;
}

interface Environment {
  lookup(name: string): unknown;
}

/** What the budget needs of a compiled JSONata expression, whichever copy of JSONata compiled it. */
export interface AssignableExpression {
  assign(name: string, value: unknown): void;
}

function installHooks(expression: AssignableExpression): void {
  expression.assign(ENTRY_HOOK as unknown as string, entryHook);
  expression.assign(EXIT_HOOK as unknown as string, exitHook);
}

/**
 * The same budget for a host that evaluates with its own JSONata (Node-RED's map node, for $flowContext and
 * friends). `arm()` before each evaluation; evaluations of one expression must then run one at a time.
 */
export function guardExpression(
  expression: AssignableExpression,
  budgetOptions?: ExpressionBudget,
): { readonly budget: Required<ExpressionBudget>; arm(): void } {
  const budget = resolveBudget(budgetOptions);
  installHooks(expression);
  return { budget, arm: () => expression.assign(METER, newMeter(budget)) };
}

/** True when the expression holds a regular expression literal (which the budget's hooks cannot interrupt). */
export function expressionUsesRegex(source: string): boolean {
  try {
    return usesRegex(jsonata(source).ast());
  } catch {
    return false;
  }
}

/** Past the budget, the error hosts report (for a host's own evaluation failing with the hook's signal). */
export function budgetErrorOf(
  source: string,
  error: unknown,
  budget: Required<ExpressionBudget>,
): ExpressionError | undefined {
  return error instanceof BudgetSpent ? new ExpressionBudgetError(source, error.what, budget) : undefined;
}

export function resolveBudget(budget: ExpressionBudget = {}): Required<ExpressionBudget> {
  const resolved = { ...EXPRESSION_BUDGET_DEFAULTS };
  for (const key of ['timeMs', 'depth'] as const) {
    const value = budget[key];
    if (value === undefined) continue;
    const [min, max] = EXPRESSION_BUDGET_BOUNDS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const label = key === 'timeMs' ? 'expression time limit (ms)' : 'expression depth limit';
      throw new ExpressionError(
        '',
        `The ${label} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)}).`,
      );
    }
    resolved[key] = value;
  }
  return resolved;
}

/** True when the expression holds a regular expression literal (the only way JSONata makes one). */
function usesRegex(node: unknown, seen = new Set<unknown>()): boolean {
  if (typeof node !== 'object' || node === null || seen.has(node)) return false;
  seen.add(node);
  if ((node as { type?: unknown }).type === 'regex') return true;
  for (const value of Object.values(node)) if (usesRegex(value, seen)) return true;
  return false;
}

export function compileExpression(source: string, budgetOptions?: ExpressionBudget): CompiledExpression {
  const budget = resolveBudget(budgetOptions);
  const key = `${budget.timeMs}:${budget.depth}:${source}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(source);
  } catch (error) {
    throw toExpressionError(source, error, 'compile', budget);
  }
  installHooks(compiled);
  const inWorker = usesRegex(compiled.ast());
  const evaluateWith = async (input: unknown, bindings?: Record<string, unknown>) => {
    try {
      if (inWorker) return await evaluateInWorker(source, input, bindings ?? {}, budget);
      return await compiled.evaluate(input, { ...bindings, [METER]: newMeter(budget) });
    } catch (error) {
      throw toExpressionError(source, error, 'evaluate', budget);
    }
  };
  const expression: CompiledExpression = {
    source,
    budget,
    evaluateWith,
    evaluate: (event) => evaluateWith(event.data, { event, previous: event.previous }),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, expression);
  return expression;
}

export function evaluateExpression(source: string, event: RealtimeEvent): Promise<unknown> {
  return compileExpression(source).evaluate(event);
}

/** JSONata truthiness for a condition: undefined, false, null, 0, '' and empty arrays are false. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}
