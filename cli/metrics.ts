// `pingstreams metrics`: a project's live support metrics, one JSON line per interval on stdout
// (status and warnings on stderr), with the staffing forecast when a target is given.
import { LiveMetricsSession, type ForecastInput } from '../core';
import { parseArgs, UsageError } from './args';
import {
  CONNECTION_FLAGS,
  CONNECTION_USAGE,
  connectionFromFlags,
  ConnectedRun,
  EXIT,
  parseCommandLine,
  type CommandControl,
  type CommandIo,
  type ConnectionConfig,
} from './command';
import { FORECAST_FLAGS, forecastOptions } from './forecast';
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

${CONNECTION_USAGE}

Exit codes as for "pingstreams listen".
`;

/** The flags of a live metrics session, shared with `pingstreams dashboard`. */
export const SESSION_FLAGS = {
  project: { type: 'string' },
  interval: { type: 'string' },
  threshold: { type: 'string' },
  window: { type: 'string' },
  agent: { type: 'string', multiple: true },
} as const;

export interface SessionConfig {
  projectId: string;
  intervalMs: number;
  thresholdMs: number;
  windowMs: number;
  agents: string[];
}

/** The session flags, checked; `verb` says what the project is for (watch, show), `intervalMs` the default. */
export function sessionFromFlags(
  flags: { project?: string; interval?: string; threshold?: string; window?: string; agent?: string[] },
  verb: string,
  intervalMs: number,
): SessionConfig {
  if (flags.project === undefined) throw new UsageError(`--project is required: the id of the project to ${verb}.`);
  return {
    projectId: flags.project,
    intervalMs: flags.interval === undefined ? intervalMs : parseDuration('interval', flags.interval),
    thresholdMs: flags.threshold === undefined ? 60_000 : parseDuration('threshold', flags.threshold),
    windowMs: flags.window === undefined ? 30 * 60_000 : parseDuration('window', flags.window),
    agents: flags.agent ?? [],
  };
}

const FLAGS = {
  ...FORECAST_FLAGS,
  ...SESSION_FLAGS,
  count: { type: 'number', min: 1, max: 1_000_000_000, integer: true },
  ...CONNECTION_FLAGS,
} as const;

interface MetricsConfig extends ConnectionConfig, SessionConfig {
  count?: number;
  forecast?: Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>;
}

export async function runMetrics(
  argv: readonly string[],
  io: CommandIo,
  control: CommandControl = {},
): Promise<number> {
  const env = control.env ?? process.env;
  const config = parseCommandLine('metrics', METRICS_USAGE, io, argv, env, () => parseMetricsArgs(argv, env));
  return 'exit' in config ? config.exit : watch(config, io, control.signal);
}

function parseMetricsArgs(argv: readonly string[], env: NodeJS.ProcessEnv): MetricsConfig | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  const session = sessionFromFlags(flags, 'watch', 5_000);
  const forecast = forecastOptions(flags);
  if (forecast.targetServiceLevel === undefined) {
    const extra = (['rate', 'aht', 'max-occupancy', 'shrinkage', 'chats', 'patience', 'agents'] as const).find(
      (f) => flags[f] !== undefined,
    );
    if (extra) throw new UsageError(`--${extra} belongs to the forecast, which needs --target (e.g. --target 80/20).`);
  }
  return {
    ...connectionFromFlags(flags, env),
    ...session,
    count: flags.count,
    forecast: forecast.targetServiceLevel === undefined ? undefined : (forecast as MetricsConfig['forecast']),
  };
}

async function watch(config: MetricsConfig, io: CommandIo, signal: AbortSignal | undefined): Promise<number> {
  const run = new ConnectedRun(io, config, signal);
  const say = run.say;
  const handle = run.connect();
  if (typeof handle === 'number') return handle;
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
    if (run.ended) return;
    const metrics = session.metrics();
    const line = config.forecast ? { ...metrics, forecast: session.forecast(config.forecast) } : metrics;
    io.stdout.write(`${JSON.stringify(line)}\n`);
    printed += 1;
    if (config.count !== undefined && printed >= config.count) run.finish(EXIT.OK);
  };
  session.ready.then(
    () => {
      if (run.ended) return;
      say(`watching ${config.projectId}`);
      print();
      timer = setInterval(print, config.intervalMs);
    },
    (error: Error) => run.fail(error),
  );

  const code = await run.ending();
  clearInterval(timer);
  if (code === EXIT.OK && config.count === undefined) say('stopping');
  await run.close(() => session.close());
  return code;
}
