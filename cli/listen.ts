// `pingstreams listen`: subscribe to topics and print one JSON line per event on stdout.
// stdout carries only events (so it can be piped to jq, a file or another program); everything
// else (status, warnings, errors) goes to stderr. The token is never printed.
import {
  createEventPipeline,
  DEFAULT_ENDPOINT,
  EXPRESSION_BUDGET_BOUNDS,
  METHODS,
  redact,
  type ConnectionHandle,
  type EventPipeline,
  type ExpressionBudget,
  type Method,
  type Subscription,
} from '../core';
import { parseArgs, UsageError } from './args';
import {
  CONNECTION_FLAGS,
  connectionFromFlags,
  ConnectedRun,
  EXIT,
  parseCommandLine,
  shortUsage,
  type CommandControl,
  type CommandIo,
  type ConnectionConfig,
} from './command';
import { TOPIC_FLAGS, TOPIC_FLAGS_SYNOPSIS, TOPIC_FLAGS_USAGE, topicsFromFlags } from './topic-flags';

export const LISTEN_USAGE = `Usage: pingstreams listen --topic TOPIC [--topic TOPIC ...] [options]
       pingstreams listen ${TOPIC_FLAGS_SYNOPSIS} [options]

Subscribes to Pingstreams realtime topics and prints one JSON line per event on stdout
(status and errors go to stderr). Stops with Ctrl+C.

${TOPIC_FLAGS_USAGE}

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

export const LISTEN_SHORT_USAGE = shortUsage('listen', LISTEN_USAGE);

const FLAGS = {
  ...TOPIC_FLAGS,
  method: { type: 'string', multiple: true },
  snapshot: { type: 'boolean' },
  recovered: { type: 'boolean', negatable: true },
  when: { type: 'string' },
  map: { type: 'string' },
  ...CONNECTION_FLAGS,
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

interface ListenConfig extends ConnectionConfig {
  topics: string[];
  methods?: Method[];
  snapshot: boolean;
  recovered: boolean;
  when?: string;
  map?: string;
  subscribeTimeoutMs?: number;
  expressionBudget: ExpressionBudget;
}

/** Runs `pingstreams listen`; resolves with the exit code (see EXIT). Never throws. */
export async function runListen(argv: readonly string[], io: CommandIo, control: CommandControl = {}): Promise<number> {
  const env = control.env ?? process.env;
  const config = parseCommandLine('listen', LISTEN_USAGE, io, argv, env, () => parseListenArgs(argv, env));
  return 'exit' in config ? config.exit : listen(config, io, control.signal);
}

export function parseListenArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ListenConfig | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length)
    throw new UsageError(`Unexpected argument "${positionals[0]}": topics are given with --topic or --project.`);

  const topics = topicsFromFlags(flags);
  if (topics.length === 0)
    throw new UsageError('No topic: give --topic /PROJECT_ID/requests, or --project PROJECT_ID.');

  return {
    ...connectionFromFlags(flags, env),
    topics: [...new Set(topics)],
    methods: parseMethods(flags.method),
    snapshot: flags.snapshot === true,
    recovered: flags.recovered !== false,
    when: flags.when,
    map: flags.map,
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

async function listen(config: ListenConfig, io: CommandIo, signal: AbortSignal | undefined): Promise<number> {
  const run = new ConnectedRun(io, config, signal);
  const say = run.say;
  let stopping = false;

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

  const handle = run.connect();
  if (typeof handle === 'number') return handle;
  flow.attach(handle);

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
      (error: Error) => run.fail(error),
    );
  }

  const code = await run.ending();
  flow.stop();
  stopping = true;
  if (code === EXIT.OK) say('stopping');
  await run.close(async () => {
    await pipeline.idle();
    for (const subscription of subscriptions) subscription.close(); // unsubscribes on the wire
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
