// n8n's own checks on the n8n package (scripts/verify-n8n.mjs): the scanner's rules on its sources and its
// tarball, the scanner's verdict, and @n8n/node-cli's lint, all by the official rules at pinned versions.
// The three packages' contents (no CLI, emulator or Node-RED file in the n8n one) are checked here too.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface CheckSummary {
  errors: number;
  warnings: number;
  rules: Record<string, number>;
  messages: string[];
}
type Report = Record<'scanner:source' | 'scanner:tarball' | 'node-cli:lint' | 'repository', CheckSummary> & {
  tarball: string;
  'scanner:passed': { source: boolean; tarball: boolean };
};

let report: Report;

beforeAll(() => {
  // Needs the compiled tree (npm test builds first); packs the n8n package with n8n-node build.
  const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'verify-n8n.mjs')], {
    cwd: ROOT,
    // eslint-plugin-n8n-nodes-base has a test mode under NODE_ENV=test (its own fixtures' file names): n8n's
    // verification does not run in it.
    env: Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_ENV')),
    encoding: 'utf8',
    timeout: 5 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`verify-n8n.mjs failed (${result.status}):\n${result.stderr.slice(-4000)}`);
  report = JSON.parse(result.stdout) as Report;
}, 6 * 60_000);

const CHECKS = ['scanner:source', 'scanner:tarball', 'node-cli:lint', 'repository'] as const;

test.each(CHECKS)('%s: 0 errors, 0 warnings', (check) => {
  const { errors, warnings, messages } = report[check];
  expect({ check, errors, warnings, messages }).toEqual({ check, errors: 0, warnings: 0, messages: [] });
});

test("the scanner's own verdict (analyzePackage) passes the source and the tarball", () => {
  expect(report['scanner:passed']).toEqual({ source: true, tarball: true });
});
