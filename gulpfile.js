// Copies what tsc does not: n8n's icons and codex files, Node-RED's editor .html files, locales and icons, the
// dashboard page.
const { Transform } = require('node:stream');
const { src, dest, parallel } = require('gulp');

function n8nFiles() {
  return src(['nodes/**/*.{png,svg}', 'nodes/**/*.node.json', 'credentials/**/*.{png,svg}', 'icons/**/*.{png,svg}'], {
    base: '.',
    encoding: false,
  }).pipe(dest('dist'));
}

// The editor cannot import TypeScript: what it needs from the core (the topic kinds) is written into the
// editor files by node-red/editor-data.ts, compiled by tsc before this runs.
function injectEditorData() {
  const { injectEditorData: inject } = require('./dist/node-red/editor-data.js');
  return new Transform({
    objectMode: true,
    transform(file, _encoding, done) {
      if (file.extname === '.html' && file.isBuffer())
        file.contents = Buffer.from(inject(file.contents.toString('utf8')));
      done(null, file);
    },
  });
}

function nodeRedEditorFiles() {
  return src(['node-red/**/*.html', 'node-red/locales/**/*.{json,html}', 'node-red/icons/**/*'], {
    base: '.',
    encoding: false,
  })
    .pipe(injectEditorData())
    .pipe(dest('dist'));
}

// The page of `pingstreams dashboard` (uPlot is served from node_modules, a dependency).
function dashboardPage() {
  return src(['cli/dashboard-page/**/*'], { base: '.', encoding: false }).pipe(dest('dist'));
}

exports.build = parallel(n8nFiles, nodeRedEditorFiles, dashboardPage);
exports.default = exports.build;
