// `pingstreams listen`: subscribe to topics and print one JSON line per event on stdout.
// stdout carries only events (so it can be piped to jq, a file or another program); everything
// else (status, warnings, errors) goes to stderr. The token is never printed.
import {
  acquireConnection,
  buildTopic,
  checkEndpoint,
  closeAllConnections,
  createEventPipeline,
  DEFAULT_ENDPOINT,
  describeEndpoint,
  EXPRESSION_BUDGET_BOUNDS,
  InsecureEndpointError,
  METHODS,
  PingstreamsError,
  redact,
  SubscriptionTimeoutError,
  TokenRefusedError,
  type ConnectionHandle,
  type ConnectionStatus,
  type EventPipeline,
  type ExpressionBudget,
  type Method,
  type Subscription,
} from '../core';
import { nodePlatform } from '../core/node-platform';
import { parseArgs, UsageError } from './args';
import type { CommandIo } from './emulator-command';

export const EXIT = { OK: 0, FATAL: 1, USAGE: 2, TOKEN_REFUSED: 3, SUBSCRIPTION_REFUSED: 4 } as const;

/** How long shutdown (flush, unsubscribe, close the socket) may take before the CLI exits anyway. */
const SHUTDOWN_LIMIT_MS = 3_000;

export const LISTEN_USAGE = `Usage: pingstreams listen --topic TOPIC [--topic TOPIC ...] [options]
       pingstreams listen --project ID [--request ID [--messages]] [--agent ID] [options]

Subscribes to Pingstreams realtime topics and prints one JSON line per event on stdout
(status and errors go to stderr). Stops with Ctrl+C.

Topics:
  --topic TOPIC          a full topic, e.g. /PROJECT_ID/requests (repeatable)
  --project ID           the project's open requests (/ID/requests), or with:
    --request ID           one request (/ID/requests/REQUEST_ID), its request_id string
    --messages             with --request: that request's messages
    --agent ID             a project user (agent): /ID/project_users/PROJECT_USER_ID

Events:
  --method LIST          only these methods, e.g. CREATE,UPDATE (default: all)
  --snapshot             also print the current state sent on subscribe (snapshot: true)
  --no-recovered         do not print changes recovered after a reconnect
  --when EXPR            JSONata condition on the event's data, e.g. 'status = 100'
  --map EXPR             print this JSONata result instead of the event, e.g. '{"id": request_id}'
                         ($event is the whole event, $previous the element's previous state)
  --expression-timeout MS  stop one evaluation of --when or --map after MS (default 1000, 10 to 60000);
                         the event is skipped with a warning, later events flow
  --expression-depth N   stop one evaluation nested deeper than N levels (default 1000, 10 to 10000)

Connection:
  --endpoint URL         WebSocket endpoint (default: $PINGSTREAMS_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --insecure             allow ws:// to a host other than this machine (token sent unencrypted)
  --subscribe-timeout MS how long to wait for a topic's snapshot (default 10000, at most 3600000)
  --token JWT            the access token; prefer the PINGSTREAMS_TOKEN environment variable,
                         since options end up in your shell history and the process list

Exit codes: 0 stopped by Ctrl+C/SIGTERM (or the reader of stdout went away), 1 other failure,
2 usage error, 3 token refused, 4 subscription refused (no snapshot within the timeout).
`;

/** Printed after a usage error: the synopsis, and where to find the rest. */
const shortUsage = (name: string, usage: string): string =>
  `${usage.split('\n\n')[0]}\nRun "pingstreams help ${name}" for all options.\n`;
export const LISTEN_SHORT_USAGE = shortUsage('listen', LISTEN_USAGE);

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

const FLAGS = {
  topic: { type: 'string', multiple: true },
  project: { type: 'string' },
  request: { type: 'string' },
  messages: { type: 'boolean' },
  agent: { type: 'string' },
  method: { type: 'string', multiple: true },
  snapshot: { type: 'boolean' },
  recovered: { type: 'boolean', negatable: true },
  when: { type: 'string' },
  map: { type: 'string' },
  endpoint: { type: 'string' },
  token: { type: 'string' },
  insecure: { type: 'boolean' },
  'subscribe-timeout': { type: 'number', min: 1, max: 3_600_000, integer: true },
  'expression-timeout': {
    type: 'number',
    min: EXPRESSION_BUDGET_BOUNDS.timeMs[0],
    max: EXPRESSION_BUDGET_BOUNDS.timeMs[1],
    integer: true,
  },
  'expression-depth': {
    type: 'number',
    min: EXPRESSION_BUDGET_BOUNDS.depth[0],
    max: EXPRESSION_BUDGET_BOUNDS.depth[1],
    integer: true,
  },
} as const;

