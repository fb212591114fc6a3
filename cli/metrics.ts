// `pingstreams metrics`: a project's live support metrics, one JSON line per interval on stdout
// (status and warnings on stderr), with the staffing forecast when a target is given.
import {
  acquireConnection,
  checkEndpoint,
  closeAllConnections,
  DEFAULT_ENDPOINT,
  describeEndpoint,
  PingstreamsError,
  redact,
  LiveMetricsSession,
  type ConnectionHandle,
  type ForecastInput,
} from '../core';
import { nodePlatform } from '../core/node-platform';
import { parseArgs, UsageError } from './args';
import type { CommandIo } from './emulator-command';
import { FORECAST_FLAGS, forecastOptions } from './forecast';
import { EXIT, exitCodeFor, reportStatus, usageError, withinLimit, type ListenControl } from './listen';
import { parseDuration } from './units';

export const METRICS_USAGE = `Usage: pingstreams metrics --project ID [options]

Prints the project's live support metrics (queue, waits, service level, agents) as one JSON line
per interval on stdout; status and warnings go to stderr. Stops with Ctrl+C.
See docs/metrics.md for every figure.

  --project ID           the project
  --interval DURATION    how often to print (default 5s)
  --threshold DURATION   service-level threshold: first response within it (default 60s)
  --window DURATION      sliding window of rates and waits (default 30m)
  --agent USER_ID        also watch this agent (repeatable); participants are watched anyway
  --count N              stop after N lines (default: run until stopped)

Forecast (added as "forecast" to each line when --target is given):
  --target P/S           e.g. 80/20: 80% answered within 20 s
  --rate N/PERIOD        arrivals (default: the window's live rate)
  --aht DURATION         average handle time (default: the window's live average)
  --max-occupancy P, --shrinkage P, --chats N, --patience DURATION, --agents N
                         as for "pingstreams forecast" (--agents default: agents on line now)

Connection:
  --endpoint URL         WebSocket endpoint (default: $PINGSTREAMS_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --insecure             allow ws:// to a host other than this machine
  --token JWT            prefer the PINGSTREAMS_TOKEN environment variable

Exit codes as for "pingstreams listen".
`;

const FLAGS = {
  ...FORECAST_FLAGS,
  project: { type: 'string' },
  interval: { type: 'string' },
  threshold: { type: 'string' },
  window: { type: 'string' },
  agent: { type: 'string', multiple: true },
  count: { type: 'number', min: 1, max: 1_000_000_000, integer: true },
  endpoint: { type: 'string' },
  token: { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

interface MetricsConfig {
  projectId: string;
  intervalMs: number;
  thresholdMs: number;
  windowMs: number;
  agents: string[];
  count?: number;
  forecast?: Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>;
  endpoint: string;
  token: string;
  insecure: boolean;
}

export async function runMetrics(argv: readonly string[], io: CommandIo, control: ListenControl = {}): Promise<number> {
  const env = control.env ?? process.env;
  let config: MetricsConfig | 'help';
  try {
    config = parseMetricsArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof PingstreamsError)) throw error;
    return usageError('metrics', METRICS_USAGE, error.message, io, argv, env);
  }
  if (config === 'help') {
    io.stdout.write(METRICS_USAGE);
    return EXIT.OK;
  }
  return watch(config, io, control.signal);
}

function parseMetricsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): MetricsConfig | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  if (flags.project === undefined) throw new UsageError('--project is required: the id of the project to watch.');
  const forecast = forecastOptions(flags);
  if (forecast.targetServiceLevel === undefined) {
    const extra = (['rate', 'aht', 'max-occupancy', 'shrinkage', 'chats', 'patience', 'agents'] as const).find(
      (f) => flags[f] !== undefined,
    );
    if (extra) throw new UsageError(`--${extra} belongs to the forecast, which needs --target (e.g. --target 80/20).`);
  }
  const token = (flags.token ?? env.PINGSTREAMS_TOKEN ?? '').trim();
  if (!token)
    throw new UsageError('No access token: set the PINGSTREAMS_TOKEN environment variable to your Pingstreams JWT.');
  const endpoint = flags.endpoint ?? (env.PINGSTREAMS_ENDPOINT?.trim() || DEFAULT_ENDPOINT);
  checkEndpoint(endpoint, flags.insecure === true);
  return {
    projectId: flags.project,
    intervalMs: flags.interval === undefined ? 5_000 : parseDuration('interval', flags.interval),
    thresholdMs: flags.threshold === undefined ? 60_000 : parseDuration('threshold', flags.threshold),
    windowMs: flags.window === undefined ? 30 * 60_000 : parseDuration('window', flags.window),
    agents: flags.agent ?? [],
    count: flags.count,
    forecast: forecast.targetServiceLevel === undefined ? undefined : (forecast as MetricsConfig['forecast']),
    endpoint,
    token,
    insecure: flags.insecure === true,
  };
}

async function watch(config: MetricsConfig, io: CommandIo, signal: AbortSignal | undefined): Promise<number> {
  const say = (line: string): void => {
    io.stderr.write(`${redact(line, config.token)}\n`);
  };
  if (signal?.aborted) return EXIT.OK;
  let settle!: (code: number) => void;
  let settled = false;
  const outcome = new Promise<number>((resolve) => (settle = resolve));
  const finish = (code: number): void => {
    if (!settled) settle(code);
    settled = true;
  };
  const fail = (error: Error): void => {
    if (settled) return;
    say(`error: ${error.message}`);
    finish(exitCodeFor(error));
  };
  const onAbort = (): void => finish(EXIT.OK);
  signal?.addEventListener('abort', onAbort, { once: true });

  say(`connecting to ${describeEndpoint(config.endpoint)}`);
  let handle: ConnectionHandle;
  try {
    handle = acquireConnection({
      endpoint: config.endpoint,
      token: config.token,
      allowInsecure: config.insecure,
      platform: nodePlatform,
    });
  } catch (error) {
    signal?.removeEventListener('abort', onAbort);
    say(`error: ${(error as Error).message}`);
    return exitCodeFor(error as Error);
  }
  handle.onStatus((status) => reportStatus(status, say, fail));
  handle.onWarning((message) => say(`warning: ${message}`));
  const session = new LiveMetricsSession(handle, {
    projectId: config.projectId,
    agents: config.agents,
    windowMs: config.windowMs,
    serviceLevelThresholdMs: config.thresholdMs,
    onWarning: (message) => say(`warning: ${message}`),
  });

  let printed = 0;
  let timer: NodeJS.Timeout | undefined;
  const print = (): void => {
    if (settled) return;
    const metrics = session.metrics();
    const line = config.forecast ? { ...metrics, forecast: session.forecast(config.forecast) } : metrics;
    io.stdout.write(`${JSON.stringify(line)}\n`);
    printed += 1;
    if (config.count !== undefined && printed >= config.count) finish(EXIT.OK);
  };
  session.ready.then(
    () => {
      if (settled) return;
      say(`watching ${config.projectId}`);
      print();
      timer = setInterval(print, config.intervalMs);
    },
    (error: Error) => fail(error),
  );

  // The core's sockets and timers never keep a process alive (it runs inside hosts); a CLI waiting for a reconnect must.
  const keepAlive = setInterval(() => undefined, 60_000);
  const code = await outcome;
  clearInterval(keepAlive);
  clearInterval(timer);
  signal?.removeEventListener('abort', onAbort);
  if (code === EXIT.OK && config.count === undefined) say('stopping');
  await withinLimit(async () => {
    session.close();
    handle.release();
    await closeAllConnections();
  });
  return code;
}
