// Every frame of the hostile corpus (test/fixtures/hostile) sent by the emulator to a real Node-RED 4 runtime
// running `pingstreams in` wired to both a `pingstreams map` and a second node (so Node-RED clones each msg):
// no crash, no prototype pollution, a clear warning in the Node-RED log for malformed frames, and the next real
// event still delivered, through the map, on the same socket.
import { startEmulator, type Emulator } from '../../emulator';
import { closeAllConnections, connectionStats } from '../../core';
import { hasCleanPrototypes, loadHostileCorpus, prototypePollution, type HostileCase } from '../fixtures/hostile';
import { helper, logLines, NODES, onTab, type Msg } from '../helpers/node-red-runtime';
import { waitFor } from '../helpers/wait';

jest.setTimeout(90_000);

const corpus = loadHostileCorpus();
/** Anything that escaped Node-RED's and the package's handlers would land here (and crash a real Node-RED). */
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);
let emu: Emulator;

beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  helper.settings({ pingstreams: { lingerMs: 0 } });
  emu = await startEmulator();
});

afterAll(async () => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
  await closeAllConnections();
  await emu.close();
});

afterEach(async () => {
  await helper.unload();
  // A fresh socket per case: the core logs only the first malformed frames of a connection.
  await closeAllConnections();
});

/** The map reads keys and merges objects, the JSONata operations most likely to copy a planted key around. */
const MAP = '$merge([payload, {"seen": true, "keys": $keys(payload)[[0..2]], "method": $event.method}])';

let loads = 0;

