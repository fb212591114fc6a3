import WebSocket from 'ws';
import { acceptKey, startHostileServer } from '../helpers/hostile-server';
test('x', async () => {
  const server = await startHostileServer((socket, head) => {
    console.log('HEAD', JSON.stringify(head));
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(head)}\r\n\r\n`);
  });
  const ws = new WebSocket(server.url);
  await new Promise<void>((resolve, reject) => { ws.on('open', () => resolve()); ws.on('error', reject); ws.on('unexpected-response', () => reject(new Error('unexpected'))); });
  ws.terminate(); await server.close();
});
