// The JWT never leaks: not in statuses, errors, stacks, warnings, logger lines or diagnostics, even when the
// server (or a hostile frame) echoes it back in a refusal reason, a topic or a method.
import { startEmulator, type Emulator } from '../../emulator';
import {
  acquireConnection,
  closeAllConnections,
  connectionStats,
  testConnection,
  type ConnectionOptions,
  type Logger,
} from '../../core';
import { WebSocketServer } from 'ws';
import { waitFor } from '../helpers/wait';

jest.setTimeout(30_000);

let emu: Emulator;
let token: string;
const seen: string[] = [];

const logger: Logger = {
  debug: (m) => seen.push(`debug ${m}`),
  info: (m) => seen.push(`info ${m}`),
  warn: (m) => seen.push(`warn ${m}`),
  error: (m) => seen.push(`error ${m}`),
};

beforeEach(async () => {
  emu = await startEmulator();
  token = emu.tokens.owner;
  seen.length = 0;
});
afterEach(async () => {
  await closeAllConnections();
  await emu.close();
});

/** Every form in which the token, or a recognisable part of it, could appear. */
function forms(secret: string): string[] {
  const [, payload, signature] = secret.split('.');
  return [secret, `JWT ${secret}`, encodeURIComponent(`JWT ${secret}`), payload, signature];
}

function expectNoSecret(secret: string): void {
  const text = [...seen, JSON.stringify(connectionStats())].join('\n');
  for (const form of forms(secret)) expect(text).not.toContain(form);
}

function open(options: Partial<ConnectionOptions> = {}, secret = token) {
  const handle = acquireConnection({
    endpoint: emu.url,
    token: secret,
    lingerMs: 0,
    backoffInitialMs: 50,
    backoffMaxMs: 200,
    logger,
    ...options,
  });
  handle.onStatus((s) => seen.push(`status ${s.state} ${s.error?.message ?? ''} ${s.error?.stack ?? ''}`));
  handle.onWarning((w) => seen.push(`warning ${w}`));
  const subscription = handle.subscribe(`/${emu.projectId}/requests`, {
    onEvent: () => undefined,
    onError: (e) => seen.push(`onError ${e.message} ${e.stack ?? ''} ${JSON.stringify(e)}`),
    resumable: true, // its record is audited too
  });
  subscription.ready.catch((e: Error) => seen.push(`ready ${e.message} ${e.stack ?? ''}`));
  return { handle, subscription };
}

test.each([
  ['429', 429],
  ['503', 503],
  ['500', 500],
])('a %s refusal whose reason echoes the token is reported without it', async (_label, status) => {
  const prefixed = `JWT ${token}`;
  emu.faults.refuseNext(1, status, {
    retryAfterSec: 0,
    reason: `over its limit: ${token} / ${prefixed} / ${encodeURIComponent(prefixed)}`,
  });
  const { subscription } = open({}, prefixed);
  await subscription.ready;
  expect(seen.join('\n')).toMatch(/over its limit/); // the reason itself is kept
  expectNoSecret(token);
});

test('a reason long enough to be cut inside the token leaves no fragment of it', async () => {
  const [header, payload] = token.split('.');
  // The reason is shortened to 300 characters: make the cut fall 60 characters into the token's payload.
  const padding = 'a'.repeat(300 - header.length - 1 - 60 - 1);
  emu.faults.refuseNext(1, 429, { retryAfterSec: 0, reason: `${padding} ${token}` });
  const { subscription } = open();
  await subscription.ready;
  expect(seen.join('\n')).toContain(padding);
  expect(seen.join('\n')).not.toContain(payload.slice(0, 60));
  expectNoSecret(token);
});

