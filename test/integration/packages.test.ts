// The three packages of scripts/pack.js as their users install them: each tarball holds only its host's files,
// the n8n one installs nothing besides itself, `node-red-dev validate` passes the Node-RED one, and
// `npx pingstreams emulator` from the CLI one serves the emulator.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'pingstreams-packages-'));
let tarballs: Record<'n8n' | 'node-red' | 'cli', string>;

function sh(command: string, args: string[], cwd: string, timeout = 4 * 60_000): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}`);
  return result.stdout;
}

function contents(tarball: string): string[] {
  return sh('tar', ['-tzf', tarball], work)
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

/** npm install of a tarball into an empty folder, as a user does; returns the folder. */
function install(tarball: string, name: string): string {
  const dir = join(work, name);
  sh('mkdir', ['-p', dir], work);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `install-${name}`, private: true }));
  sh('npm', ['install', tarball, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], dir);
  return dir;
}

beforeAll(() => {
  // Needs the compiled tree (npm test builds first).
  tarballs = JSON.parse(sh(process.execPath, [join(ROOT, 'scripts', 'pack.js'), '--out', work], ROOT));
}, 5 * 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the n8n package: its nodes, credential, the core they use, docs and examples; nothing of the other hosts', () => {
  const files = contents(tarballs.n8n);
  expect(files).toEqual(
    expect.arrayContaining([
      'package.json',
      'dist/credentials/PingstreamsApi.credentials.js',
      'dist/nodes/Pingstreams/Pingstreams.node.js',
      'dist/nodes/Pingstreams/Pingstreams.node.json',
      'dist/nodes/PingstreamsTrigger/PingstreamsTrigger.node.js',
      'docs/n8n.md',
      'examples/n8n/new-request-to-slack.json',
    ]),
  );
  expect(files.filter((f) => /(^|\/)(cli|emulator|node-red)\//.test(f) || /\.html$|\.map$/.test(f))).toEqual([]);
});

test('the n8n package installs nothing besides itself and what its manifest declares (n8n-workflow stays a peer)', () => {
  const dir = install(tarballs.n8n, 'n8n');
  const manifest = JSON.parse(
    readFileSync(join(dir, 'node_modules', 'n8n-nodes-pingstreams', 'package.json'), 'utf8'),
  ) as { dependencies?: Record<string, string> };
  // The declared dependencies are what the shipped files import (scripts/pack.js): none once they import
  // neither ws nor jsonata (the scanner's no-runtime-dependencies, test/unit/n8n-verify.test.ts).
  expect(readdirSync(join(dir, 'node_modules')).filter((f) => !f.startsWith('.'))).toEqual(
    ['n8n-nodes-pingstreams', ...Object.keys(manifest.dependencies ?? {})].sort(),
  );
}, 120_000);

test('the Node-RED package: scoped, its nodes, editor files and examples, no n8n or CLI file', () => {
  const files = contents(tarballs['node-red']);
  expect(files).toEqual(
    expect.arrayContaining([
      'dist/node-red/pingstreams-in.js',
      'dist/node-red/pingstreams-in.html',
      'dist/node-red/icons/pingstreams.svg',
      'dist/node-red/locales/en-US/pingstreams-in.json',
      'examples/node-red/live-queue-to-debug.json',
    ]),
  );
  expect(files.filter((f) => /(^|\/)(cli|emulator|credentials|Pingstreams|PingstreamsTrigger|n8n)\//.test(f))).toEqual(
    [],
  );
});

test('node-red-dev validate: every check it can run here passes, no warning', () => {
  const dir = join(work, 'node-red-unpacked');
  sh('mkdir', ['-p', dir], work);
  sh('tar', ['-xzf', tarballs['node-red'], '-C', dir, '--strip-components=1'], work);
  const report = JSON.parse(sh(process.execPath, [join(ROOT, 'scripts', 'validate-node-red.js'), dir], ROOT)) as {
    scorecard: Record<string, { test?: boolean }>;
    warnings: string[];
    errors: string[];
    notChecked: string[];
  };
  const failed = Object.entries(report.scorecard).filter(([id, check]) => id !== 'package' && check.test !== true);
  expect({ failed, warnings: report.warnings, errors: report.errors }).toEqual({
    failed: [],
    warnings: [],
    errors: [],
  });
  // The package, node and dependency checks ran; only the two that read the flow library's catalogue did not.
  expect(Object.keys(report.scorecard).sort()).toEqual(
    expect.arrayContaining(['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'N02', 'D01', 'D02', 'D03']),
  );
  expect(report.notChecked).toEqual(['P08', 'N01']);
}, 180_000);

test('`npx pingstreams emulator` from the CLI package serves the emulator', async () => {
  expect(
    contents(tarballs.cli).filter((f) => /(^|\/)(node-red|credentials|Pingstreams|PingstreamsTrigger)\//.test(f)),
  ).toEqual([]);
  const dir = install(tarballs.cli, 'cli');
  const child = spawn('npx', ['--no-install', 'pingstreams', 'emulator', '--port', '0'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  try {
    let out = '';
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no endpoint printed within 60 s:\n${out}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const match = /WebSocket endpoint: (ws:\/\/127\.0\.0\.1:\d+\/api\/)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before printing an endpoint:\n${out}`));
      });
    });
    const admin = /Admin API:\s+(\S+)/.exec(out)![1];
    const res = await fetch(`${admin}/stats`);
    expect(res.status).toBe(200);
    expect(endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/api\/$/);
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}, 180_000);
