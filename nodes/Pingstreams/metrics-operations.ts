// The action node's Get Live Metrics and Forecast Staffing operations, and the parameters they share with the
// trigger's Live Metrics resource. The figures and the model are the core's (docs/metrics.md).
import type { IDataObject, INodeProperties } from 'n8n-workflow';
import {
  buildTopic,
  forecastStaffing,
  LiveMetricsSession,
  type ConnectionHandle,
  type ForecastInput,
} from '../../core/portable';
import { projectIdProperty, type Show } from './shared';

type ParameterGetter = (name: string, fallback?: unknown) => unknown;

/** Threshold and window of the metrics, for the action and the trigger. */
export function metricsOptionsProperty(show: Show): INodeProperties {
  return {
    displayName: 'Metrics Options',
    name: 'metricsOptions',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: { show },
    options: [
      {
        displayName: 'Service-Level Threshold (Seconds)',
        name: 'thresholdSeconds',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 86400 },
        default: 60,
        description:
          'A first reply within this counts as answered in time; requests still waiting past it count as missed',
      },
      {
        displayName: 'Window (Minutes)',
        name: 'windowMinutes',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 1440 },
        default: 30,
        description: 'Sliding window of the rates, waits and service level',
      },
    ],
  };
}

export function metricsProjectProperty(show: Show): INodeProperties {
  return projectIdProperty({ show });
}

/** The session options from the parameters (the project id is checked by building its topic). */
export function metricsSessionOptions(get: ParameterGetter): {
  projectId: string;
  windowMs: number;
  serviceLevelThresholdMs: number;
} {
  const projectId = String(get('projectId', '') ?? '').trim();
  buildTopic({ kind: 'requests', projectId });
  const options = (get('metricsOptions', {}) ?? {}) as { thresholdSeconds?: number; windowMinutes?: number };
  return {
    projectId,
    windowMs: (options.windowMinutes ?? 30) * 60_000,
    serviceLevelThresholdMs: (options.thresholdSeconds ?? 60) * 1000,
  };
}

/** One reading: subscribe, take the snapshot and the agents' records, compute, unsubscribe. */
export async function readLiveMetrics(
  handle: ConnectionHandle,
  get: ParameterGetter,
  subscribeTimeoutMs: number,
): Promise<IDataObject> {
  // A one-shot reading has watched nothing yet: its window counts what the snapshot shows (waits, assignments).
  const session = new LiveMetricsSession(handle, {
    ...metricsSessionOptions(get),
    countBeforeStart: true,
    subscribeTimeoutMs,
  });
  try {
    await session.settled(subscribeTimeoutMs);
    return session.metrics() as unknown as IDataObject;
  } finally {
    session.close();
  }
}

const FORECAST_SHOW = { operation: ['forecastStaffing'] };

export const FORECAST_PROPERTIES: INodeProperties[] = [
  {
    displayName: 'Arrivals',
    name: 'arrivals',
    type: 'number',
    typeOptions: { minValue: 0 },
    required: true,
    default: 100,
    description: 'Contacts (chats) arriving per period',
    displayOptions: { show: FORECAST_SHOW },
  },
  {
    displayName: 'Period (Minutes)',
    name: 'periodMinutes',
    type: 'number',
    typeOptions: { minValue: 1 },
    default: 30,
    description: 'The period the arrivals are counted over, e.g. 30 for "100 per 30 minutes"',
    displayOptions: { show: FORECAST_SHOW },
  },
  {
    displayName: 'Average Handle Time (Seconds)',
    name: 'ahtSeconds',
    type: 'number',
    typeOptions: { minValue: 1 },
    required: true,
    default: 180,
    description: 'Average time an agent spends on one contact (for chats: assignment to close)',
    displayOptions: { show: FORECAST_SHOW },
  },
  {
    displayName: 'Target Service Level (%)',
    name: 'targetPercent',
    type: 'number',
    typeOptions: { minValue: 1, maxValue: 99.9 },
    default: 80,
    description: 'Share of contacts to answer within the target time',
    displayOptions: { show: FORECAST_SHOW },
  },
  {
    displayName: 'Target Answer Time (Seconds)',
    name: 'targetSeconds',
    type: 'number',
    typeOptions: { minValue: 0 },
    default: 20,
    displayOptions: { show: FORECAST_SHOW },
  },
  {
    displayName: 'Forecast Options',
    name: 'forecastOptions',
    type: 'collection',
    placeholder: 'Add option',
    default: {},
    displayOptions: { show: FORECAST_SHOW },
    options: [
      {
        displayName: 'Agents on Line Now',
        name: 'agents',
        type: 'number',
        typeOptions: { minValue: 0 },
        default: 0,
        description: 'Agents available now: the forecast gives their service level and how many are missing',
      },
      {
        displayName: 'Average Patience (Seconds)',
        name: 'patienceSeconds',
        type: 'number',
        typeOptions: { minValue: 1 },
        default: 300,
        description: 'How long customers wait on average before abandoning: adds the Erlang A figures (abandonment)',
      },
      {
        displayName: 'Chats per Agent',
        name: 'chatsPerAgent',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 100 },
        default: 1,
        description: 'Chats one agent handles at once; each counts as a server of the queue',
      },
      {
        displayName: 'Max Occupancy (%)',
        name: 'maxOccupancyPercent',
        type: 'number',
        typeOptions: { minValue: 1, maxValue: 100 },
        default: 85,
        description: 'Highest acceptable share of time agents spend on contacts',
      },
      {
        displayName: 'Shrinkage (%)',
        name: 'shrinkagePercent',
        type: 'number',
        typeOptions: { minValue: 0, maxValue: 99 },
        default: 30,
        description:
          'Share of paid time away from contacts (breaks, meetings, training): scheduled = required / (1 - shrinkage)',
      },
    ],
  },
];

export function forecastFromParameters(get: ParameterGetter): IDataObject {
  const options = (get('forecastOptions', {}) ?? {}) as {
    agents?: number;
    patienceSeconds?: number;
    chatsPerAgent?: number;
    maxOccupancyPercent?: number;
    shrinkagePercent?: number;
  };
  const periodMinutes = Number(get('periodMinutes', 60));
  const input: ForecastInput = {
    arrivalsPerHour: (Number(get('arrivals')) * 60) / periodMinutes,
    ahtSeconds: Number(get('ahtSeconds')),
    targetServiceLevel: Number(get('targetPercent', 80)) / 100,
    targetSeconds: Number(get('targetSeconds', 20)),
    ...(options.agents !== undefined ? { agents: options.agents } : {}),
    ...(options.patienceSeconds !== undefined ? { patienceSeconds: options.patienceSeconds } : {}),
    ...(options.chatsPerAgent !== undefined ? { chatsPerAgent: options.chatsPerAgent } : {}),
    ...(options.maxOccupancyPercent !== undefined ? { maxOccupancy: options.maxOccupancyPercent / 100 } : {}),
    ...(options.shrinkagePercent !== undefined ? { shrinkage: options.shrinkagePercent / 100 } : {}),
  };
  return forecastStaffing(input) as unknown as IDataObject;
}