test('a hostile frame carrying the token in its topic and method produces a redacted warning', async () => {
  const { subscription } = open();
  await subscription.ready;
  emu.faults.sendRaw(
    JSON.stringify({ action: 'publish', payload: { topic: `/${emu.projectId}/requests`, method: token, message: {} } }),
  );
  emu.faults.sendRaw(
    JSON.stringify({
      action: 'publish',
      payload: { topic: `/${emu.projectId}/requests`, method: 'CREATE', message: [token, { _id: 'x' }] },
    }),
  );
  emu.faults.sendRaw(`{"action":"publish","payload":{"topic":"${token}"`);
  await waitFor(
    () => connectionStats().connections[0]?.stats.malformedFrames >= 3 || undefined,
    'three malformed frames',
  );
  expect(seen.filter((s) => s.startsWith('warning')).length).toBeGreaterThanOrEqual(3);
  expectNoSecret(token);
});

test('a dead (half-open) socket and a dropped one are reported without the token', async () => {
  const { subscription } = open({ pingIntervalMs: 200, pongTimeoutMs: 300 });
  await subscription.ready;
  emu.faults.halfOpen();
  await waitFor(() => seen.some((s) => /No answer from/.test(s)) || undefined, 'dead socket warning');
  await waitFor(() => connectionStats().connections[0]?.stats.connectsOpened === 2 || undefined, 'reconnected');
  emu.faults.dropAll();
  await waitFor(() => connectionStats().connections[0]?.stats.connectsOpened === 3 || undefined, 'reconnected again');
  expectNoSecret(token);
});

test('a refused token (401), in every form, is never repeated back', async () => {
  const stranger = emu.signToken({ _id: '0'.repeat(24) });
  for (const form of [stranger, `JWT ${stranger}`, ` JWT ${stranger} `]) {
    const { subscription, handle } = open({}, form);
    await subscription.ready.catch(() => undefined);
    const error = await testConnection({ endpoint: emu.url, token: form }).then(
      () => undefined,
      (e: Error) => e,
    );
    seen.push(`testConnection ${error?.message} ${error?.stack}`);
    handle.release();
  }
  expect(seen.join('\n')).toMatch(/refused the access token/);
  expectNoSecret(stranger);
});

test('diagnostics and resume records hold no token', async () => {
  const { subscription } = open();
  await subscription.ready;
  seen.push(JSON.stringify(subscription.exportState()));
  const stats = connectionStats();
  expect(stats.connections[0].endpoint).not.toMatch(/token=/);
  expectNoSecret(token);
});

describe('a close reason that echoes the token', () => {
  // The server cuts a close reason at 123 bytes: the token arrives truncated, where no whole-token match finds it.
  const opaque = `opaque-${'s3cr3t'.repeat(30)}`;
  test.each([
    ['a JWT', () => token],
    ['a JWT with its prefix', () => `JWT ${token}`],
    ['an opaque token', () => opaque],
  ])('leaves no fragment of %s in statuses, errors or warnings', async (_label, secretOf) => {
    const secret = secretOf();
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket, request) => {
      const echoed = decodeURIComponent(/token=([^&]+)/.exec(request.url ?? '')?.[1] ?? '');
      socket.close(4000, Buffer.from(`bye ${echoed}`).subarray(0, 123).toString('utf8'));
    });
    try {
      const endpoint = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/`;
      const handle = acquireConnection({ endpoint, token: secret, lingerMs: 0, backoffInitialMs: 1_000, logger });
      handle.onStatus((s) => seen.push(`status ${s.state} ${s.error?.message ?? ''} ${s.error?.stack ?? ''}`));
      handle.subscribe('/p/requests', { onEvent: () => undefined, onError: (e) => seen.push(`onError ${e.message}`) });
      await waitFor(() => seen.some((s) => /closed \(4000 bye/.test(s)) || undefined, 'the close to be reported');
      handle.release();
      const text = seen.join('\n');
      const bare = secret.replace(/^JWT /, '');
      for (const fragment of [bare.slice(0, 16), bare.slice(20, 60), bare.split('.')[1]?.slice(0, 30)].filter(
        Boolean,
      )) {
        expect(text).not.toContain(fragment);
      }
    } finally {
      await closeAllConnections();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
