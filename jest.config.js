/** Three projects: unit (no sockets), integration (real loopback sockets against the emulator), e2e (real n8n / Node-RED). */
const tsJest = ['ts-jest', { diagnostics: false }];
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['<rootDir>/test/helpers/platform-setup.ts'],
};
module.exports = {
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  // unit, integration, then e2e: the e2e cache fills meanwhile on a new machine (test/project-order-sequencer.js).
  testSequencer: '<rootDir>/test/project-order-sequencer.js',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // n8n's throughput side by side (test/e2e/n8n-throughput.bench.ts): long, so only when asked for.
    ...(process.env.N8N_THROUGHPUT
      ? [{ ...base, displayName: 'n8n-throughput', testMatch: ['<rootDir>/test/e2e/**/*.bench.ts'] }]
      : []),
  ],
};