export interface ListenControl {
  /** Aborting stops listening cleanly (the CLI aborts on SIGINT/SIGTERM and when stdout is closed). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

interface ListenConfig {
  topics: string[];
  methods?: Method[];
  snapshot: boolean;
  recovered: boolean;
  when?: string;
  map?: string;
  endpoint: string;
  token: string;
  insecure: boolean;
  subscribeTimeoutMs?: number;
  expressionBudget: ExpressionBudget;
}

/** Runs `pingstreams listen`; resolves with the exit code (see EXIT). Never throws. */
export async function runListen(argv: readonly string[], io: CommandIo, control: ListenControl = {}): Promise<number> {
  const env = control.env ?? process.env;
  let config: ListenConfig | 'help';
  try {
    config = parseListenArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof PingstreamsError)) throw error;
    // Endpoint and topic errors come from the core; they are mistakes in the command line too.
    return usageError('listen', LISTEN_USAGE, error.message, io, argv, env);
  }
  if (config === 'help') {
    io.stdout.write(LISTEN_USAGE);
    return EXIT.OK;
  }
  return listen(config, io, control.signal);
}

function tokenFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.findIndex((a) => a === '--token' || a.startsWith('--token='));
  if (i < 0) return env.PINGSTREAMS_TOKEN;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
}

export function parseListenArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ListenConfig | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length)
    throw new UsageError(`Unexpected argument "${positionals[0]}": topics are given with --topic or --project.`);

  const topics = (flags.topic ?? []).map((topic) => buildTopic({ kind: 'custom', topic }));
  if (flags.project !== undefined) {
    const projectId = flags.project;
    if (flags.messages && flags.request === undefined)
      throw new UsageError('--messages needs --request: the messages of which request?');
    if (flags.request !== undefined) {
      topics.push(buildTopic({ kind: flags.messages ? 'messages' : 'request', projectId, requestId: flags.request }));
    }
    if (flags.agent !== undefined) topics.push(buildTopic({ kind: 'agent', projectId, projectUserId: flags.agent }));
    if (flags.request === undefined && flags.agent === undefined)
      topics.push(buildTopic({ kind: 'requests', projectId }));
  } else if (flags.request !== undefined || flags.agent !== undefined || flags.messages) {
    throw new UsageError('--request, --messages and --agent need --project (the project id).');
  }
  if (topics.length === 0)
    throw new UsageError('No topic: give --topic /PROJECT_ID/requests, or --project PROJECT_ID.');

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

  return {
    topics: [...new Set(topics)],
    methods: parseMethods(flags.method),
    snapshot: flags.snapshot === true,
    recovered: flags.recovered !== false,
    when: flags.when,
    map: flags.map,
    endpoint,
    token,
    insecure: flags.insecure === true,
    subscribeTimeoutMs: flags['subscribe-timeout'],
    expressionBudget: { timeMs: flags['expression-timeout'], depth: flags['expression-depth'] },
  };
}

function parseMethods(values: readonly string[] | undefined): Method[] | undefined {
  if (!values) return undefined;
  const methods = values
    .flatMap((v) => v.split(','))
    .map((m) => m.trim().toUpperCase())
    .filter(Boolean);
  const unknown = methods.find((m) => !(METHODS as readonly string[]).includes(m));
  if (unknown) throw new UsageError(`Unknown method "${unknown}": use ${METHODS.join(', ')} (comma-separated).`);
  if (methods.length === 0) throw new UsageError(`--method needs at least one of ${METHODS.join(', ')}.`);
  return [...new Set(methods)] as Method[];
}

export function exitCodeFor(error: Error): number {
  if (error instanceof TokenRefusedError) return EXIT.TOKEN_REFUSED;
  if (error instanceof SubscriptionTimeoutError) return EXIT.SUBSCRIPTION_REFUSED;
  return EXIT.FATAL;
}

