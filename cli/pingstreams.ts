#!/usr/bin/env node
// The `pingstreams` command: listen to realtime topics, run the local emulator, or watch a live demo.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { messageOf, redact } from '../core';
import { runDemo, DEMO_USAGE } from './demo';
import { EXIT, type CommandIo } from './command';
import { runEmulatorCommand, EMULATOR_USAGE } from './emulator-command';
import { watchStdoutReaders } from './stdout-readers';
import { LISTEN_USAGE, runListen } from './listen';
import { FORECAST_USAGE, runForecast } from './forecast';
import { METRICS_USAGE, runMetrics } from './metrics';
import { DASHBOARD_USAGE, runDashboard } from './dashboard';

export const MAIN_USAGE = `Usage: pingstreams <command> [options]

Commands:
  listen     subscribe to Pingstreams realtime topics and print one JSON line per event
  emulator   run a local Pingstreams realtime server for development and tests
  demo       watch a live support queue on the built-in emulator (no account needed)
  metrics    print a project's live support metrics (queue, waits, service level, agents)
  forecast   compute the agents needed for a service-level target (Erlang C / Erlang A)
  dashboard  serve a live wall of a project's support metrics on a web page
  help CMD   show the options of a command

Options:
  -h, --help     show this help
  -v, --version  show the version

Environment:
  PINGSTREAMS_TOKEN     access token (JWT) for listen
  PINGSTREAMS_ENDPOINT  WebSocket endpoint for listen (default wss://eu.rtmv3.pingstreams.com/api/)

Examples:
  pingstreams demo --duration 30
  PINGSTREAMS_TOKEN=... pingstreams listen --project 5eb45fbc1f9e1f0012d62207 --method CREATE
  pingstreams listen --topic /PROJECT_ID/requests --map '{"id": request_id, "status": status}' | jq .
`;

const USAGES: Record<string, string> = {
  listen: LISTEN_USAGE,
  emulator: EMULATOR_USAGE,
  demo: DEMO_USAGE,
  metrics: METRICS_USAGE,
  forecast: FORECAST_USAGE,
  dashboard: DASHBOARD_USAGE,
};

type Command = (argv: string[], io: CommandIo, control: { signal?: AbortSignal }) => Promise<number>;
const COMMANDS: Record<string, Command> = {
  listen: runListen,
  emulator: runEmulatorCommand,
  demo: runDemo,
  metrics: runMetrics,
  forecast: runForecast,
  dashboard: runDashboard,
};

/** The package version, read at run time (dist/cli/ or cli/ under ts-jest): no JSON copied into dist. */
export function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if ((pkg.name === 'pingstreams' || pkg.name === 'n8n-nodes-pingstreams') && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** Dispatches argv (without node and script) to a command; resolves with the exit code. */
export async function main(argv: string[], io: CommandIo, control: { signal?: AbortSignal } = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help') {
    io.stdout.write(MAIN_USAGE);
    return EXIT.OK;
  }
  if (name === '-v' || name === '--version' || name === 'version') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.OK;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) io.stdout.write(MAIN_USAGE);
    else if (USAGES[topic]) io.stdout.write(USAGES[topic]);
    else {
      io.stderr.write(`pingstreams: no command "${topic}". Commands: ${Object.keys(COMMANDS).join(', ')}.\n`);
      return EXIT.USAGE;
    }
    return EXIT.OK;
  }
  const command = COMMANDS[name];
  if (!command) {
    const close = Object.keys(COMMANDS).find((known) => known.startsWith(name.slice(0, 3)));
    const hint = close && !name.startsWith('-') ? ` Did you mean "${close}"?` : '';
    io.stderr.write(`pingstreams: unknown command "${name}".${hint}\n\n${MAIN_USAGE}`);
    return EXIT.USAGE;
  }
  return command(rest, io, control);
}

/** The promise made to a user pressing Ctrl+C, or to a supervisor sending SIGTERM: gone within 5 s. */
const SIGNAL_EXIT_LIMIT_MS = 4_500;

function run(): void {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    // A second Ctrl+C means "now": skip the clean shutdown.
    if (signals > 1) process.exit(130);
    controller.abort();
    // Whatever the clean shutdown waits for, the process ends within SIGNAL_EXIT_LIMIT_MS of the signal
    // (expressions are bounded, so the event loop is free to run this timer).
    setTimeout(() => process.exit(process.exitCode ?? EXIT.OK), SIGNAL_EXIT_LIMIT_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The reader of stdout went away (`| head`): stop quietly, it is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') controller.abort();
  });
  // ... or before the next write, when it can be seen going.
  const stopWatching = watchStdoutReaders(() => controller.abort());
  controller.signal.addEventListener('abort', stopWatching, { once: true });
  const io: CommandIo = {
    stdout: {
      write: (text: string) => !process.stdout.destroyed && process.stdout.write(text),
      once: (event: 'drain', listener: () => void) => process.stdout.once(event, listener),
    },
    stderr: { write: (text: string) => process.stderr.write(text) },
  };
  main(process.argv.slice(2), io, { signal: controller.signal }).then(
    (code) => exit(code),
    (error: unknown) => {
      const message = messageOf(error);
      process.stderr.write(`pingstreams: unexpected error: ${redact(message, process.env.PINGSTREAMS_TOKEN)}\n`);
      exit(EXIT.FATAL);
    },
  );
}

function exit(code: number): void {
  process.exitCode = code;
  // Normally nothing is left and Node exits by itself once stdout is flushed; this is the backstop.
  setTimeout(() => process.exit(code), 1_000).unref();
}

if (require.main === module) run();
