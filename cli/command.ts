// What every `pingstreams` command shares: exit codes, how usage errors and help are printed, the connection
// flags, and the life of a command on one connection (connect, report status, stop on Ctrl+C, close in time).
import {
  acquireConnection,
  checkEndpoint,
  closeAllConnections,
  DEFAULT_ENDPOINT,
  describeEndpoint,
  InsecureEndpointError,
  PingstreamsError,
  redact,
  SubscriptionTimeoutError,
  TokenRefusedError,
  type ConnectionHandle,
  type ConnectionStatus,
} from '../core';
import { nodePlatform } from '../core/node-platform';
import { UsageError } from './args';

export const EXIT = { OK: 0, FATAL: 1, USAGE: 2, TOKEN_REFUSED: 3, SUBSCRIPTION_REFUSED: 4 } as const;

export interface CommandIo {
  /** write() returning false means "buffer full": wait for 'drain' (when once() is given) before writing more. */
  stdout: { write(text: string): unknown; once?(event: 'drain', listener: () => void): unknown };
  stderr: { write(text: string): unknown };
}

export interface CommandControl {
  /** Aborting stops the command cleanly (the CLI aborts on SIGINT/SIGTERM and when stdout is closed). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** How long shutdown (flush, unsubscribe, close the socket) may take before the CLI exits anyway. */
const SHUTDOWN_LIMIT_MS = 3_000;

/** Printed after a usage error: the synopsis, and where to find the rest. */
export const shortUsage = (name: string, usage: string): string =>
  `${usage.split('\n\n')[0]}\nRun "pingstreams help ${name}" for all options.\n`;

function tokenFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.findIndex((a) => a === '--token' || a.startsWith('--token='));
  if (i < 0) return env.PINGSTREAMS_TOKEN;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
}

/**
 * A mistake in a command line: `pingstreams NAME: message` with the token removed (also one given with --token),
 * then the synopsis. Returns the usage exit code. Every command reports its usage errors through this.
 */
export function usageError(
  name: string,
  usage: string,
  message: string,
  io: CommandIo,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): number {
  io.stderr.write(`pingstreams ${name}: ${redact(message, tokenFrom(argv, env))}\n\n${shortUsage(name, usage)}`);
  return EXIT.USAGE;
}

/**
 * Parses a command line with `parse`: its result, or the exit code when it asked for help (the usage is printed)
 * or holds a mistake (a UsageError, or a core error about an endpoint or a topic given in it).
 */
export function parseCommandLine<T>(
  name: string,
  usage: string,
  io: CommandIo,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  parse: () => T | 'help',
): T | { exit: number } {
  let parsed: T | 'help';
  try {
    parsed = parse();
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof PingstreamsError)) throw error;
    return { exit: usageError(name, usage, error.message, io, argv, env) };
  }
  if (parsed !== 'help') return parsed;
  io.stdout.write(usage);
  return { exit: EXIT.OK };
}

