// The Pingstreams action node in a faked n8n execute context, against the real emulator over loopback.
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { IDataObject } from 'n8n-workflow';
import { acquireConnection, closeAllConnections, type ConnectionHandle } from '../../core';
import { startEmulator, type Emulator } from '../../emulator';
import { waitFor } from '../helpers/wait';
import { runAction } from './n8n-fakes';

jest.setTimeout(60_000);

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await closeAllConnections();
  await emu.close();
});

const creds = (token = emu.tokens.owner) => ({ accessToken: token, endpoint: emu.url });
const openRequests = () =>
  emu.getRequests(emu.projectId).filter((r) => Number(r.status) > 50 && Number(r.status) < 1000 && r.status !== 150);

describe('Get Snapshot', () => {
  test('one item per element, paired with the input item, and the subscription is closed afterwards', async () => {
    const { output } = await runAction({
      credentials: creds(),
      params: { operation: 'getSnapshot', resource: 'requests', projectId: emu.projectId },
    });
    expect(output.map((i) => i.json._id).sort()).toEqual(
      openRequests()
        .map((r) => r._id)
        .sort(),
    );
    expect(output.every((i) => JSON.stringify(i.pairedItem) === JSON.stringify({ item: 0 }))).toBe(true);
    await waitFor(() => emu.stats().subscriptions === 0, 'unsubscribed');
  });

  test('per-item parameters: the messages of two requests, each paired with its item', async () => {
    const [r1, r2] = openRequests();
    emu.addMessage(emu.projectId, String(r2.request_id), { text: 'one more' });
    const { output } = await runAction({
      credentials: creds(),
      params: {
        operation: 'getSnapshot',
        resource: 'messages',
        projectId: emu.projectId,
        output: 'data',
      },
      items: [{ r: 1 }, { r: 2 }],
      itemParams: [{ requestId: r1.request_id }, { requestId: r2.request_id }],
    });
    const expected = [
      ...emu
        .getMessages(emu.projectId, String(r1.request_id))
        .map((m) => ({ text: m.text, request: r1.request_id, item: 0 })),
      ...emu
        .getMessages(emu.projectId, String(r2.request_id))
        .map((m) => ({ text: m.text, request: r2.request_id, item: 1 })),
    ];
    expect(
      output.map((i) => ({
        text: i.json.text,
        request: i.json.recipient,
        item: (i.pairedItem as { item: number }).item,
      })),
    ).toEqual(expected);
    expect(expected.some((m) => m.text === 'one more')).toBe(true);
  });

  test('the envelope output flags the elements as snapshot', async () => {
    const request = openRequests()[0];
    const { output } = await runAction({
      credentials: creds(),
      params: {
        operation: 'getSnapshot',
        resource: 'request',
        projectId: emu.projectId,
        requestId: request.request_id,
        output: 'event',
      },
    });
    expect(output).toHaveLength(1);
    expect(output[0].json).toMatchObject({
      method: 'CREATE',
      kind: 'request',
      snapshot: true,
      recovered: false,
      data: { _id: request._id },
    });
  });

  test('a refused token is a NodeApiError with the item index; continueOnFail turns it into an error item', async () => {
    const expired = emu.signToken({ _id: emu.users.owner }, { expiresInSec: -10 });
    const params = { operation: 'getSnapshot', resource: 'requests', projectId: emu.projectId };
    const error = await runAction({ credentials: creds(expired), params }).then(
      () => undefined,
      (e: unknown) => e as NodeApiError,
    );
    expect(error).toBeInstanceOf(NodeApiError);
    expect(error!.httpCode).toBe('401');
    expect(error!.context.itemIndex).toBe(0);
    expect(error!.message).not.toContain(expired);

    const { output } = await runAction({ credentials: creds(expired), params, items: [{}, {}], continueOnFail: true });
    expect(output).toHaveLength(2);
    expect(output.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
    expect(String(output[0].json.error)).toMatch(/refused the access token/);
  });
});

describe('Wait for Event', () => {
  const waitParams = (extra: IDataObject = {}) => ({
    operation: 'waitForEvent',
    resource: 'requests',
    projectId: emu.projectId,
    events: ['UPDATE'],
    conditions: { condition: [{ field: 'status', operator: 'equals', value: '1000' }] },
    timeout: 20,
    ...extra,
  });

  test('resolves with the first event matching methods and condition', async () => {
    const [target, other] = openRequests();
    const pending = runAction({ credentials: creds(), params: waitParams() });
    await waitFor(() => emu.stats().subscriptions > 0, 'subscribed');
    emu.updateRequest(emu.projectId, String(other._id), { status: 200 });
    emu.closeRequest(emu.projectId, String(target._id));
    const { output } = await pending;
    expect(output).toHaveLength(1);
    expect(output[0]).toEqual({
      json: expect.objectContaining({
        method: 'UPDATE',
        data: expect.objectContaining({ _id: target._id, status: 1000 }),
      }),
      pairedItem: { item: 0 },
    });
    await waitFor(() => emu.stats().subscriptions === 0, 'unsubscribed');
  });

  test('"Include Current State" matches an element already in the wanted state', async () => {
    const closed = emu.getRequests(emu.projectId).find((r) => r.status === 1000)!;
    const { output } = await runAction({
      credentials: creds(),
      params: waitParams({
        resource: 'request',
        requestId: closed.request_id,
        output: 'data',
        options: { includeCurrentState: true },
      }),
    });
    expect(output.map((i) => i.json._id)).toEqual([closed._id]);
  });

  test('times out with a clear message; continueOnFail keeps going', async () => {
    const started = Date.now();
    const error = await runAction({ credentials: creds(), params: waitParams({ timeout: 1 }) }).then(
      () => undefined,
      (e: unknown) => e as NodeOperationError,
    );
    expect(error).toBeInstanceOf(NodeOperationError);
    expect(error!.message).toMatch(/No matching event on \/.+\/requests within 1 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const { output } = await runAction({
      credentials: creds(),
      params: waitParams({ timeout: 1 }),
      continueOnFail: true,
    });
    expect(output).toEqual([
      { json: { error: expect.stringMatching(/No matching event/), description: null }, pairedItem: { item: 0 } },
    ]);
  });

  describe('survives connection faults while waiting', () => {
    // The wait shares the connection of this handle (same endpoint and token), whose heartbeats and backoff
    // are short so a half-open socket is found in about a second.
    let shared: ConnectionHandle;
    beforeEach(() => {
      shared = acquireConnection({
        endpoint: emu.url,
        token: emu.tokens.owner,
        pingIntervalMs: 400,
        pongTimeoutMs: 800,
        backoffInitialMs: 100,
        backoffMaxMs: 400,
      });
    });
    afterEach(() => shared.release());

    const subscribedOn = async (acceptedBefore: number) =>
      waitFor(
        () =>
          emu.stats().connectionsAccepted > acceptedBefore &&
          emu.stats().liveSubscriptionsByTopic[`/${emu.projectId}/requests`] === 1,
        'subscribed again',
        20_000,
      );

    const faults: Array<[string, () => Promise<unknown> | unknown]> = [
      ['every socket dropped', () => emu.faults.dropAll()],
      ['the server restarted', () => emu.faults.restart({ downMs: 500 })],
      ['the socket left half-open', () => emu.faults.halfOpen()],
    ];

    test.each(faults)(
      '%s: the change made during the gap completes the wait, flagged recovered',
      async (_label, fault) => {
        const target = openRequests()[0];
        const pending = runAction({ credentials: creds(), params: waitParams() });
        await subscribedOn(0);
        const accepted = emu.stats().connectionsAccepted;
        await fault();
        emu.closeRequest(emu.projectId, String(target._id)); // never published to the cut-off client
        const { output } = await pending;
        expect(output).toEqual([
          {
            json: expect.objectContaining({
              method: 'UPDATE',
              recovered: true,
              data: expect.objectContaining({ _id: target._id, status: 1000 }),
            }),
            pairedItem: { item: 0 },
          },
        ]);
        expect(emu.stats().connectionsAccepted).toBeGreaterThan(accepted);
      },
    );

    test.each(faults)('%s: a change made after the reconnect completes the wait, live', async (_label, fault) => {
      const target = openRequests()[0];
      const pending = runAction({ credentials: creds(), params: waitParams() });
      await subscribedOn(0);
      const accepted = emu.stats().connectionsAccepted;
      await fault();
      await subscribedOn(accepted);
      emu.closeRequest(emu.projectId, String(target._id));
      const { output } = await pending;
      expect(output).toEqual([
        {
          json: expect.objectContaining({
            method: 'UPDATE',
            recovered: false,
            data: expect.objectContaining({ _id: target._id, status: 1000 }),
          }),
          pairedItem: { item: 0 },
        },
      ]);
    });
  });

  test('a cancelled execution stops waiting at once and unsubscribes', async () => {
    const abort = new AbortController();
    const pending = runAction({ credentials: creds(), params: waitParams({ timeout: 600 }), signal: abort.signal });
    await waitFor(() => emu.stats().subscriptions > 0, 'subscribed');
    abort.abort();
    await expect(pending).rejects.toThrow(/cancelled/);
    await waitFor(() => emu.stats().subscriptions === 0, 'unsubscribed');
  });
});

describe('workflows saved with JSONata (no longer evaluated in n8n)', () => {
  test('Transform with JSONata fails the item with what to use instead, and connects nowhere', async () => {
    const error = await runAction({
      params: { operation: 'transform', expression: '{ "id": id }' },
      items: [{ id: 'a' }],
    }).then(
      () => undefined,
      (e: unknown) => e as NodeOperationError,
    );
    expect(error).toBeInstanceOf(NodeOperationError);
    expect(error!.message).toMatch(/Transform with JSONata is no longer part of this node/);
    expect(error!.description).toMatch(/Edit Fields \(Set\) node/);
    expect(error!.description).toContain('{ "id": id }');
    expect(error!.context.itemIndex).toBe(0);
    expect(emu.stats().connectionsAccepted).toBe(0);
  });

  test('a JSONata Mapping output and a JSONata Only When say what to set instead', async () => {
    const params = { operation: 'getSnapshot', resource: 'requests', projectId: emu.projectId };
    const mapping = await runAction({
      credentials: creds(),
      params: { ...params, output: 'mapping', mapping: '{ "id": _id }' },
    }).then(
      () => undefined,
      (e: unknown) => e as NodeOperationError,
    );
    expect(mapping!.message).toMatch(/"JSONata Mapping" output, which n8n no longer runs/);
    expect(mapping!.description).toMatch(/Set Output to Data Only or Event Envelope/);
    const onlyWhen = await runAction({
      credentials: creds(),
      params: { ...params, operation: 'waitForEvent', events: ['UPDATE'], onlyWhen: 'status = 1000', timeout: 5 },
    }).then(
      () => undefined,
      (e: unknown) => e as NodeOperationError,
    );
    expect(onlyWhen!.message).toMatch(/JSONata "Only When" condition, which n8n no longer runs/);
    expect(onlyWhen!.description).toContain('status = 1000');
  });
});
