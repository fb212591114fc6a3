// The core's socket suites again, over the WebSocket Node 22+ provides (the basis of the dependency-free n8n build)
// with the Node refusal probe: a child jest under Node 22+ (this one when it is, else the e2e cache's Node 24),
// PINGSTREAMS_TEST_SOCKETS=global (test/helpers/platform-setup.ts). Fails if any case there fails.
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SUITES = [
  'test/integration/core-connection.test.ts',
  'test/integration/hostile-servers.test.ts',
  'test/integration/hostile.test.ts',
  'test/integration/socket-refusals.test.ts',
  'test/integration/soak.test.ts',
  'test/integration/soak-regressions.test.ts',
];
const CHILD_TIMEOUT_MS = 14 * 60_000;
const MAX_OUTPUT = 400_000;

jest.setTimeout(CHILD_TIMEOUT_MS + 60_000);

function nodeWithWebSocket(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const out = execFileSync('bash', [join(ROOT, 'scripts/e2e/provision.sh'), 'node'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 10 * 60_000,
  });
  const line = out.split('\n').find((l) => l.startsWith('E2E_NODE24='));
  if (!line) throw new Error(`scripts/e2e/provision.sh node printed no E2E_NODE24 path:\n${out}`);
  return line.slice('E2E_NODE24='.length).trim();
}

test('the connection, hostile, refusal and soak suites pass over the global WebSocket (Node 22+)', async () => {
  const node = nodeWithWebSocket();
  const child = spawn(
    node,
    // The suites first: --selectProjects takes a list and would swallow them.
    [join(ROOT, 'node_modules/jest/bin/jest.js'), ...SUITES, '--runInBand', '--selectProjects', 'integration'],
    { cwd: ROOT, env: { ...process.env, PINGSTREAMS_TEST_SOCKETS: 'global' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  if (code !== 0) throw new Error(`Under Node ${version} with the global WebSocket, jest exited ${code}:\n${output}`);
  for (const suite of SUITES) expect(output).toContain(`PASS integration ${suite}`);
  expect(output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  expect(output).not.toMatch(/Tests:.*(failed|skipped)/);
});
