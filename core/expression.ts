// JSONata, compiled once per expression text and cached. The input is the element (event.data);
// $event is the whole event and $previous the element's last known state.
import jsonata from 'jsonata';
import { ExpressionError } from './errors';
import type { RealtimeEvent } from './types';

export interface CompiledExpression {
  readonly source: string;
  evaluate(event: RealtimeEvent): Promise<unknown>;
  /** Evaluate against any input, with extra bindings (used to map plain items). */
  evaluateWith(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
}

const CACHE_LIMIT = 500;
const cache = new Map<string, CompiledExpression>();

interface JsonataFailure {
  message?: string;
  position?: number;
  token?: string;
  code?: string;
}

function toExpressionError(source: string, error: unknown, phase: 'compile' | 'evaluate'): ExpressionError {
  const failure = (error ?? {}) as JsonataFailure;
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

export function compileExpression(source: string): CompiledExpression {
  const cached = cache.get(source);
  if (cached) return cached;
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(source);
  } catch (error) {
    throw toExpressionError(source, error, 'compile');
  }
  const evaluateWith = async (input: unknown, bindings?: Record<string, unknown>) => {
    try {
      return await compiled.evaluate(input, bindings);
    } catch (error) {
      throw toExpressionError(source, error, 'evaluate');
    }
  };
  const expression: CompiledExpression = {
    source,
    evaluateWith,
    evaluate: (event) => evaluateWith(event.data, { event, previous: event.previous }),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(source, expression);
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
