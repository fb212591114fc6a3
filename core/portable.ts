// The Pingstreams realtime core without any dependency or Node module: what the n8n package ships (n8n's
// verification allows neither). core/index.ts adds JSONata for Node-RED and the CLI.
export * from './types';
export * from './errors';
export {
  acquireConnection,
  connectionStats,
  closeAllConnections,
  setDefaultPlatform,
  type ConnectionHandle,
  type Subscription,
} from './registry';
export { testConnection } from './test-connection';
export type {
  Platform,
  Clock,
  TimerHandle,
  SocketFactory,
  SocketOptions,
  SocketEvents,
  PlatformSocket,
  HandshakeRefusal,
  RefusalProbe,
} from './platform';
export { webSocketFactory, hasGlobalWebSocket, type WebSocketFactoryOptions } from './web-socket-platform';
export { buildTopic, parseTopic, topicFromFields, type TopicField, type TopicSpec, type ParsedTopic } from './topics';
export {
  TOPIC_KINDS,
  TOPIC_KIND_DESCRIPTIONS,
  TOPIC_ID_FIELDS,
  TOPIC_ID_FIELD_ORDER,
  describeTopicKind,
  isTopicKind,
  kindsAskedFor,
  topicKindHelp,
  type TopicIdField,
  type TopicIdFieldDescription,
  type TopicKindDescription,
  type TopicShape,
} from './topic-kinds';
export {
  compileConditions,
  ConditionError,
  CONDITION_OPERATORS,
  type Condition,
  type ConditionOperator,
  type ConditionSet,
} from './conditions';
export {
  createPipeline,
  type EventPipeline,
  type BasePipelineOptions,
  type OutputShape,
  type EventExpression,
  type ExpressionLanguage,
} from './event-pipeline';
export { deliveredState, UNDELIVERED_FINGERPRINT, MAX_RESUME_ENTRIES } from './resume';
export { elementId } from './protocol';
export { evictOldest } from './tracker';
export { redact, redactUrl, redactError, decodeJwtExpiry } from './redact';
export { DEFAULT_ENDPOINT, checkEndpoint, describeEndpoint } from './endpoint';
export {
  MetricsEngine,
  REQUEST_STATUS,
  type MetricsOptions,
  type LiveMetrics,
  type DepartmentMetrics,
  type RequestFigures,
  type WindowFigures,
  type AgentFigures,
  type WaitingRequest,
  type AgentRow,
} from './metrics';
export {
  forecastStaffing,
  erlangB,
  erlangC,
  type ForecastInput,
  type Forecast,
  type QueueFigures,
  type StaffingResult,
} from './forecast';
export { LiveMetricsSession, forecastFromMetrics, type LiveMetricsOptions } from './live-metrics';
export { MetricAlert, METRIC_CONDITIONS, evaluateCondition, type MetricCondition } from './metric-alert';
