// The filter/format stage every host runs between the core and its output: method filter,
// "only when" condition, output shape. Asynchronous JSONata must not reorder events.
import { compileExpression, isTruthy, type CompiledExpression, type ExpressionBudget } from './expression';
import type { Method, RealtimeEvent } from './types';

export type OutputShape = 'event' | 'data' | { map: string };

export interface PipelineOptions {
  /** Only these methods pass; empty or absent = all. */
  methods?: readonly Method[];
  /** A condition without an expression language (core/conditions compileConditions); checked before `when`. */
  filter?: (event: RealtimeEvent) => boolean;
  /** JSONata condition; the event passes when it is truthy. */
  when?: string;
  output?: OutputShape;
  /** Time and depth budget of each evaluation (defaults: 1 000 ms, 1 000 levels). */
  expressionBudget?: ExpressionBudget;
}

export interface EventPipeline {
  push(event: RealtimeEvent): void;
  /** Events pushed and not yet handled (JSONata runs asynchronously; a slow expression builds a backlog). */
  readonly pending: number;
  /** Resolves when every pushed event has been handled. */
  idle(): Promise<void>;
}

/** Compiles the expressions up front, so a bad one is reported when the node starts, not on the first event. */
export function createEventPipeline(
  options: PipelineOptions,
  sink: (output: unknown, event: RealtimeEvent) => void,
  onError: (error: Error, event: RealtimeEvent) => void,
): EventPipeline {
  const methods = options.methods?.length ? new Set(options.methods) : undefined;
  const when: CompiledExpression | undefined = options.when?.trim()
    ? compileExpression(options.when, options.expressionBudget)
    : undefined;
  const output = options.output ?? 'event';
  const map: CompiledExpression | undefined =
    typeof output === 'object' ? compileExpression(output.map, options.expressionBudget) : undefined;
  const synchronous = !when && !map;
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;

  const handle = async (event: RealtimeEvent): Promise<void> => {
    try {
      if (when && !isTruthy(await when.evaluate(event))) return;
      const value = map ? await map.evaluate(event) : output === 'data' ? event.data : event;
      sink(value, event);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)), event);
    }
  };

  return {
    push(event) {
      if (methods && !methods.has(event.method)) return;
      if (options.filter && !options.filter(event)) return;
      // Without JSONata nothing is asynchronous: deliver at once, no promise per event.
      if (synchronous) {
        void handle(event);
        return;
      }
      pending += 1;
      tail = tail
        .then(() => handle(event))
        .finally(() => {
          pending -= 1;
        });
    },
    get pending() {
      return pending;
    },
    idle: () => tail,
  };
}
