// Copies what tsc does not: icons (n8n), Node-RED editor .html files and locales, the dashboard page.
const { src, dest, parallel } = require('gulp');

function n8nIcons() {
  return src(['nodes/**/*.{png,svg}', 'credentials/**/*.{png,svg}', 'icons/**/*.{png,svg}'], {
    base: '.',
    encoding: false,
  }).pipe(dest('dist'));
}

function nodeRedEditorFiles() {
  return src(['nodes/**/*.html', 'nodes/**/locales/**/*.{json,html}', 'nodes/**/icons/**/*', 'nodes/**/*.node.json'], {
    base: '.',
    encoding: false,
  }).pipe(dest('dist'));
}

// The page of `pingstreams dashboard` (uPlot is served from node_modules, a dependency).
function dashboardPage() {
  return src(['cli/dashboard-page/**/*'], { base: '.', encoding: false }).pipe(dest('dist'));
}

exports.build = parallel(n8nIcons, nodeRedEditorFiles, dashboardPage);
exports.default = exports.build;
