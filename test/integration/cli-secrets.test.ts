// Secret audit of the `pingstreams` CLI (the built bin in its own process): a distinctive token, with a canary
// claim, never appears on stdout or stderr, in any form (whole, with the JWT prefix, URL-encoded, payload or
// signature alone, the decoded claim), whatever happens: refused, rate limited with a reason that echoes the
// token, a normal run, a token in the endpoint's query string, --token on the command line, help.
import { startEmulator, type Emulator } from '../../emulator';
import { Cli, ensureBuilt, running } from '../helpers/cli';
import { canaryClaim, leakedForms } from '../helpers/secret-forms';

jest.setTimeout(90_000);

let emu: Emulator;
let token: string;
let canary: string;

beforeAll(async () => {
  ensureBuilt();
  emu = await startEmulator();
  canary = canaryClaim();
  token = emu.signToken({ _id: emu.users.owner, email: `${canary}@example.com` });
});
afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await emu.close();
});

function expectClean(cli: Cli, secret = token): void {
  expect({ stdout: leakedForms(cli.stdout, secret, canary), stderr: leakedForms(cli.stderr, secret, canary) }).toEqual({
    stdout: [],
    stderr: [],
  });
}

const listen = (args: string[], env: Record<string, string> = { PINGSTREAMS_TOKEN: token }) =>
  new Cli(['listen', '--endpoint', emu.url, '--project', emu.projectId, ...args], env);

test('a refused token (HTTP 401): exit 3, the refusal explained, the token nowhere', async () => {
  const [header, payload, signature] = token.split('.');
  const forged = `${header}.${payload}.${signature.slice(0, -6)}AAAAAA`;
  const cli = listen([], { PINGSTREAMS_TOKEN: `JWT ${forged}` });
  expect(await cli.exitCode(30_000)).toBe(3);
  expect(cli.stderr).toMatch(/refused the access token \(HTTP 401\)/);
  expectClean(cli, forged);
  expectClean(cli);
});

test('an expired token: exit 3 with the expiry time, the token nowhere', async () => {
  const expired = emu.signToken({ _id: emu.users.owner, email: `${canary}@example.com` }, { expiresInSec: -3600 });
  const cli = listen([], { PINGSTREAMS_TOKEN: expired });
  expect(await cli.exitCode(30_000)).toBe(3);
  expect(cli.stderr).toMatch(/expired at/);
  // Once, though the server's reason states the expiry too; and in words that fit the CLI, not n8n's.
  expect(cli.stderr.match(/expired at/g)).toHaveLength(1);
  expect(cli.stderr).toMatch(/Create a new JWT in Pingstreams and use it in place of this one/);
  expect(cli.stderr).not.toMatch(/credentials/);
  expectClean(cli, expired);
});

test('HTTP 429 and 503 whose reasons echo the token, then a normal run with events: the token nowhere', async () => {
  emu.faults.refuseNext(1, 429, { retryAfterSec: 1, reason: `rate limit exceeded for token=${token} (JWT ${token})` });
  const cli = listen(['--snapshot']);
  await cli.waitForStderr(/HTTP 429/, 30_000);
  // The reason is shown (it says what to do), with the token cut out.
  expect(cli.stderr).toMatch(/HTTP 429\): rate limit exceeded for token=\[REDACTED\]/);
  await cli.waitForStderr(/subscribed /, 30_000);
  await cli.waitForLines(1, 30_000);
  // Another refusal after a drop, echoing the URL-encoded token.
  emu.faults.refuseNext(1, 503, {
    retryAfterSec: 1,
    reason: `overloaded; client url ${emu.url}?token=${encodeURIComponent(`JWT ${token}`)}`,
  });
  emu.faults.dropAll();
  await cli.waitForStderr(/HTTP 503/, 30_000);
  await cli.waitForStderr(/^connected$[\s\S]*^connected$/m, 30_000);
  const before = cli.lines.length;
  emu.createRequest(emu.projectId, { first_text: 'after the refusals' });
  await cli.waitForLines(before + 1, 30_000);
  cli.child.kill('SIGINT');
  expect(await cli.exitCode()).toBe(0);
  expectClean(cli);
});

