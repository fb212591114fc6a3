// Flat config: typescript-eslint recommended everywhere; n8n's community rules on the n8n nodes,
// the credentials and package.json (what the n8n Creator Portal checks).
import js from '@eslint/js';
import * as espree from 'espree';
import globals from 'globals';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import tseslint from 'typescript-eslint';

const n8nPlugin = { 'n8n-nodes-base': n8nNodesBase };

// The package.json rules walk an ObjectExpression: parse the JSON as a parenthesised JS expression
// and shift positions back by the one character added.
const packageJsonParser = {
  meta: { name: 'package-json-as-expression' },
  parseForESLint(code) {
    const ast = espree.parse(`(${code})`, {
      ecmaVersion: 'latest',
      range: true,
      loc: true,
      tokens: true,
      comment: true,
    });
    const seen = new Set();
    const shift = (node) => {
      if (!node || typeof node !== 'object' || seen.has(node)) return;
      seen.add(node);
      if (Array.isArray(node.range)) node.range = [Math.max(0, node.range[0] - 1), Math.max(0, node.range[1] - 1)];
      if (typeof node.start === 'number') node.start = Math.max(0, node.start - 1);
      if (typeof node.end === 'number') node.end = Math.max(0, node.end - 1);
      if (node.loc)
        for (const at of [node.loc.start, node.loc.end]) if (at.line === 1) at.column = Math.max(0, at.column - 1);
      for (const [key, value] of Object.entries(node)) {
        if (key === 'loc' || key === 'parent') continue;
        if (Array.isArray(value)) value.forEach(shift);
        else shift(value);
      }
    };
    shift(ast);
    return { ast };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The dashboard page's script runs in the browser, as a classic script (uPlot is a global there).
  {
    files: ['cli/dashboard-page/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, uPlot: 'readonly' } },
  },
  // Tests read JSON off the wire; `any` there is the honest type of a frame under inspection.
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['credentials/**/*.ts'],
    plugins: n8nPlugin,
    rules: {
      ...n8nNodesBase.configs.credentials.rules,
      // That rule wants a docs.n8n.io slug, which only built-in credentials have; a community package links its own docs.
      'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
    },
  },
  {
    files: ['nodes/Pingstreams/**/*.ts', 'nodes/PingstreamsTrigger/**/*.ts'],
    plugins: n8nPlugin,
    rules: {
      ...n8nNodesBase.configs.nodes.rules,
      // These predate n8n-workflow's NodeConnectionTypes.Main, which is what current n8n nodes use for ['main'].
      'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
      'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
    },
  },
  {
    files: ['package.json'],
    languageOptions: { parser: packageJsonParser },
    plugins: n8nPlugin,
    rules: {
      ...n8nNodesBase.configs.community.rules,
      // The parsed JSON is a lone expression statement.
      '@typescript-eslint/no-unused-expressions': 'off',
      'no-unused-expressions': 'off',
    },
  },
);
