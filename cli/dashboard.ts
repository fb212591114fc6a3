// `pingstreams dashboard`: the live metrics of `pingstreams metrics` as a wall in the browser, served by this
// process (the page, its assets, one event stream). The page never sees the token: it gets figures, not access.
import { join } from 'node:path';
import {
  acquireConnection,
  checkEndpoint,
  closeAllConnections,
  DEFAULT_ENDPOINT,
  describeEndpoint,
  forecastFromMetrics,
  LiveMetricsSession,
  PingstreamsError,
  redact,
  type ConnectionHandle,
  type ConnectionStatus,
  type ForecastInput,
} from '../core';
import { nodePlatform } from '../core/node-platform';
import { isLoopbackHost } from '../core/endpoint';
import { parseArgs, UsageError } from './args';
import {
  connectionView,
  History,
  subscriptionFailedView,
  wallView,
  type ConnectionView,
  type WallView,
} from './dashboard-feed';
import { DashboardServer, newAccessKey } from './dashboard-server';
import type { CommandIo } from './emulator-command';
import { FORECAST_FLAGS, forecastOptions } from './forecast';
import { EXIT, exitCodeFor, usageError, withinLimit, type ListenControl } from './listen';
import { parseDuration } from './units';

export const DASHBOARD_USAGE = `Usage: pingstreams dashboard --project ID [options]

Serves a live wall of the project's support metrics (queue, service level, waits, arrivals, waiting
requests, agents, staffing forecast) on a web page, updated every second. Stops with Ctrl+C.
The page gets the figures only, never the token. See docs/metrics.md for every figure.

  --project ID           the project
  --port N               port of the page (default 8790; 0 picks a free one)
  --host H               interface to listen on (default 127.0.0.1, this machine only)
  --allow-remote         needed to listen on any other interface: the page then asks for an access
                         key, printed at start (open the printed address once; a cookie keeps it)
  --interval DURATION    how often the page is updated (default 1s)
  --threshold DURATION   service-level threshold (default 60s)
  --window DURATION      sliding window of rates and waits (default 30m)
  --agent USER_ID        also watch this agent (repeatable); participants are watched anyway
  --target P/S           staffing forecast target (default 80/20); forecast options as for
                         "pingstreams metrics": --rate, --aht, --max-occupancy, --shrinkage, --chats,
                         --patience, --agents

Connection:
  --endpoint URL         WebSocket endpoint (default: $PINGSTREAMS_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --insecure             allow ws:// to a host other than this machine
  --token JWT            prefer the PINGSTREAMS_TOKEN environment variable

Exit codes as for "pingstreams listen".
`;

