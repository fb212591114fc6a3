// The trigger's Live Metrics resource: the project's support figures every N seconds, or only when a condition
// ("queue longer than 5 for 2 minutes") becomes true and again when it clears, with a cool-down between the two.
import type { IDataObject, INodeProperties, ITriggerFunctions, ITriggerResponse } from 'n8n-workflow';
import {
  acquireConnection,
  evaluateCondition,
  LiveMetricsSession,
  METRIC_CONDITIONS,
  MetricAlert,
  redact,
  type ConnectionHandle,
  type MetricCondition,
} from '../../core/portable';
import {
  CREDENTIAL_NAME,
  connectionOptions,
  coreLogger,
  secondsToMs,
  toNodeError,
  type PingstreamsCredentials,
} from '../Pingstreams/shared';
import {
  metricsOptionsProperty,
  metricsProjectProperty,
  metricsSessionOptions,
} from '../Pingstreams/metrics-operations';
import { every, platformOf } from '../Pingstreams/n8n-platform';

const SHOW = { resource: ['liveMetrics'] };
const CONDITION_SHOW = { resource: ['liveMetrics'], emit: ['condition'] };

export const LIVE_METRICS_RESOURCE = {
  name: 'Live Metrics',
  value: 'liveMetrics',
  description:
    "A project's support figures (queue, waits, service level, agents) on an interval or when a condition changes",
};

export const LIVE_METRICS_PROPERTIES: INodeProperties[] = [
  metricsProjectProperty(SHOW),
  {
    displayName: 'Emit',
    name: 'emit',
    type: 'options',
    noDataExpression: true,
    options: [
      { name: 'Every Interval', value: 'interval', description: 'The figures every N seconds' },
      {
        name: 'When a Condition Changes',
        value: 'condition',
        description: 'Once when the condition becomes true, once when it clears',
      },
    ],
    default: 'condition',
    displayOptions: { show: SHOW },
  },
  {
    displayName: 'Interval (Seconds)',
    name: 'intervalSeconds',
    type: 'number',
    typeOptions: { minValue: 5, maxValue: 86400 },
    default: 60,
    displayOptions: { show: { resource: ['liveMetrics'], emit: ['interval'] } },
  },
  {
    displayName: 'Condition',
    name: 'condition',
    type: 'options',
    options: [
      { name: 'Fewer Agents Available Than', value: 'agentsAvailableBelow' },
      { name: 'Longest Wait Over (Seconds)', value: 'longestWaitAbove' },
      { name: 'Queue Longer Than', value: 'queueAbove' },
      { name: 'Service Level Under (%)', value: 'serviceLevelBelow' },
    ],
    default: 'queueAbove',
    displayOptions: { show: CONDITION_SHOW },
  },
  {
    displayName: 'Value',
    name: 'conditionValue',
    type: 'number',
    default: 5,
    description: 'The bound of the condition, e.g. 5 for "queue longer than 5"',
    displayOptions: { show: CONDITION_SHOW },
  },
  {
    displayName: 'For (Seconds)',
    name: 'holdSeconds',
    type: 'number',
    typeOptions: { minValue: 0, maxValue: 86400 },
    default: 120,
    description: 'The condition must hold this long without a break before it fires',
    displayOptions: { show: CONDITION_SHOW },
  },
  {
    displayName: 'Cool-Down (Seconds)',
    name: 'coolDownSeconds',
    type: 'number',
    typeOptions: { minValue: 0, maxValue: 86400 },
    default: 300,
    description:
      'At least this long between two executions, so a flapping value does not flood a channel; a change meanwhile is sent when it ends, if it still holds',
    displayOptions: { show: CONDITION_SHOW },
  },
  {
    displayName: 'Check Every (Seconds)',
    name: 'checkSeconds',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 3600 },
    default: 5,
    description: 'How often the condition is checked',
    displayOptions: { show: CONDITION_SHOW },
  },
  metricsOptionsProperty(SHOW),
];

export async function liveMetricsTrigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
  const node = this.getNode();
  const manual = this.getMode() === 'manual';
  const credentials = (await this.getCredentials(CREDENTIAL_NAME)) as unknown as PingstreamsCredentials;
  const token = String(credentials.accessToken ?? '');
  const get = (name: string, fallback?: unknown) => this.getNodeParameter(name, fallback);
  const mode = get('emit', 'condition') as 'interval' | 'condition';
  const condition = get('condition', 'queueAbove') as MetricCondition;
  const limit = Number(get('conditionValue', 5));
  let sessionOptions: ReturnType<typeof metricsSessionOptions>;
  try {
    sessionOptions = metricsSessionOptions(get);
    if (mode === 'condition' && !(condition in METRIC_CONDITIONS))
      throw new Error(`Unknown condition "${String(condition)}".`);
    if (mode === 'condition' && !Number.isFinite(limit)) throw new Error('The condition needs a number in Value.');
  } catch (error) {
    throw toNodeError(node, error, token);
  }
  const description = mode === 'condition' ? METRIC_CONDITIONS[condition].text(limit) : undefined;

  let handle: ConnectionHandle | undefined;
  let session: LiveMetricsSession | undefined;
  const platform = platformOf(this);
  let stopTimer: (() => void) | undefined;
  let closed = false;
  const stop = () => {
    closed = true;
    stopTimer?.();
    session?.close();
    handle?.release();
  };
  try {
    handle = acquireConnection(
      connectionOptions(credentials, {
        logger: coreLogger(this.logger, node.name),
        platform,
      }),
    );
    session = new LiveMetricsSession(handle, {
      ...sessionOptions,
      onWarning: (message) => this.logger.warn(`[Pingstreams] ${node.name}: ${redact(message, token)}`),
    });
    await session.ready;
  } catch (error) {
    stop();
    throw toNodeError(node, error, token);
  }
  const live = session;

  const emitItem = (json: IDataObject) => {
    if (!closed) this.emit([[{ json }]]);
  };
  if (manual) {
    // A test shows the figures now, with what the condition would say of them.
    // After trigger() has returned: n8n listens for a test's emit only then.
    platform.clock.setTimeout(() => {
      const metrics = live.metrics();
      const check = mode === 'condition' ? evaluateCondition(condition, limit, metrics) : undefined;
      emitItem({
        event: 'test',
        condition: description ?? null,
        value: check?.value ?? null,
        holds: check?.holds ?? null,
        metrics: metrics as unknown as IDataObject,
      });
    }, 0);
    return { closeFunction: async () => stop() };
  }
  if (mode === 'interval') {
    stopTimer = every(platform.clock, secondsToMs(get('intervalSeconds', 60), 60, 5, 86400), () =>
      emitItem({ event: 'interval', metrics: live.metrics() as unknown as IDataObject }),
    );
  } else {
    const alert = new MetricAlert(
      secondsToMs(get('holdSeconds', 120), 120, 0, 86400),
      secondsToMs(get('coolDownSeconds', 300), 300, 0, 86400),
    );
    const check = () => {
      const metrics = live.metrics();
      // Figures being confirmed after a reconnect may still hold closed requests: wait for them.
      if (metrics.confirming > 0) return;
      const { value, holds } = evaluateCondition(condition, limit, metrics);
      const change = alert.update(holds, platform.clock.now());
      if (change)
        emitItem({ event: change, condition: description ?? null, value, metrics: metrics as unknown as IDataObject });
    };
    check();
    stopTimer = every(platform.clock, secondsToMs(get('checkSeconds', 5), 5, 1, 3600), check);
  }
  return { closeFunction: async () => stop() };
}
