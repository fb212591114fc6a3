// `pingstreams emulator` end to end in-process: it prints a working endpoint and token, and stops cleanly.
import WebSocket from 'ws';
import { runEmulatorCommand } from '../../cli/emulator-command';

jest.setTimeout(30_000);

function capture(): {
  io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } };
  out: () => string;
  err: () => string;
  onOut: (cb: () => void) => void;
} {
  let out = '';
  let err = '';
  const listeners: Array<() => void> = [];
  return {
    io: {
      stdout: {
        write: (t: string) => {
          out += t;
          listeners.forEach((l) => l());
          return true;
        },
      },
      stderr: {
        write: (t: string) => {
          err += t;
          return true;
        },
      },
    },
    out: () => out,
    err: () => err,
    onOut: (cb) => listeners.push(cb),
  };
}

test('prints the endpoint, admin URL, project and a working owner token, then exits 0 when stopped', async () => {
  const cap = capture();
  const stop = new AbortController();
  const printed = new Promise<void>((resolve) =>
    cap.onOut(() => {
      if (cap.out().includes('Ctrl+C')) resolve();
    }),
  );
  const exit = runEmulatorCommand(['--port', '0', '--heartbeat', '60000'], cap.io, { signal: stop.signal });
  await printed;
  const url = /WebSocket endpoint: (ws:\/\/127\.0\.0\.1:\d+\/api\/)/.exec(cap.out())?.[1];
  const admin = /Admin API: +(http:\/\/127\.0\.0\.1:\d+\/admin)/.exec(cap.out())?.[1];
  const project = /Demo project id: +([0-9a-f]{24})/.exec(cap.out())?.[1];
  const token = /Owner token: +(\S+)/.exec(cap.out())?.[1];
  expect([url, admin, project, token].every(Boolean)).toBe(true);

  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token!)}`);
  const snapshot = await new Promise<any>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ action: 'subscribe', payload: { topic: `/${project}/requests` } })));
    ws.once('message', (d) => resolve(JSON.parse(String(d))));
  });
  expect(snapshot.payload).toMatchObject({ topic: `/${project}/requests`, method: 'CREATE' });
  expect(Array.isArray(snapshot.payload.message)).toBe(true);
  const stats = (await (await fetch(`${admin}/stats`)).json()) as { clients: number };
  expect(stats.clients).toBe(1);

  const closed = new Promise((resolve) => ws.once('close', resolve));
  stop.abort();
  expect(await exit).toBe(0);
  await closed;
  expect(cap.out()).toContain('stopped');
  expect(cap.err()).toBe('');
});

test.each([
  [['--port', 'abc'], /--port needs a whole number/],
  [['--port', '70000'], /0 to 65535/],
  [['--simulate', '0'], /greater than 0/],
  [['--heartbeat'], /needs a value/],
  [['--colour', 'blue'], /Unknown option "--colour"/],
])('usage error %j returns 2 with a message on stderr', async (argv, msg) => {
  const cap = capture();
  expect(await runEmulatorCommand(argv as string[], cap.io)).toBe(2);
  expect(cap.err()).toMatch(msg);
  expect(cap.err()).toContain('Usage: pingstreams emulator');
  expect(cap.out()).toBe('');
});

test('a seed file that does not exist is reported and returns 1', async () => {
  const cap = capture();
  expect(await runEmulatorCommand(['--port', '0', '--seed', '/nonexistent/seed.json'], cap.io)).toBe(1);
  expect(cap.err()).toMatch(/Cannot read the seed file \/nonexistent\/seed.json/);
});

test('--help prints the usage and returns 0', async () => {
  const cap = capture();
  expect(await runEmulatorCommand(['--help'], cap.io)).toBe(0);
  expect(cap.out()).toContain('--simulate RATE');
});
