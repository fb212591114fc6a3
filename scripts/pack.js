// Three packages from one tree, each holding only what its users load:
//   n8n-nodes-pingstreams             the n8n credential and nodes and the core files they import (built and linted
//                                     with @n8n/node-cli in its own staging folder, as n8n's verification expects)
//   @pingstreams/node-red-pingstreams the Node-RED nodes, their editor files and examples
//   pingstreams                       the CLI and the emulator (`npx pingstreams emulator`)
// Each package's files are the import closure of its entry points in the compiled tree (run `npm run build`
// first); its dependencies are the bare imports of that closure, at the versions the root package.json pins.
// Usage: node scripts/pack.js [--out DIR] [--only n8n|node-red|cli]...   Prints {"n8n": "/path/x.tgz", ...}.
'use strict';
const { spawnSync } = require('node:child_process');
const { builtinModules } = require('node:module');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const STAGE = path.join(ROOT, 'build');
const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The manifest fields every package shares. */
function common() {
  const { version, license, author, homepage, repository, bugs } = root;
  return { version, license, author, homepage, repository, bugs, engines: root.engines };
}

const PACKAGES = {
  n8n: {
    dir: 'n8n-nodes-pingstreams',
    entries: [...root.n8n.credentials, ...root.n8n.nodes],
    manifest: () => ({
      name: root.name,
      ...common(),
      description: root.description,
      keywords: root.keywords,
      // n8n 2.x runs on Node 22+, whose global WebSocket the package uses.
      engines: { node: '>=22' },
      files: ['dist', 'docs', 'examples'],
      // strict: `n8n-node lint` also checks that eslint.config.mjs is the template's, unchanged.
      n8n: { ...root.n8n, strict: true },
      peerDependencies: root.peerDependencies,
      // n8n provides n8n-workflow: an install must not fetch its own copy.
      peerDependenciesMeta: root.peerDependenciesMeta,
    }),
    docs: ['docs/n8n.md', 'docs/metrics.md', 'docs/limits.md', 'docs/emulator.md'],
    examples: 'examples/n8n',
    // Built from TypeScript in the staging folder with `n8n-node build` (see stageN8nSources).
    fromSources: true,
  },
  'node-red': {
    dir: 'node-red-pingstreams',
    entries: Object.values(root['node-red'].nodes),
    assets: ['dist/node-red/icons', 'dist/node-red/locales', 'dist/node-red/*.html'],
    manifest: () => ({
      name: '@pingstreams/node-red-pingstreams',
      ...common(),
      description:
        'Pingstreams Realtime API for Node-RED: new support requests, messages, agent changes and live support metrics.',
      keywords: ['node-red', 'pingstreams', 'realtime', 'websocket', 'customer-support'],
      files: ['dist', 'docs', 'examples'],
      'node-red': root['node-red'],
    }),
    docs: ['docs/node-red.md', 'docs/metrics.md', 'docs/limits.md', 'docs/emulator.md'],
    examples: 'examples/node-red',
  },
  cli: {
    dir: 'pingstreams',
    entries: [root.bin.pingstreams],
    assets: ['dist/cli/dashboard-page'],
    manifest: () => ({
      name: 'pingstreams',
      ...common(),
      description:
        'Pingstreams Realtime API on the command line: listen, live metrics, staffing forecasts, a live wall, and a local emulator of the realtime server.',
      keywords: ['pingstreams', 'realtime', 'websocket', 'customer-support', 'emulator', 'cli'],
      files: ['dist', 'docs'],
      bin: root.bin,
    }),
    docs: ['docs/cli.md', 'docs/emulator.md', 'docs/metrics.md', 'docs/limits.md', 'docs/protocol.md'],
  },
};

/** Every compiled file the entry points load, and the packages they import by name. */
function closure(entries) {
  const files = new Set();
  const external = new Set();
  const queue = entries.map((e) => path.join(ROOT, e));
  while (queue.length) {
    const file = queue.pop();
    if (files.has(file)) continue;
    if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run \`npm run build\` first`);
    files.add(file);
    const code = fs.readFileSync(file, 'utf8');
    for (const [, spec] of code.matchAll(/\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      if (spec.startsWith('.')) {
        const base = path.resolve(path.dirname(file), spec);
        const candidates = [base, `${base}.js`, path.join(base, 'index.js')];
        const hit = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
        if (!hit) throw new Error(`${path.relative(ROOT, file)}: cannot resolve ${spec}`);
        if (hit.endsWith('.js')) queue.push(hit);
        else files.add(hit); // JSON
      } else if (!BUILTINS.has(spec)) {
        external.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
      }
    }
  }
  return { files: [...files].sort(), external: [...external].sort() };
}

/** What the files depend on, pinned as the root pins it; peer dependencies stay peers. */
function dependenciesOf(external) {
  const pins = { ...root.devDependencies, ...root.dependencies };
  const deps = {};
  for (const name of external) {
    if (root.peerDependencies?.[name]) continue;
    if (!pins[name]) throw new Error(`the package imports ${name}, which the root package.json does not pin`);
    deps[name] = pins[name];
  }
  return deps;
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
}

