// The CLI under hostile conditions, as a user runs it (the built bin in its own process, a real emulator on
// loopback): runaway expressions, signals, slow readers of stdout.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startEmulator, type Emulator } from '../../emulator';
import { BIN, Cli, ROOT, ensureBuilt, running } from '../helpers/cli';
import { sleep, waitFor } from '../helpers/wait';

jest.setTimeout(90_000);

let emu: Emulator;

beforeAll(async () => {
  ensureBuilt();
  emu = await startEmulator({ simulate: { ratePerSecond: 20, randomSeed: 7 } });
});

afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await emu.close();
});

function listen(args: string[]): Cli {
  return new Cli(['listen', '--endpoint', emu.url, '--project', emu.projectId, ...args], {
    PINGSTREAMS_TOKEN: emu.tokens.owner,
  });
}

describe('signals end the CLI within 5 s whatever it is doing', () => {
  const RUNAWAY = '($f := function($n){ $f($n + 1) }; $f(0))';
  test.each(['SIGINT', 'SIGTERM'] as const)('%s while every event runs an endless recursion', async (signal) => {
    const cli = listen(['--when', RUNAWAY]);
    await cli.waitForStderr(/subscribed/);
    // Live events keep arriving (20/s), each one running the runaway expression until its budget is spent.
    await cli.waitForStderr(/warning: skipped an event on .*time budget of 1000 ms/, 20_000);
    const sent = Date.now();
    cli.child.kill(signal);
    expect(await cli.exitCode(10_000)).toBe(0);
    const exitMs = Date.now() - sent;
    expect(exitMs).toBeLessThan(5_000);
    expect(cli.stderr).toContain(RUNAWAY.slice(0, 30));
  });

  test('a shorter --expression-timeout is honoured, and bounds are usage errors', async () => {
    const cli = listen(['--when', RUNAWAY, '--expression-timeout', '50']);
    await cli.waitForStderr(/time budget of 50 ms/, 20_000);
    cli.child.kill('SIGINT');
    expect(await cli.exitCode(10_000)).toBe(0);
    const bad = listen(['--when', 'true', '--expression-depth', '1000000']);
    expect(await bad.exitCode()).toBe(2);
    expect(bad.stderr).toMatch(/--expression-depth needs a whole number from 10 to 10000/);
  });
});

describe('a reader of stdout that stalls', () => {
  // The case is a 30 s stall; CI runs a shorter one unless PINGSTREAMS_SOAK_STALL_MS says otherwise.
  const STALL_MS = Number(process.env.PINGSTREAMS_SOAK_STALL_MS ?? 5_000);
  const RATE = 2_000; // events per second
  const RSS_BOUND_MB = 200;

  test(
    `holds the CLI's memory under ${RSS_BOUND_MB} MB at ${RATE} events/s and loses nothing once it reads again`,
    async () => {
      const quiet = await startEmulator();
      // Updates of a fixed pool: the emulator's store stays small (it finds a request by a linear scan).
      const pool = Array.from({ length: 200 }, () =>
        String(quiet.createRequest(quiet.projectId, { first_text: 'pool' }).request_id),
      );
      const child = spawn(process.execPath, [BIN, 'listen', '--endpoint', quiet.url, '--project', quiet.projectId], {
        cwd: ROOT,
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PINGSTREAMS_'))),
          PINGSTREAMS_TOKEN: quiet.tokens.owner,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const seen = new Set<string>();
      let partial = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines)
          if (line)
            seen.add(String((JSON.parse(line) as { data: { first_text: string } }).data.first_text).split(' ')[0]);
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const created: string[] = [];
      let producer: NodeJS.Timeout | undefined;
      let sampler: NodeJS.Timeout | undefined;
      let peakRssMb = 0;
      try {
        await waitFor(() => /subscribed/.test(stderr), 'the CLI to subscribe', 20_000);
        const text = 'x'.repeat(1_000); // about 1.5 kB per printed event
        const started = Date.now();
        producer = setInterval(() => {
          // Catch up with the clock: a loaded machine runs this interval late, the rate stays RATE.
          const due = Math.floor(((Date.now() - started) / 1000) * RATE) - created.length;
          for (let i = 0; i < due; i++) {
            const seq = String(created.length);
            quiet.updateRequest(quiet.projectId, pool[created.length % pool.length], { first_text: `${seq} ${text}` });
            created.push(seq);
          }
        }, 10);
        sampler = setInterval(() => {
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          peakRssMb = Math.max(peakRssMb, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
        }, 250);
        await sleep(2_000);
        child.stdout.pause(); // the reader stalls: the pipe fills, stdout stops draining
        await sleep(STALL_MS);
        child.stdout.resume();
        await sleep(2_000);
        clearInterval(producer);
        producer = undefined;
        await waitFor(
          () => seen.size >= created.length && created.every((id) => seen.has(id)),
          `all ${created.length} events printed`,
          60_000 + 2 * STALL_MS,
        );
        clearInterval(sampler);
        sampler = undefined;
        expect(created.length).toBeGreaterThan(RATE * (STALL_MS / 1000));
        expect(peakRssMb).toBeLessThan(RSS_BOUND_MB);
        process.stdout.write(
          `slow reader: ${created.length} events, stall ${STALL_MS} ms, CLI peak RSS ${Math.round(peakRssMb)} MB\n`,
        );
      } finally {
        clearInterval(producer);
        clearInterval(sampler);
        child.kill('SIGKILL');
        await quiet.close();
      }
    },
    120_000 + 3 * STALL_MS,
  );
});
