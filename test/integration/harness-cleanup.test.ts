// A harness step that throws half-way must not leave servers behind: the run ends by itself, red, with the
// failure on screen. Runs a separate jest on suites whose set-up fails after starting an emulator, an HTTP sink
// and a socket (test/fixtures/harness-failure/); without the clean-up the child jest never exits.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..');
const LIMIT_MS = 90_000;

jest.setTimeout(LIMIT_MS + 30_000);

test('suites whose set-up fails after starting servers end by themselves, red, with the failures shown', async () => {
  const config = {
    rootDir: REPO,
    testEnvironment: 'node',
    transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
    moduleFileExtensions: ['ts', 'js', 'json'],
    testMatch: ['<rootDir>/test/fixtures/harness-failure/*.fixture.ts'],
  };
  const child = spawn(
    process.execPath,
    [
      join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--config',
      JSON.stringify(config),
      '--ci',
      '--colors=false',
    ],
    {
      cwd: REPO,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const started = Date.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  const ms = Date.now() - started;

  expect({ timedOut, ms: ms < LIMIT_MS }).toEqual({ timedOut: false, ms: true });
  expect(code).toBe(1);
  expect(output).toContain('FIXTURE: set-up step failed after starting servers');
  expect(output).toContain('FIXTURE: consumer start failed');
  expect(output).toContain('FIXTURE: drain failed');
  expect(output).toMatch(/Tests:\s+3 failed/);
  expect(output).not.toContain('did not exit');
});
