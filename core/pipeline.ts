// The event pipeline with JSONata (Node-RED and the CLI): core/event-pipeline.ts with JSONata as its language.
import { compileExpression, isTruthy, type ExpressionBudget } from './expression';
import { createPipeline, type BasePipelineOptions, type EventPipeline } from './event-pipeline';
import type { RealtimeEvent } from './types';

export type { EventPipeline, OutputShape } from './event-pipeline';

export interface PipelineOptions extends BasePipelineOptions {
  /** Time and depth budget of each evaluation (defaults: 1 000 ms, 1 000 levels). */
  expressionBudget?: ExpressionBudget;
}

/** Compiles the expressions up front, so a bad one is reported when the node starts, not on the first event. */
export function createEventPipeline(
  options: PipelineOptions,
  sink: (output: unknown, event: RealtimeEvent) => void,
  onError: (error: Error, event: RealtimeEvent) => void,
): EventPipeline {
  return createPipeline(options, sink, onError, {
    compile: (source) => compileExpression(source, options.expressionBudget),
    isTruthy,
  });
}
