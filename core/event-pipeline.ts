// The filter/format stage every host runs between the core and its output: method filter, condition, output shape.
// No expression language here (n8n's package has no dependency): a host with one (JSONata in Node-RED and the CLI,
// core/pipeline.ts) passes its compiler in. Asynchronous expressions must not reorder events.
import type { Method, RealtimeEvent } from './types';

export type OutputShape = 'event' | 'data' | { map: string };

/** An expression of the host's language, compiled; evaluated on one event. */
export interface EventExpression {
  evaluate(event: RealtimeEvent): Promise<unknown>;
}

/** What a host with an expression language gives the pipeline: its compiler, and what counts as true. */
export interface ExpressionLanguage {
  compile(source: string): EventExpression;
  isTruthy(value: unknown): boolean;
}

export interface BasePipelineOptions {
  /** Only these methods pass; empty or absent = all. */
  methods?: readonly Method[];
  /** A condition without an expression language (core/conditions compileConditions); checked before `when`. */
  filter?: (event: RealtimeEvent) => boolean;
  /** A condition in the host's expression language; the event passes when it is truthy. */
  when?: string;
  output?: OutputShape;
}

export interface EventPipeline {
  push(event: RealtimeEvent): void;
  /** Events pushed and not yet handled (expressions run asynchronously; a slow one builds a backlog). */
  readonly pending: number;
  /** Those events, oldest first: a resume record exported now must count them as not delivered. */
  unhandled(): RealtimeEvent[];
  /** Resolves when every pushed event has been handled. */
  idle(): Promise<void>;
}

/**
 * Compiles the expressions up front, so a bad one is reported when the node starts, not on the first event.
 * Without `language`, a `when` or a mapping is refused (a host without an expression language offers neither).
 */
export function createPipeline(
  options: BasePipelineOptions,
  sink: (output: unknown, event: RealtimeEvent) => void,
  onError: (error: Error, event: RealtimeEvent) => void,
  language?: ExpressionLanguage,
): EventPipeline {
  const compile = (source: string): EventExpression => {
    if (!language) throw new Error('This host evaluates no expressions: a condition or a mapping cannot be used.');
    return language.compile(source);
  };
  const methods = options.methods?.length ? new Set(options.methods) : undefined;
  const when = options.when?.trim() ? compile(options.when) : undefined;
  const output = options.output ?? 'event';
  const map = typeof output === 'object' ? compile(output.map) : undefined;
  const synchronous = !when && !map;
  let tail: Promise<void> = Promise.resolve();
  /** Pushed, not yet handled, in order: handled one at a time, the oldest first. */
  const queued: RealtimeEvent[] = [];
  const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

  const deliver = (value: unknown, event: RealtimeEvent): void => {
    try {
      sink(value, event);
    } catch (error) {
      onError(asError(error), event);
    }
  };

  const handleLater = async (event: RealtimeEvent): Promise<void> => {
    let passes = true;
    let value: unknown;
    let failure: Error | undefined;
    try {
      passes = !when || language?.isTruthy(await when.evaluate(event)) === true;
      if (passes) value = map ? await map.evaluate(event) : output === 'data' ? event.data : event;
    } catch (error) {
      failure = asError(error);
    }
    queued.shift(); // handled from here on, in the same turn as its delivery (or its error)
    if (failure) onError(failure, event);
    else if (passes) deliver(value, event);
  };

  return {
    push(event) {
      if (methods && !methods.has(event.method)) return;
      if (options.filter && !options.filter(event)) return;
      // Without expressions nothing is asynchronous: deliver at once, no promise per event.
      if (synchronous) {
        deliver(output === 'data' ? event.data : event, event);
        return;
      }
      queued.push(event);
      tail = tail.then(() => handleLater(event));
    },
    get pending() {
      return queued.length;
    },
    unhandled: () => [...queued],
    idle: () => tail,
  };
}
