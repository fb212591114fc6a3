// The `pingstreams` CLI as a user runs it: separate processes (the built bin), a real emulator
// process on a loopback port, stdout/stderr/exit codes observed from outside.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, Cli, ROOT, ensureBuilt, running } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

const UNKNOWN_PROJECT = '000000000000000000000000';

jest.setTimeout(90_000);

interface EmulatorInfo {
  url: string;
  adminUrl: string;
  projectId: string;
  token: string;
}

let emulator: Cli;
let emu: EmulatorInfo;

async function admin(method: string, path: string, body?: object): Promise<Record<string, unknown>> {
  const response = await fetch(`${emu.adminUrl}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`admin ${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

function listen(args: string[], token = emu.token): Cli {
  return new Cli(['listen', '--endpoint', emu.url, ...args], { PINGSTREAMS_TOKEN: token });
}

/** The token, and its signature alone, must appear nowhere in what the CLI printed. */
function expectNoSecret(cli: Cli, token = emu.token): void {
  const signature = token.split('.')[2];
  for (const text of [cli.stdout, cli.stderr]) {
    expect(text).not.toContain(token);
    expect(text).not.toContain(signature);
  }
}

beforeAll(async () => {
  ensureBuilt();
  emulator = new Cli(['emulator', '--port', '0']);
  await waitFor(
    () => /Owner token:\s+(\S+)/.test(emulator.stdout) || emulator.child.exitCode !== null,
    'the emulator to start',
    30_000,
  );
  const field = (label: string): string => {
    const match = new RegExp(`${label}:\\s+(\\S+)`).exec(emulator.stdout);
    if (!match)
      throw new Error(`emulator did not print "${label}". stdout:\n${emulator.stdout}\nstderr:\n${emulator.stderr}`);
    return match[1];
  };
  emu = {
    url: field('WebSocket endpoint'),
    adminUrl: field('Admin API'),
    projectId: field('Demo project id'),
    token: field('Owner token'),
  };
  expect(emu.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/api\/$/);
});

afterAll(async () => {
  const others = [...running].filter((cli) => cli !== emulator);
  for (const cli of others) cli.child.kill('SIGKILL');
  await Promise.all(others.map((cli) => cli.exited));
  if (emulator && emulator.child.exitCode === null) {
    emulator.child.kill('SIGINT');
    const stopped = await Promise.race([
      emulator.exited.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 5_000)),
    ]);
    if (!stopped) emulator.child.kill('SIGKILL');
  }
});

describe('pingstreams listen', () => {
  test('prints the snapshot and live events as JSON lines, status on stderr, and exits 0 on SIGINT', async () => {
    const topic = `/${emu.projectId}/requests`;
    const cli = listen(['--project', emu.projectId, '--snapshot']);
    await cli.waitForStderr(new RegExp(`subscribed ${topic}`));
    const port = new URL(emu.url).port;
    expect(cli.stderr).toContain(`connecting to ws://127.0.0.1:${port}/api/`);
    expect(cli.stderr).toMatch(/^connected$/m);

    // The seed has three open requests (a fourth is closed): each one line, flagged as snapshot.
    const snapshot = (await cli.waitForLines(3)) as Array<{ data: { status: number } }>;
    expect(snapshot).toHaveLength(3);
    for (const event of snapshot) {
      expect(event).toMatchObject({
        method: 'CREATE',
        topic,
        kind: 'requests',
        projectId: emu.projectId,
        snapshot: true,
        recovered: false,
      });
      expect(event.data.status).toBeLessThan(1000);
    }

    const created = await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'cli live test' });
    const [, , , live] = await cli.waitForLines(4);
    expect(live).toMatchObject({
      method: 'CREATE',
      topic,
      snapshot: false,
      data: { request_id: created.request_id, first_text: 'cli live test' },
    });
    expect(cli.lines).toHaveLength(4);

    cli.child.kill('SIGINT');
    expect(await cli.exitCode()).toBe(0);
    expect(cli.stderr).toMatch(/^stopping$/m);
    expectNoSecret(cli);
    // Unsubscribed and disconnected: the emulator holds no client of ours any more.
    const stats = await waitForStats((s) => s.clients === 0);
    expect(stats).toMatchObject({ clients: 0, subscriptions: 0 });
  });

  test('--method filters by method and --map prints the JSONata result; --when filters by condition', async () => {
    const updates = listen([
      '--project',
      emu.projectId,
      '--method',
      'UPDATE',
      '--map',
      '{"id": request_id, "from": $previous.status, "to": status}',
    ]);
    const when = listen([
      '--topic',
      `/${emu.projectId}/requests`,
      '--when',
      '$contains(first_text, "when-test")',
      '--map',
      'first_text',
    ]);
    await updates.waitForStderr(/subscribed /);
    await when.waitForStderr(/subscribed /);

    const other = await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'other' });
    await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'when-test 1' });
    await admin('PATCH', `/projects/${emu.projectId}/requests/${String(other.request_id)}`, {
      status: 200,
      participants: ['5eb45fb21f9e1f0012d62203'],
    });
    await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'when-test 2' });

    // Events arrive in order: when the UPDATE is printed, the CREATEs before it were filtered out.
    expect(await updates.waitForLines(1)).toEqual([{ id: other.request_id, from: 100, to: 200 }]);
    expect(updates.lines).toHaveLength(1);
    // The last line comes last: the other request's CREATE and UPDATE in between were filtered out.
    await waitFor(() => when.stdout.includes('"when-test 2"'), 'the second when-test line');
    expect(when.json).toEqual(['when-test 1', 'when-test 2']);

    for (const cli of [updates, when]) {
      cli.child.kill('SIGTERM');
      expect(await cli.exitCode()).toBe(0);
      expectNoSecret(cli);
    }
  });

  test('survives a network cut: reconnects, prints the change made meanwhile as recovered, nothing repeated', async () => {
    const cli = listen(['--project', emu.projectId]);
    await cli.waitForStderr(/subscribed /);
    // Two refused attempts (503, Retry-After 1 s) keep the client away while the change is made.
    await admin('POST', '/faults/refuse', { count: 2, status: 503, retryAfterSec: 1, reason: 'cli test outage' });
    await admin('POST', '/faults/drop');
    const created = await admin('POST', `/projects/${emu.projectId}/requests`, {
      first_text: 'made during the outage',
    });
    await cli.waitForStderr(/reconnecting in \d+ s: .*HTTP 503.*cli test outage/);
    const [recovered] = (await cli.waitForLines(1, 30_000)) as Array<Record<string, unknown>>;
    expect(recovered).toMatchObject({
      method: 'CREATE',
      recovered: true,
      snapshot: false,
      data: { request_id: created.request_id },
    });
    expect(cli.stderr.match(/^connected$/gm)).toHaveLength(2);

    // Live events flow again, and the open requests of the new snapshot were not printed again.
    const live = await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'after the outage' });
    const lines = (await cli.waitForLines(2)) as Array<Record<string, unknown>>;
    expect(lines[1]).toMatchObject({ method: 'CREATE', recovered: false, data: { request_id: live.request_id } });
    expect(lines).toHaveLength(2);
    cli.child.kill('SIGINT');
    expect(await cli.exitCode()).toBe(0);
    expectNoSecret(cli);
  });

  test('exits 1 when no connection can be made, after saying why', async () => {
    const cli = new Cli(
      ['listen', '--endpoint', 'ws://127.0.0.1:9/api/', '--project', emu.projectId, '--subscribe-timeout', '500'],
      {
        PINGSTREAMS_TOKEN: emu.token,
      },
    );
    expect(await cli.exitCode(40_000)).toBe(1);
    expect(cli.stderr).toMatch(/retrying in \d+ s: Could not connect to ws:\/\/127\.0\.0\.1:9\/api\//);
    expect(cli.stderr).toMatch(/^error: Could not connect to ws:\/\/127\.0\.0\.1:9\/api\/ within \d+ s/m);
    // It exits: it does not claim to keep retrying.
    expect(cli.stderr).not.toMatch(/in the background|; retrying/);
    expectNoSecret(cli);
  });

  test('exits quietly with 0 when the reader of stdout goes away (EPIPE, as with `| head`)', async () => {
    const cli = listen(['--project', emu.projectId]);
    await cli.waitForStderr(/subscribed /);
    cli.child.stdout.destroy();
    await admin('POST', `/projects/${emu.projectId}/requests`, { first_text: 'nobody reads this' });
    expect(await cli.exitCode()).toBe(0);
    expect(cli.stderr).not.toMatch(/EPIPE|Error:|at .*\.js:\d+/);
  });

  test('exits 2 with a message and a short usage on usage errors', async () => {
    const cases: Array<{ args: string[]; env?: Record<string, string>; message: RegExp }> = [
      {
        args: ['listen', '--endpoint', 'ws://127.0.0.1:1/api/'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /No topic/,
      },
      {
        args: ['listen', '--project', 'has space'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /project id "has space" contains whitespace/,
      },
      { args: ['listen', '--project', emu.projectId], message: /No access token: set the PINGSTREAMS_TOKEN/ },
      {
        args: ['listen', '--project', emu.projectId, '--method', 'PATCH'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /Unknown method "PATCH"/,
      },
      {
        args: ['listen', '--project', emu.projectId, '--map', '{'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /JSONata/,
      },
      {
        args: ['listen', '--project', emu.projectId, '--endpoint', 'ws://192.0.2.1/api/'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /unencrypted/,
      },
      {
        args: ['listen', '--projcet', emu.projectId],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /Did you mean --project\?/,
      },
      { args: ['nonsense'], message: /unknown command "nonsense"/ },
      // Past 2^31 - 1 ms a timer fires at once: numeric options have bounds.
      {
        args: ['listen', '--project', emu.projectId, '--subscribe-timeout', '2147483647'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /--subscribe-timeout needs a whole number from 1 to 3600000 \(got "2147483647"\)/,
      },
      {
        args: ['listen', '--project', emu.projectId, '--subscribe-timeout', '1e400'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /--subscribe-timeout needs a whole number from 1 to 3600000/,
      },
      {
        args: ['listen', '--project', emu.projectId, '--endpoint', emu.url.replace('ws://', 'ws://user:hunter2pw@')],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /contains a user name or password/,
      },
      {
        args: ['listen', '--project', emu.projectId, '--endpoint', 'ws://user:hunter2pw@192.0.2.1/api/'],
        env: { PINGSTREAMS_TOKEN: emu.token },
        message: /contains a user name or password/,
      },
      { args: ['demo', '--duration', '1e12'], message: /--duration needs a number from 1 to 604800/ },
      {
        args: ['emulator', '--heartbeat', '99999999999'],
        message: /--heartbeat needs a whole number from 1 to 3600000/,
      },
    ];
    for (const { args, env, message } of cases) {
      const cli = new Cli(args, env);
      expect(await cli.exitCode()).toBe(2);
      expect(cli.stderr).toMatch(message);
      expect(cli.stderr).toMatch(/Usage: pingstreams/);
      expect(cli.stdout).toBe('');
      expect(cli.stderr).not.toContain('hunter2pw');
      expectNoSecret(cli);
    }
  });

  test('exits 3 when the server refuses the token, without printing it', async () => {
    const parts = emu.token.split('.');
    const forged = `${parts[0]}.${parts[1]}.${parts[2].slice(0, -6)}AAAAAA`;
    const cli = listen(['--project', emu.projectId], forged);
    expect(await cli.exitCode()).toBe(3);
    expect(cli.stderr).toMatch(/refused the access token \(HTTP 401\)/);
    expect(cli.stdout).toBe('');
    expectNoSecret(cli, forged);
  });

  test('endpoint mistakes are explained with what to do: the scheme, insecure transport, wss:// to a ws:// server', async () => {
    const at = (endpoint: string, args: string[]) =>
      new Cli(['listen', '--endpoint', endpoint, ...args], { PINGSTREAMS_TOKEN: emu.token });
    const http = at('http://127.0.0.1:9/api/', ['--project', emu.projectId]);
    expect(await http.exitCode()).toBe(2);
    expect(http.stderr).toMatch(
      /the scheme must be wss:\/\/, or ws:\/\/ for a server on this machine such as the local emulator/,
    );

    const insecure = at('ws://pingstreams.example.com/api/', ['--project', emu.projectId]);
    expect(await insecure.exitCode()).toBe(2);
    expect(insecure.stderr).toMatch(/Refusing to send the token over unencrypted.*pass --insecure/);

    // The emulator speaks plain ws://: a wss:// endpoint fails its TLS handshake.
    const tls = at(emu.url.replace(/^ws:/, 'wss:'), ['--project', emu.projectId, '--subscribe-timeout', '1000']);
    await tls.waitForStderr(/did not answer with TLS/, 30_000);
    expect(tls.stderr).toMatch(/if it serves plain ws:\/\/ \(the local emulator does\), use a ws:\/\/ endpoint/);
    tls.child.kill('SIGTERM');
    expect(await tls.exitCode()).toBe(0);
    for (const cli of [http, insecure, tls]) expectNoSecret(cli);
  });

  test('`listen | head -1` ends once head has its line, without waiting for another event', async () => {
    // One request: its snapshot is one line, and nothing else is written after it.
    const requests = (await admin('GET', `/projects/${emu.projectId}/requests`)) as unknown as Array<{
      request_id: string;
    }>;
    const script = `"${process.execPath}" "${BIN}" listen --endpoint ${emu.url} --project ${emu.projectId} --request ${requests[0].request_id} --snapshot | head -n 1`;
    const started = Date.now();
    // Its own process group, so a listen that never ends is killed with the shell.
    const shell = spawn('sh', ['-c', script], {
      env: { ...process.env, PINGSTREAMS_TOKEN: emu.token },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const killGroup = () => {
      try {
        process.kill(-shell.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let out = '';
    let err = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    shell.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const timer = setTimeout(killGroup, 20_000);
    const code = await new Promise<number | null>((resolve) => shell.on('close', resolve));
    clearTimeout(timer);
    killGroup();
    // sh waits for both ends of the pipe: it returns once listen has exited too.
    expect({ code, seconds: (Date.now() - started) / 1000 < 15 }).toEqual({ code: 0, seconds: true });
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(out)).toMatchObject({ snapshot: true, kind: 'request' });
    expect(err).toMatch(/stopping/);
    expect(err).not.toContain(emu.token);
  });

  test('exits 4 when a subscription gets no snapshot (unknown project)', async () => {
    const cli = listen(['--project', UNKNOWN_PROJECT, '--subscribe-timeout', '1500']);
    expect(await cli.exitCode()).toBe(4);
    expect(cli.stderr).toMatch(/^connected$/m);
    expect(cli.stderr).toContain(`No snapshot arrived for topic /${UNKNOWN_PROJECT}/requests`);
    expectNoSecret(cli);
  });
});

describe('pingstreams demo, help and version', () => {
  test('demo --duration 8 shows the feed, metrics and the recovery, then ends with 0', async () => {
    const cli = new Cli(['demo', '--duration', '8', '--port', '0']);
    // The live wall of the same queue is served while the demo runs.
    await waitFor(
      () =>
        /Live wall of the same queue \(open it in a browser\): (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout) ||
        cli.child.exitCode !== null,
      'the wall address',
      30_000,
    );
    const wall = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout)![1];
    const page = await fetch(wall);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Support wall');
    expect(await cli.exitCode(60_000)).toBe(0);
    // Closed with the demo.
    await expect(fetch(wall)).rejects.toThrow();
    expect(cli.stdout).toMatch(/SNAPSHOT request\s+support-group-/);
    expect(cli.stdout).toMatch(/== queue: \d+ open, \d+ unassigned, average wait \S+, agents available \d\/2/);
    expect(cli.stdout).toMatch(/!! fault injected: 1 socket\(s\) dropped/);
    expect(cli.stdout).toMatch(/-- reconnected after/);
    expect(cli.stdout).toMatch(/Demo finished after/);
    // Changes made during the outage come back as recovered events, never as duplicates.
    expect(cli.stdout).toMatch(/\[recovered after reconnect\]/);
    expect(cli.stdout).toMatch(/events: \d+ \(.*\), 0 duplicates/);
    // Request ids distinct enough that two requests never look like one (8 hex digits of the uuid).
    expect(cli.stdout).toMatch(/request\s+support-group-[0-9a-f]{8}/);
    // The final queue line once, and a next step that runs from a clone.
    const summary = cli.stdout.slice(cli.stdout.indexOf('Demo finished after'));
    expect(summary.match(/== queue:/g)).toHaveLength(1);
    expect(cli.stdout).toMatch(/Next: run `node \S*dist\/cli\/pingstreams\.js emulator --simulate 1`/);
  });

  test('--help, help <command> and --version', async () => {
    const help = new Cli(['--help']);
    expect(await help.exitCode()).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*listen[\s\S]*emulator[\s\S]*demo/);

    const listenHelp = new Cli(['help', 'listen']);
    expect(await listenHelp.exitCode()).toBe(0);
    expect(listenHelp.stdout).toMatch(/Exit codes: 0 .*\n2 usage error, 3 token refused, 4 subscription refused/);

    const version = new Cli(['--version']);
    expect(await version.exitCode()).toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });
});

async function waitForStats(ok: (stats: Record<string, number>) => boolean): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stats = (await admin('GET', '/stats')) as Record<string, number>;
    if (ok(stats) || Date.now() > deadline) return stats;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
