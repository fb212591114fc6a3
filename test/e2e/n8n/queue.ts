// n8n's queue mode for the e2e tests: a PostgreSQL and a Redis of their own (Debian's binaries, provisioned by
// scripts/e2e/provision.sh) in temp folders on free loopback ports, then one n8n main (holds the triggers,
// enqueues executions) and n8n workers (run them), each with its own user folder and the packed package installed
// by the same N8n.installPackage every other n8n test uses. Everything is stopped and removed by dispose().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../../emulator';
import { sleep, waitFor } from '../../helpers/wait';
import { N8n, freePort, killGroup, type E2EPaths } from './harness';

/** A server process of its own (own process group), run as the service user when the tests run as root. */
class ServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private starts = 0;

  constructor(
    private readonly name: string,
    private readonly paths: E2EPaths,
    private readonly artifacts: string,
  ) {}

  spawn(command: string, args: string[]): void {
    this.starts += 1;
    const log = createWriteStream(join(this.artifacts, `${this.name}-${this.starts}.log`));
    const [cmd, argv] = this.paths.E2E_SERVICE_USER
      ? ['runuser', ['-u', this.paths.E2E_SERVICE_USER, '--', command, ...args]]
      : [command, args];
    const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        log.end(`\n[harness] exited (${code ?? signal})\n`);
        resolve();
      }),
    );
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The process group's id (the group holds the server and its children). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** `signal` to the group, SIGKILL if it outlives `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    this.child = undefined;
    killGroup(child, signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout')
      killGroup(child, 'SIGKILL');
    // unref'd: a timer left running after the exit would keep jest alive ("Jest did not exit").
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    killGroup(child, 'SIGKILL');
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port: number, what: string, isAlive: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.setTimeout(1_000, () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (open) return;
    if (!isAlive()) throw new Error(`${what} exited during startup`);
    if (Date.now() > deadline) throw new Error(`${what} not listening on ${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function tempFolder(paths: E2EPaths, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (paths.E2E_SERVICE_USER) {
    const uid = spawnSync('id', ['-u', paths.E2E_SERVICE_USER], { encoding: 'utf8' }).stdout.trim();
    const gid = spawnSync('id', ['-g', paths.E2E_SERVICE_USER], { encoding: 'utf8' }).stdout.trim();
    chownSync(dir, Number(uid), Number(gid));
  }
  return dir;
}

export class Postgres {
  readonly dir: string;
  readonly user = 'n8n';
  readonly database = 'postgres';
  private readonly server: ServerProcess;
  port = 0;

  constructor(
    private readonly paths: E2EPaths,
    artifacts: string,
  ) {
    this.dir = tempFolder(paths, 'pingstreams-pg-');
    this.server = new ServerProcess('postgres', paths, artifacts);
  }

  async start(): Promise<void> {
    const bin = this.paths.E2E_PG_BIN!;
    if (!this.port) {
      this.port = await freePort();
      const init = spawnSync(
        this.paths.E2E_SERVICE_USER ? 'runuser' : join(bin, 'initdb'),
        [
          ...(this.paths.E2E_SERVICE_USER ? ['-u', this.paths.E2E_SERVICE_USER, '--', join(bin, 'initdb')] : []),
          '-D',
          join(this.dir, 'data'),
          '-U',
          this.user,
          '--auth=trust',
          '-E',
          'UTF8',
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    }
    // Durability as shipped (fsync on): the tests kill processes, not the machine, but keep what users run.
    this.server.spawn(join(bin, 'postgres'), [
      '-D',
      join(this.dir, 'data'),
      '-p',
      String(this.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${this.dir}`,
      '-c',
      'max_connections=100',
    ]);
    await waitForPort(this.port, 'PostgreSQL', () => this.server.running);
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  /** A fast shutdown (SIGINT): what a service manager does. */
  stop(): Promise<void> {
    return this.server.stop('SIGINT');
  }

  env(): NodeJS.ProcessEnv {
    return {
      DB_TYPE: 'postgresdb',
      DB_POSTGRESDB_HOST: '127.0.0.1',
      DB_POSTGRESDB_PORT: String(this.port),
      DB_POSTGRESDB_USER: this.user,
      DB_POSTGRESDB_PASSWORD: '',
      DB_POSTGRESDB_DATABASE: this.database,
    };
  }

  /** One SQL statement through psql; its rows as tab-separated lines. */
  query(sql: string): string {
    const result = spawnSync(
      join(this.paths.E2E_PG_BIN!, 'psql'),
      ['-h', '127.0.0.1', '-p', String(this.port), '-U', this.user, '-d', this.database, '-tAc', sql],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export class Redis {
  readonly dir: string;
  private readonly server: ServerProcess;
  port = 0;

  constructor(
    private readonly paths: E2EPaths,
    artifacts: string,
  ) {
    this.dir = tempFolder(paths, 'pingstreams-redis-');
    this.server = new ServerProcess('redis', paths, artifacts);
  }

  /** With its append-only file on, so a restart keeps the queued jobs (as a production Redis for n8n should). */
  async start(): Promise<void> {
    this.port ||= await freePort();
    this.server.spawn(this.paths.E2E_REDIS_SERVER!, [
      '--bind',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
    ]);
    await waitForPort(this.port, 'Redis', () => this.server.running);
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  /** SIGTERM: Redis writes its append-only file and exits. */
  stop(): Promise<void> {
    return this.server.stop('SIGTERM');
  }

  async restart(downMs: number): Promise<void> {
    await this.stop();
    await sleep(downMs);
    await this.start();
  }

  env(): NodeJS.ProcessEnv {
    return { QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: String(this.port) };
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * What docs/n8n.md recommends on the main in queue mode: n8n keeps ended jobs in Redis, so its main finds the end of
 * a job that ended before it listened for it. With n8n's default (0, the job removed as it ends) such an end is never
 * reported; for a job whose worker died, n8n then never runs it again and the trigger cannot know.
 */
export const KEEP_ENDED_JOBS: NodeJS.ProcessEnv = {
  N8N_EXECUTIONS_QUEUE_KEEP_LAST_COMPLETED: '100',
  N8N_EXECUTIONS_QUEUE_KEEP_LAST_FAILED: '100',
};

export interface QueueClusterOptions {
  workers: number;
  /** Jobs each worker runs at once (n8n's --concurrency; n8n's minimum is 5). */
  concurrency?: number;
  /** Added to every process's environment (e.g. the soak's execution settings). */
  env?: NodeJS.ProcessEnv;
  /** Added to the main's environment only, after `env`. */
  mainEnv?: NodeJS.ProcessEnv;
}

/**
 * One main and `workers` workers sharing one PostgreSQL, one Redis and one encryption key. `newMain()` replaces the
 * main by a fresh process with a new user folder against the same database and Redis (a takeover).
 */
export class QueueCluster {
  readonly postgres: Postgres;
  readonly redis: Redis;
  readonly workers: N8n[] = [];
  main!: N8n;
  private readonly encryptionKey = randomBytes(24).toString('hex');
  private readonly retired: N8n[] = [];

  constructor(
    private readonly paths: E2EPaths,
    private readonly artifacts: string,
    private readonly options: QueueClusterOptions,
  ) {
    this.postgres = new Postgres(paths, artifacts);
    this.redis = new Redis(paths, artifacts);
  }

  private env(role: ConstructorParameters<typeof N8n>[4], mainEnv = this.options.mainEnv): NodeJS.ProcessEnv {
    return {
      ...this.postgres.env(),
      ...this.redis.env(),
      EXECUTIONS_MODE: 'queue',
      N8N_ENCRYPTION_KEY: this.encryptionKey,
      // Without it n8n 2.x warns that manual executions run on the main; the tests run none.
      OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
      ...this.options.env,
      ...(role === 'main' ? mainEnv : {}),
    };
  }

  private async process(
    role: ConstructorParameters<typeof N8n>[4],
    artifacts = this.artifacts,
    mainEnv?: NodeJS.ProcessEnv,
  ): Promise<N8n> {
    const ports = { http: await freePort(), broker: await freePort() };
    return new N8n(this.paths, artifacts, ports, this.env(role, mainEnv), role);
  }

  /** Starts PostgreSQL and Redis, creates the processes and installs the package into each (not started). */
  async prepare(tarball: string): Promise<void> {
    await this.postgres.start();
    await this.redis.start();
    this.main = await this.process('main');
    for (let i = 0; i < this.options.workers; i++)
      this.workers.push(await this.process({ worker: { concurrency: this.options.concurrency ?? 10 } }));
    this.tarball = tarball;
    await Promise.all([this.main, ...this.workers].map((n) => n.installPackage(tarball)));
  }

  private tarball = '';

  /** The main first (it runs the database migrations), then the workers. */
  async start(): Promise<void> {
    await this.main.start();
    await Promise.all(this.workers.map((w) => w.start()));
  }

  /**
   * A new main in a new user folder (the package installed again), the old one killed or already gone; `mainEnv`
   * in place of the options' one.
   */
  async newMain(mainEnv = this.options.mainEnv): Promise<N8n> {
    const old = this.main;
    await old.kill();
    this.retired.push(old);
    const artifacts = join(this.artifacts, `main-${this.retired.length + 1}`);
    mkdirSync(artifacts, { recursive: true });
    this.main = await this.process('main', artifacts, mainEnv);
    await this.main.installPackage(this.tarball);
    await this.main.start();
    return this.main;
  }

  /** Process groups of PostgreSQL and Redis (for CPU accounting). */
  serverPids(): number[] {
    return [this.postgres.pid, this.redis.pid].filter((pid): pid is number => pid !== undefined);
  }

  async dispose(): Promise<void> {
    const failures: string[] = [];
    for (const n of [this.main, ...this.workers, ...this.retired].filter(Boolean))
      await n.dispose().catch((error: Error) => failures.push(error.message));
    await this.redis.dispose().catch((error: Error) => failures.push(error.message));
    await this.postgres.dispose().catch((error: Error) => failures.push(error.message));
    if (failures.length) throw new Error(`closing the queue-mode cluster: ${failures.join('; ')}`);
  }
}

/** Until the main has connected again (a connection after `acceptedBefore`), alone, and holds `topic`. */
export function mainSubscribed(emu: Emulator, topic: string, acceptedBefore = 0): Promise<unknown> {
  return waitFor(
    () =>
      emu.stats().connectionsAccepted > acceptedBefore &&
      emu.stats().clients === 1 &&
      (emu.stats().subscriptionsByTopic[topic] ?? 0) >= 1,
    'the main subscribed to the requests topic',
    120_000,
    50,
  );
}
