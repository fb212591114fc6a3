// End to end in real Node-RED: 5.0.7 under Node 24 (provisioned) and 4.1.8 under Node 20 (the devDependency).
// For each: the packed package installed with npm, the shipped example flows deployed through the admin API
// against the emulator, events reaching an HTTP sink (standing in for Slack) and the editor's debug sidebar,
// then the editor itself in headless Chromium. Screenshots and logs: test-artifacts/node-red/<target>/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../emulator';
import { Resources } from '../helpers/resources';
import { waitFor } from '../helpers/wait';
import {
  ARTIFACTS,
  buildAndPack,
  Comms,
  freePort,
  HttpSink,
  NodeRed,
  provision,
  REPO,
  type Json,
  type Target,
} from './node-red/harness';

jest.setTimeout(120_000);

const MODULE = '@pingstreams/node-red-pingstreams';
type Flow = Array<Record<string, Json>>;

let packDir: string;
let tarball: string;
const targets: Target[] = [];

beforeAll(async () => {
  const paths = provision('node-red', 'chromium');
  targets.push({ name: 'node-red-5', node: paths.E2E_NODE24, nodeRedDir: paths.E2E_NODE_RED_DIR });
  packDir = mkdtempSync(join(tmpdir(), 'pingstreams-pack-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  tarball = await buildAndPack(packDir, join(ARTIFACTS, 'package'));
}, 10 * 60_000);

afterAll(() => {
  if (packDir) rmSync(packDir, { recursive: true, force: true });
});

async function shot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

async function openEditor(page: Page, id: string): Promise<void> {
  await page.evaluate((nodeId) => {
    const RED = (window as Json).RED;
    RED.editor.edit(RED.nodes.node(nodeId));
  }, id);
  await page.waitForSelector('.red-ui-tray #dialog-form', { state: 'visible' });
  await page.waitForTimeout(300); // the tray slides in
}

async function closeEditor(page: Page): Promise<void> {
  await page.click('#node-dialog-cancel');
  await page.waitForSelector('.red-ui-tray', { state: 'detached' });
}

describe.each([
  ['Node-RED 5.0.7 on Node 24', () => targets[0]],
  ['Node-RED 4.1.8 on Node 20', (): Target => ({ name: 'node-red-4', node: process.execPath, nodeRedDir: REPO })],
])('%s', (_label, target) => {
  let emu: Emulator;
  let sink: HttpSink;
  let nodeRed: NodeRed;
  let comms: Comms;
  let browser: Browser | undefined;
  /** The example flows as shipped in the installed package, by file name. */
  const examples: Record<string, Flow> = {};
  const resources = new Resources();

  beforeAll(async () => {
    emu = resources.add('emulator', await startEmulator(), (e) => e.close());
    sink = resources.add('sink', new HttpSink(), (s) => s.close());
    await sink.start();
    nodeRed = resources.add(
      'Node-RED',
      new NodeRed(target(), await freePort(), {
        PINGSTREAMS_PROJECT_ID: emu.projectId,
        SLACK_WEBHOOK_URL: sink.url('/slack'),
      }),
      async (n) => {
        await n.stop();
        n.cleanup();
      },
    );
    nodeRed.install(tarball);
    nodeRed.writeSettings();
    // The examples exactly as the installed package ships them.
    const shipped = join(nodeRed.userDir, 'node_modules', MODULE, 'examples', 'node-red');
    for (const file of readdirSync(shipped))
      examples[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(shipped, file), 'utf8')) as Flow;
    await nodeRed.start();
    comms = resources.add('comms', await Comms.connect(nodeRed.url), (c) => c.close());
  }, 5 * 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await resources.closeAll();
  }, 60_000);

  test('loads the five node types, their icon and their en-US messages', async () => {
    const { body: sets } = await nodeRed.api<Array<Record<string, Json>>>('GET', '/nodes');
    const ours = sets.filter((s) => s.module === MODULE);
    expect(ours.map((s) => s.name).sort()).toEqual([
      'pingstreams-config',
      'pingstreams-in',
      'pingstreams-map',
      'pingstreams-metrics',
      'pingstreams-subscription',
    ]);
    for (const set of ours) expect(set).toMatchObject({ enabled: true, version: expect.any(String) });
    expect(ours.some((s) => s.err)).toBe(false);
    expect(ours.flatMap((s) => s.types).sort()).toEqual([
      'pingstreams in',
      'pingstreams map',
      'pingstreams metrics',
      'pingstreams subscription',
      'pingstreams-config',
    ]);

    const { body: icons } = await nodeRed.api<Record<string, string[]>>('GET', '/icons');
    expect(icons[MODULE]).toEqual(['pingstreams.svg']);
    const icon = await fetch(`${nodeRed.url}/icons/${MODULE}/pingstreams.svg`);
    expect(icon.status).toBe(200);
    expect(await icon.text()).toContain('<svg');

    const { body: catalog } = await nodeRed.api<Record<string, Json>>(
      'GET',
      `/locales/${MODULE}/pingstreams-in?lng=en-US`,
    );
    expect(catalog.kinds.messages).toBe('Messages of a request');
  });

  test('the import menu lists exactly the five Node-RED example flows, as shipped', async () => {
    const list = async (path: string): Promise<string[]> => {
      const { status, body } = await nodeRed.api<Array<string | { fn: string }>>(
        'GET',
        `/library/examples/flows/${path}`,
      );
      expect(status).toBe(200);
      const files: string[] = [];
      for (const entry of body) {
        if (typeof entry === 'string') files.push(...(await list(`${path}/${entry}`)));
        else files.push(`${path}/${entry.fn}`);
      }
      return files;
    };
    // Node-RED offers every .json under the package's examples/ folder: nothing but Node-RED flows may be there.
    const files = (await list(MODULE)).sort();
    expect(files.map((f) => f.slice(MODULE.length + 1))).toEqual([
      'node-red/follow-request-messages',
      'node-red/live-metrics-dashboard',
      'node-red/live-queue-to-debug',
      'node-red/new-request-to-slack',
      'node-red/supervisor-dashboard',
    ]);
    for (const file of files) {
      const { body } = await nodeRed.api<Flow>('GET', `/library/examples/flows/${file}`);
      expect(body).toEqual(examples[file.split('/').pop()!]);
      // Importable as is: no credentials travel with an example.
      expect(JSON.stringify(body)).not.toMatch(/"credentials"|eyJ/);
    }
  });

  /**
   * The examples that need nothing but this package (the supervisor wall needs FlowFuse Dashboard: its own e2e test,
   * test/e2e/node-red-dashboard.test.ts, installs it).
   */
  const deployable = () =>
    Object.fromEntries(
      Object.entries(examples).filter(([, nodes]) => !nodes.some((n) => String(n.type).startsWith('ui-'))),
    );

  /** The deployable examples on one tab each, sharing one connection pointed at the emulator, token as a credential. */
  function deployment(): Flow {
    const flows: Flow = [];
    let config: Record<string, Json> | undefined;
    // Each example brings its own connection (ids differ): all of them become the first one.
    const configIds = new Set(
      Object.values(deployable())
        .flat()
        .filter((n) => n.type === 'pingstreams-config')
        .map((n) => n.id),
    );
    for (const [name, nodes] of Object.entries(deployable())) {
      flows.push({ id: `tab-${name}`, type: 'tab', label: name });
      for (const node of nodes) {
        if (node.type === 'pingstreams-config')
          config ??= { ...node, endpoint: emu.url, credentials: { token: emu.tokens.owner } };
        else flows.push({ ...node, z: `tab-${name}` });
      }
    }
    for (const node of flows) if (configIds.has(node.server)) node.server = config!.id;
    return [...flows, config!];
  }

  const byName = (file: string, name: string) => examples[file].find((n) => n.name === name)!;

  test('the deployed examples turn emulator events into a Slack post, a live queue, followed messages and live figures', async () => {
    expect(Object.keys(deployable()).sort()).toEqual([
      'follow-request-messages',
      'live-metrics-dashboard',
      'live-queue-to-debug',
      'new-request-to-slack',
    ]);
    await nodeRed.deploy(deployment());
    const inNodes = Object.values(deployable())
      .flat()
      .filter((n) => n.type === 'pingstreams in');
    expect(inNodes).toHaveLength(4);
    for (const node of inNodes) {
      await waitFor(
        () => comms.statusesOf(node.id).find((s) => s.fill === 'green'),
        `green status of "${node.name}"`,
        30_000,
      );
    }
    // The metrics node shows the queue once the snapshot gave it figures.
    const metrics = byName('live-metrics-dashboard', 'Support metrics');
    await waitFor(
      () => comms.statusesOf(metrics.id).find((s) => s.fill === 'green' && /queue/.test(s.text ?? '')),
      'the metrics node showing the queue',
      30_000,
    );
    // One shared socket for the four "in" nodes, the subscription node and the metrics node.
    expect(emu.stats().clients).toBe(1);

    const request = emu.createRequest(emu.projectId, { first_text: 'My order #1234 never arrived' });
    const slack = await waitFor(() => sink.requests.find((r) => r.path === '/slack'), 'the Slack webhook call', 30_000);
    expect(slack.headers['content-type']).toMatch(/^application\/json/);
    expect(slack.body).toMatchObject({
      text: 'New support request: My order #1234 never arrived',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'New support request' } },
        { type: 'section', text: { type: 'mrkdwn', text: 'My order #1234 never arrived' } },
        {},
        {},
      ],
    });

    const queue = byName('live-queue-to-debug', 'Queue');
    await waitFor(
      () => comms.debug().find((d) => d.id === queue.id && d.msg.includes(String(request.request_id))),
      'the new request in the live queue',
      30_000,
    );

    // The "follow" example subscribed to the new request's messages.
    const follower = byName('follow-request-messages', 'Request messages');
    await waitFor(
      () => comms.statusesOf(follower.id).find((s) => /topics: 1/.test(s.text ?? '')),
      'subscription to the request messages',
      30_000,
    );
    emu.addMessage(emu.projectId, String(request.request_id), { text: 'Any news about my order?' });
    const messages = byName('follow-request-messages', 'Messages');
    const seen = await waitFor(
      () => comms.debug().find((d) => d.id === messages.id && d.msg.includes('Any news about my order?')),
      'the followed message in the debug sidebar',
      30_000,
    );
    expect(JSON.parse(seen.msg)).toMatchObject({
      method: 'CREATE',
      topic: `/${emu.projectId}/requests/${request.request_id}/messages`,
      pingstreams: { kind: 'messages' },
    });

    // Closing the request unsubscribes; the node then holds no topic.
    emu.closeRequest(emu.projectId, String(request.request_id));
    await waitFor(
      () => comms.statusesOf(follower.id).find((s) => /topics: 0/.test(s.text ?? '')),
      'unsubscribed after closing',
      30_000,
    );
    const why = byName('follow-request-messages', 'Why');
    expect(comms.debug().filter((d) => d.id === why.id)).toEqual([]);
    // Nothing in the examples made Node-RED warn or fail (the log is written by a pipe: read it last).
    const log = readFileSync(join(nodeRed.artifacts, 'node-red.log'), 'utf8');
    expect(log.split('\n').filter((line) => /\[(warn|error)\] \[/.test(line))).toEqual([]);
  });

  test('the token is never in the flows the admin API returns nor in flows.json', async () => {
    const { text } = await nodeRed.api('GET', '/flows');
    expect(text).toContain(emu.url);
    expect(text).not.toContain(emu.tokens.owner);
    const onDisk = readdirSync(nodeRed.userDir).filter((f) => /^flows.*\.json$/.test(f));
    expect(onDisk.sort()).toEqual(['flows.json', 'flows_cred.json']);
    for (const file of onDisk)
      expect(readFileSync(join(nodeRed.userDir, file), 'utf8')).not.toContain(emu.tokens.owner);
  });

  test('the editor: palette, every edit dialog, help, presets and examples, without console errors', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // A request the page cancels itself (net::ERR_ABORTED: an image of a closed tray...) is not a failure.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED')
        problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
    });
    try {
      await checkEditor(page);
    } catch (error) {
      await shot(page, nodeRed.artifacts, 'zz-failure').catch(() => undefined);
      throw error;
    }
    expect(problems).toEqual([]);
  });

  async function checkEditor(page: Page): Promise<void> {
    await page.goto(nodeRed.url, { waitUntil: 'load', timeout: 60_000 });
    const slackMap = byName('new-request-to-slack', 'Slack message');
    await page.waitForFunction((id) => !!(window as Json).RED?.nodes?.node?.(id), slackMap.id, { timeout: 60_000 });
    await page.evaluate((tab) => {
      const RED = (window as Json).RED;
      RED.actions.invoke('core:toggle-show-tips', false); // the rotating tips would cover the screenshots
      RED.workspaces.show(tab);
    }, 'tab-follow-request-messages');
    await page.waitForTimeout(500);

    // Palette: our category and its four nodes.
    const palette = await page.$$eval('.red-ui-palette-node[data-palette-type^="pingstreams"]', (els) =>
      els.map((e) => e.getAttribute('data-palette-type')),
    );
    expect(palette.sort()).toEqual([
      'pingstreams in',
      'pingstreams map',
      'pingstreams metrics',
      'pingstreams subscription',
    ]);
    // The palette filter reacts to key strokes.
    await page.click('#red-ui-palette-search input');
    await page.keyboard.type('pingstreams');
    await page.waitForFunction(
      () =>
        !(document.querySelector('.red-ui-palette-node[data-palette-type="inject"]') as HTMLElement | null)
          ?.offsetParent,
    );
    await shot(page, nodeRed.artifacts, '01-workspace-and-palette');
    await page.fill('#red-ui-palette-search input', '');
    await page.keyboard.press('Backspace');

    // The "in" node: translated labels, five topic kinds, the id fields of the chosen kind only.
    const newRequests = byName('follow-request-messages', 'New requests');
    await openEditor(page, newRequests.id);
    expect((await page.textContent('label[for="node-input-kind"]'))?.trim()).toBe('Topic');
    expect(await page.$$eval('#node-input-kind option', (els) => els.map((e) => e.textContent))).toEqual([
      'Requests of a project',
      'One request',
      'Messages of a request',
      'An agent',
      'Custom topic',
    ]);
    expect(await page.isVisible('#pingstreams-in-row-projectId')).toBe(true);
    expect(await page.isVisible('#pingstreams-in-row-requestId')).toBe(false);
    await page.selectOption('#node-input-kind', 'messages');
    expect(await page.isVisible('#pingstreams-in-row-requestId')).toBe(true);
    await page.selectOption('#node-input-kind', 'requests');
    await shot(page, nodeRed.artifacts, '02-edit-pingstreams-in');
    await closeEditor(page);

    // The subscription node.
    await openEditor(page, byName('follow-request-messages', 'Request messages').id);
    expect(await page.isChecked('#node-input-methodUpdate')).toBe(true);
    await shot(page, nodeRed.artifacts, '03-edit-pingstreams-subscription');
    await closeEditor(page);

    // The map node: presets come from the runtime; choosing one fills the expression.
    await openEditor(page, slackMap.id);
    await page.waitForFunction(
      () => (document.querySelector('#pingstreams-map-presets-ready') as HTMLInputElement | null)?.value === '1',
    );
    expect(await page.$$eval('#node-input-preset option', (els) => els.map((e) => e.getAttribute('value')))).toEqual([
      'custom',
      'slackNewRequest',
      'slackClosedRequest',
      'requestSummary',
    ]);
    expect(await page.inputValue('#node-input-preset')).toBe('slackNewRequest');
    await page.selectOption('#node-input-preset', 'slackClosedRequest');
    const expression = await page.evaluate(
      () => (window as Json).$('#node-input-expression').typedInput('value') as string,
    );
    expect(expression).toContain('Support request closed');
    await shot(page, nodeRed.artifacts, '04-edit-pingstreams-map');
    await closeEditor(page);

    // The metrics node.
    await openEditor(page, byName('live-metrics-dashboard', 'Support metrics').id);
    await shot(page, nodeRed.artifacts, '04b-edit-pingstreams-metrics');
    await closeEditor(page);

    // The connection: the editor only ever holds a placeholder for the token.
    const configId = Object.values(examples)
      .flat()
      .find((n) => n.type === 'pingstreams-config')!.id;
    await page.evaluate((id) => (window as Json).RED.editor.editConfig('', 'pingstreams-config', id), configId);
    await page.waitForSelector('#node-config-input-token', { state: 'visible' });
    await page.waitForTimeout(300);
    expect(await page.getAttribute('#node-config-input-token', 'type')).toBe('password');
    const tokenField = await page.inputValue('#node-config-input-token');
    expect(tokenField).not.toContain(emu.tokens.owner);
    // ws:// to this machine needs no opt-in; ws:// elsewhere shows the box.
    expect(await page.isVisible('#pingstreams-config-insecure-row')).toBe(false);
    await page.fill('#node-config-input-endpoint', 'ws://support.example.com/');
    expect(await page.isVisible('#pingstreams-config-insecure-row')).toBe(true);
    await shot(page, nodeRed.artifacts, '05-edit-pingstreams-config');
    await page.click('#node-config-dialog-cancel');
    await page.waitForSelector('.red-ui-tray', { state: 'detached' });

    // Live status in the workspace.
    const status = await page.evaluate((id) => (window as Json).RED.nodes.node(id).status, newRequests.id);
    expect(status).toMatchObject({ fill: 'green', shape: 'dot' });
    expect(status.text).toMatch(/^connected · events: \d+$/);

    // Sidebar help of every node.
    const titles = {
      'pingstreams in': 'pingstreams in',
      'pingstreams subscription': 'pingstreams subscription',
      'pingstreams map': 'pingstreams map',
      'pingstreams metrics': 'pingstreams metrics',
      'pingstreams-config': 'Pingstreams connection',
    };
    for (const [type, title] of Object.entries(titles)) {
      await page.evaluate((t) => (window as Json).RED.sidebar.help.show(t), type);
      await page.waitForFunction((t) => {
        const help = document.querySelector('.red-ui-sidebar-help-stack') as HTMLElement | null;
        return !!help && help.innerText.includes(t) && help.innerText.includes('Properties');
      }, title);
      expect(await page.innerText('.red-ui-sidebar-help-stack')).not.toMatch(/undefined|__\w+__/);
    }
    await page.evaluate(() => (window as Json).RED.sidebar.help.show('pingstreams in'));
    await page.waitForTimeout(300);
    await shot(page, nodeRed.artifacts, '06-help-pingstreams-in');

    // Import > Examples shows our flows.
    await page.evaluate(() => (window as Json).RED.actions.invoke('core:show-examples-import-dialog'));
    await page.waitForSelector('#red-ui-clipboard-dialog', { state: 'visible' });
    const labels = '#red-ui-clipboard-dialog .red-ui-treeList-label';
    await page.locator(labels, { hasText: MODULE }).first().click();
    // Our module's "node-red" folder, the label right after the module's once it has opened: Node-RED 4 lists its
    // own examples under a "node-red" module too, which a search by text finds while ours is still being drawn.
    const folder = await page.waitForFunction(
      ([selector, module]) => {
        const texts = Array.from(document.querySelectorAll(selector), (label) => label.textContent?.trim());
        const at = texts.indexOf(module);
        return at >= 0 && texts[at + 1] === 'node-red' ? at + 1 : undefined;
      },
      [labels, MODULE] as const,
    );
    await page
      .locator(labels)
      .nth((await folder.jsonValue()) as number)
      .click();
    await page
      .locator('#red-ui-clipboard-dialog .red-ui-treeList-label', { hasText: 'new-request-to-slack' })
      .first()
      .waitFor();
    await shot(page, nodeRed.artifacts, '07-import-examples');
    await page.keyboard.press('Escape');
  }

  test('Node-RED stops within its grace period and the socket to the server closes', async () => {
    comms.close();
    const stopped = await nodeRed.stop(20_000);
    expect(stopped.killed).toBe(false);
    await waitFor(() => emu.stats().clients === 0, 'socket closed', 15_000);
  });
});
