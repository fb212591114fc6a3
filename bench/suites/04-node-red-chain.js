'use strict';
// (2) Node-RED: `pingstreams in` -> `pingstreams map` -> sink, against the chain a user builds from core nodes to
// read the same socket (websocket in -> json -> switch -> change -> split -> switch on method -> change with the
// same JSONata -> sink), both in one embedded Node-RED 4 runtime, on the same publisher, same frames, same run.
// (4) with Node-RED: 50 `pingstreams in` nodes on one config node against the emulator -> sockets used.
const { measure, requireDist, sleep } = require('../lib/harness');
const { EmbeddedNodeRed } = require('../lib/node-red');

/** The same mapping in both chains (the `t` field carries the publisher's send time for the latency). */
const EXPRESSION =
  '{ "id": payload._id, "requestId": payload.request_id, "status": payload.status, "text": payload.first_text, "open": payload.status < 1000, "t": payload.t }';

function pingstreamsChain(nodeRed) {
  return {
    name: 'pingstreams in -> pingstreams map',
    async open(url, topic, onElement) {
      nodeRed.setSink(onElement);
      await nodeRed.deploy([
        { id: 'cfg', type: 'pingstreams-config', name: 'bench', endpoint: url, credentials: { token: 'bench-token' } },
        {
          id: 'in',
          type: 'pingstreams in',
          server: 'cfg',
          kind: 'requests',
          projectId: topic.split('/')[1],
          projectIdType: 'str',
          methodCreate: true,
          methodUpdate: true,
          methodDelete: false,
          snapshot: false,
          recovered: true,
          when: '',
          wires: [['map']],
        },
        { id: 'map', type: 'pingstreams map', expression: EXPRESSION, property: 'payload', wires: [['sink']] },
        { id: 'sink', type: 'bench sink', wires: [] },
      ]);
      const core = requireDist('core');
      // Ready once the core holds the topic and its (empty) snapshot arrived.
      for (let i = 0; i < 500; i++) {
        const c = core.connectionStats().connections[0];
        if (c?.open && c.topics.includes(topic) && c.stats.framesReceived >= 1) return;
        await sleep(10);
      }
      throw new Error('pingstreams in did not subscribe within 5 s');
    },
    async close() {
      nodeRed.setSink(undefined);
      await nodeRed.deploy([]);
      await requireDist('core').closeAllConnections();
    },
  };
}

/**
 * What a user wires without the package. The socket is opened by the websocket-client config node; the subscribe
 * frame is sent by an inject node through `websocket out` on the same client. It answers no server heartbeat
 * (the bench publisher sends none; the real server cuts such a client after a heartbeat period) and has no
 * reconnect-with-recovery, no dedupe and no snapshot handling: it is only the happy path.
 */
