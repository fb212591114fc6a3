// `pingstreams forecast` and `pingstreams metrics` as a user runs them: the built bin in separate processes,
// a real emulator process on a loopback port, figures compared with the emulator's own state.
import { Cli, ensureBuilt, running } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

jest.setTimeout(60_000);

interface Info {
  url: string;
  adminUrl: string;
  projectId: string;
  token: string;
}

let emulator: Cli;
let emu: Info;

async function admin<T = Record<string, unknown>>(method: string, path: string, body?: object): Promise<T> {
  const response = await fetch(`${emu.adminUrl}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`admin ${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  ensureBuilt();
  emulator = new Cli(['emulator', '--port', '0']);
  await waitFor(
    () => /Owner token:\s+(\S+)/.test(emulator.stdout) || emulator.child.exitCode !== null,
    'the emulator to start',
    30_000,
  );
  const field = (label: string): string => new RegExp(`${label}:\\s+(\\S+)`).exec(emulator.stdout)?.[1] ?? '';
  emu = {
    url: field('WebSocket endpoint'),
    adminUrl: field('Admin API'),
    projectId: field('Demo project id'),
    token: field('Owner token'),
  };
});

afterAll(async () => {
  for (const cli of running) if (cli !== emulator) cli.child.kill('SIGKILL');
  if (emulator && emulator.child.exitCode === null) {
    emulator.child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      emulator.exited.then(() => true),
      new Promise((r) => (timer = setTimeout(() => r(false), 5_000))),
    ]);
    clearTimeout(timer);
    if (!stopped) emulator.child.kill('SIGKILL');
  }
});

