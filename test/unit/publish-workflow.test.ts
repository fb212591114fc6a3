// The publish workflow cannot run here; what makes it correct for n8n's verification is checked as text:
// OIDC for provenance, every package of scripts/pack.js published with --provenance, after the full CI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const workflow = readFileSync(join(ROOT, '.github', 'workflows', 'publish.yml'), 'utf8');

test('the job may mint the OIDC token provenance needs, and nothing else is writable', () => {
  expect(workflow).toMatch(/^ {6}id-token: write/m);
  expect(workflow).toMatch(/^permissions:\n {2}contents: read\n/m);
  expect(workflow).not.toMatch(/contents: write|packages: write/);
});

test('it runs the whole CI, packs every package with scripts/pack.js and publishes each with provenance', () => {
  const ci = workflow.indexOf('run: bash .ci/run');
  const pack = workflow.indexOf('node scripts/pack.js --out build/publish');
  const publish = workflow.indexOf('args=(publish "$tarball" --provenance --access public)');
  expect(ci).toBeGreaterThan(0);
  expect(pack).toBeGreaterThan(ci);
  expect(publish).toBeGreaterThan(pack);
  // No --only: all three packages, whatever scripts/pack.js defines.
  expect(workflow).not.toMatch(/pack\.js[^\n]*--only/);
  expect(workflow).toMatch(/node-version: 24/);
  expect(workflow).toMatch(/registry-url: https:\/\/registry\.npmjs\.org/);
});

test('the manifests name this repository, which provenance and n8n check against the build', () => {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { repository: { url: string } };
  expect(root.repository.url).toBe('git+https://github.com/pingstreams/n8n-nodes-pingstreams.git');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PACKAGES } = require('../../scripts/pack.js') as {
    PACKAGES: Record<string, { manifest(): { name: string; repository: unknown } }>;
  };
  expect(Object.values(PACKAGES).map((p) => p.manifest().name)).toEqual([
    'n8n-nodes-pingstreams',
    '@pingstreams/node-red-pingstreams',
    'pingstreams',
  ]);
  for (const p of Object.values(PACKAGES)) expect(p.manifest().repository).toEqual(root.repository);
});
