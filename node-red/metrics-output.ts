// What the "pingstreams metrics" node sends besides the metrics object: one message per figure, and the status text.
import type { AgentRow, Forecast, LiveMetrics } from '../core';
import type { NodeMessage } from './api';

/** "4m 05s", "37s": a wait as people read it on a status line. */
export function formatWait(seconds: number | null): string {
  if (seconds === null) return '–';
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/**
 * One message per figure. Numbers go as they are (ui-chart plots msg.payload against time under the series
 * msg.topic; ui-gauge shows it); the waiting requests and the agents go as arrays of row objects (ui-table). Unknown figures
 * (null) are left out rather than sent as a value a chart would misdraw.
 */
export function metricMessages(
  metrics: LiveMetrics,
  forecast: Forecast | { error: string } | undefined,
  agents: AgentRow[] = [],
): NodeMessage[] {
  const w = metrics.window;
  const figures: Array<[string, number | null]> = [
    ['queue', metrics.requests.queue],
    ['open', metrics.requests.open],
    ['longestWaitSeconds', metrics.requests.longestWaitSeconds],
    ['assigned', metrics.requests.byStatus.assigned],
    ['served', metrics.requests.byStatus.served],
    ['abandoned', metrics.requests.byStatus.abandoned],
    ['arrivalsPerHour', w.arrivalsPerHour],
    ['closedPerHour', w.closedPerHour],
    ['abandonedPerHour', w.abandonedPerHour],
    ['firstResponseAvgSeconds', w.firstResponse.avgSeconds],
    ['firstResponseP50Seconds', w.firstResponse.p50Seconds],
    ['firstResponseP90Seconds', w.firstResponse.p90Seconds],
    ['handleTimeAvgSeconds', w.handleTime.avgSeconds],
    ['serviceLevelPercent', w.serviceLevel.value === null ? null : Math.round(w.serviceLevel.value * 1000) / 10],
    ['agentsAvailable', metrics.agents.available],
    ['agentsBusy', metrics.agents.busy],
    ['agentsUnavailable', metrics.agents.unavailable],
    ['agentsOnLine', metrics.agents.available + metrics.agents.busy],
    ['occupancyPercent', metrics.agents.occupancy === null ? null : Math.round(metrics.agents.occupancy * 1000) / 10],
  ];
  if (forecast && !('error' in forecast)) {
    figures.push(
      ['agentsRequired', forecast.required.agents],
      ['agentsScheduled', forecast.required.scheduled],
      ['agentsShortfall', forecast.now?.shortfall ?? null],
    );
  }
  const messages: NodeMessage[] = figures
    .filter(([, v]) => typeof v === 'number')
    .map(([topic, payload]) => ({ topic, payload }));
  messages.push({
    topic: 'waiting',
    payload: metrics.requests.waiting.map((r) => ({
      request: r.requestId ?? r.id,
      department: r.department ?? '',
      createdAt: r.createdAt,
      waitSeconds: r.waitSeconds,
    })),
  });
  messages.push({
    topic: 'agents',
    payload: agents.map((a) => ({ agent: a.userId, state: a.state, assigned: a.assigned, capacity: a.capacity })),
  });
  return messages;
}