test('a token in the endpoint query string or on the command line (--token) is not printed back', async () => {
  // Refused as a usage error; the message shows the endpoint without its query.
  for (const query of [`token=${token}`, `token=${encodeURIComponent(`JWT ${token}`)}`, `a=1&token=${token}#x`]) {
    const inQuery = new Cli(['listen', '--endpoint', `${emu.url}?${query}`, '--project', emu.projectId], {
      PINGSTREAMS_TOKEN: token,
    });
    expect(await inQuery.exitCode()).toBe(2);
    expect(inQuery.stderr).toMatch(/must not contain the token/);
    expectClean(inQuery);
  }

  const flag = new Cli(['listen', '--endpoint', emu.url, '--project', emu.projectId, '--token', token]);
  await flag.waitForStderr(/subscribed /, 30_000);
  flag.child.kill('SIGTERM');
  await flag.exitCode();
  expectClean(flag);

  // Usage errors with the token on the command line: the message and the usage, not the token.
  for (const args of [
    ['listen', '--token', token],
    ['listen', '--token', token, '--projcet', emu.projectId],
    ['listen', '--token', token, '--project', emu.projectId, '--method', 'PATCH'],
    ['listen', `--token=${token}`, '--project', emu.projectId, '--bogus'],
  ]) {
    const cli = new Cli(args);
    expect(await cli.exitCode()).toBe(2);
    expect(cli.stderr).toMatch(/Usage: pingstreams/);
    expectClean(cli);
  }
});

test('an opaque (not JWT-shaped) token given with --token, echoed by a 429 reason and refused: printed nowhere', async () => {
  // No JWT pattern can catch it: only the literal token and the token= value are there to redact it.
  const opaque = `opaque-${canary}-secret`;
  emu.faults.refuseNext(1, 429, { retryAfterSec: 1, reason: `rate limited for token=${opaque} (${opaque})` });
  const cli = new Cli(['listen', '--endpoint', emu.url, '--project', emu.projectId, '--token', opaque]);
  expect(await cli.exitCode(30_000)).toBe(3);
  expect(cli.stderr).toMatch(/HTTP 429\): rate limited for token=\[REDACTED\]/);
  expect(cli.stderr).toMatch(/refused the access token \(HTTP 401\)/);
  for (const text of [cli.stdout, cli.stderr]) {
    expect(text).not.toContain(opaque);
    expect(text).not.toContain(encodeURIComponent(opaque));
  }
});

test('usage errors of every command that takes a token leave out an opaque --token they would echo', async () => {
  const opaque = `opaque-${canary}-usage`;
  for (const command of ['listen', 'metrics', 'dashboard']) {
    const cli = new Cli([command, '--project', emu.projectId, '--token', opaque, opaque]);
    expect(await cli.exitCode()).toBe(2);
    expect(cli.stderr).toContain(`pingstreams ${command}: Unexpected argument "[REDACTED]"`);
    expect(cli.stderr + cli.stdout).not.toContain(opaque);
  }
});

test('--help, help listen, --version and an unreachable endpoint with the token in the environment', async () => {
  for (const args of [['--help'], ['help', 'listen'], ['--version']]) {
    const cli = new Cli(args, { PINGSTREAMS_TOKEN: token });
    expect(await cli.exitCode()).toBe(0);
    expect(cli.stdout.length).toBeGreaterThan(0);
    expectClean(cli);
  }
  const unreachable = new Cli(
    ['listen', '--endpoint', 'ws://127.0.0.1:9/api/', '--project', emu.projectId, '--subscribe-timeout', '500'],
    { PINGSTREAMS_TOKEN: token },
  );
  expect(await unreachable.exitCode(40_000)).toBe(1);
  expect(unreachable.stderr).toMatch(/Could not connect/);
  expectClean(unreachable);
});
