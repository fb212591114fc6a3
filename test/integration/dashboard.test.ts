// `pingstreams dashboard` over real sockets: the page's server answers only its page, assets and stream (404
// otherwise), never sends the token, asks for the access key beyond loopback, drops clients that do not read, and
// streams figures that equal the emulator's queueing simulation (ground truth) before and after a drop.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../emulator';
import { Dashboard, parseDashboardArgs, type DashboardConfig } from '../../cli/dashboard';
import { DashboardServer } from '../../cli/dashboard-server';
import { Cli, ensureBuilt, ROOT } from '../helpers/cli';
import { Resources } from '../helpers/resources';
import { SseReader } from '../helpers/sse';
import { waitFor } from '../helpers/wait';

jest.setTimeout(60_000);

const resources = new Resources();
afterAll(() => resources.closeAll());

let emu: Emulator;

beforeAll(async () => {
  emu = resources.add(
    'emulator',
    await startEmulator({
      simulate: {
        ratePerSecond: 1,
        randomSeed: 7,
        queue: {
          arrivalsPerMinute: 240,
          ahtSeconds: 3,
          firstResponseSeconds: 0.5,
          patienceSeconds: 6,
          chatsPerAgent: 2,
          agents: 3,
          availabilityChangesPerMinute: 20,
          abandonedCloseMs: 500,
          tickMs: 50,
        },
      },
    }),
    (e) => e.close(),
  );
});

function config(extra: string[] = [], token = emu.tokens.owner): DashboardConfig {
  const agents = emu.simulation!.truth().agentIds.flatMap((id) => ['--agent', id]);
  const parsed = parseDashboardArgs(
    ['--project', emu.projectId, '--endpoint', emu.url, '--port', '0', ...agents, ...extra],
    { PINGSTREAMS_TOKEN: token },
  );
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
}

async function startDashboard(
  extra: string[] = [],
  token?: string,
): Promise<{ dashboard: Dashboard; base: string; lines: string[] }> {
  const lines: string[] = [];
  const dashboard = resources.add(
    'dashboard',
    await Dashboard.start(config(extra, token), (line) => lines.push(line)),
    (d) => d.close(),
  );
  return { dashboard, base: dashboard.url.replace(/\/(\?key=.*)?$/, ''), lines };
}

async function sse(url: string, headers?: Record<string, string>): Promise<SseReader> {
  return resources.add('sse', await SseReader.open(url, headers), (r) => r.close());
}

/** Pauses the simulation and waits for a pushed view equal to its truth; checks order and the longest wait. */
async function expectTruth(stream: SseReader, label: string): Promise<void> {
  const sim = emu.simulation!;
  sim.pause();
  const pausedAt = Date.now();
  const requestIdOf = new Map(emu.getRequests(emu.projectId).map((r) => [r._id, r.request_id]));
  const summary = (v: any) => ({
    queue: v.queue,
    agents: {
      available: v.agents.available,
      busy: v.agents.busy,
      unavailable: v.agents.unavailable,
      assigned: v.agents.assigned,
      capacity: v.agents.capacity,
    },
  });
  const truth = () => {
    const t = sim.truth();
    return {
      queue: t.queue,
      agents: {
        available: t.agents.available,
        busy: t.agents.busy,
        unavailable: t.agents.unavailable,
        assigned: t.agents.assigned,
        capacity: t.agents.capacity,
      },
    };
  };
  let view: any;
  try {
    view = await stream.waitFor(
      'metrics',
      (v) =>
        Date.parse(v.at) > pausedAt + 100 &&
        v.confirming === 0 &&
        JSON.stringify(summary(v)) === JSON.stringify(truth()),
    );
  } catch (error) {
    expect({ label, got: summary(stream.last('metrics')) }).toEqual({ label, got: truth() }); // shows the difference
    throw error;
  }
  const t = sim.truth(Date.parse(view.at));
  expect(view.queue).toBe(t.queue);
  expect(view.waiting.map((w: any) => w.request)).toEqual(
    t.waiting.slice(0, view.waiting.length).map((id) => requestIdOf.get(id)),
  );
  if (t.longestWaitSeconds === null) expect(view.longestWaitSeconds).toBeNull();
  else expect(Math.abs(view.longestWaitSeconds - t.longestWaitSeconds)).toBeLessThan(1);
  sim.resume();
}

