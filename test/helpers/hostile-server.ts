// A small hostile server on 127.0.0.1 speaking raw TCP, for behaviour the emulator will not produce
// (dribbled handshakes, absurd Retry-After values, a peer that stops reading). Every socket it accepted
// is destroyed by close(), so a failing test leaves nothing open.
import { createServer, type Server, type Socket } from 'node:net';

export interface HostileServer {
  readonly url: string;
  readonly port: number;
  /** Sockets accepted so far (connection attempts seen). */
  readonly accepted: number;
  close(): Promise<void>;
}

/** `onRequest` gets each socket once the HTTP request head has arrived (the text of the head, up to the blank line). */
export async function startHostileServer(onRequest: (socket: Socket, head: string) => void): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      onRequest(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/api/`,
    port,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