function coreNodesChain(nodeRed) {
  return {
    name: 'websocket in -> json -> switch -> change -> split -> switch -> change',
    async open(url, topic, onElement) {
      nodeRed.setSink(onElement);
      await nodeRed.deploy([
        {
          id: 'ws-client',
          type: 'websocket-client',
          path: `${url}?token=bench-token`,
          tls: '',
          wholemsg: 'false',
          hb: '0',
          subprotocol: '',
        },
        { id: 'ws-in', type: 'websocket in', name: '', server: '', client: 'ws-client', wires: [['json']] },
        // websocket out drops what it gets before the socket is open: the subscribe goes out a second after the deploy.
        {
          id: 'subscribe',
          type: 'inject',
          name: 'subscribe',
          props: [{ p: 'payload' }],
          repeat: '',
          crontab: '',
          once: true,
          onceDelay: 1,
          topic: '',
          payload: JSON.stringify({ action: 'subscribe', payload: { topic } }),
          payloadType: 'str',
          wires: [['ws-out']],
        },
        { id: 'ws-out', type: 'websocket out', name: '', server: '', client: 'ws-client', wires: [] },
        {
          id: 'json',
          type: 'json',
          name: '',
          property: 'payload',
          action: 'obj',
          pretty: false,
          wires: [['is-publish']],
        },
        {
          id: 'is-publish',
          type: 'switch',
          name: 'publish frames',
          property: 'payload.action',
          propertyType: 'msg',
          rules: [{ t: 'eq', v: 'publish', vt: 'str' }],
          checkall: 'true',
          repair: false,
          outputs: 1,
          wires: [['unwrap']],
        },
        {
          id: 'unwrap',
          type: 'change',
          name: 'method, elements',
          rules: [
            { t: 'set', p: 'method', pt: 'msg', to: 'payload.payload.method', tot: 'msg' },
            // M is one object or an array of them: always an array for split.
            { t: 'set', p: 'payload', pt: 'msg', to: '$append([], payload.payload.message)', tot: 'jsonata' },
          ],
          wires: [['split']],
        },
        {
          id: 'split',
          type: 'split',
          name: '',
          splt: '\\n',
          spltType: 'str',
          arraySplt: 1,
          arraySpltType: 'len',
          stream: false,
          addname: '',
          wires: [['by-method']],
        },
        {
          id: 'by-method',
          type: 'switch',
          name: 'CREATE or UPDATE',
          property: 'method',
          propertyType: 'msg',
          rules: [
            { t: 'eq', v: 'CREATE', vt: 'str' },
            { t: 'eq', v: 'UPDATE', vt: 'str' },
          ],
          checkall: 'false',
          repair: false,
          outputs: 2,
          wires: [['map'], ['map']],
        },
        {
          id: 'map',
          type: 'change',
          name: 'same JSONata',
          rules: [{ t: 'set', p: 'payload', pt: 'msg', to: EXPRESSION, tot: 'jsonata' }],
          wires: [['sink']],
        },
        { id: 'sink', type: 'bench sink', wires: [] },
      ]);
      // Socket open, then the inject's subscribe sent and answered (loopback: well within the extra second).
      for (let i = 0; i < 500 && nodeRed.getNode('ws-client')?.server?.readyState !== 1; i++) await sleep(10);
      if (nodeRed.getNode('ws-client')?.server?.readyState !== 1)
        throw new Error('the websocket client did not connect within 5 s');
      await sleep(1_500);
    },
    async close() {
      nodeRed.setSink(undefined);
      await nodeRed.deploy([]);
    },
  };
}

async function sockets(nodeRed) {
  const { startEmulator } = requireDist('emulator');
  const core = requireDist('core');
  const emu = await startEmulator();
  try {
    const requests = emu.getRequests(emu.projectId).filter((r) => r.status < 1000);
    const specs = [
      { kind: 'requests' },
      ...requests.map((r) => ({ kind: 'request', requestId: r.request_id })),
      ...requests.map((r) => ({ kind: 'messages', requestId: r.request_id })),
      { kind: 'agent', projectUserId: emu.projectUsers.owner },
    ];
    const nodes = [
      {
        id: 'cfg',
        type: 'pingstreams-config',
        name: 'emulator',
        endpoint: emu.url,
        credentials: { token: emu.tokens.owner },
      },
    ];
    for (let i = 0; i < 50; i++) {
      const spec = specs[i % specs.length];
      nodes.push({
        id: `in-${i}`,
        type: 'pingstreams in',
        server: 'cfg',
        kind: spec.kind,
        projectId: emu.projectId,
        projectIdType: 'str',
        requestId: spec.requestId ?? '',
        requestIdType: 'str',
        projectUserId: spec.projectUserId ?? '',
        projectUserIdType: 'str',
        methodCreate: true,
        methodUpdate: true,
        methodDelete: true,
        snapshot: false,
        recovered: true,
        when: '',
        wires: [['sink']],
      });
    }
    nodes.push({ id: 'sink', type: 'bench sink', wires: [] });
    nodeRed.setSink(() => undefined);
    await nodeRed.deploy(nodes);
    for (let i = 0; i < 1000 && emu.stats().subscriptions < specs.length; i++) await sleep(10);
    await sleep(300);
    const server = emu.stats();
    const client = core.connectionStats();
    await nodeRed.deploy([]);
    await core.closeAllConnections();
    return {
      rows: [
        { measure: '`pingstreams in` nodes on one config node', value: 50, goal: '' },
        { measure: 'distinct topics', value: specs.length, goal: '' },
        { measure: 'sockets seen by the server (emulator stats().clients)', value: server.clients, goal: 1 },
        { measure: 'sockets per core (connectionStats().sockets)', value: client.sockets, goal: 1 },
        { measure: 'wire subscriptions (one per distinct topic)', value: server.subscriptions, goal: specs.length },
        { measure: 'connections accepted by the server', value: server.connectionsAccepted, goal: 1 },
      ],
      summary: {
        nodes: 50,
        serverSockets: server.clients,
        coreSockets: client.sockets,
        goalMet: server.clients === 1 && client.sockets === 1,
      },
    };
  } finally {
    await emu.close();
  }
}

