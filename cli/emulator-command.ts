// `pingstreams emulator`: run the local emulator until Ctrl+C.
import { startEmulator } from '../emulator';
import type { EmulatorOptions } from '../emulator';

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const EMULATOR_USAGE = `Usage: pingstreams emulator [options]

Runs a local Pingstreams realtime server for building and testing flows without a live account.

Options:
  --port N          TCP port (default 8787, 0 picks a free one)
  --host H          interface to listen on (default 127.0.0.1)
  --secret S        HS256 secret used to sign and verify tokens (default: the emulator's dev secret)
  --seed FILE       JSON file with projects, users, project_users, requests, messages
  --simulate RATE   generate realistic traffic, about RATE changes per second
  --heartbeat MS    server heartbeat period in milliseconds (default 30000)
  -h, --help        show this help
`;

class UsageError extends Error {}

function parseArgs(argv: string[]): EmulatorOptions | 'help' {
  const opts: EmulatorOptions = { port: 8787 };
  const num = (flag: string, value: string, min: number): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} needs a number >= ${min} (got "${value}").`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const known = ['--port', '--host', '--secret', '--seed', '--simulate', '--heartbeat'];
    if (!known.includes(flag)) throw new UsageError(`Unknown option "${arg}".`);
    let value: string | undefined = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value.`);
    value = String(value);
    switch (flag) {
      case '--port': {
        const port = num(flag, value, 0);
        if (!Number.isInteger(port) || port > 65535) throw new UsageError(`--port needs a whole number from 0 to 65535 (got "${value}").`);
        opts.port = port;
        break;
      }
      case '--host':
        if (!value) throw new UsageError('--host needs a value.');
        opts.host = value;
        break;
      case '--secret':
        if (!value) throw new UsageError('--secret must not be empty.');
        opts.secret = value;
        break;
      case '--seed':
        opts.seed = value;
        break;
      case '--simulate': {
        const rate = num(flag, value, 0);
        if (rate === 0) throw new UsageError('--simulate needs a rate greater than 0 (changes per second).');
        opts.simulate = { ratePerSecond: rate };
        break;
      }
      case '--heartbeat': {
        const ms = num(flag, value, 1);
        if (!Number.isInteger(ms)) throw new UsageError(`--heartbeat needs a whole number of milliseconds (got "${value}").`);
        opts.heartbeatIntervalMs = ms;
        break;
      }
    }
  }
  return opts;
}

/**
 * Starts the emulator, prints how to connect, and runs until SIGINT/SIGTERM (or `signal` aborts).
 * Returns the exit code: 0 after a clean stop, 1 when it cannot start, 2 on usage errors.
 */
export async function runEmulatorCommand(argv: string[], io: CommandIo, control: { signal?: AbortSignal } = {}): Promise<number> {
  let opts: EmulatorOptions | 'help';
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`pingstreams emulator: ${err.message}\n\n${EMULATOR_USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    io.stdout.write(EMULATOR_USAGE);
    return 0;
  }
  let emu;
  try {
    emu = await startEmulator(opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'EADDRINUSE' ? ' Another program uses this port: pick another one with --port, or --port 0 for a free one.' : '';
    io.stderr.write(`pingstreams emulator: could not start: ${e.message}.${hint}\n`);
    return 1;
  }
  io.stdout.write(
    [
      'Pingstreams emulator is running.',
      `  WebSocket endpoint: ${emu.url}`,
      `  Admin API:          ${emu.adminUrl}`,
      `  Demo project id:    ${emu.projectId}`,
      // The emulator's own development token (not an account secret): printing it is the point.
      `  Owner token:        ${emu.tokens.owner}`,
      opts.simulate ? `  Simulating about ${opts.simulate.ratePerSecond} change(s) per second.` : '  Create traffic with the admin API (see docs/emulator.md) or restart with --simulate 1.',
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
  return 0;
}
