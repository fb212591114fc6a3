// What the dashboard page is sent: the connection's state in plain words, the figures of the wall (from the live
// metrics session, computed once per tick whatever the number of pages) and a bounded history for the charts.
import {
  RateLimitedError,
  SubscriptionTimeoutError,
  TokenRefusedError,
  type ConnectionStatus,
  type Forecast,
  type LiveMetrics,
} from '../core';
import type { AgentRow } from '../core';

export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'token-refused' | 'rate-limited' | 'subscription-refused' | 'failed';

export interface ConnectionView {
  state: ConnectionState;
  /** Seconds until the next attempt, when one is planned. */
  retryInSeconds: number | null;
  /** Why, already redacted by the core; null when connected. */
  message: string | null;
  at: string;
}

/** One point of the charts: seconds since the epoch, then the figures (null when unknown). */
export interface HistoryPoint {
  t: number;
  queue: number;
  p50: number | null;
  p90: number | null;
  arrivalsLastMinute: number;
  /** 1 while connected, 0 while the connection is down (the charts shade those spans). */
  connected: 0 | 1;
}

export interface WallView {
  at: string;
  projectId: string;
  queue: number;
  open: number;
  longestWaitSeconds: number | null;
  serviceLevel: { percent: number | null; thresholdSeconds: number; answered: number; waitingPastThreshold: number };
  window: {
    minutes: number;
    arrivals: number;
    arrivalsPerHour: number;
    abandoned: number;
    closed: number;
    p50Seconds: number | null;
    p90Seconds: number | null;
  };
  waiting: Array<{ request: string; department: string; waitSeconds: number }>;
  agents: {
    known: number;
    available: number;
    busy: number;
    unavailable: number;
    assigned: number;
    capacity: number;
    occupancyPercent: number | null;
    list: AgentRow[];
  };
  forecast:
    | {
        required: number | null;
        scheduled: number | null;
        onLine: number;
        shortfall: number | null;
        serviceLevelNowPercent: number | null;
        summary: string;
      }
    | { error: string }
    | null;
  /** Requests still being confirmed after a reconnect (0: exact as far as visible). */
  confirming: number;
  point: HistoryPoint;
}

export function connectionView(status: ConnectionStatus, at = new Date()): ConnectionView {
  const error = status.error;
  const retryInSeconds = status.retryInMs === undefined ? null : Math.max(1, Math.round(status.retryInMs / 1000));
  let state: ConnectionState;
  if (status.state === 'connected') state = 'connected';
  else if (error instanceof TokenRefusedError) state = 'token-refused';
  else if (error instanceof RateLimitedError) state = 'rate-limited';
  else if (status.state === 'failed') state = 'failed';
  else state = status.state === 'reconnecting' ? 'reconnecting' : 'connecting';
  return {
    state,
    retryInSeconds: state === 'connected' ? null : retryInSeconds,
    message: state === 'connected' ? null : (error?.message ?? null),
    at: at.toISOString(),
  };
}

/** The state when the open-requests subscription itself failed (refused: no snapshot ever came). */
export function subscriptionFailedView(error: Error, at = new Date()): ConnectionView {
  const state: ConnectionState =
    error instanceof SubscriptionTimeoutError
      ? 'subscription-refused'
      : error instanceof TokenRefusedError
        ? 'token-refused'
        : 'failed';
  return { state, retryInSeconds: null, message: error.message, at: at.toISOString() };
}

const percent = (share: number | null): number | null => (share === null ? null : Math.round(share * 1000) / 10);

export function wallView(
  metrics: LiveMetrics,
  agents: AgentRow[],
  arrivalsLastMinute: number,
  connected: boolean,
  forecast: Forecast | { error: string } | undefined,
): WallView {
  const w = metrics.window;
  const a = metrics.agents;
  const onLine = a.available + a.busy;
  return {
    at: metrics.at,
    projectId: metrics.projectId,
    queue: metrics.requests.queue,
    open: metrics.requests.open,
    longestWaitSeconds: metrics.requests.longestWaitSeconds,
    serviceLevel: {
      percent: percent(w.serviceLevel.value),
      thresholdSeconds: w.serviceLevel.thresholdSeconds,
      answered: w.serviceLevel.answered,
      waitingPastThreshold: w.serviceLevel.waitingPastThreshold,
    },
    window: {
      minutes: w.minutes,
      arrivals: w.arrivals,
      arrivalsPerHour: w.arrivalsPerHour,
      abandoned: w.abandoned,
      closed: w.closed,
      p50Seconds: w.firstResponse.p50Seconds,
      p90Seconds: w.firstResponse.p90Seconds,
    },
    waiting: metrics.requests.waiting.map((r) => ({
      request: r.requestId ?? r.id,
      department: r.department ?? '',
      waitSeconds: r.waitSeconds,
    })),
    agents: {
      known: a.known,
      available: a.available,
      busy: a.busy,
      unavailable: a.unavailable,
      assigned: a.assigned,
      capacity: a.capacity,
      occupancyPercent: percent(a.occupancy),
      list: agents,
    },
    forecast: !forecast
      ? null
      : 'error' in forecast
        ? { error: forecast.error }
        : {
            required: forecast.required.agents,
            scheduled: forecast.required.scheduled,
            onLine,
            shortfall: forecast.now?.shortfall ?? null,
            serviceLevelNowPercent: percent(forecast.now?.serviceLevel ?? null),
            summary: forecast.summary,
          },
    confirming: metrics.confirming,
    point: {
      t: Math.round(Date.parse(metrics.at) / 100) / 10,
      queue: metrics.requests.queue,
      p50: w.firstResponse.p50Seconds,
      p90: w.firstResponse.p90Seconds,
      arrivalsLastMinute,
      connected: connected ? 1 : 0,
    },
  };
}

/** The last `max` points, oldest first, as columns (what the charts draw). */
export class History {
  private readonly points: HistoryPoint[] = [];
  constructor(private readonly max: number) {}

  add(point: HistoryPoint): void {
    this.points.push(point);
    if (this.points.length > this.max) this.points.splice(0, this.points.length - this.max);
  }

  get size(): number {
    return this.points.length;
  }

  columns(): { [K in keyof HistoryPoint]: Array<HistoryPoint[K]> } {
    const pick = <K extends keyof HistoryPoint>(k: K): Array<HistoryPoint[K]> => this.points.map((p) => p[k]);
    return {
      t: pick('t'),
      queue: pick('queue'),
      p50: pick('p50'),
      p90: pick('p90'),
      arrivalsLastMinute: pick('arrivalsLastMinute'),
      connected: pick('connected'),
    };
  }
}
