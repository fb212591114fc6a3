'use strict';
// (1) Events/s and publish-to-callback latency of the core at fixed rates and at max, against the ceiling of
// a bare ws client doing JSON.parse on the same frames, in the same run.
const { rawConsumer, coreConsumer, measure } = require('../lib/harness');

module.exports = {
  id: 'throughput',
  title: 'Throughput and latency: core vs raw ws + JSON.parse (same frames, same run)',
  async run({ publisher, quick }) {
    const consumers = [rawConsumer, () => coreConsumer()];
    const rows = [];
    let offset = 0;
    const next = (count) => {
      const start = offset;
      offset += count;
      return start;
    };
    // Warm up both paths (JIT, socket buffers) before measuring.
    for (const make of consumers) await measure(publisher, make(), { rate: 0, count: 20_000, offset: next(20_000) });

    // Realistic traffic: changes to a working set of open requests, each with a new updatedAt.
    const UPDATES = 1_000;
    const seconds = quick ? 1 : 3;
    for (const rate of [1_000, 5_000, 20_000]) {
      for (const make of consumers) rows.push(await measure(publisher, make(), { rate, count: rate * seconds, distinct: UPDATES, offset: next(rate * seconds) }));
    }
    // At max: the same, and the worst case for the core: every frame a new request, so the tracker (5 000)
    // and the resume record (2 000) evict an entry on every event.
    const maxCount = quick ? 50_000 : 200_000;
    const ratios = {};
    for (const distinct of [UPDATES, 0]) {
      const best = {};
      for (let round = 0; round < 2; round++) {
        for (const make of consumers) {
          const row = await measure(publisher, make(), { rate: 0, count: maxCount, distinct, offset: next(maxCount) });
          if (!best[row.consumer] || row.eventsPerSec > best[row.consumer].eventsPerSec) best[row.consumer] = row;
        }
      }
      rows.push(...Object.values(best));
      const raw = best[rawConsumer().name];
      const core = best[coreConsumer().name];
      ratios[raw.workload] = { raw: raw.eventsPerSec, core: core.eventsPerSec, ratio: Math.round((core.eventsPerSec / raw.eventsPerSec) * 1000) / 1000 };
    }
    const realistic = ratios[`updates of ${UPDATES} requests`];
    const worst = ratios['new requests'];
    return {
      columns: ['consumer', 'workload', 'rate', 'sent', 'received', 'eventsPerSec', 'p50Ms', 'p99Ms', 'maxMs'],
      rows,
      summary: {
        rawMaxEventsPerSec: realistic.raw,
        coreMaxEventsPerSec: realistic.core,
        coreToCeilingRatio: realistic.ratio,
        worstCase: worst,
        goal: 'core >= 70% of the ceiling',
        goalMet: realistic.ratio >= 0.7,
        runsWithLoss: rows.filter((r) => r.received !== r.sent).length,
      },
      notes: [
        'Latency: process.hrtime (monotonic, shared by threads) stamped into each frame by the publisher thread, read in the consumer callback.',
        `Max rate: the publisher sends as fast as the socket drains (4 MiB buffer cap); best of 2 rounds, ${maxCount} frames each; ratio = core / raw.`,
        'Frames: a request object of about 700 bytes with a new updatedAt each time; fixed rates use updates of 1 000 open requests.',
        'Worst case (new requests): every frame a new _id, so the tracker and the resume record evict on every event.',
      ],
    };
  },
};
