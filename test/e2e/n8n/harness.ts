// Runs a real n8n (the version provision.sh installs, under Node 24) the way a self-hosting user would:
// the packed package installed with npm into ~/.n8n/nodes (where n8n 2.x scans for community
// packages at startup), credentials and workflows imported and published with the n8n CLI,
// then `n8n start` on loopback. Every process is killed and every temp file removed at the end.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const REPO = join(__dirname, '..', '..', '..');
export const ARTIFACTS = join(REPO, 'test-artifacts');

export interface E2EPaths {
  E2E_NODE24: string;
  E2E_NODE24_DIR: string;
  E2E_N8N_DIR: string;
  /** With 'queue': PostgreSQL's bin folder, redis-server, and the user they run as when the tests run as root. */
  E2E_PG_BIN?: string;
  E2E_REDIS_SERVER?: string;
  E2E_SERVICE_USER?: string;
}

/** Installs Node 24 and n8n once (cached), with 'queue' also PostgreSQL and Redis; returns their paths. */
export function provision(what: 'n8n' | 'queue'): E2EPaths {
  const result = spawnSync('bash', [join(REPO, 'scripts/e2e/provision.sh'), what], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0)
    throw new Error(`provision.sh ${what} failed (${result.status ?? result.signal}):\n${result.stderr.slice(-3000)}`);
  const paths = Object.fromEntries(
    result.stdout
      .split('\n')
      .filter((line) => /^E2E_[A-Z0-9_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  ) as unknown as E2EPaths;
  if (!paths.E2E_NODE24 || !paths.E2E_N8N_DIR) throw new Error(`provision.sh printed no paths:\n${result.stdout}`);
  return paths;
}

interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  log?: string;
}

function failure(command: string, args: string[], status: string, stdout: string, stderr: string): Error {
  return new Error(`${command} ${args.join(' ')} failed (${status}):\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);
}

/** Blocking: only for steps that need nothing from this process (the emulator and the sink live here). */
function runSync(command: string, args: string[], options: RunOptions): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (options.log)
    writeFileSync(
      options.log,
      `$ ${command} ${args.join(' ')}\n${result.stdout ?? ''}\n--- stderr ---\n${result.stderr ?? ''}`,
    );
  if (result.status !== 0)
    throw failure(
      command,
      args,
      `${result.status ?? result.signal}${result.error ? `, ${result.error.message}` : ''}`,
      result.stdout ?? '',
      result.stderr ?? '',
    );
  return result.stdout;
}

/** Non-blocking, so the emulator in this process keeps serving the command's connections. */
function run(command: string, args: string[], options: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL'); // a task runner the command may have left behind
      // A log that cannot be written (its folder missing) must not leave the promise unsettled: the run would hang.
      if (options.log) {
        try {
          mkdirSync(dirname(options.log), { recursive: true });
          writeFileSync(options.log, `$ ${command} ${args.join(' ')}\n${stdout}\n--- stderr ---\n${stderr}`);
        } catch (error) {
          stderr += `\n(could not write ${options.log}: ${(error as Error).message})`;
        }
      }
      if (code === 0) resolve(stdout);
      else reject(failure(command, args, String(code ?? signal), stdout, stderr));
    });
  });
}

/**
 * `npm run build`, then scripts/pack.js for one of the three packages (n8n, Node-RED, CLI): the tarball a user of
 * that host installs. Each host's harness calls this through its own buildAndPack.
 */
export async function buildAndPackPackage(
  id: 'n8n' | 'node-red' | 'cli',
  outDir: string,
  log: string,
): Promise<string> {
  await run('npm', ['run', 'build', '--silent'], { cwd: REPO, timeoutMs: 5 * 60_000, log: `${log}.build.log` });
  const out = await run(process.execPath, [join(REPO, 'scripts', 'pack.js'), '--only', id, '--out', outDir], {
    cwd: REPO,
    timeoutMs: 5 * 60_000,
    log: `${log}.pack.log`,
  });
  return (JSON.parse(out) as Record<string, string>)[id];
}

/** The n8n package (n8n-nodes-pingstreams), built with n8n-node build. */
export function buildAndPack(outDir: string, log: string): Promise<string> {
  return buildAndPackPackage('n8n', outDir, log);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SinkRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** The HTTP endpoint the workflows post their items to. */
export class HttpSink {
  readonly requests: SinkRequest[] = [];
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          body = { unparsable: Buffer.concat(chunks).toString('utf8') };
        }
        this.requests.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): SinkRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/**
 * `n8n start` (main) or `n8n worker` (queue mode: runs the executions the main puts in Redis). A worker has no
 * editor: its readiness is asked of its health server, on the `http` port.
 */
export type N8nRole = 'main' | { worker: { concurrency: number } };

export class N8n {
  readonly userFolder: string;
  readonly port: number;
  private readonly env: NodeJS.ProcessEnv;
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private cookie?: string;
  private starts = 0;

  constructor(
    private readonly paths: E2EPaths,
    private readonly artifacts: string,
    ports: { http: number; broker: number },
    /** Added last: tuning for a particular test (e.g. the soak's execution settings). */
    extraEnv: NodeJS.ProcessEnv = {},
    readonly role: N8nRole = 'main',
  ) {
    this.userFolder = mkdtempSync(join(tmpdir(), 'pingstreams-n8n-'));
    this.port = ports.http;
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) =>
          !/^(N8N_|DB_|EXECUTIONS_|QUEUE_|npm_|JEST|NODE_ENV$|NODE_OPTIONS$|NODE_PATH$|HTTPS?_PROXY$)/i.test(key),
      ),
    );
    this.env = {
      ...inherited,
      // Jest sets NODE_ENV=test, which makes n8n refuse to load nodes and silences its logs.
      NODE_ENV: 'production',
      PATH: `${paths.E2E_NODE24_DIR}/bin:${process.env.PATH ?? ''}`,
      NO_PROXY: '127.0.0.1,localhost',
      N8N_USER_FOLDER: this.userFolder,
      N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
      N8N_PORT: String(ports.http),
      N8N_LISTEN_ADDRESS: '127.0.0.1',
      N8N_HOST: '127.0.0.1',
      N8N_PROTOCOL: 'http',
      N8N_SECURE_COOKIE: 'false',
      N8N_RUNNERS_BROKER_PORT: String(ports.broker),
      N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
      N8N_PYTHON_ENABLED: 'false',
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_TEMPLATES_ENABLED: 'false',
      N8N_PERSONALIZATION_ENABLED: 'false',
      // Its refresh task fetches api.n8n.io: tests talk to loopback only.
      N8N_DISABLED_MODULES: 'mcp-registry',
      N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
      N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '15',
      N8N_LOG_LEVEL: 'info',
      N8N_LOG_OUTPUT: 'console',
      ...(role === 'main'
        ? {}
        : {
            QUEUE_HEALTH_CHECK_ACTIVE: 'true',
            QUEUE_HEALTH_CHECK_PORT: String(ports.http),
            N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
          }),
      ...extraEnv,
    };
  }

  private get name(): string {
    return this.role === 'main' ? 'n8n-start' : `n8n-worker-${this.port}`;
  }

  /** Process id of the running `n8n start` (undefined when stopped). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Resident set size of the running n8n process in MB (from /proc), or undefined when stopped. */
  rssMb(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : undefined;
    } catch {
      return undefined;
    }
  }

  private get bin(): string {
    return join(this.paths.E2E_N8N_DIR, 'node_modules', 'n8n', 'bin', 'n8n');
  }

  /** What a user does for a manual install: `npm install <package>` inside ~/.n8n/nodes. */
  async installPackage(tarball: string): Promise<void> {
    const nodesDir = join(this.userFolder, '.n8n', 'nodes');
    mkdirSync(nodesDir, { recursive: true });
    writeFileSync(
      join(nodesDir, 'package.json'),
      JSON.stringify({ name: 'installed-nodes', private: true, dependencies: {} }, null, 2),
    );
    await run(
      'npm',
      [
        'install',
        tarball,
        '--omit=dev',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--install-strategy=shallow',
      ],
      {
        cwd: nodesDir,
        env: this.env,
        timeoutMs: 5 * 60_000,
        log: join(this.artifacts, 'npm-install.log'),
      },
    );
  }

  /** One n8n CLI command (each boots n8n against the same SQLite database). */
  cli(args: string[], logName: string, timeoutMs = 4 * 60_000): Promise<string> {
    return run(this.paths.E2E_NODE24, [this.bin, ...args], {
      cwd: this.userFolder,
      env: this.env,
      timeoutMs,
      log: join(this.artifacts, `${logName}.log`),
    });
  }

  writeJson(name: string, value: unknown): string {
    const file = join(this.userFolder, name);
    writeFileSync(file, JSON.stringify(value, null, 2));
    return file;
  }

  /** The log of the latest start. */
  get logFile(): string {
    return join(this.artifacts, `${this.name}-${this.starts}.log`);
  }

  /** `n8n start` or `n8n worker`, resolved once /healthz/readiness answers 200. */
  async start(readyTimeoutMs = 4 * 60_000): Promise<void> {
    if (this.process) throw new Error('n8n is already running');
    this.starts += 1;
    const log = createWriteStream(this.logFile);
    const args = this.role === 'main' ? ['start'] : ['worker', `--concurrency=${this.role.worker.concurrency}`];
    const child = spawn(this.paths.E2E_NODE24, [this.bin, ...args], {
      cwd: this.userFolder,
      env: this.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.process = child;
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        log.end(`\n[harness] n8n exited (${code ?? signal})\n`);
        resolve();
      }),
    );
    const port = this.port;
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`n8n exited during startup; see ${this.logFile}`);
      const status = await httpJson('GET', `http://127.0.0.1:${port}/healthz/readiness`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
      if (Date.now() > deadline) throw new Error(`n8n not ready within ${readyTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** SIGTERM to n8n's process group (n8n and its task runner); SIGKILL if it outlives the grace period. */
  async stop(graceMs = 25_000): Promise<void> {
    const child = this.process;
    if (!child || !this.exited) return;
    this.process = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
      if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout')
        killGroup(child, 'SIGKILL');
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    }
    killGroup(child, 'SIGKILL'); // leftovers of the group (the task runner), if any
  }

  /** SIGKILL to the process group, as a crash or an OOM kill would end it: nothing is saved or handed over. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || !this.exited) return;
    this.process = undefined;
    killGroup(child, 'SIGKILL');
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** The owner account, created through the setup route a new instance offers (needed for the REST API). */
  async login(): Promise<void> {
    if (this.cookie) return;
    const port = this.port;
    const res = await httpJson('POST', `http://127.0.0.1:${port}/rest/owner/setup`, {
      email: 'e2e@example.com',
      firstName: 'End',
      lastName: 'ToEnd',
      password: `E2e-${randomBytes(8).toString('hex')}`,
    });
    const cookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('n8n-auth='));
    if (res.status !== 200 || !cookie)
      throw new Error(`owner setup failed: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    this.cookie = cookie.split(';')[0];
  }

  /** A request to n8n as the logged-in owner; `path` is relative to the server root (e.g. /rest/workflows). */
  async fetch(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    await this.login();
    return httpJson(method, `http://127.0.0.1:${this.port}${path}`, body, { cookie: this.cookie! });
  }

  rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    return this.fetch(method, `/rest${path}`, body);
  }

  /** Stops n8n if needed and deletes the user folder (database, encryption key, installed package). */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.userFolder, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export function httpJson(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      url,
      {
        method,
        timeout: 15_000,
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** n8n's SQLite database in a user folder. */
export function databaseFile(userFolder: string): string {
  return join(userFolder, '.n8n', 'database.sqlite');
}

/** Opens the database file given as the script's first argument with n8n's own sqlite3 build, as `db`. */
function openDatabaseScript(paths: E2EPaths, readonly: boolean): string {
  return `
const sqlite3 = require(${JSON.stringify(join(paths.E2E_N8N_DIR, 'node_modules', 'sqlite3'))});
const db = new sqlite3.Database(process.argv[1]${readonly ? ', sqlite3.OPEN_READONLY' : ''});`;
}

/** Reads the workflow's static data straight from n8n's SQLite database. */
export function readStaticData(paths: E2EPaths, userFolder: string, workflowId: string): unknown {
  const script = `${openDatabaseScript(paths, true)}
db.get('SELECT staticData FROM workflow_entity WHERE id = ?', [process.argv[2]], (err, row) => {
  if (err) { console.error(err.message); process.exit(1); }
  process.stdout.write(JSON.stringify(row ? row.staticData : null));
  db.close();
});`;
  const out = runSync(paths.E2E_NODE24, ['-e', script, databaseFile(userFolder), workflowId], {
    cwd: userFolder,
    timeoutMs: 60_000,
  });
  const value = JSON.parse(out) as string | null;
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/**
 * Holds an exclusive lock on n8n's SQLite database from another process, as a long write or a backup would:
 * n8n cannot write (e.g. create executions) until `release()`.
 */
export async function lockDatabase(paths: E2EPaths, userFolder: string): Promise<{ release(): Promise<void> }> {
  const script = `${openDatabaseScript(paths, false)}
db.configure('busyTimeout', 30000);
db.exec('BEGIN EXCLUSIVE', (err) => {
  if (err) { console.error(err.message); process.exit(1); }
  process.stdout.write('locked\\n');
  process.stdin.once('data', () => db.exec('COMMIT', () => db.close(() => process.exit(0))));
});`;
  const child = spawn(paths.E2E_NODE24, ['-e', script, databaseFile(userFolder)], {
    cwd: userFolder,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`could not lock n8n's database (exit ${code}): ${stderr}`)));
  });
  return {
    release: async () => {
      child.stdin.end('commit\n');
      if ((await exited) !== 0) throw new Error(`releasing n8n's database lock failed: ${stderr}`);
    },
  };
}

export function newArtifactsDir(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(ARTIFACTS, `${name}-${stamp}`);
  mkdirSync(dir, { recursive: true });
  // Keep the last few runs only.
  const old = readdirSync(ARTIFACTS)
    .filter((d) => d.startsWith(`${name}-`))
    .sort()
    .slice(0, -5);
  for (const d of old) rmSync(join(ARTIFACTS, d), { recursive: true, force: true });
  return dir;
}
