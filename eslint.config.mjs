// Flat config: typescript-eslint recommended on the whole tree. n8n's own checks (the scanner's rules and
// @n8n/node-cli's lint config, unmodified) do not run here: they run on the n8n package as it is staged and packed,
// in scripts/verify-n8n.mjs (test/unit/n8n-verify.test.ts), where they see exactly what n8n users install.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', '**/*.d.ts'] },
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
);