const FLAGS = {
  ...FORECAST_FLAGS,
  project: { type: 'string' },
  port: { type: 'number', min: 0, max: 65_535, integer: true },
  host: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  interval: { type: 'string' },
  threshold: { type: 'string' },
  window: { type: 'string' },
  agent: { type: 'string', multiple: true },
  endpoint: { type: 'string' },
  token: { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

/** Points the charts keep: 30 minutes at one a second. */
const HISTORY_POINTS = 1_800;

export interface DashboardConfig {
  projectId: string;
  port: number;
  host: string;
  accessKey?: string;
  intervalMs: number;
  thresholdMs: number;
  windowMs: number;
  agents: string[];
  forecast: Partial<ForecastInput> & Pick<ForecastInput, 'targetServiceLevel' | 'targetSeconds'>;
  endpoint: string;
  token: string;
  insecure: boolean;
}

export async function runDashboard(
  argv: readonly string[],
  io: CommandIo,
  control: ListenControl = {},
): Promise<number> {
  const env = control.env ?? process.env;
  let config: DashboardConfig | 'help';
  try {
    config = parseDashboardArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof PingstreamsError)) throw error;
    return usageError('dashboard', DASHBOARD_USAGE, error.message, io, argv, env);
  }
  if (config === 'help') {
    io.stdout.write(DASHBOARD_USAGE);
    return EXIT.OK;
  }
  const say = (line: string): void => void io.stderr.write(`${redact(line, (config as DashboardConfig).token)}\n`);
  let wall: Dashboard;
  try {
    wall = await Dashboard.start(config, say);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const hint =
      e.code === 'EADDRINUSE'
        ? ' Another program uses this port: pick another one with --port, or --port 0 for a free one.'
        : '';
    say(`pingstreams dashboard: could not start: ${e.message}.${hint}`);
    return EXIT.FATAL;
  }
  io.stdout.write(`Pingstreams dashboard of project ${config.projectId}: ${wall.url}\n`);
  if (config.accessKey)
    say(
      `Listening on ${config.host}: anyone who can reach this machine and has the address above (with its key) sees the figures.`,
    );
  await new Promise<void>((resolve) => {
    if (control.signal?.aborted) return resolve();
    control.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  say('stopping');
  await wall.close();
  return wall.exitCode;
}

export function parseDashboardArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DashboardConfig | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  if (flags.project === undefined) throw new UsageError('--project is required: the id of the project to show.');
  if (flags.port !== undefined && flags.port > 65535)
    throw new UsageError(`--port needs a whole number from 0 to 65535 (got "${flags.port}").`);
  const host = flags.host ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host needs a value.');
  const remote = !isLoopbackHost(host);
  if (remote && flags['allow-remote'] !== true) {
    throw new UsageError(
      `--host ${host} makes the figures reachable from other machines: add --allow-remote to confirm (an access key is then required).`,
    );
  }
  const forecast = forecastOptions({ target: '80/20', ...flags });
  const token = (flags.token ?? env.PINGSTREAMS_TOKEN ?? '').trim();
  if (!token)
    throw new UsageError('No access token: set the PINGSTREAMS_TOKEN environment variable to your Pingstreams JWT.');
  const endpoint = flags.endpoint ?? (env.PINGSTREAMS_ENDPOINT?.trim() || DEFAULT_ENDPOINT);
  checkEndpoint(endpoint, flags.insecure === true);
  return {
    projectId: flags.project,
    port: flags.port ?? 8790,
    host,
    accessKey: remote ? newAccessKey() : undefined,
    intervalMs: flags.interval === undefined ? 1_000 : parseDuration('interval', flags.interval),
    thresholdMs: flags.threshold === undefined ? 60_000 : parseDuration('threshold', flags.threshold),
    windowMs: flags.window === undefined ? 30 * 60_000 : parseDuration('window', flags.window),
    agents: flags.agent ?? [],
    forecast: forecast as DashboardConfig['forecast'],
    endpoint,
    token,
    insecure: flags.insecure === true,
  };
}

/** The running wall: a metrics session on the shared connection, the page's server, a ticker. */
export class Dashboard {
  private connection: ConnectionView = connectionView({ state: 'connecting' });
  private last?: WallView;
  private readonly history = new History(HISTORY_POINTS);
  private ticker?: NodeJS.Timeout;
  private closed = false;
  /** EXIT.OK, or why the connection failed for good (token refused...). */
  exitCode: number = EXIT.OK;

  private constructor(
    private readonly config: DashboardConfig,
    private readonly say: (line: string) => void,
    private readonly server: DashboardServer,
    private readonly handle: ConnectionHandle,
    private readonly session: LiveMetricsSession,
    readonly url: string,
  ) {}

  static async start(
    config: DashboardConfig,
    say: (line: string) => void,
    pageDir = join(__dirname, 'dashboard-page'),
  ): Promise<Dashboard> {
    // The server asks for the initial events of a page only once the dashboard exists.
    const holder: { dashboard?: Dashboard } = {};
    const server = new DashboardServer({
      host: config.host,
      port: config.port,
      accessKey: config.accessKey,
      pageDir,
      initialEvents: () => holder.dashboard?.initialEvents() ?? [],
    });
    const port = await server.start();
    const shownHost =
      config.host === '0.0.0.0' || config.host === '::'
        ? '<this machine>'
        : config.host.includes(':')
          ? `[${config.host}]`
          : config.host;
    const url = `http://${shownHost}:${port}/${config.accessKey ? `?key=${config.accessKey}` : ''}`;
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
      await server.close();
      throw error;
    }
    const session = new LiveMetricsSession(handle, {
      projectId: config.projectId,
      agents: config.agents,
      windowMs: config.windowMs,
      serviceLevelThresholdMs: config.thresholdMs,
      onWarning: (message) => say(`warning: ${message}`),
    });
    const dashboard = (holder.dashboard = new Dashboard(config, say, server, handle, session, url));
    dashboard.watch();
    return dashboard;
  }

  /** What a page that just opened the stream gets: the state, the charts' history, the last figures. */
  initialEvents(): Array<[string, unknown]> {
    const events: Array<[string, unknown]> = [
      ['state', this.connection],
      ['history', this.history.columns()],
    ];
    if (this.last) events.push(['metrics', this.last]);
    return events;
  }

  get streamClients(): number {
    return this.server.clientCount;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    await withinLimit(async () => {
      await this.server.close();
      this.session.close();
      this.handle.release();
      await closeAllConnections();
    });
  }

  private watch(): void {
    // The connection may be shared and already up: no status change would tell us so.
    this.connection = connectionView(this.handle.status);
    this.handle.onStatus((status) => this.onStatus(status));
    this.handle.onWarning((message) => this.say(`warning: ${message}`));
    this.session.ready.then(
      () => {
        if (this.closed) return;
        this.say(`watching ${this.config.projectId}`);
        this.tick();
        this.ticker = setInterval(() => this.tick(), this.config.intervalMs);
      },
      (error: Error) => {
        if (this.closed) return;
        this.say(`error: ${error.message}`);
        if (this.exitCode === EXIT.OK) this.exitCode = exitCodeFor(error);
        // A token refused is already shown as such; a refused subscription is shown once the connection is up.
        if (this.connection.state !== 'token-refused') this.setConnection(subscriptionFailedView(error));
      },
    );
  }

  private onStatus(status: ConnectionStatus): void {
    const view = connectionView(status);
    if (view.state === 'connected') this.say('connected');
    else if (view.retryInSeconds !== null)
      this.say(
        `${view.state === 'rate-limited' ? 'rate limited, retrying' : 'reconnecting'} in ${view.retryInSeconds} s${view.message ? `: ${view.message}` : ''}`,
      );
    else if (status.state === 'failed') {
      this.say(
        `error: ${view.message ?? 'the connection failed for good'}; the page shows it until you stop this command`,
      );
      if (status.error) this.exitCode = exitCodeFor(status.error);
    }
    this.setConnection(view);
  }

  private setConnection(view: ConnectionView): void {
    if (this.closed) return;
    this.connection = view;
    this.server.publish('state', view);
  }

  private tick(): void {
    if (this.closed) return;
    const metrics = this.session.metrics();
    const engine = this.session.engine;
    const forecast = forecastFromMetrics(metrics, this.config.forecast);
    this.last = wallView(
      metrics,
      engine.agentList(50),
      engine.arrivalsSince(Date.parse(metrics.at) - 60_000),
      this.connection.state === 'connected',
      forecast,
    );
    this.history.add(this.last.point);
    this.server.publish('metrics', this.last);
  }
}
