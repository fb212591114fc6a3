// The `pingstreams dashboard` page in headless Chromium (Debian's, through playwright-core) while the emulator runs
// its queueing simulation: the numbers the page shows equal the ground truth (queue exact, longest wait within 2 s)
// before and after a network cut, the page rides out a restart of the CLI by itself, and it logs no error.
// Then its update cost under 10,000 events a minute: frame times and heap (DASHBOARD_SOAK_MINUTES for a longer run).
// Screenshots in light and dark, desktop and phone: test-artifacts/dashboard/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../emulator';
import { Cli, ensureBuilt, ROOT } from '../helpers/cli';
import { Resources } from '../helpers/resources';
import { sleep } from '../helpers/wait';
import { freePort } from './n8n/harness';

const SOAK_MINUTES = Number(process.env.DASHBOARD_SOAK_MINUTES ?? 0);
jest.setTimeout(180_000 + SOAK_MINUTES * 60_000);

const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const resources = new Resources();
afterAll(() => resources.closeAll(), 60_000);

let browser: Browser;

beforeAll(async () => {
  ensureBuilt();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = resources.add(
    'chromium',
    await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
    }),
    (b) => b.close(),
  );
}, 60_000);

/** `pingstreams dashboard` as a user runs it, on a fixed port (so a restart is the same address). */
async function startCli(emu: Emulator, port: number): Promise<Cli> {
  const agents = emu.simulation!.truth().agentIds.flatMap((id) => ['--agent', id]);
  const cli = resources.add(
    'dashboard CLI',
    new Cli(['dashboard', '--project', emu.projectId, '--endpoint', emu.url, '--port', String(port), ...agents], {
      PINGSTREAMS_TOKEN: emu.tokens.owner,
    }),
    async (c) => {
      if (c.child.exitCode === null) c.child.kill('SIGKILL');
      await c.exited;
    },
  );
  await cli.waitForStderr(/watching/, 20_000);
  return cli;
}

async function stopCli(cli: Cli): Promise<void> {
  cli.child.kill('SIGINT');
  expect(await cli.exitCode(10_000)).toBe(0);
}

