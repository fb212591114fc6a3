// A TCP proxy on loopback that holds every chunk, both ways, for `delayMs` before passing it on (in order): a slow
// link between one process and a server, the others connected directly.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class DelayProxy {
  /** Applies to the chunks read from now on. */
  delayMs = 0;
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstreamPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(this.upstreamPort, '127.0.0.1');
      this.pipe(client, upstream);
      this.pipe(upstream, client);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private pipe(from: Socket, to: Socket) {
    this.sockets.add(from);
    // A chain of timers keeps the order: each chunk leaves delayMs after it came, never before the one before it.
    let last = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const due = Date.now() + this.delayMs;
      last = last.then(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(
              () => {
                if (!to.destroyed) to.write(chunk);
                resolve();
              },
              Math.max(0, due - Date.now()),
            ),
          ),
      );
    });
    const close = () => void last.then(() => to.destroy());
    from.on('end', close);
    from.on('error', close);
    from.on('close', () => {
      this.sockets.delete(from);
      close();
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