/** Expands `dir/*.ext` (one level) or returns the path itself. */
function expand(pattern) {
  if (!pattern.includes('*')) return [pattern];
  const dir = path.dirname(pattern);
  const ext = path.basename(pattern).replace('*', '');
  return fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(ext))
    .map((f) => `${dir}/${f}`);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`.slice(-4000));
  return result.stdout;
}

/**
 * The n8n package is built from its TypeScript sources by @n8n/node-cli, as a package made with `n8n-node new`
 * would be: the sources of the closure, the icons, the codex files, a tsconfig like the template's and the
 * template's eslint.config.mjs. node_modules is a link to the repository's (the tools and n8n-workflow's types).
 */
function stageN8nSources(stage, files) {
  const sources = new Set();
  for (const file of files) {
    const rel = path.relative(DIST, file);
    const ts = path.join(ROOT, rel.replace(/\.js$/, '.ts'));
    sources.add(fs.existsSync(ts) ? ts : path.join(ROOT, rel));
  }
  // Type-only imports leave no require() in the compiled closure: follow the sources' own imports too.
  const queue = [...sources].filter((f) => f.endsWith('.ts'));
  while (queue.length) {
    const file = queue.pop();
    for (const [, spec] of fs.readFileSync(file, 'utf8').matchAll(/\bfrom\s+'(\.[^']+)'/g)) {
      const base = path.resolve(path.dirname(file), spec);
      const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
      if (hit && !sources.has(hit)) {
        sources.add(hit);
        queue.push(hit);
      }
    }
  }
  for (const dir of ['nodes/Pingstreams', 'nodes/PingstreamsTrigger', 'credentials', 'icons'])
    for (const f of fs.readdirSync(path.join(ROOT, dir)))
      if (/\.(svg|png|json)$/.test(f)) sources.add(path.join(ROOT, dir, f));
  for (const source of sources) copy(source, path.join(stage, path.relative(ROOT, source)));
  fs.writeFileSync(
    path.join(stage, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          module: 'commonjs',
          moduleResolution: 'node',
          target: 'es2021',
          lib: ['es2021', 'es2022.error'],
          removeComments: true,
          forceConsistentCasingInFileNames: true,
          noImplicitReturns: true,
          noUnusedLocals: true,
          esModuleInterop: true,
          resolveJsonModule: true,
          declaration: true,
          sourceMap: false,
          skipLibCheck: true,
          outDir: './dist/',
        },
        include: ['credentials/**/*', 'nodes/**/*', 'nodes/**/*.json', 'core/**/*', 'package.json'],
      },
      null,
      2,
    )}\n`,
  );
  copy(
    path.join(ROOT, 'node_modules/@n8n/node-cli/dist/template/templates/shared/default/eslint.config.mjs'),
    path.join(stage, 'eslint.config.mjs'),
  );
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
}

/** Stages one package under build/<dir> and packs it into `out`; returns the tarball's path. */
function pack(id, out) {
  const spec = PACKAGES[id];
  const stage = path.join(STAGE, spec.dir);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  const { files, external } = closure(spec.entries);
  const manifest = spec.manifest();
  const dependencies = dependenciesOf(external);
  if (Object.keys(dependencies).length) manifest.dependencies = dependencies;
  fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const f of ['README.md', 'LICENSE']) copy(path.join(ROOT, f), path.join(stage, f));
  for (const doc of spec.docs ?? []) copy(path.join(ROOT, doc), path.join(stage, doc));
  if (spec.examples) copy(path.join(ROOT, spec.examples), path.join(stage, spec.examples));
  if (spec.fromSources) {
    stageN8nSources(stage, files);
    run(path.join(ROOT, 'node_modules/.bin/n8n-node'), ['build'], stage);
    // The template's tsconfig compiles package.json too (to fix the root of dist): n8n does not read that copy.
    fs.rmSync(path.join(stage, 'dist', 'package.json'), { force: true });
    fs.rmSync(path.join(stage, 'dist', 'tsconfig.tsbuildinfo'), { force: true });
  } else {
    for (const file of files) if (!file.endsWith('.map')) copy(file, path.join(stage, path.relative(ROOT, file)));
    for (const asset of (spec.assets ?? []).flatMap(expand)) copy(path.join(ROOT, asset), path.join(stage, asset));
  }
  fs.mkdirSync(out, { recursive: true });
  const json = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], stage);
  const [{ filename }] = JSON.parse(json.slice(json.indexOf('[')));
  return path.join(out, path.basename(filename));
}

module.exports = { PACKAGES, closure, pack, STAGE };

if (require.main === module) {
  const args = process.argv.slice(2);
  let out = path.join(ROOT, 'build', 'tarballs');
  const only = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = path.resolve(args[++i]);
    else if (args[i] === '--only') only.push(args[++i]);
    else
      throw new Error(`unknown argument ${args[i]}; usage: node scripts/pack.js [--out DIR] [--only n8n|node-red|cli]`);
  }
  const ids = only.length ? only : Object.keys(PACKAGES);
  for (const id of ids) if (!PACKAGES[id]) throw new Error(`unknown package ${id}: one of ${Object.keys(PACKAGES)}`);
  const result = {};
  for (const id of ids) result[id] = pack(id, out);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
