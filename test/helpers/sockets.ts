// The socket factory the connection suites run over: `ws` (default), or with PINGSTREAMS_TEST_SOCKETS=global the
// WebSocket Node 22+ provides (test/helpers/platform-setup.ts installs it; global-websocket.test.ts runs them so).
export const TEST_SOCKETS: 'ws' | 'global' = process.env.PINGSTREAMS_TEST_SOCKETS === 'global' ? 'global' : 'ws';

/**
 * Upgrade requests one refused attempt costs at the server: the socket's, plus, over the global WebSocket (which
 * cannot tell a 401 from a 429), the probe's that asks why. A server's refusal fault must last that many.
 */
export const UPGRADES_PER_REFUSAL = TEST_SOCKETS === 'global' ? 2 : 1;

/** An upgrade answered 401 costs one more over the global WebSocket: Node's (undici's) repeats it once by itself. */
export const UPGRADES_PER_401 = TEST_SOCKETS === 'global' ? 3 : 1;