describe('the dashboard server', () => {
  test('serves the page, its assets and the stream, and nothing else', async () => {
    const { base } = await startDashboard();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<script src="/assets/uPlot.iife.min.js"></script>');
    // uPlot is served from the installed package: the page needs no CDN and works offline.
    const uplot = await fetch(`${base}/assets/uPlot.iife.min.js`);
    expect(uplot.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(
      Buffer.from(await uplot.arrayBuffer()).equals(
        readFileSync(join(ROOT, 'node_modules/uplot/dist/uPlot.iife.min.js')),
      ),
    ).toBe(true);
    for (const [path, type] of [
      ['/assets/dashboard.js', 'text/javascript'],
      ['/assets/dashboard.css', 'text/css'],
      ['/assets/uPlot.min.css', 'text/css'],
      ['/assets/icon.svg', 'image/svg+xml'],
    ]) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status, res.headers.get('content-type')?.split(';')[0]]).toEqual([path, 200, type]);
    }
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);

    // No admin, no proxying, no files beside the page.
    for (const path of [
      '/admin',
      '/admin/simulation',
      '/api/',
      '/index.html',
      '/assets/',
      '/assets/../package.json',
      '/%2e%2e/package.json',
      '/dashboard.js',
      '/events/x',
      '/favicon.ico',
      `/${emu.projectId}/requests`,
    ]) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.text()).toMatch(/^Not found/);
    }
    const post = await fetch(`${base}/events`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    // A page of another site reaching us through DNS rebinding names its own host.
    const rebinding = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () =>
        socket.end('GET / HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket
        .setEncoding('utf8')
        .on('data', (d) => (text += d))
        .on('end', () => resolve(text))
        .on('error', reject);
    });
    expect(rebinding).toMatch(/^HTTP\/1\.1 403/);
  });

  test('nothing it serves carries the token, and the stream equals the ground truth before and after a drop', async () => {
    const { dashboard, base } = await startDashboard();
    const stream = await sse(`${base}/events`);
    expect(stream.status).toBe(200);
    await stream.waitFor('state', (s) => s.state === 'connected');
    expect(stream.of('history')).toHaveLength(1);
    await expectTruth(stream, 'start');

    // The drop: the page hears of it, then of the reconnect; the figures come back to the truth.
    const connectedBefore = stream.of('state').filter((s) => s.state === 'connected').length;
    emu.faults.dropAll();
    const down = await stream.waitFor('state', (s) => s.state === 'reconnecting');
    expect(down.retryInSeconds).toBeGreaterThanOrEqual(1);
    await waitFor(
      () => stream.of('state').filter((s) => s.state === 'connected').length > connectedBefore,
      'reconnected',
      20_000,
    );
    await expectTruth(stream, 'after the drop');
    // The charts' points mark the time the connection was down... unless it came back within one tick.
    const points = stream.of('metrics').map((m) => m.point);
    expect(points.every((p) => p.connected === 0 || p.connected === 1)).toBe(true);
    expect(new Set(points.map((p) => p.t)).size).toBe(points.length);

    // A page opened now gets the history of the charts at once.
    const late = await sse(`${base}/events`);
    const history = await late.waitFor('history');
    expect(history.t.length).toBeGreaterThanOrEqual(points.length - 1);
    expect(Object.keys(history).sort()).toEqual(['arrivalsLastMinute', 'connected', 'p50', 'p90', 'queue', 't']);
    expect(dashboard.streamClients).toBe(2);

    const served = [stream.raw, late.raw];
    for (const path of ['/', '/assets/dashboard.js', '/assets/dashboard.css'])
      served.push(await (await fetch(`${base}${path}`)).text());
    for (const text of served) {
      expect(text).not.toContain(emu.tokens.owner);
      expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // nothing shaped like a JWT
    }
  });

  test('states a refused token and a rate limit in plain words, without the token', async () => {
    const bad = emu.signToken({ sub: 'nobody' }, { expiresInSec: -60 });
    const refused = await startDashboard([], bad);
    const stream = await sse(`${refused.base}/events`);
    const state = await stream.waitFor('state', (s) => s.state === 'token-refused');
    expect(state.message).toMatch(/token/i);
    expect(stream.raw).not.toContain(bad);
    expect(refused.lines.join('\n')).not.toContain(bad);
    expect(refused.dashboard.exitCode).toBe(3);
    await refused.dashboard.close();

    emu.faults.refuseNext(1, 429, { retryAfterSec: 3, reason: 'too many connections' });
    const limited = await startDashboard();
    const limitedStream = await sse(`${limited.base}/events`);
    const rate = await limitedStream.waitFor('state', (s) => s.state === 'rate-limited');
    expect(rate.retryInSeconds).toBeGreaterThanOrEqual(3);
    await limitedStream.waitFor('state', (s) => s.state === 'connected', 20_000);
    await limited.dashboard.close();
  });

  test('beyond loopback it needs the access key, kept in a cookie once given', async () => {
    const { dashboard } = await startDashboard(['--host', '0.0.0.0', '--allow-remote']);
    const key = new URL(dashboard.url.replace('<this machine>', '127.0.0.1')).searchParams.get('key')!;
    expect(key).toMatch(/^[\w-]{20,}$/);
    expect(key).not.toContain(emu.tokens.owner.slice(0, 20));
    const base = `http://127.0.0.1:${new URL(dashboard.url.replace('<this machine>', '127.0.0.1')).port}`;
    for (const path of ['/', '/assets/dashboard.js', '/events', `/?key=${key}x`, '/?key=']) {
      const res = await fetch(`${base}${path}`, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 401]);
    }
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    const login = await fetch(`${base}/?key=${key}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await fetch(`${base}/`, { headers: { cookie } })).status).toBe(200);
    const stream = await sse(`${base}/events`, { cookie });
    expect(stream.status).toBe(200);
    await stream.waitFor('state');
  });

  test('a client that does not read is dropped; close ends every stream and socket', async () => {
    const server = resources.add(
      'server',
      new DashboardServer({
        host: '127.0.0.1',
        port: 0,
        pageDir: join(ROOT, 'cli', 'dashboard-page'),
        initialEvents: () => [],
        maxBufferedBytes: 64 * 1024,
      }),
      (s) => s.close(),
    );
    const port = await server.start();
    const stalled = connect(port, '127.0.0.1');
    resources.add('stalled socket', stalled, (s) => s.destroy());
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    stalled.pause(); // never reads: the kernel buffers fill, then the server's
    const reader = await sse(`http://127.0.0.1:${port}/events`);
    await waitFor(() => server.clientCount === 2, 'two stream clients');
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 400 && server.dropped === 0; i++) {
      server.publish('metrics', { big });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(server.dropped).toBe(1);
    expect(server.clientCount).toBe(1); // the reading one stays
    await server.close();
    await waitFor(() => reader.raw.length > 0, 'data to the reading client');
    // Nothing listens any more.
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});

