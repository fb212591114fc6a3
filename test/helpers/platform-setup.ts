// Jest setupFiles: the platform of every connection a test opens without naming one. PINGSTREAMS_TEST_SOCKETS=global
// runs the suites over the WebSocket Node 22+ provides (test/integration/global-websocket.test.ts does, under Node 24).
import { setDefaultPlatform } from '../../core/registry';
import { nodeGlobalWebSocketPlatform, nodePlatform } from '../../core/node-platform';
import { hasGlobalWebSocket } from '../../core/web-socket-platform';

if (process.env.PINGSTREAMS_TEST_SOCKETS === 'global') {
  if (!hasGlobalWebSocket())
    throw new Error(`PINGSTREAMS_TEST_SOCKETS=global needs Node 22 or later (this is ${process.version}).`);
  setDefaultPlatform(nodeGlobalWebSocketPlatform());
} else {
  setDefaultPlatform(nodePlatform);
}
