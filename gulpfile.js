// Copies what tsc does not: icons (n8n), Node-RED editor .html files and locales, the dashboard page.
const { Transform } = require('node:stream');
const { src, dest, parallel } = require('gulp');

function n8nIcons() {
  return src(['nodes/**/*.{png,svg}', 'credentials/**/*.{png,svg}', 'icons/**/*.{png,svg}'], {
    base: '.',
    encoding: false,
  }).pipe(dest('dist'));
}

// The editor cannot import TypeScript: what it needs from the core (the topic kinds) is written into the
// editor files by nodes/node-red/editor-data.ts, compiled by tsc before this runs.
function injectEditorData() {
  const { injectEditorData: inject } = require('./dist/nodes/node-red/editor-data.js');
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
  return src(['nodes/**/*.html', 'nodes/**/locales/**/*.{json,html}', 'nodes/**/icons/**/*', 'nodes/**/*.node.json'], {
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

exports.build = parallel(n8nIcons, nodeRedEditorFiles, dashboardPage);
exports.default = exports.build;
