// The CLI under hostile conditions, as a user runs it (the built bin in its own process, a real emulator on
// loopback): runaway expressions, signals, slow readers of stdout.
import { startEmulator, type Emulator } from '../../emulator';
import { Cli, ensureBuilt, running } from '../helpers/cli';

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
  return new Cli(['listen', '--endpoint', emu.url, '--project', emu.projectId, ...args], { PINGSTREAMS_TOKEN: emu.tokens.owner });
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
