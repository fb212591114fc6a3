// The supervisor wall example on FlowFuse Dashboard 2.0 in a real Node-RED 5 (provisioned, Node 24): the packed
// package and @flowfuse/node-red-dashboard from the npm registry installed into its user directory, the example
// deployed as shipped against the emulator's queueing simulation, /dashboard opened in headless Chromium; the numbers
// shown equal the ground truth (queue exact, longest wait within 2 s) before and after a network cut; no console
// error. Screenshots: test-artifacts/node-red/dashboard/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../emulator';
import { Resources } from '../helpers/resources';
import { sleep, waitForAsync } from '../helpers/wait';
import { ARTIFACTS, buildAndPack, freePort, NodeRed, provision, type Json } from './node-red/harness';

jest.setTimeout(120_000);

const MODULE = '@pingstreams/node-red-pingstreams';
const DASHBOARD = '@flowfuse/node-red-dashboard@1';
const resources = new Resources();
let emu: Emulator;
let nodeRed: NodeRed;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  const paths = provision('node-red', 'chromium');
  mkdirSync(ARTIFACTS, { recursive: true }); // the build and pack logs go there
  const packDir = mkdtempSync(join(tmpdir(), 'pingstreams-pack-'));
  resources.defer('pack dir', () => rmSync(packDir, { recursive: true, force: true }));
  const tarball = await buildAndPack(packDir, join(ARTIFACTS, 'dashboard-package'));
  emu = resources.add(
    'emulator',
    await startEmulator({
      simulate: {
        ratePerSecond: 1,
        randomSeed: 33,
        queue: {
          arrivalsPerMinute: 40,
          ahtSeconds: 8,
          firstResponseSeconds: 2,
          patienceSeconds: 30,
          chatsPerAgent: 2,
          agents: 3,
          availabilityChangesPerMinute: 4,
          abandonedCloseMs: 1_000,
        },
      },
    }),
    (e) => e.close(),
  );
  nodeRed = resources.add(
    'Node-RED',
    new NodeRed({ name: 'dashboard', node: paths.E2E_NODE24, nodeRedDir: paths.E2E_NODE_RED_DIR }, await freePort(), {
      PINGSTREAMS_PROJECT_ID: emu.projectId,
    }),
    async (n) => {
      await n.stop();
      n.cleanup();
    },
  );
  // The companion comes from the registry, as a user installs it from the palette.
  nodeRed.install(tarball, DASHBOARD);
  nodeRed.writeSettings();
  await nodeRed.start();
  const shipped = JSON.parse(
    readFileSync(
      join(nodeRed.userDir, 'node_modules', MODULE, 'examples', 'node-red', 'supervisor-dashboard.json'),
      'utf8',
    ),
  ) as Json[];
  // As shipped, with the connection pointed at the emulator and the token as a credential.
  const tab = { id: 'tab-supervisor', type: 'tab', label: 'Supervisor wall' };
  const flows = shipped.map((n) => {
    if (n.type === 'pingstreams-config') return { ...n, endpoint: emu.url, credentials: { token: emu.tokens.owner } };
    return n.x !== undefined ? { ...n, z: tab.id } : n;
  });
  await nodeRed.deploy([tab, ...flows]);
  browser = resources.add(
    'chromium',
    await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
    }),
    (b) => b.close(),
  );
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: 'light' });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}, 8 * 60_000);

afterAll(() => resources.closeAll(), 60_000);

/** The text each widget shows, by its class name in the example. */
async function texts(): Promise<Record<string, string>> {
  return page.evaluate(() => {
    const out: Record<string, string> = {};
    for (const el of Array.from(document.querySelectorAll('[class*="pingstreams-"]'))) {
      const name = Array.from(el.classList).find((c) => c.startsWith('pingstreams-'));
      if (name && !(name in out)) out[name] = (el as HTMLElement).innerText.trim();
    }
    return out;
  });
}

/** The value a widget shows: its last number past the label line (a gauge shows its min and max first). */
const numberIn = (text: string | undefined): number | null => {
  const all = (text ?? '').replace(/^[^\n]*\n/, '').match(/-?\d+(?:\.\d+)?/g);
  return all ? Number(all[all.length - 1]) : null;
};