/** A page that records every console error and page error, and the badge's states as they change. */
async function openPage(context: BrowserContext, url: string, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 20_000 });
  await page.evaluate(() => {
    const w = window as any;
    w.__states = [];
    const badge = document.querySelector('#connection')!;
    new MutationObserver(() => w.__states.push(badge.getAttribute('data-state'))).observe(badge, {
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
  return page;
}

/** "21m 04s", "37s", "1h 02m" as seconds; null for "–". */
function seconds(text: string): number | null {
  let m = /^(\d+)h (\d+)m$/.exec(text);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60;
  m = /^(\d+)m (\d+)s$/.exec(text);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  m = /^(\d+)s$/.exec(text);
  return m ? Number(m[1]) : null;
}

async function shown(
  page: Page,
): Promise<{ queue: number; longestWait: number | null; waiting: string[]; at: number }> {
  return page
    .evaluate(() => ({
      queue: Number(document.querySelector('[data-metric="queue"]')!.textContent),
      longestWait: document.querySelector('[data-metric="longest-wait"]')!.textContent!,
      waiting: Array.from(document.querySelectorAll('#waiting tbody tr td:first-child')).map((td) => td.textContent!),
      at: Date.now(),
    }))
    .then((v) => ({ ...v, longestWait: seconds(v.longestWait) }));
}

/** Pauses the queue; waits until the page shows its truth; compares the queue, the order and the longest wait. */
async function expectPageEqualsTruth(
  emu: Emulator,
  page: Page,
  label: string,
): Promise<{ queue: number; waitError: number | null }> {
  const sim = emu.simulation!;
  sim.pause();
  try {
    await sleep(1_500); // one push of the paused state
    let last: Awaited<ReturnType<typeof shown>> | undefined;
    const deadline = Date.now() + 15_000;
    for (;;) {
      last = await shown(page);
      if (last.queue === sim.truth().queue) break;
      if (Date.now() > deadline) expect({ label, queue: last.queue }).toEqual({ label, queue: sim.truth().queue });
      await sleep(200);
    }
    const truth = sim.truth(last.at);
    const requestIdOf = new Map(emu.getRequests(emu.projectId).map((r) => [r._id, r.request_id]));
    expect(last.waiting).toEqual(truth.waiting.slice(0, last.waiting.length).map((id) => requestIdOf.get(id)));
    if (truth.longestWaitSeconds === null) {
      expect(last.longestWait).toBeNull();
      return { queue: last.queue, waitError: null };
    }
    const waitError = Math.abs(last.longestWait! - truth.longestWaitSeconds);
    expect({ label, waitError: waitError <= 2 }).toEqual({ label, waitError: true });
    return { queue: last.queue, waitError };
  } finally {
    sim.resume();
  }
}

const VIEWS: Array<[string, { width: number; height: number }]> = [
  ['desktop', { width: 1440, height: 900 }],
  ['phone', { width: 390, height: 844 }],
];

test('shows the ground truth before and after a network cut, rides out a restart of the CLI, and logs no error', async () => {
  const emu = resources.add(
    'emulator',
    await startEmulator({
      simulate: {
        ratePerSecond: 1,
        randomSeed: 21,
        queue: {
          arrivalsPerMinute: 60,
          ahtSeconds: 8,
          firstResponseSeconds: 2,
          patienceSeconds: 25,
          chatsPerAgent: 2,
          agents: 3,
          availabilityChangesPerMinute: 6,
          abandonedCloseMs: 1_000,
        },
      },
    }),
    (e) => e.close(),
  );
  const port = await freePort();
  let cli = await startCli(emu, port);
  const url = `http://127.0.0.1:${port}/`;
  const problems: string[] = [];
  const context = resources.add(
    'context',
    await browser.newContext({ viewport: VIEWS[0][1], colorScheme: 'light' }),
    (c) => c.close(),
  );
  const page = await openPage(context, url, problems);
  await sleep(4_000); // a few points on the charts

  const before = await expectPageEqualsTruth(emu, page, 'before the cut');
  console.log(`before the cut: queue ${before.queue} shown = truth; longest wait off by ${before.waitError ?? '-'} s`);

  // The cut: the badge leaves "connected", comes back, and the page equals the truth again.
  emu.faults.dropAll();
  // In the page: waitFor's check is synchronous (a promise would count as true at once).
  await page.waitForFunction(() => (window as any).__states.includes('connected'), undefined, { timeout: 20_000 });
  expect(await page.evaluate(() => (window as any).__states[0])).toMatch(/^(reconnecting|connecting)$/);
  const after = await expectPageEqualsTruth(emu, page, 'after the cut');
  console.log(`after the cut: queue ${after.queue} shown = truth; longest wait off by ${after.waitError ?? '-'} s`);
  expect(problems).toEqual([]);

  // The CLI restarts: the page says the server is unreachable, then reconnects by itself.
  await stopCli(cli);
  await page.waitForSelector('#connection[data-state="server-unreachable"]', { timeout: 10_000 });
  expect(await page.textContent('#connection')).toBe('Dashboard server not reachable: retrying');
  await page.screenshot({ path: join(ARTIFACTS, 'server-unreachable.png') });
  cli = await startCli(emu, port);
  await page.waitForSelector('#connection[data-state="connected"]', { timeout: 15_000 });
  await expectPageEqualsTruth(emu, page, 'after the restart');
  // While the server was away, the browser logged its refused reconnection attempts: those only.
  const unexpected = problems.filter(
    (p) => !/Failed to load resource: net::ERR_CONNECTION_REFUSED|\/events.*ERR_CONNECTION_REFUSED/.test(p),
  );
  expect(unexpected).toEqual([]);

  // Light and dark, desktop and phone.
  for (const scheme of ['light', 'dark'] as const) {
    for (const [name, viewport] of VIEWS) {
      const c = await browser.newContext({ viewport, colorScheme: scheme, deviceScaleFactor: 1 });
      try {
        const p = await openPage(c, url, problems);
        await sleep(1_500);
        await p.screenshot({ path: join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: name === 'phone' });
        // Nothing spills sideways on a phone.
        const overflow = await p.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        );
        expect({ name, scheme, overflow }).toEqual({ name, scheme, overflow: 0 });
      } finally {
        await c.close();
      }
    }
  }
  expect(problems.filter((p) => !/ERR_CONNECTION_REFUSED/.test(p))).toEqual([]);
  await stopCli(cli);
});

test('10,000 events a minute: the page stays responsive and its heap flat', async () => {
  const emu = resources.add(
    'busy emulator',
    await startEmulator({
      simulate: {
        ratePerSecond: 1,
        randomSeed: 5,
        // About 2,500 arrivals a minute, each created, assigned, answered and closed on /P/requests: 10,000 events.
        queue: {
          arrivalsPerMinute: 2_700,
          ahtSeconds: 2,
          firstResponseSeconds: 0.5,
          patienceSeconds: 10,
          chatsPerAgent: 4,
          agents: 60,
          availabilityChangesPerMinute: 30,
          abandonedCloseMs: 500,
          tickMs: 50,
        },
      },
    }),
    (e) => e.close(),
  );
  const port = await freePort();
  const cli = await startCli(emu, port);
  const problems: string[] = [];
  const context = resources.add(
    'busy context',
    await browser.newContext({ viewport: { width: 1920, height: 1080 }, colorScheme: 'dark' }),
    (c) => c.close(),
  );
  const page = await openPage(context, `http://127.0.0.1:${port}/`, problems);
  const cdp = await context.newCDPSession(page);
  const heap = async (): Promise<number> => {
    await cdp.send('HeapProfiler.collectGarbage');
    return ((await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
  };
  // Frame intervals (requestAnimationFrame) and long tasks, recorded in the page.
  await page.evaluate(() => {
    const w = window as any;
    w.__frames = [];
    w.__long = [];
    let last = performance.now();
    const loop = (t: number) => {
      w.__frames.push(t - last);
      last = t;
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__long.push(e.duration))).observe({
      type: 'longtask',
      buffered: false,
    });
  });
  const totalsAt = () => emu.simulation!.truth().totals;
  const start = { at: Date.now(), totals: totalsAt(), framesSent: emu.stats().framesSent };
  await sleep(10_000); // warm-up: the charts fill, the JIT settles
  const heapStart = await heap();
  const minutes = SOAK_MINUTES || 1;
  const samples: number[] = [heapStart];
  const runUntil = Date.now() + minutes * 60_000 - 10_000;
  while (Date.now() < runUntil) {
    await sleep(Math.min(15_000, Math.max(0, runUntil - Date.now())));
    samples.push(await heap());
  }
  const heapEnd = samples[samples.length - 1];
  const elapsedMin = (Date.now() - start.at) / 60_000;
  const totals = totalsAt();
  // Events on the open-requests topic: a create, an assignment, a reply, a close (or an abandonment and a close).
  const requestEvents =
    totals.arrivals -
    start.totals.arrivals +
    (totals.assigned - start.totals.assigned) +
    (totals.firstResponses - start.totals.firstResponses) +
    (totals.closed - start.totals.closed) +
    (totals.abandoned - start.totals.abandoned);
  const framesSent = emu.stats().framesSent - start.framesSent;
  const frames = await page.evaluate(() => ((window as any).__frames as number[]).slice(5));
  const long = await page.evaluate(() => (window as any).__long as number[]);
  const sorted = [...frames].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const report = {
    minutes: Math.round(elapsedMin * 10) / 10,
    requestEventsPerMinute: Math.round(requestEvents / elapsedMin),
    framesSentByServerPerMinute: Math.round(framesSent / elapsedMin),
    frames: frames.length,
    frameMs: {
      p50: round(pct(0.5)),
      p95: round(pct(0.95)),
      p99: round(pct(0.99)),
      max: round(sorted[sorted.length - 1]),
    },
    longTasks: long.length,
    longestTaskMs: round(Math.max(0, ...long)),
    heapMB: samples.map((b) => round(b / 1e6)),
  };
  console.log(`dashboard page under load: ${JSON.stringify(report)}`);
  await page.screenshot({ path: join(ARTIFACTS, 'under-load.png') });

  expect(report.requestEventsPerMinute).toBeGreaterThan(8_000);
  // Responsive: 95% of frames within 50 ms (20 fps), none of the page's tasks above 200 ms.
  expect(report.frameMs.p95).toBeLessThan(50);
  expect(report.longestTaskMs).toBeLessThan(200);
  // Flat: the heap after GC grows by less than 3 MB over the run (the charts keep at most 1,800 points).
  expect(heapEnd - heapStart).toBeLessThan(3e6);
  expect(problems).toEqual([]);
  await stopCli(cli);
});

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
