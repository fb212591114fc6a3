'use strict';
// A minimal loopback server speaking the Pingstreams wire protocol (subscribe -> empty snapshot, ping -> pong,
// then publish frames on command), in its own thread so building frames does not cost the consumer's event loop.
// Every element carries `t`, process.hrtime in ns at send time: the monotonic clock is shared by all threads.
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const { WebSocketServer } = require('ws');
const { requestFrame } = require('./frames');

const PONG = JSON.stringify({ action: 'heartbeat', payload: { message: { text: 'pong' } } });
const server = http.createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
/** topic -> Set<WebSocket> */
const subscribers = new Map();

wss.on('connection', (ws) => {
  const topics = new Set();
  ws.on('message', (data) => {
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    const topic = frame && frame.payload && frame.payload.topic;
    if (frame.action === 'subscribe' && typeof topic === 'string') {
      if (!subscribers.has(topic)) subscribers.set(topic, new Set());
      subscribers.get(topic).add(ws);
      topics.add(topic);
      ws.send(JSON.stringify({ action: 'publish', payload: { topic, method: 'CREATE', message: [] } }));
    } else if (frame.action === 'unsubscribe' && typeof topic === 'string') {
      subscribers.get(topic)?.delete(ws);
      topics.delete(topic);
    } else if (frame.action === 'heartbeat' && frame.payload?.message?.text === 'ping') {
      ws.send(PONG);
    }
  });
  ws.on('close', () => {
    for (const topic of topics) subscribers.get(topic)?.delete(ws);
  });
  ws.on('error', () => undefined);
});

const BUFFER_LIMIT = 4 * 1024 * 1024;

/** Sends `count` frames at `rate` per second (0 = as fast as the sockets drain), ids cycling over `distinct`. */
function run({ topic, rate, count, distinct, offset = 0 }) {
  const targets = [...(subscribers.get(topic) ?? [])];
  const started = process.hrtime.bigint();
  let sent = 0;
  const sendOne = () => {
    const n = distinct ? sent % distinct : offset + sent;
    const frame = requestFrame(topic, n, offset + sent, distinct && sent >= distinct ? 'UPDATE' : 'CREATE');
    for (const ws of targets) ws.send(frame);
    sent += 1;
  };
  const congested = () => targets.some((ws) => ws.bufferedAmount > BUFFER_LIMIT);
  // Times a full send buffer stopped a burst: 0 means the consumer took everything as fast as it was sent,
  // so the publisher, not the consumer, set the pace.
  let stalls = 0;
  return new Promise((resolve) => {
    const tick = () => {
      if (rate > 0) {
        const due = Math.min(count, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * rate));
        while (sent < due) sendOne();
      } else {
        let burst = 0;
        // One write per burst instead of one per frame: the publisher must outpace the consumers it measures.
        for (const ws of targets) ws._socket.cork();
        while (sent < count && burst < 2000) {
          if (burst % 200 === 0 && congested()) {
            stalls += 1;
            break;
          }
          sendOne();
          burst += 1;
        }
        for (const ws of targets) ws._socket.uncork();
      }
      if (sent >= count)
        return resolve({
          sent,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          stalls,
          subscribers: targets.length,
        });
      if (rate > 0) setTimeout(tick, 1);
      else setImmediate(tick);
    };
    tick();
  });
}

parentPort.on('message', async (command) => {
  if (command.type === 'run') parentPort.postMessage({ type: 'done', id: command.id, ...(await run(command)) });
  if (command.type === 'close') {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.close(() => parentPort.postMessage({ type: 'closed' }));
  }
});

server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'ready', port: server.address().port }));