export const CONNECTION_FLAGS = {
  endpoint: { type: 'string' },
  token: { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

/** The "Connection:" section of the usage of a command without other connection options. */
export const CONNECTION_USAGE = `Connection:
  --endpoint URL         WebSocket endpoint (default: $PINGSTREAMS_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --insecure             allow ws:// to a host other than this machine
  --token JWT            prefer the PINGSTREAMS_TOKEN environment variable`;

export interface ConnectionConfig {
  endpoint: string;
  token: string;
  insecure: boolean;
}

/** The endpoint (flag, environment, default), the token (flag or environment) and --insecure, checked. */
export function connectionFromFlags(
  flags: { endpoint?: string; token?: string; insecure?: boolean },
  env: NodeJS.ProcessEnv,
): ConnectionConfig {
  const token = (flags.token ?? env.PINGSTREAMS_TOKEN ?? '').trim();
  if (!token)
    throw new UsageError('No access token: set the PINGSTREAMS_TOKEN environment variable to your Pingstreams JWT.');
  const endpoint = flags.endpoint ?? (env.PINGSTREAMS_ENDPOINT?.trim() || DEFAULT_ENDPOINT);
  try {
    checkEndpoint(endpoint, flags.insecure === true);
  } catch (error) {
    if (error instanceof InsecureEndpointError)
      throw new UsageError(`${error.message} To allow it anyway, pass --insecure.`);
    throw error;
  }
  return { endpoint, token, insecure: flags.insecure === true };
}

export function exitCodeFor(error: Error): number {
  if (error instanceof TokenRefusedError) return EXIT.TOKEN_REFUSED;
  if (error instanceof SubscriptionTimeoutError) return EXIT.SUBSCRIPTION_REFUSED;
  return EXIT.FATAL;
}

/** " Another program uses this port..." for a server that could not listen, else "". */
export function portInUseHint(error: NodeJS.ErrnoException): string {
  return error.code === 'EADDRINUSE'
    ? ' Another program uses this port: pick another one with --port, or --port 0 for a free one.'
    : '';
}

/** Runs `work`, but gives up waiting after SHUTDOWN_LIMIT_MS so Ctrl+C always ends the CLI. */
export async function withinLimit(work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SHUTDOWN_LIMIT_MS);
  });
  try {
    await Promise.race([work().catch(() => undefined), limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connection status as a line on stderr; the connection's end for good fails the command. */
export function reportStatus(
  status: ConnectionStatus,
  say: (line: string) => void,
  fail: (error: Error) => void,
): void {
  switch (status.state) {
    case 'connected':
      say('connected');
      return;
    case 'connecting':
    case 'reconnecting':
      if (status.retryInMs !== undefined) {
        const reason = status.error ? `: ${status.error.message}` : '';
        const verb = status.state === 'connecting' ? 'retrying' : 'reconnecting';
        say(`${verb} in ${Math.max(1, Math.round(status.retryInMs / 1000))} s${reason}`);
      }
      return;
    case 'failed':
      fail(status.error ?? new PingstreamsError('CONNECTION_FAILED', 'The Pingstreams connection failed for good.'));
      return;
    default:
      return;
  }
}

/**
 * One command's run on the shared connection: status and warnings on stderr (token removed), ended by the
 * command (`finish`), a failure (`fail`: its exit code) or the abort signal (exit 0).
 */
export class ConnectedRun {
  private settled = false;
  private settle!: (code: number) => void;
  private readonly outcome = new Promise<number>((resolve) => (this.settle = resolve));
  private readonly onAbort = (): void => this.finish(EXIT.OK);
  private handle?: ConnectionHandle;
  readonly say = (line: string): void => void this.io.stderr.write(`${redact(line, this.config.token)}\n`);

  constructor(
    private readonly io: CommandIo,
    private readonly config: ConnectionConfig,
    private readonly signal: AbortSignal | undefined,
  ) {}

  get ended(): boolean {
    return this.settled;
  }

  finish(code: number): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(code);
  }

  fail(error: Error): void {
    if (this.settled) return;
    this.say(`error: ${error.message}`);
    this.finish(exitCodeFor(error));
  }

  /** The connection, reporting its status; or the exit code when aborted already or it cannot be opened. */
  connect(): ConnectionHandle | number {
    if (this.signal?.aborted) return EXIT.OK;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.say(`connecting to ${describeEndpoint(this.config.endpoint)}`);
    try {
      this.handle = acquireConnection({
        endpoint: this.config.endpoint,
        token: this.config.token,
        allowInsecure: this.config.insecure,
        platform: nodePlatform,
      });
    } catch (error) {
      this.signal?.removeEventListener('abort', this.onAbort);
      this.say(`error: ${(error as Error).message}`);
      return exitCodeFor(error as Error);
    }
    this.handle.onStatus((status) => reportStatus(status, this.say, (error) => this.fail(error)));
    this.handle.onWarning((message) => this.say(`warning: ${message}`));
    return this.handle;
  }

  /** Resolves with the exit code once the run ended. */
  async ending(): Promise<number> {
    // The core's timers and sockets never keep a process alive (it runs inside n8n and Node-RED);
    // a CLI waiting to reconnect must stay alive by itself.
    const keepAlive = setInterval(() => undefined, 60_000);
    const code = await this.outcome;
    clearInterval(keepAlive);
    this.signal?.removeEventListener('abort', this.onAbort);
    return code;
  }

  /** `work` (unsubscribing...), then the connection released and closed, all within the shutdown limit. */
  async close(work: () => Promise<void> | void = () => undefined): Promise<void> {
    await withinLimit(async () => {
      await work();
      this.handle?.release();
      await closeAllConnections();
    });
  }
}
