'use strict';
// (4) Sockets used by 50 subscribers on one account: one (endpoint, token) = one socket.
const { requireDist, sleep } = require('../lib/harness');

module.exports = {
  id: 'sockets',
  title: 'Sockets for 50 subscribers on one account (emulator)',
  async run() {
    const { startEmulator } = requireDist('emulator');
    const core = requireDist('core');
    const emu = await startEmulator();
    try {
      const requests = emu.getRequests(emu.projectId).filter((r) => r.status < 1000);
      const topics = [
        `/${emu.projectId}/requests`,
        ...requests.map((r) => `/${emu.projectId}/requests/${r.request_id}`),
        ...requests.map((r) => `/${emu.projectId}/requests/${r.request_id}/messages`),
        `/${emu.projectId}/project_users/${emu.projectUsers.owner}`,
      ];
      const handles = [];
      const subscriptions = [];
      for (let i = 0; i < 50; i++) {
        const handle = core.acquireConnection({ endpoint: emu.url, token: emu.tokens.owner, lingerMs: 0 });
        handles.push(handle);
        subscriptions.push(handle.subscribe(topics[i % topics.length], { onEvent: () => undefined }));
      }
      await Promise.all(subscriptions.map((s) => s.ready));
      await sleep(200);
      const server = emu.stats();
      const client = core.connectionStats();
      for (const handle of handles) handle.release();
      await core.closeAllConnections();
      return {
        columns: ['measure', 'value', 'goal'],
        rows: [
          { measure: 'subscribers (handles)', value: handles.length, goal: '' },
          { measure: 'distinct topics', value: topics.length, goal: '' },
          { measure: 'sockets seen by the server (emulator stats().clients)', value: server.clients, goal: 1 },
          { measure: 'sockets per core (connectionStats().sockets)', value: client.sockets, goal: 1 },
          { measure: 'wire subscriptions (one per distinct topic)', value: server.subscriptions, goal: topics.length },
          { measure: 'connections accepted by the server', value: server.connectionsAccepted, goal: 1 },
        ],
        summary: {
          subscribers: handles.length,
          serverSockets: server.clients,
          coreSockets: client.sockets,
          goalMet: server.clients === 1 && client.sockets === 1,
        },
        notes: [],
      };
    } finally {
      await emu.close();
    }
  },
};