module.exports = {
  id: 'node-red',
  title: 'Node-RED: pingstreams nodes vs the same chain built from core nodes (one runtime, same frames, same run)',
  async run({ publisher, quick }) {
    const nodeRed = await new EmbeddedNodeRed().start();
    try {
      const makers = [() => pingstreamsChain(nodeRed), () => coreNodesChain(nodeRed)];
      let offset = 10_000_000;
      const next = (count) => {
        const start = offset;
        offset += count;
        return start;
      };
      for (const make of makers)
        await measure(publisher, make(), { rate: 0, count: 5_000, distinct: 1_000, offset: next(5_000) });
      const rows = [];
      const seconds = quick ? 1 : 3;
      for (const rate of [1_000, 3_000]) {
        for (const make of makers)
          rows.push(
            await measure(publisher, make(), {
              rate,
              count: rate * seconds,
              distinct: 1_000,
              offset: next(rate * seconds),
            }),
          );
      }
      const maxCount = quick ? 10_000 : 40_000;
      const best = {};
      for (let round = 0; round < 2; round++) {
        for (const make of makers) {
          const row = await measure(publisher, make(), {
            rate: 0,
            count: maxCount,
            distinct: 1_000,
            offset: next(maxCount),
            timeoutMs: 120_000,
          });
          if (!best[row.consumer] || row.eventsPerSec > best[row.consumer].eventsPerSec) best[row.consumer] = row;
        }
      }
      const [ours, theirs] = makers.map((m) => best[m().name]);
      rows.push(ours, theirs);
      const at3k = rows.filter((r) => r.rate === 3_000);
      const socketResult = await sockets(nodeRed);
      const ratio = Math.round((ours.eventsPerSec / theirs.eventsPerSec) * 100) / 100;
      return {
        columns: ['consumer', 'workload', 'rate', 'sent', 'received', 'eventsPerSec', 'p50Ms', 'p99Ms', 'maxMs'],
        rows: [
          ...rows,
          ...socketResult.rows.map((r) => ({
            consumer: r.measure,
            workload: `value ${r.value}`,
            rate: r.goal === '' ? '' : `goal ${r.goal}`,
          })),
        ],
        summary: {
          pingstreamsMaxEventsPerSec: ours.eventsPerSec,
          coreNodesMaxEventsPerSec: theirs.eventsPerSec,
          throughputRatio: ratio,
          p99AtMaxMs: { pingstreams: ours.p99Ms, coreNodes: theirs.p99Ms },
          p99At3000Ms: { pingstreams: at3k[0].p99Ms, coreNodes: at3k[1].p99Ms },
          goal: 'throughput >= 2x, lower p99',
          goalMet: ratio >= 2 && ours.p99Ms < theirs.p99Ms,
          sockets: socketResult.summary,
          runsWithLoss: rows.filter((r) => r.received !== r.sent).length,
          nodeRedWarnings: nodeRed.warnings.length,
        },
        notes: [
          "One Node-RED 4.1.8 runtime in the bench process, loaded through node-red-node-test-helper with the built nodes of this package and Node-RED's own nodes (the helper's spies removed after each deploy); chains deployed one after the other; the sink is a one-line node calling back the harness.",
          "Same frames from the same publisher thread (updates of 1 000 requests, about 700 bytes each), latency from the publisher's send to the sink node; max rate = best of 2 rounds of " +
            maxCount +
            ' frames.',
          'The core-nodes chain is the happy path only: it answers no server heartbeat (the bench publisher sends none; the real server closes such a socket after one heartbeat period), has no reconnect with recovery, no dedupe and no snapshot diff. The pingstreams chain does all of that in the same run.',
          'Last rows: 50 `pingstreams in` nodes (8 topics) on one config node against the emulator: sockets used.',
        ],
      };
    } finally {
      await nodeRed.stop();
    }
  },
};