describe('pingstreams forecast', () => {
  test('prints the worked example as one JSON object', async () => {
    const cli = new Cli([
      'forecast',
      '--rate',
      '100/30m',
      '--aht',
      '3m',
      '--target',
      '80/20',
      '--max-occupancy',
      '85',
      '--shrinkage',
      '30',
      '--patience',
      '5m',
      '--agents',
      '14',
    ]);
    expect(await cli.exitCode()).toBe(0);
    expect(cli.lines).toHaveLength(1);
    const f = cli.json[0] as {
      required: { agents: number; scheduled: number; figures: Record<string, number> };
      erlangA: { now: Record<string, number> };
    };
    expect(f.required.agents).toBe(14);
    expect(f.required.scheduled).toBe(20);
    expect(f.required.figures).toMatchObject({
      serviceLevel: 0.88835,
      probabilityOfWaiting: 0.1741319,
      averageSpeedOfAnswerSeconds: 7.836,
      occupancy: 0.7142857,
    });
    expect(f.erlangA.now.serviceLevel).toBeCloseTo(0.916792, 6);
    expect(f.erlangA.now.probabilityOfAbandoning).toBeCloseTo(0.013984, 6);
  });

  test('help lists both commands and shows their options', async () => {
    const main = new Cli(['--help']);
    expect(await main.exitCode()).toBe(0);
    expect(main.stdout).toMatch(/^ {2}metrics {4}print a project's live support metrics/m);
    expect(main.stdout).toMatch(/^ {2}forecast {3}compute the agents needed/m);
    for (const [command, option] of [
      ['forecast', '--patience DURATION'],
      ['metrics', '--threshold DURATION'],
    ]) {
      const help = new Cli(['help', command]);
      expect(await help.exitCode()).toBe(0);
      expect(help.stdout).toContain(`Usage: pingstreams ${command}`);
      expect(help.stdout).toContain(option);
    }
  });

  test('exits 2 with a message naming the mistake', async () => {
    const missing = new Cli(['forecast', '--rate', '100/30m', '--target', '80/20']);
    expect(await missing.exitCode()).toBe(2);
    expect(missing.stderr).toMatch(/^pingstreams forecast: --aht is required\./);
    const target = new Cli(['forecast', '--rate', '100/30m', '--aht', '3m', '--target', '0.8']);
    expect(await target.exitCode()).toBe(2);
    expect(target.stderr).toContain('--target needs PERCENT/SECONDS, e.g. 80/20');
    const rate = new Cli(['forecast', '--rate', 'lots', '--aht', '3m', '--target', '80/20']);
    expect(await rate.exitCode()).toBe(2);
    expect(rate.stderr).toContain('--rate needs arrivals per period such as 100/30m');
  });
});

describe('pingstreams metrics', () => {
  test('prints one line per interval whose counts equal the emulator, agents found in participants', async () => {
    const state = await admin<{ demo: { users: Record<string, string>; projectUsers: Record<string, string> } }>(
      'GET',
      '/state',
    );
    const { users, projectUsers } = state.demo;
    const P = emu.projectId;
    await admin('PATCH', `/projects/${P}/project_users/${projectUsers.agent}`, {
      user_available: true,
      isBusy: false,
      max_assigned_chat: 4,
      number_assigned_requests: 1,
    });
    await admin('PATCH', `/projects/${P}/project_users/${projectUsers.agent2}`, { user_available: false });

    const cli = new Cli(
      [
        'metrics',
        '--project',
        P,
        '--endpoint',
        emu.url,
        '--interval',
        '1s',
        '--count',
        '4',
        '--target',
        '80/20',
        '--aht',
        '3m',
      ],
      { PINGSTREAMS_TOKEN: emu.token },
    );
    await cli.waitForLines(1);
    await admin('POST', `/projects/${P}/requests`, { status: 100 });
    await admin('POST', `/projects/${P}/requests`, { status: 100 });
    expect(await cli.exitCode()).toBe(0);
    expect(cli.lines).toHaveLength(4);

    const truth = await admin<Array<{ status: number }>>('GET', `/projects/${P}/requests`);
    const open = truth.filter((r) => r.status < 1000);
    const last = cli.json[3] as {
      requests: { open: number; queue: number; byStatus: Record<string, number>; longestWaitSeconds: number };
      window: { arrivals: number };
      agents: Record<string, number | null>;
      forecast: { now: { agents: number } };
    };
    expect(last.requests.open).toBe(open.length);
    expect(last.requests.queue).toBe(open.filter((r) => r.status === 100).length);
    expect(last.requests.byStatus.assigned).toBe(open.filter((r) => r.status === 200).length);
    // The seeded unassigned request is 20 minutes old.
    expect(last.requests.longestWaitSeconds).toBeGreaterThan(19 * 60);
    expect(last.window.arrivals).toBe(2);
    // Both agents appear as participants of seeded requests: one available with 1 of 4 chats, one unavailable.
    expect(last.agents).toMatchObject({
      known: 2,
      available: 1,
      unavailable: 1,
      assigned: 1,
      capacity: 4,
      occupancy: 0.25,
    });
    expect(last.forecast.now.agents).toBe(1);
    expect(users.agent).toMatch(/^[0-9a-f]{24}$/);
    for (const text of [cli.stdout, cli.stderr]) expect(text).not.toContain(emu.token.split('.')[2]);
  });

  test('exits 2 without --project, and when a forecast option comes without --target', async () => {
    const noProject = new Cli(['metrics', '--endpoint', emu.url], { PINGSTREAMS_TOKEN: emu.token });
    expect(await noProject.exitCode()).toBe(2);
    expect(noProject.stderr).toContain('--project is required');
    const noTarget = new Cli(['metrics', '--project', emu.projectId, '--aht', '3m', '--endpoint', emu.url], {
      PINGSTREAMS_TOKEN: emu.token,
    });
    expect(await noTarget.exitCode()).toBe(2);
    expect(noTarget.stderr).toContain('--aht belongs to the forecast, which needs --target');
  });
});

describe('pingstreams emulator --simulate-queue', () => {
  test('runs a queue whose ground truth the admin API gives; metrics printed while it is paused equal it', async () => {
    const sim = new Cli([
      'emulator',
      '--port',
      '0',
      '--simulate-queue',
      '240',
      '--queue-agents',
      '3',
      '--queue-chats',
      '1',
      '--queue-aht',
      '3',
      '--queue-patience',
      '4',
    ]);
    try {
      await waitFor(
        () => /Owner token:\s+(\S+)/.test(sim.stdout) || sim.child.exitCode !== null,
        'the simulating emulator to start',
        30_000,
      );
      expect(sim.stdout).toContain('Simulating a support queue: 240 arrival(s) per minute; ground truth at ');
      const field = (label: string): string => new RegExp(`${label}:\\s+(\\S+)`).exec(sim.stdout)?.[1] ?? '';
      const adminUrl = field('Admin API');
      // The admin API takes only JSON bodies declared as such (no cross-site form posts).
      const call = async (method: string, path: string) =>
        (await (
          await fetch(
            `${adminUrl}${path}`,
            method === 'GET' ? { method } : { method, headers: { 'content-type': 'application/json' }, body: '{}' },
          )
        ).json()) as Record<string, any>;
      const cli = new Cli(
        [
          'metrics',
          '--project',
          field('Demo project id'),
          '--endpoint',
          field('WebSocket endpoint'),
          '--interval',
          '500ms',
        ],
        { PINGSTREAMS_TOKEN: field('Owner token') },
      );
      await cli.waitForLines(1);
      await new Promise((r) => setTimeout(r, 3000)); // arrivals, assignments, abandonments
      expect(await call('POST', '/simulation/pause')).toEqual({ paused: true });
      const truth = await call('GET', '/simulation');
      expect(truth.totals.arrivals).toBeGreaterThan(3);
      expect(truth.agents.known).toBe(5); // three simulated agents and the seed's two
      const printed = cli.lines.length;
      await cli.waitForLines(printed + 3);
      const last = cli.json.at(-1) as Record<string, any>;
      // Abandoned requests that arrived before the CLI subscribed are not in the snapshot (docs/metrics.md, Limits).
      const notAbandoned = (byStatus: Record<string, number>) =>
        Object.fromEntries(Object.entries(byStatus).filter(([k]) => k !== 'abandoned'));
      expect({ queue: last.requests.queue, statuses: notAbandoned(last.requests.byStatus) }).toEqual({
        queue: truth.queue,
        statuses: notAbandoned(truth.byStatus),
      });
      expect(last.requests.waiting.map((w: { id: string }) => w.id)).toEqual(
        truth.waiting.slice(0, last.requests.waiting.length),
      );
      cli.child.kill('SIGINT');
      expect(await cli.exitCode()).toBe(0);
    } finally {
      sim.child.kill('SIGINT');
      await sim.exitCode().catch(() => sim.child.kill('SIGKILL'));
    }
  });
});
