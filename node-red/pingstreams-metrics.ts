// "pingstreams metrics": a project's live support metrics on the shared connection. Output 1 carries the whole
// metrics object (with the forecast when a target is set) every interval and on change, at most once per
// "min gap"; output 2 carries one message per figure with msg.topic set, shaped as dashboard charts, gauges and
// tables take them. Any input message asks for the figures at once. The model is the core's (docs/metrics.md).
import { forecastFromMetrics, LiveMetricsSession, type ForecastInput } from '../core';
import { formatWait, metricMessages } from './metrics-output';
import type { ConnectionUser, Node, NodeAPI, NodeDef, NodeMessage } from './api';
import { t } from './i18n';
import { configNode, typedValue } from './node-def';
import { errorCode, safeError, startupFailure, StatusReporter, userError } from './status';

interface MetricsDef extends NodeDef {
  server?: string;
  projectId?: string;
  projectIdType?: string;
  interval?: number | string;
  minGap?: number | string;
  threshold?: number | string;
  window?: number | string;
  perMetric?: boolean;
  targetPercent?: number | string;
  targetSeconds?: number | string;
  ahtMinutes?: number | string;
  maxOccupancy?: number | string;
  shrinkage?: number | string;
  chats?: number | string;
  patienceMinutes?: number | string;
}

type ForecastRequest = Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>;

/** A number from an editor field; blank gives undefined; anything else must be within [min, max]. */
function field(RED: NodeAPI, def: MetricsDef, name: keyof MetricsDef, min: number, max: number): number | undefined {
  const raw = def[name];
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw userError(
      'INVALID_SETTING',
      t(RED, 'pingstreams-metrics:errors.range', {
        field: t(RED, `pingstreams-metrics:label.${String(name)}`),
        value: String(raw),
        min,
        max,
      }),
    );
  return n;
}

function forecastRequest(RED: NodeAPI, def: MetricsDef): ForecastRequest | undefined {
  const percent = field(RED, def, 'targetPercent', 1, 99.9);
  if (percent === undefined) return undefined;
  const request: ForecastRequest = {
    targetServiceLevel: percent / 100,
    targetSeconds: field(RED, def, 'targetSeconds', 0, 86_400) ?? 20,
  };
  const aht = field(RED, def, 'ahtMinutes', 0.01, 1440);
  if (aht !== undefined) request.ahtSeconds = aht * 60;
  const occupancy = field(RED, def, 'maxOccupancy', 1, 100);
  if (occupancy !== undefined) request.maxOccupancy = occupancy / 100;
  const shrinkage = field(RED, def, 'shrinkage', 0, 99);
  if (shrinkage !== undefined) request.shrinkage = shrinkage / 100;
  const chats = field(RED, def, 'chats', 1, 100);
  if (chats !== undefined) request.chatsPerAgent = Math.round(chats);
  const patience = field(RED, def, 'patienceMinutes', 0.01, 1440);
  if (patience !== undefined) request.patienceSeconds = patience * 60;
  return request;
}

export = function register(RED: NodeAPI): void {
  function PingstreamsMetrics(this: Node, def: MetricsDef): void {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED's constructor idiom: the handlers below outlive this call.
    const node = this;

    const config = configNode(RED, def.server);
    if (config instanceof Error) return startupFailure(RED, node, config);

    let projectId: string;
    let intervalMs: number;
    let minGapMs: number;
    let thresholdMs: number;
    let windowMs: number;
    let forecast: ForecastRequest | undefined;
    try {
      projectId = typedValue(
        RED,
        node,
        def.projectId,
        def.projectIdType,
        t(RED, 'pingstreams-metrics:label.projectId'),
      );
      if (!/^[^\s/?#]+$/.test(projectId))
        throw userError('INVALID_TOPIC', t(RED, 'pingstreams-metrics:errors.projectId'));
      intervalMs = (field(RED, def, 'interval', 0, 86_400) ?? 10) * 1000;
      minGapMs = (field(RED, def, 'minGap', 0.1, 3600) ?? 2) * 1000;
      thresholdMs = (field(RED, def, 'threshold', 1, 86_400) ?? 60) * 1000;
      windowMs = (field(RED, def, 'window', 1, 1440) ?? 30) * 60_000;
      forecast = forecastRequest(RED, def);
    } catch (err) {
      return startupFailure(RED, node, safeError(err));
    }

    let closed = false;
    let ready = false;
    // Declared before the status and the connection: registering may report a status (which reads it) at once.
    // eslint-disable-next-line prefer-const
    let session: LiveMetricsSession | undefined;
    // Until the snapshot arrives the figures are empty: plain "connected" rather than a queue of 0.
    const status = new StatusReporter(RED, node, () => {
      const m = ready ? session?.metrics() : undefined;
      return m
        ? t(RED, 'pingstreams-metrics:status.connected', {
            queue: m.requests.queue,
            wait: formatWait(m.requests.longestWaitSeconds),
          })
        : t(RED, 'pingstreams-config:status.connected');
    });

    const user: ConnectionUser = { onConnectionStatus: (s) => status.setConnection(s) };
    const handle = config.register(user);
    if (handle instanceof Error) {
      status.close();
      return startupFailure(RED, node, handle);
    }

    // Rate limit: at most one output per min gap; a change inside the gap is sent when the gap ends.
    let lastSent = 0;
    let pending: NodeJS.Timeout | undefined;
    const emit = (): void => {
      pending = undefined;
      if (closed || !session || !ready) return;
      lastSent = Date.now();
      const metrics = session.metrics();
      const prediction = forecast ? forecastFromMetrics(metrics, forecast) : undefined;
      const payload = prediction ? { ...metrics, forecast: prediction } : metrics;
      // An array in an output's place sends each of its messages in turn on that output.
      node.send([
        { topic: `pingstreams/metrics/${projectId}`, payload },
        def.perMetric === false
          ? null
          : (metricMessages(metrics, prediction, session.engine.agentList(50)) as unknown as NodeMessage),
      ]);
      status.bump();
    };
    const schedule = (): void => {
      if (closed || pending) return;
      pending = setTimeout(emit, Math.max(0, lastSent + minGapMs - Date.now()));
    };

    session = new LiveMetricsSession(handle, {
      projectId,
      windowMs,
      serviceLevelThresholdMs: thresholdMs,
      ...(config.subscribeTimeoutMs !== undefined ? { subscribeTimeoutMs: config.subscribeTimeoutMs } : {}),
      onChange: schedule,
      onWarning: (message) => {
        if (!closed) node.warn(config.redact(message));
      },
    });
    session.ready.then(
      () => {
        ready = true;
        status.setProblem(undefined); // shows the figures
        schedule();
      },
      (err: Error) => {
        // The connection's end for good (token refused) is its status, and the config node logs it once.
        if (closed || handle.status.state === 'failed') return;
        const safe = safeError(err);
        safe.message = config.redact(safe.message);
        status.setProblem(safe);
        node.error(safe.message, {
          topic: `pingstreams/metrics/${projectId}`,
          payload: { code: errorCode(safe), message: safe.message },
        });
      },
    );
    const ticker = intervalMs > 0 ? setInterval(schedule, intervalMs) : undefined;

    node.on('input', (_msg, _send, done) => {
      schedule();
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      clearInterval(ticker);
      clearTimeout(pending);
      status.close();
      try {
        session?.close();
        config.deregister(user);
      } finally {
        done();
      }
    });
  }

  RED.nodes.registerType('pingstreams metrics', PingstreamsMetrics);
};
