// n8n's own checks on the n8n package, by the official rules, unmodified (versions pinned in package.json):
//   scanner:source   @n8n/scan-community-package's ESLint config on the package's sources (its source patterns)
//   scanner:tarball  the same on the packed tarball (compiled .js and package.json, as the scanner scans it)
//   scanner:passed   its exported analyzePackage on both (what `npx @n8n/scan-community-package` decides)
//   node-cli:lint    @n8n/node-cli's ESLint config (what `n8n-node lint` runs) in the package's folder
//   repository       the scanner's source patterns on this repository's root, which is what n8n's verification
//                    lints from the commit the npm provenance names (it finds the package.json of that name)
// Usage: node scripts/verify-n8n.mjs [TARBALL]  (packs the n8n package when no tarball is given; needs a build).
// Prints one JSON object: per check the error and warning counts, per rule, and each message.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const { ESLint } = require('eslint');
const glob = require('fast-glob');
const scanner = await import(join(ROOT, 'node_modules/@n8n/scan-community-package/scanner/scanner.mjs'));
const { pack, STAGE, PACKAGES } = require('./pack.js');

function summarize(results, base) {
  const summary = { errors: 0, warnings: 0, rules: {}, messages: [] };
  for (const result of results)
    for (const m of result.messages) {
      if (m.severity === 2) summary.errors += 1;
      else summary.warnings += 1;
      summary.rules[m.ruleId ?? 'parse'] = (summary.rules[m.ruleId ?? 'parse'] ?? 0) + 1;
      summary.messages.push(`${relative(base, result.filePath)}:${m.line} ${m.ruleId}: ${m.message}`);
    }
  return summary;
}

/** The scanner's ESLint, as analyzePackage sets it up, with the counts analyzePackage does not return. */
async function scan(dir, patterns) {
  const eslint = new ESLint({
    cwd: dir,
    allowInlineConfig: false,
    overrideConfigFile: true,
    overrideConfig: await scanner.buildScanConfig(),
  });
  const files = glob.sync(patterns, { cwd: dir, absolute: true, ignore: ['node_modules/**', '**/package-lock.json'] });
  const summary = summarize(await eslint.lintFiles(files), dir);
  summary.files = files.length;
  return summary;
}

/** `n8n-node lint` is `eslint .` in the package folder with the template's eslint.config.mjs. */
async function nodeCliLint(dir) {
  const eslint = new ESLint({ cwd: dir });
  return summarize(await eslint.lintFiles(['.']), dir);
}

const tarball = process.argv[2] ?? pack('n8n', join(STAGE, 'tarballs'));
const stage = join(STAGE, PACKAGES.n8n.dir);
const unpacked = mkdtempSync(join(tmpdir(), 'pingstreams-n8n-scan-'));
try {
  const tar = spawnSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const source = await scanner.analyzePackage(stage, scanner.SOURCE_FILE_PATTERNS);
  const dist = await scanner.analyzePackage(unpacked, ['**/*.js', 'package.json']);
  const report = {
    tarball,
    'scanner:source': await scan(stage, scanner.SOURCE_FILE_PATTERNS),
    'scanner:tarball': await scan(unpacked, ['**/*.js', 'package.json']),
    'scanner:passed': { source: source.passed, tarball: dist.passed },
    'node-cli:lint': await nodeCliLint(stage),
    repository: await scan(ROOT, scanner.SOURCE_FILE_PATTERNS),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  rmSync(unpacked, { recursive: true, force: true });
}
