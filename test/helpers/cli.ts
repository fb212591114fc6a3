// The `pingstreams` CLI as a user runs it: the built bin in a separate process, output collected as it arrives.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait';

export const ROOT = join(__dirname, '..', '..');
export const BIN = join(ROOT, 'dist', 'cli', 'pingstreams.js');

/** A running `node dist/cli/pingstreams.js ...` with its output collected as it arrives. */
export class Cli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], env: Record<string, string> = {}) {
    // No PINGSTREAMS_* from the developer's shell: each test states what it uses.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PINGSTREAMS_')));
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((line) => line.length > 0);
  }

  get json(): unknown[] {
    return this.lines.map((line) => JSON.parse(line) as unknown);
  }

  async waitForStderr(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => pattern.test(this.stderr) || this.failedEarly(), `stderr ${pattern}`, timeoutMs);
    if (!pattern.test(this.stderr))
      throw new Error(`process exited before printing ${pattern}. stderr:\n${this.stderr}`);
  }

  async waitForLines(count: number, timeoutMs = 20_000): Promise<unknown[]> {
    await waitFor(() => this.lines.length >= count || this.failedEarly(), `${count} stdout line(s)`, timeoutMs);
    if (this.lines.length < count)
      throw new Error(`process exited after ${this.lines.length} line(s). stderr:\n${this.stderr}`);
    return this.json;
  }

  /** Exit code, failing the test if the process does not end in time. */
  async exitCode(timeoutMs = 20_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`process still running after ${timeoutMs} ms. stderr:\n${this.stderr}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private failedEarly(): boolean {
    return this.child.exitCode !== null;
  }
}

/** Every CLI process started and not yet exited (for cleanup in afterAll). */
export const running = new Set<Cli>();

/** dist is built by `npm test`; when jest runs alone, build it if missing or older than the sources. */
export function ensureBuilt(): void {
  const newest = (dir: string): number =>
    readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.ts'))
      .reduce((max, f) => Math.max(max, statSync(join(ROOT, dir, f)).mtimeMs), 0);
  const stale = !existsSync(BIN) || statSync(BIN).mtimeMs < Math.max(newest('cli'), newest('core'), newest('emulator'));
  if (!stale) return;
  // tsc emits even when another part of the tree has type errors; the bin is what matters here.
  spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: ROOT,
    stdio: 'ignore',
    timeout: 120_000,
  });
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing after building: run npm run build and look at the errors.`);
}
