// Minimal reproductions of defects the chaos soak found, each kept as a regression test.
import { startEmulator, type Emulator } from '../../emulator';
import { acquireConnection, closeAllConnections, connectionStats, type RealtimeEvent } from '../../core';
import { sleep, waitFor } from '../helpers/wait';

jest.setTimeout(30_000);

let emu: Emulator;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await closeAllConnections();
  await emu.close();
});

// Found by the soak: a request deleted while disconnected left no trace when its own topic was held. The
// single-request topic answers the resubscribe with null, which was taken as "nothing changed", and the
// open-requests topic looked the request up in that stale memory and found it unchanged.
test.each([
  ['single request topic first', true],
  ['open-requests topic first', false],
])(
  'a request deleted while disconnected is a recovered DELETE on both of its topics (%s)',
  async (_label, requestFirst) => {
    const [request] = emu.getRequests(emu.projectId).filter((r) => r.status < 1000);
    const single = `/${emu.projectId}/requests/${request.request_id}`;
    const list = `/${emu.projectId}/requests`;
    const events: RealtimeEvent[] = [];
    const handle = acquireConnection({
      endpoint: emu.url,
      token: emu.tokens.owner,
      lingerMs: 0,
      backoffInitialMs: 50,
      backoffMaxMs: 200,
    });
    const subscriptions = (requestFirst ? [single, list] : [list, single]).map((topic) =>
      handle.subscribe(topic, { onEvent: (e) => events.push(e) }),
    );
    await Promise.all(subscriptions.map((s) => s.ready));

    const restarting = emu.faults.restart({ downMs: 300 });
    emu.deleteRequest(emu.projectId, String(request.request_id));
    await restarting;
    await waitFor(
      () => connectionStats().connections[0]?.stats.connectsOpened === 2 && emu.stats().subscriptions >= 2,
      'resubscribed',
    );
    await waitFor(() => events.length >= 2 || undefined, 'a DELETE on each topic', 5_000).catch(() => undefined);
    await sleep(300); // a duplicate would show here
    expect(events.map((e) => [e.topic, e.method, e.data._id, e.recovered]).sort()).toEqual(
      [
        [list, 'DELETE', request._id, true],
        [single, 'DELETE', request._id, true],
      ].sort(),
    );
  },
);
