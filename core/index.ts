// The host-independent Pingstreams realtime core. Node-RED and the CLI use only what is exported here; the n8n
// nodes use core/portable.ts, the same without JSONata.
export * from './portable';
export {
  compileExpression,
  evaluateExpression,
  isTruthy,
  resolveBudget,
  guardExpression,
  expressionUsesRegex,
  budgetErrorOf,
  ExpressionBudgetError,
  EXPRESSION_BUDGET_DEFAULTS,
  EXPRESSION_BUDGET_BOUNDS,
  type CompiledExpression,
  type ExpressionBudget,
} from './expression';
export { createEventPipeline, type PipelineOptions } from './pipeline';
