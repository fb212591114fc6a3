// The credential check: open a separate socket, exchange one heartbeat, close.
import { openSocket } from './handshake';
import { heartbeatFrame, parseFrame } from './protocol';
import { keyOf, resolveOptions } from './registry';
import { sharedBudget } from './backoff';
import { describeWait, HandshakeError } from './errors';
import { describeEndpoint } from './endpoint';
import type { PlatformSocket } from './platform';
import type { ConnectionOptions } from './types';

export async function testConnection(options: ConnectionOptions): Promise<{ latencyMs: number }> {
  const resolved = resolveOptions(options);
  const { clock } = resolved.platform;
  // A credential test is a new connection like any other: it spends the same budget, and respects it.
  const budget = sharedBudget(keyOf(resolved), resolved.maxConnectsPerMinute, clock.now());
  const waitMs = budget.waitMs(clock.now());
  if (waitMs > 0) {
    throw new HandshakeError(
      `Not testing now: this process already opened ${resolved.maxConnectsPerMinute} new connections to ${describeEndpoint(resolved.endpoint)} with this token in the last minute, ` +
        `the local budget that keeps the account from being rate limited. Try again in ${describeWait(waitMs)}.`,
    );
  }
  budget.record(clock.now());
  const started = clock.now();
  const endpoint = describeEndpoint(resolved.endpoint);
  let socket: PlatformSocket | undefined;
  let opened = false;
  let timer: ReturnType<typeof clock.setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      socket = openSocket(resolved, resolved.platform, {
        open: () => {
          opened = true;
          timer = clock.setTimeout(() => {
            reject(
              new HandshakeError(
                `Connected to ${endpoint} but no heartbeat answer came within ${resolved.pongTimeoutMs} ms. The endpoint may not be a Pingstreams realtime server.`,
              ),
            );
          }, resolved.pongTimeoutMs);
          socket?.send(heartbeatFrame('ping'));
        },
        failed: reject,
        message: (text) => {
          const frame = parseFrame(text);
          if (frame.type === 'pong' || frame.type === 'ping') resolve();
        },
        close: () => reject(new HandshakeError(`The server at ${endpoint} closed the connection during the test.`)),
        error: (error) =>
          reject(new HandshakeError(`The connection to ${endpoint} failed during the test: ${error.message}`)),
      });
    });
    return { latencyMs: clock.now() - started };
  } finally {
    clock.clearTimeout(timer);
    const done = socket;
    if (done && opened && done.state === 'open') {
      done.close(1000, 'connection test done');
      clock.setTimeout(() => done.terminate(), 1_000);
    } else done?.terminate();
  }
}
