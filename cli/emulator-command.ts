// `pingstreams emulator`: run the local emulator until Ctrl+C.
import { startEmulator } from '../emulator';
import type { EmulatorOptions } from '../emulator';
import { parseArgs, UsageError, type FlagSpecs } from './args';
import { EXIT, portInUseHint, type CommandIo } from './command';

export const EMULATOR_USAGE = `Usage: pingstreams emulator [options]

Runs a local Pingstreams realtime server for building and testing flows without a live account.

Options:
  --port N          TCP port (default 8787, 0 picks a free one)
  --host H          interface to listen on (default 127.0.0.1)
  --secret S        HS256 secret used to sign and verify tokens (default: the emulator's dev secret)
  --seed FILE       JSON file with projects, users, project_users, requests, messages
  --simulate RATE   generate realistic traffic, about RATE changes per second
  --simulate-queue RATE
                    run a support queue instead: RATE arrivals per minute (Poisson), agents with
                    a chat capacity, abandonment; ground truth at GET /admin/simulation
    --queue-agents N      simulated agents (default 4)
    --queue-chats N       chats per agent at once (default 2)
    --queue-aht SEC       mean handle time after the first reply (default 180)
    --queue-patience SEC  mean patience before abandoning (default 120)
  --heartbeat MS    server heartbeat period in milliseconds (default 30000)
  -h, --help        show this help
`;

const FLAGS = {
  port: { type: 'number', min: 0, max: 65_535, integer: true },
  host: { type: 'string' },
  secret: { type: 'string' },
  seed: { type: 'string' },
  simulate: { type: 'number', min: 0, max: 10_000 },
  'simulate-queue': { type: 'number', min: 0, max: 10_000 },
  'queue-agents': { type: 'number', min: 0, max: 10_000, integer: true },
  'queue-chats': { type: 'number', min: 1, max: 100, integer: true },
  'queue-aht': { type: 'number', min: 0.001, max: 86_400 },
  'queue-patience': { type: 'number', min: 0.001, max: 86_400 },
  heartbeat: { type: 'number', min: 1, max: 3_600_000, integer: true },
} as const satisfies FlagSpecs;

function toOptions(argv: string[]): EmulatorOptions | 'help' {
  const { flags, positionals, help } = parseArgs(argv, FLAGS);
  if (help) return 'help';
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  if (flags.host === '') throw new UsageError('--host needs a value.');
  if (flags.secret === '') throw new UsageError('--secret must not be empty.');
  if (flags.simulate === 0) throw new UsageError('--simulate needs a rate greater than 0 (changes per second).');
  if (flags.simulate !== undefined && flags['simulate-queue'] !== undefined)
    throw new UsageError('--simulate and --simulate-queue exclude each other: choose one.');
  const queueFlag = (['queue-agents', 'queue-chats', 'queue-aht', 'queue-patience'] as const).find(
    (f) => flags[f] !== undefined,
  );
  if (queueFlag && flags['simulate-queue'] === undefined)
    throw new UsageError(`--${queueFlag} needs --simulate-queue RATE.`);
  const queue =
    flags['simulate-queue'] === undefined
      ? undefined
      : {
          arrivalsPerMinute: flags['simulate-queue'],
          ...(flags['queue-agents'] !== undefined ? { agents: flags['queue-agents'] } : {}),
          ...(flags['queue-chats'] !== undefined ? { chatsPerAgent: flags['queue-chats'] } : {}),
          ...(flags['queue-aht'] !== undefined ? { ahtSeconds: flags['queue-aht'] } : {}),
          ...(flags['queue-patience'] !== undefined ? { patienceSeconds: flags['queue-patience'] } : {}),
        };
  return {
    port: flags.port ?? 8787,
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.secret !== undefined ? { secret: flags.secret } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.simulate !== undefined ? { simulate: { ratePerSecond: flags.simulate } } : {}),
    ...(queue ? { simulate: { ratePerSecond: 1, queue } } : {}),
    ...(flags.heartbeat !== undefined ? { heartbeatIntervalMs: flags.heartbeat } : {}),
  };
}

/**
 * Starts the emulator, prints how to connect, and runs until SIGINT/SIGTERM (or `signal` aborts).
 * Returns the exit code: 0 after a clean stop, 1 when it cannot start, 2 on usage errors.
 */
export async function runEmulatorCommand(
  argv: string[],
  io: CommandIo,
  control: { signal?: AbortSignal } = {},
): Promise<number> {
  let opts: EmulatorOptions | 'help';
  try {
    opts = toOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`pingstreams emulator: ${err.message}\n\n${EMULATOR_USAGE}`);
    return EXIT.USAGE;
  }
  if (opts === 'help') {
    io.stdout.write(EMULATOR_USAGE);
    return EXIT.OK;
  }
  let emu;
  try {
    emu = await startEmulator(opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    io.stderr.write(`pingstreams emulator: could not start: ${e.message}.${portInUseHint(e)}\n`);
    return EXIT.FATAL;
  }
  io.stdout.write(
    [
      'Pingstreams emulator is running.',
      `  WebSocket endpoint: ${emu.url}`,
      `  Admin API:          ${emu.adminUrl}`,
      `  Demo project id:    ${emu.projectId}`,
      // The emulator's own development token (not an account secret): printing it is the point.
      `  Owner token:        ${emu.tokens.owner}`,
      opts.simulate?.queue
        ? `  Simulating a support queue: ${opts.simulate.queue.arrivalsPerMinute} arrival(s) per minute; ground truth at ${emu.adminUrl}/simulation.`
        : opts.simulate
          ? `  Simulating about ${opts.simulate.ratePerSecond} change(s) per second.`
          : '  Create traffic with the admin API (see docs/emulator.md) or restart with --simulate 1.',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      control.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (control.signal?.aborted) stop();
    else control.signal?.addEventListener('abort', stop, { once: true });
  });
  await emu.close();
  io.stdout.write('Pingstreams emulator stopped.\n');
  return EXIT.OK;
}