async function expectTruth(label: string): Promise<void> {
  const sim = emu.simulation!;
  sim.pause();
  try {
    let shown: Record<string, string> = {};
    const deadline = Date.now() + 20_000;
    for (;;) {
      shown = await texts();
      if (numberIn(shown['pingstreams-queue']) === sim.truth().queue) break;
      if (Date.now() > deadline) expect({ label, shown }).toEqual({ label, queue: sim.truth().queue });
      await sleep(300);
    }
    const truth = sim.truth();
    console.log(
      `${label}: queue ${truth.queue} shown = truth; longest wait shown ${shown['pingstreams-longest-wait']?.replace(/\s+/g, ' ')}, truth ${truth.longestWaitSeconds}`,
    );
    if (truth.longestWaitSeconds !== null) {
      // The node sends every 2 s at most, and the text shows seconds with decimals: within 2 s + that gap.
      await waitForAsync(
        async () => {
          const wait = numberIn((await texts())['pingstreams-longest-wait']);
          return wait !== null && Math.abs(wait - sim.truth().longestWaitSeconds!) <= 2;
        },
        `${label}: the longest wait within 2 s of the truth`,
        10_000,
      );
    }
    // The waiting table: the oldest waiting request first.
    const requestIdOf = new Map(emu.getRequests(emu.projectId).map((r) => [r._id, r.request_id]));
    if (truth.waiting.length)
      await waitForAsync(
        async () => (await texts())['pingstreams-waiting']?.includes(String(requestIdOf.get(truth.waiting[0]))),
        `${label}: the oldest waiting request in the table`,
        10_000,
      );
  } finally {
    sim.resume();
  }
}

test('the supervisor wall shows the ground truth before and after a network cut, without console errors', async () => {
  await page.goto(`${nodeRed.url}/dashboard/supervisor`, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForSelector('.pingstreams-queue', { timeout: 60_000 });
  await waitForAsync(
    async () => numberIn((await texts())['pingstreams-agents-online']) !== null,
    'the figures on the wall',
    30_000,
  );
  await sleep(6_000); // a few points on the charts
  await expectTruth('before the cut');
  await page.screenshot({ path: join(nodeRed.artifacts, 'supervisor-wall-light.png'), fullPage: true });

  emu.faults.dropAll();
  await sleep(3_000);
  await expectTruth('after the cut');
  const shown = await texts();
  expect(Object.keys(shown).sort()).toEqual(
    [
      'agents',
      'agents-online',
      'agents-required',
      'chart-arrivals',
      'chart-wait',
      'latest',
      'longest-wait',
      'queue',
      'service-level',
      'shortfall',
      'waiting',
    ].map((k) => `pingstreams-${k}`),
  );
  expect(shown['pingstreams-agents']).toMatch(/available|busy|unavailable/);
  // The latest new request, from `pingstreams in`: its first text (the simulation's customers all say this).
  expect(shown['pingstreams-latest']).toMatch(/Hello, I need some help\./);
  expect(problems).toEqual([]);

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
  try {
    await phone.goto(`${nodeRed.url}/dashboard/supervisor`, { waitUntil: 'load' });
    await phone.waitForSelector('.pingstreams-queue', { timeout: 30_000 });
    await sleep(3_000);
    await phone.screenshot({ path: join(nodeRed.artifacts, 'supervisor-wall-phone.png'), fullPage: true });
  } finally {
    await phone.close();
  }
  // Nothing in the example made Node-RED warn or fail, beyond the cut this test made.
  const log = readFileSync(join(nodeRed.artifacts, 'node-red.log'), 'utf8');
  const warnings = log.split('\n').filter((line) => /\[(warn|error)\] \[/.test(line));
  expect(
    warnings.filter(
      (line) =>
        !/\[pingstreams-config:Pingstreams\] The Pingstreams connection closed \(1006\); reconnecting\.$/.test(line),
    ),
  ).toEqual([]);
});