describe('pingstreams dashboard, the command', () => {
  beforeAll(() => ensureBuilt());

  test('prints the address, serves the page, and stops cleanly on Ctrl+C, closing its socket', async () => {
    const before = emu.stats().clients;
    const cli = resources.add(
      'cli',
      new Cli(['dashboard', '--project', emu.projectId, '--endpoint', emu.url, '--port', '0'], {
        PINGSTREAMS_TOKEN: emu.tokens.owner,
      }),
      (c) => c.child.kill('SIGKILL'),
    );
    await waitFor(
      () => /dashboard of project \S+: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout) || cli.child.exitCode !== null,
      'the address',
      20_000,
    );
    const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stdout)![1];
    expect((await fetch(url)).status).toBe(200);
    await cli.waitForStderr(/watching/);
    expect(emu.stats().clients).toBe(before + 1);
    cli.child.kill('SIGINT');
    expect(await cli.exitCode(10_000)).toBe(0);
    await waitFor(() => emu.stats().clients === before, 'its socket closed', 10_000);
    expect(cli.stdout + cli.stderr).not.toContain(emu.tokens.owner);
  });

  test('refuses another interface without --allow-remote, and a missing project', async () => {
    const remote = new Cli(['dashboard', '--project', emu.projectId, '--host', '0.0.0.0'], {
      PINGSTREAMS_TOKEN: emu.tokens.owner,
    });
    expect(await remote.exitCode()).toBe(2);
    expect(remote.stderr).toMatch(
      /--host 0\.0\.0\.0 makes the figures reachable from other machines: add --allow-remote/,
    );
    const missing = new Cli(['dashboard'], { PINGSTREAMS_TOKEN: emu.tokens.owner });
    expect(await missing.exitCode()).toBe(2);
    expect(missing.stderr).toMatch(/--project is required/);
    const help = new Cli(['help', 'dashboard']);
    expect(await help.exitCode()).toBe(0);
    expect(help.stdout).toContain('--allow-remote');
  });
});
