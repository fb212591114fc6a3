// The helper ships no types; test/helpers/node-red-runtime.ts gives the slice the tests use its types.
declare module 'node-red-node-test-helper';