async function load(): Promise<{ raw: Msg[]; mapped: Msg[]; caught: Msg[] }> {
  await helper.load(
    NODES,
    onTab([
      { id: 'cfg', type: 'pingstreams-config', name: 'emulator', endpoint: emu.url },
      {
        // A new id per case: a restarted node with the same id would resume from what the previous case saw.
        id: `in-${++loads}`,
        type: 'pingstreams in',
        server: 'cfg',
        kind: 'requests',
        projectId: emu.projectId,
        projectIdType: 'str',
        methodCreate: true,
        methodUpdate: true,
        methodDelete: true,
        snapshot: false,
        recovered: true,
        when: '',
        wires: [['map', 'raw']],
      },
      { id: 'map', type: 'pingstreams map', expression: MAP, property: 'payload', wires: [['mapped']] },
      { id: 'raw', type: 'helper' },
      { id: 'mapped', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]),
    { cfg: { token: emu.tokens.owner } },
  );
  const out = { raw: [] as Msg[], mapped: [] as Msg[], caught: [] as Msg[] };
  helper.getNode('raw').on('input', (msg: Msg) => out.raw.push(msg));
  helper.getNode('mapped').on('input', (msg: Msg) => out.mapped.push(msg));
  helper.getNode('caught').on('input', (msg: Msg) => out.caught.push(msg));
  await waitFor(
    () =>
      (emu.stats().subscriptionsByTopic[`/${emu.projectId}/requests`] ?? 0) > 0 &&
      connectionStats().connections[0]?.state === 'connected',
    'subscribed',
    15_000,
  );
  // The snapshot (not emitted) confirms the subscription before the hostile frame is sent.
  await waitFor(() => (connectionStats().connections[0]?.stats.framesReceived ?? 0) >= 1, 'the snapshot', 15_000);
  return out;
}

const byExpectation = (c: HostileCase) => `${c.expect}: ${c.name}${c.generated ? ' (generated)' : ''}`;

test.each(corpus.map((c) => [byExpectation(c), c] as const))('%s', async (_label, hostile) => {
  const out = await load();
  expect(emu.faults.sendRaw(hostile.frame(`/${emu.projectId}/requests`))).toBe(1);
  // A real change after the hostile frame: the same socket still delivers, through the map node too.
  const created = emu.createRequest(emu.projectId, { first_text: 'sentinel after a hostile frame' });
  const sentinel = await waitFor(
    () => out.mapped.find((m) => m.payload._id === created._id),
    'the sentinel through the map node',
    60_000,
  );
  expect(sentinel.payload).toMatchObject({
    seen: true,
    method: 'CREATE',
    first_text: 'sentinel after a hostile frame',
  });

  const stats = connectionStats().connections[0].stats;
  const lines = logLines();
  const ours = lines.filter((l) => /^pingstreams/.test(String(l.type)));
  const warned = ours.some(
    (l) =>
      l.level === helper.log().WARN &&
      l.type === 'pingstreams-config' &&
      /malformed frame/.test(l.msg) &&
      /Later events are unaffected/.test(l.msg),
  );
  const ofCase = out.raw.filter((m) => m.payload?.hostile === hostile.name);
  const others = out.raw.filter((m) => m.payload?._id !== created._id && m.payload?.hostile !== hostile.name);

  switch (hostile.expect) {
    case 'malformed':
      expect(stats.malformedFrames).toBeGreaterThanOrEqual(1);
      expect(warned).toBe(true);
      expect(out.raw.map((m) => m.payload._id)).toEqual([created._id]);
      break;
    case 'ignored':
      expect(stats.malformedFrames).toBe(0);
      expect(out.raw.map((m) => m.payload._id)).toEqual([created._id]);
      break;
    case 'delivered':
      expect(ofCase.length).toBeGreaterThanOrEqual(1);
      expect(others).toEqual([]);
      break;
    case 'tolerated':
      expect(ofCase.length >= 1 || (stats.malformedFrames >= 1 && warned)).toBe(true);
      break;
  }
  // No reconnect, no crash, nothing escaped to the process; the node still shows it is connected.
  expect(stats.connectsOpened).toBe(1);
  expect(escaped).toEqual([]);
  expect(ours.filter((l) => l.level === helper.log().ERROR && l.type === 'pingstreams in')).toEqual([]);
  // Log lines name the problem briefly: never a 10 MB echo of the frame.
  for (const line of ours) expect(line.msg.length).toBeLessThan(1_000);

  // No pollution: not of the built-in prototypes, not of what reached the flow, not of what the map built.
  expect(prototypePollution()).toEqual([]);
  for (const msg of [...out.raw, ...out.mapped]) {
    expect(Object.getPrototypeOf(msg)).toBe(Object.prototype);
    expect(hasCleanPrototypes(msg.pingstreams)).toBe(true);
  }
  for (const msg of out.raw) expect(hasCleanPrototypes(msg.payload)).toBe(true);
  // Every msg of the case went through the map, or reached the Catch node with a clear reason.
  await waitFor(
    () => out.mapped.length + out.caught.length >= out.raw.length || undefined,
    'the map node done',
    60_000,
  );
  for (const msg of out.mapped)
    expect(
      (msg.payload as Msg).polluted === undefined || Object.prototype.hasOwnProperty.call(msg.payload, 'polluted'),
    ).toBe(true);
  // A clear reason: the expression failed, or (100 000 keys merged on a loaded machine) was stopped at its budget.
  for (const msg of out.caught)
    expect(String(msg.error?.message)).toMatch(
      /JSONata expression (failed|was stopped: it ran longer than its time budget of 1000 ms)/,
    );
});

// JSON.parse keeps a "__proto__" key as plain data, but Node-RED's RED.util.cloneMessage (lodash cloneDeep),
// used for every wire after the first, assigns it and so makes it the clone's prototype: a request would then
// read `status: 1000` (closed) in a Switch node while Object.keys() shows nothing. The nodes drop such keys.
test('an element\'s "__proto__" key never becomes the prototype of a msg Node-RED clones for a second wire', async () => {
  const out = await load();
  const topic = `/${emu.projectId}/requests`;
  emu.faults.sendRaw(
    `{"action":"publish","payload":{"topic":"${topic}","method":"CREATE","message":{"_id":"proto-1","status":100,"lead":{"__proto__":{"polluted":"yes"}},"__proto__":{"polluted":"yes","status":1000}}}}`,
  );
  const cloned = await waitFor(() => out.raw.find((m) => m.payload._id === 'proto-1'), 'the cloned msg');
  const original = await waitFor(() => out.mapped.find((m) => m.payload._id === 'proto-1'), 'the msg through the map');
  expect(Object.getPrototypeOf(cloned.payload)).toBe(Object.prototype);
  expect(Object.getPrototypeOf(cloned.payload.lead)).toBe(Object.prototype);
  // The map node's JSONata result (built without a prototype) merged the original msg's payload.
  for (const payload of [cloned.payload, original.payload]) {
    expect(payload.status).toBe(100);
    expect(payload.polluted).toBeUndefined();
    expect(payload.lead.polluted).toBeUndefined();
  }
  expect(prototypePollution()).toEqual([]);
});