async function listen(config: ListenConfig, io: CommandIo, signal: AbortSignal | undefined): Promise<number> {
  const say = (line: string): void => {
    io.stderr.write(`${redact(line, config.token)}\n`);
  };
  let stopping = false;
  let settled = false;
  let settle!: (code: number) => void;
  const outcome = new Promise<number>((resolve) => (settle = resolve));
  const finish = (code: number): void => {
    if (settled) return;
    settled = true;
    settle(code);
  };
  const fail = (error: Error): void => {
    if (settled) return;
    say(`error: ${error.message}`);
    finish(exitCodeFor(error));
  };

  // Backpressure: a reader of stdout that stalls, or expressions slower than the events, pause the socket
  // (the core stops reading it) instead of piling output up in memory.
  const flow = new OutputFlow(io, () => pipeline);
  let pipeline: EventPipeline;
  try {
    pipeline = createEventPipeline(
      {
        methods: config.methods,
        when: config.when,
        output: config.map !== undefined ? { map: config.map } : 'event',
        expressionBudget: config.expressionBudget,
      },
      (output) => {
        // JSONata yields nothing (undefined) when --map matches nothing: print nothing, like jq's `empty`.
        if (output === undefined) return;
        if (io.stdout.write(`${JSON.stringify(output)}\n`) === false) flow.stdoutFull();
      },
      (error, event) => say(`warning: skipped an event on ${event.topic}: ${error.message}`),
    );
  } catch (error) {
    io.stderr.write(`pingstreams listen: ${redact((error as Error).message, config.token)}\n\n${LISTEN_SHORT_USAGE}`);
    return EXIT.USAGE;
  }

  const onAbort = (): void => finish(EXIT.OK);
  if (signal?.aborted) return EXIT.OK;
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
  flow.attach(handle);
  handle.onStatus((status) => reportStatus(status, say, fail));
  handle.onWarning((message) => say(`warning: ${message}`));

  const subscriptions: Subscription[] = [];
  for (const topic of config.topics) {
    let ready = false;
    const subscription = handle.subscribe(topic, {
      emitSnapshot: config.snapshot,
      emitRecovered: config.recovered,
      subscribeTimeoutMs: config.subscribeTimeoutMs,
      onEvent: (event) => {
        pipeline.push(event);
        flow.checkBacklog();
      },
      onError: (error) => {
        // Before `ready`, the rejection below reports it.
        if (!ready || stopping) return;
        say(`warning: ${topic}: ${error.message}`);
      },
    });
    subscriptions.push(subscription);
    subscription.ready.then(
      () => {
        ready = true;
        if (!stopping) say(`subscribed ${topic}`);
      },
      (error: Error) => fail(error),
    );
  }

  // The core's timers and sockets never keep a process alive (it runs inside n8n and Node-RED);
  // a CLI waiting to reconnect must stay alive by itself.
  const keepAlive = setInterval(() => undefined, 60_000);
  const code = await outcome;
  clearInterval(keepAlive);
  flow.stop();
  stopping = true;
  signal?.removeEventListener('abort', onAbort);
  if (code === EXIT.OK) say('stopping');
  await withinLimit(async () => {
    await pipeline.idle();
    for (const subscription of subscriptions) subscription.close(); // unsubscribes on the wire
    handle.release();
    await closeAllConnections();
  });
  return code;
}

/** Events waiting for JSONata beyond this pause the socket; below the low mark it is read again. */
const BACKLOG_HIGH = 1_000;
const BACKLOG_LOW = 100;
const BACKLOG_CHECK_MS = 50;

/** Pauses the connection while stdout is full or the pipeline's backlog is high; resumes when both clear. */
class OutputFlow {
  private handle?: ConnectionHandle;
  private waitingForDrain = false;
  private backlogTimer?: NodeJS.Timeout;

  constructor(
    private readonly io: CommandIo,
    private readonly pipeline: () => EventPipeline,
  ) {}

  attach(handle: ConnectionHandle): void {
    this.handle = handle;
  }

  stdoutFull(): void {
    if (this.waitingForDrain || !this.io.stdout.once) return;
    this.waitingForDrain = true;
    this.handle?.pause();
    this.io.stdout.once('drain', () => {
      this.waitingForDrain = false;
      this.update();
    });
  }

  checkBacklog(): void {
    if (this.backlogTimer || this.pipeline().pending < BACKLOG_HIGH) return;
    this.handle?.pause();
    this.backlogTimer = setInterval(() => {
      if (this.pipeline().pending > BACKLOG_LOW) return;
      clearInterval(this.backlogTimer);
      this.backlogTimer = undefined;
      this.update();
    }, BACKLOG_CHECK_MS);
  }

  private update(): void {
    if (!this.waitingForDrain && !this.backlogTimer) this.handle?.resume();
  }

  stop(): void {
    clearInterval(this.backlogTimer);
    this.backlogTimer = undefined;
  }
}

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
