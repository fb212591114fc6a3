// Runs a real Node-RED (the version provision.sh installs, under Node 24) the way a user would: the packed
// package installed with npm into a fresh user directory, `node-red -u <dir> -p <port>` on loopback, flows
// deployed through the admin API, the editor's comms websocket read for statuses and debug messages.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { buildAndPackPackage, REPO } from '../n8n/harness';

// Generic e2e pieces (build and pack, free port, HTTP sink) are shared with the n8n harness.
export { freePort, HttpSink, REPO } from '../n8n/harness';

/** The Node-RED package (@pingstreams/node-red-pingstreams): what a Node-RED user installs. */
export function buildAndPack(outDir: string, log: string): Promise<string> {
  return buildAndPackPackage('node-red', outDir, log);
}
export const ARTIFACTS = join(REPO, 'test-artifacts', 'node-red');

/** Admin API answers and comms payloads are free-form JSON. */
export type Json = any;

export type Paths = Record<'E2E_NODE24' | 'E2E_NODE24_DIR' | 'E2E_NODE_RED_DIR', string>;

/** Which Node-RED to run, on which Node. */
export interface Target {
  /** Short name, also the artifacts sub-folder: node-red-5, node-red-4. */
  name: string;
  /** The node binary. */
  node: string;
  /** A folder holding node_modules/node-red. */
  nodeRedDir: string;
}

/** Installs Node 24, Node-RED and chromium once (cached by the script); returns the paths it prints. */
export function provision(...what: Array<'node-red' | 'chromium'>): Paths {
  const paths: Record<string, string> = {};
  for (const part of what) {
    const result = spawnSync('bash', [join(REPO, 'scripts/e2e/provision.sh'), part], {
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    if (result.status !== 0)
      throw new Error(
        `provision.sh ${part} failed (${result.status ?? result.signal}):\n${(result.stderr ?? '').slice(-3000)}`,
      );
    for (const line of result.stdout.split('\n')) {
      const match = /^(E2E_[A-Z0-9_]+)=(.*)$/.exec(line);
      if (match) paths[match[1]] = match[2];
    }
  }
  if (!paths.E2E_NODE24 || !paths.E2E_NODE_RED_DIR)
    throw new Error(`provision.sh printed no paths: ${JSON.stringify(paths)}`);
  return paths as Paths;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; log: string },
): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
  writeFileSync(
    options.log,
    `$ ${command} ${args.join(' ')}\n${result.stdout ?? ''}\n--- stderr ---\n${result.stderr ?? ''}`,
  );
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}): see ${options.log}\n${(result.stderr ?? '').slice(-2000)}`,
    );
  }
  return result.stdout;
}

/** What the editor receives on its comms websocket: node statuses and debug-sidebar messages. */
export interface CommsMessage {
  topic: string;
  data: Json;
}

export class Comms {
  readonly messages: CommsMessage[] = [];
  private constructor(private readonly ws: WebSocket) {}

  static async connect(baseUrl: string): Promise<Comms> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/comms`);
    const comms = new Comms(ws);
    ws.on('message', (data) => {
      for (const message of JSON.parse(data.toString()) as CommsMessage[]) comms.messages.push(message);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ subscribe: '#' }));
    return comms;
  }

  statusesOf(nodeId: string): Array<{ fill?: string; shape?: string; text?: string }> {
    return this.messages.filter((m) => m.topic === `status/${nodeId}`).map((m) => m.data ?? {});
  }

  debug(): Array<{ id: string; name?: string; msg: string; format: string }> {
    return this.messages.filter((m) => m.topic === 'debug').map((m) => m.data);
  }

  close(): void {
    this.ws.terminate();
  }
}

export class NodeRed {
  readonly userDir: string;
  readonly url: string;
  private process?: ChildProcess;
  private exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly credentialSecret = `e2e-${Math.random().toString(36).slice(2)}`;

  readonly artifacts: string;

  constructor(
    private readonly target: Target,
    readonly port: number,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.artifacts = join(ARTIFACTS, target.name);
    mkdirSync(this.artifacts, { recursive: true });
    this.userDir = mkdtempSync(join(tmpdir(), 'pingstreams-node-red-'));
    this.url = `http://127.0.0.1:${port}`;
  }

  private get env(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(npm_|JEST|NODE_OPTIONS$|NODE_PATH$|NODE_RED_|HTTPS?_PROXY$|https?_proxy$)/i.test(key),
      ),
    );
    return {
      ...inherited,
      PATH: `${dirname(this.target.node)}:${process.env.PATH ?? ''}`,
      NO_PROXY: '127.0.0.1,localhost',
      ...this.extraEnv,
    };
  }

  /** What a user does: `npm install <package> [companions...]` in the Node-RED user directory (with the target's node first on PATH). */
  install(tarball: string, ...companions: string[]): void {
    writeFileSync(
      join(this.userDir, 'package.json'),
      JSON.stringify({ name: 'node-red-project', private: true, dependencies: {} }, null, 2),
    );
    run('npm', ['install', tarball, ...companions, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: this.userDir,
      env: this.env,
      timeoutMs: 5 * 60_000,
      log: join(this.artifacts, 'npm-install.log'),
    });
  }

  writeSettings(): void {
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: this.port,
      flowFile: 'flows.json',
      credentialSecret: this.credentialSecret,
      logging: { console: { level: 'info', metrics: false, audit: false } },
      telemetry: { enabled: false, updateNotification: false },
      diagnostics: { enabled: false, ui: false },
      externalModules: { autoInstall: false, palette: { allowInstall: false, allowUpload: false } },
      editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
    };
    writeFileSync(join(this.userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  }

  async start(readyTimeoutMs = 90_000): Promise<void> {
    const log = createWriteStream(join(this.artifacts, 'node-red.log'));
    const bin = join(this.target.nodeRedDir, 'node_modules', 'node-red', 'red.js');
    const child = spawn(
      this.target.node,
      [bin, '-u', this.userDir, '-p', String(this.port), '-s', join(this.userDir, 'settings.js')],
      {
        cwd: this.userDir,
        env: this.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.process = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        log.end(`\n[harness] node-red exited (${code ?? signal})\n`);
        resolve({ code, signal });
      }),
    );
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(
          `Node-RED exited during start-up (${child.exitCode}); see ${join(this.artifacts, 'node-red.log')}`,
        );
      try {
        const res = await fetch(`${this.url}/settings`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`Node-RED was not ready within ${readyTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async api<T = Json>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; text: string }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T, text };
  }

  /** Full deploy through the admin API, as the editor's Deploy button does. */
  async deploy(flows: unknown[]): Promise<void> {
    const res = await this.api('POST', '/flows', flows, {
      'Node-RED-Deployment-Type': 'full',
      'Node-RED-API-Version': 'v1',
    });
    if (res.status !== 204 && res.status !== 200) throw new Error(`POST /flows answered ${res.status}: ${res.text}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how long the stop took. */
  async stop(
    graceMs = 20_000,
  ): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    const child = this.process;
    if (!child || !this.exited) return { ms: 0, code: null, signal: null, killed: false };
    const started = Date.now();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    const result = await this.exited;
    clearTimeout(timer);
    this.process = undefined;
    return { ms: Date.now() - started, ...result, killed };
  }

  cleanup(): void {
    rmSync(this.userDir, { recursive: true, force: true });
  }
}
