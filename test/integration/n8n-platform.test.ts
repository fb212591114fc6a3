// The n8n platform (nodes/Pingstreams/n8n-platform.ts: n8n-workflow's sleep, the global WebSocket, the refusal
// probe through n8n's HTTP helper) against the real emulator over loopback: a refused token is told apart and not
// retried, a rate limit is told apart and its Retry-After honoured, a network failure is retried. The global
// WebSocket needs Node 22+: under an older Node this file runs itself again under the cached Node 24.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { IHttpRequestOptions } from 'n8n-workflow';
import {
  acquireConnection,
  RateLimitedError,
  testConnection,
  TokenRefusedError,
  type ConnectionStatus,
} from '../../core';
import { hasGlobalWebSocket } from '../../core/web-socket-platform';
import { startEmulator, type Emulator } from '../../emulator';
import { n8nClock, n8nPlatform } from '../../nodes/Pingstreams/n8n-platform';
import { freePort } from '../e2e/n8n/harness';
import { waitFor } from '../helpers/wait';
import { fakeHttpRequest } from '../helpers/n8n-http';

const ROOT = join(__dirname, '..', '..');

const requests: IHttpRequestOptions[] = [];
const httpRequest = fakeHttpRequest(requests);

if (!hasGlobalWebSocket()) {
  test(
    'runs under Node 24, which has the global WebSocket',
    () => {
      const provision = spawnSync('bash', [join(ROOT, 'scripts/e2e/provision.sh'), 'node'], {
        encoding: 'utf8',
        timeout: 10 * 60_000,
      });
      expect(provision.status).toBe(0);
      const node24 = /^E2E_NODE24=(.+)$/m.exec(provision.stdout)![1];
      const run = spawnSync(
        node24,
        [
          join(ROOT, 'node_modules/jest/bin/jest.js'),
          'test/integration/n8n-platform.test.ts',
          '--selectProjects',
          'integration',
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: 5 * 60_000, env: { ...process.env, FORCE_COLOR: '0' } },
      );
      expect({
        status: run.status,
        output: run.status === 0 ? '' : `${run.stdout}\n${run.stderr}`.slice(-6000),
      }).toEqual({
        status: 0,
        output: '',
      });
      expect(run.stderr).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    },
    15 * 60_000,
  );
} else {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => requests.splice(0));

  const platform = () => n8nPlatform(httpRequest);

  test('a working token connects over the global WebSocket; no probe is sent', async () => {
    const result = await testConnection({ endpoint: emu.url, token: emu.tokens.owner, platform: platform() });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(requests).toEqual([]);
  });

  test('a refused token (401): told apart by the probe, the connection fails for good, without a retry', async () => {
    const token = emu.signToken({ sub: 'nobody' } as never, { expiresInSec: -60 });
    await expect(testConnection({ endpoint: emu.url, token, platform: platform() })).rejects.toBeInstanceOf(
      TokenRefusedError,
    );
    expect(requests).toHaveLength(1);
    expect(String(requests[0].url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\//);
    requests.splice(0);
    const statuses: ConnectionStatus[] = [];
    const handle = acquireConnection({ endpoint: emu.url, token, platform: platform(), lingerMs: 0 });
    handle.onStatus((s) => statuses.push(s));
    handle.subscribe(`/${emu.projectId}/requests`, { onEvent: () => undefined, onError: () => undefined });
    try {
      await waitFor(() => handle.status.state === 'failed', 'the connection failed');
      const before = emu.stats().connectionsRefused;
      await new Promise((resolve) => n8nClock().setTimeout(() => resolve(null), 1_500));
      expect(emu.stats().connectionsRefused).toEqual(before); // nothing more was tried
      expect(handle.status.error).toBeInstanceOf(TokenRefusedError);
      expect(statuses.some((s) => s.retryInMs !== undefined)).toBe(false);
      expect(JSON.stringify(statuses.map((s) => s.error?.message))).not.toContain(token);
    } finally {
      handle.release();
    }
  }, 30_000);

  test('a rate limit (429): told apart with its reason, and the retry waits for Retry-After', async () => {
    // The socket and the probe are both upgrade requests: refuse both.
    emu.faults.refuseNext(2, 429, { retryAfterSec: 2, reason: 'Too many connections for this user' });
    const err = await testConnection({ endpoint: emu.url, token: emu.tokens.owner, platform: platform() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).statusCode).toBe(429);
    expect((err as RateLimitedError).retryAfterMs).toBe(2_000);
    expect((err as Error).message).toContain('Too many connections for this user');

    emu.faults.refuseNext(2, 429, { retryAfterSec: 2, reason: 'slow down' });
    const handle = acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, platform: platform(), lingerMs: 0 });
    const statuses: ConnectionStatus[] = [];
    handle.onStatus((s) => statuses.push(s));
    handle.subscribe(`/${emu.projectId}/requests`, { onEvent: () => undefined, onError: () => undefined });
    try {
      await waitFor(() => statuses.some((s) => s.retryInMs !== undefined), 'a retry scheduled');
      const retry = statuses.find((s) => s.retryInMs !== undefined)!;
      expect(retry.retryInMs).toBeGreaterThanOrEqual(2_000);
      expect(retry.error).toBeInstanceOf(RateLimitedError);
      await waitFor(() => handle.status.state === 'connected', 'connected after Retry-After', 15_000);
    } finally {
      handle.release();
    }
  }, 30_000);

  test('a network failure: nothing listens; told apart as the network and retried', async () => {
    const port = await freePort();
    const endpoint = `ws://127.0.0.1:${port}/api/`;
    const err = await testConnection({ endpoint, token: emu.tokens.owner, platform: platform() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TokenRefusedError);
    expect(err).not.toBeInstanceOf(RateLimitedError);
    expect((err as Error).message).not.toContain(emu.tokens.owner);
    const handle = acquireConnection({ endpoint, token: emu.tokens.owner, platform: platform(), lingerMs: 0 });
    handle.subscribe(`/${emu.projectId}/requests`, { onEvent: () => undefined, onError: () => undefined });
    try {
      await waitFor(() => handle.status.retryInMs !== undefined, 'a retry scheduled');
      expect(handle.status.retryInMs).toBeGreaterThan(0);
      expect(handle.status.error).not.toBeInstanceOf(TokenRefusedError);
    } finally {
      handle.release();
    }
  }, 30_000);

  test("n8n's sleep timers: fire once, cleared ones never, a throwing callback is reported", async () => {
    const errors: unknown[] = [];
    const clock = n8nClock((e) => errors.push(e));
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('a'), 10);
    const cleared = clock.setTimeout(() => fired.push('b'), 10);
    clock.clearTimeout(cleared);
    clock.clearTimeout(undefined);
    clock.setTimeout(() => {
      throw new Error('boom');
    }, 5);
    await new Promise((resolve) => clock.setTimeout(() => resolve(null), 50));
    expect(fired).toEqual(['a']);
    expect(errors).toEqual([new Error('boom')]);
  });
}
