// The credential check: open a separate socket, exchange one heartbeat, close.
import { openSocket } from './handshake';
import { heartbeatFrame, parseFrame } from './protocol';
import { keyOf, resolveOptions } from './registry';
import { sharedBudget } from './backoff';
import { describeWait, HandshakeError } from './errors';
import { describeEndpoint } from './endpoint';
import type { ConnectionOptions } from './types';

export async function testConnection(options: ConnectionOptions): Promise<{ latencyMs: number }> {
  const resolved = resolveOptions(options);
  // A credential test is a new connection like any other: it spends the same budget, and respects it.
  const budget = sharedBudget(keyOf(resolved), resolved.maxConnectsPerMinute);
  const waitMs = budget.waitMs();
  if (waitMs > 0) {
    throw new HandshakeError(
      `Not testing now: this process already opened ${resolved.maxConnectsPerMinute} new connections to ${describeEndpoint(resolved.endpoint)} with this token in the last minute, ` +
        `the local budget that keeps the account from being rate limited. Try again in ${describeWait(waitMs)}.`,
    );
  }
  budget.record();
  const started = Date.now();
  const { socket, opened } = openSocket(resolved);
  try {
    await opened;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new HandshakeError(
            `Connected to ${describeEndpoint(resolved.endpoint)} but no heartbeat answer came within ${resolved.pongTimeoutMs} ms. The endpoint may not be a Pingstreams realtime server.`,
          ),
        );
      }, resolved.pongTimeoutMs);
      socket.on('message', (data) => {
        const frame = parseFrame(data.toString());
        if (frame.type === 'pong' || frame.type === 'ping') {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.on('close', () => {
        clearTimeout(timer);
        reject(
          new HandshakeError(
            `The server at ${describeEndpoint(resolved.endpoint)} closed the connection during the test.`,
          ),
        );
      });
      socket.send(heartbeatFrame('ping'));
    });
    return { latencyMs: Date.now() - started };
  } finally {
    socket.removeAllListeners();
    socket.on('error', () => undefined);
    if (socket.readyState === socket.OPEN) socket.close(1000, 'connection test done');
    else socket.terminate();
    setTimeout(() => socket.terminate(), 1_000).unref?.();
  }
}
