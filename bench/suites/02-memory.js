'use strict';
// (3) Memory per tracked request (after GC) and RSS over one million events through one core subscription.
const { coreConsumer, gc, mb, now } = require('../lib/harness');

async function pump(publisher, consumer, count, offset, onProgress) {
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  consumer.onElement = () => {
    received += 1;
    if (onProgress) onProgress(received);
    if (received === count) done();
  };
  const timer = setTimeout(done, 180_000);
  await publisher.run({ topic: consumer.topic, rate: 0, count, offset });
  await finished;
  clearTimeout(timer);
  return received;
}

module.exports = {
  id: 'memory',
  title: 'Memory: heap and array buffers per tracked request, RSS over one million events',
  async run({ publisher, quick }) {
    const rows = [];
    // Resumable, as the n8n trigger subscribes: what a tracked request costs with the resume record too.
    const consumer = coreConsumer({}, { resumable: true });
    consumer.topic = '/5eb45fbc1f9e1f0012d62207/requests';
    await consumer.open(publisher.url, consumer.topic, (element) => consumer.onElement(element));
    const tracked = 5_000; // the default maxTrackedPerTopic
    const offset = 10_000_000;

    // The tracker keeps the frames of elements seen once as bytes in an ArrayBuffer, outside the JS heap: counted too.
    const held = () => {
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    gc();
    const heapBefore = held();
    await pump(publisher, consumer, tracked, offset);
    gc();
    const heapAfter = held();
    const perRequest = (heapAfter - heapBefore) / tracked;
    rows.push({
      measure: 'heap and array buffers per tracked request',
      value: `${Math.round(perRequest)} bytes`,
      detail: `${tracked} requests of ~700 B JSON, tracker + resume record (resumable), after GC`,
    });
    rows.push({
      measure: 'heap and array buffers for a full topic (5 000 tracked)',
      value: `${mb(heapAfter - heapBefore)} MB`,
      detail: 'bound set by maxTrackedPerTopic',
    });

    const total = quick ? 200_000 : 1_000_000;
    const samples = [];
    const started = now();
    const rssStart = process.memoryUsage().rss;
    await pump(publisher, consumer, total, offset + tracked, (n) => {
      if (n % (total / 10) === 0) samples.push(process.memoryUsage().rss);
    });
    const seconds = (now() - started) / 1e9;
    gc();
    const end = process.memoryUsage();
    await consumer.close();
    const peak = Math.max(rssStart, ...samples);
    rows.push({
      measure: `RSS over ${total.toLocaleString('en')} events`,
      value: `${mb(rssStart)} -> peak ${mb(peak)} -> ${mb(samples[samples.length - 1] ?? rssStart)} MB`,
      detail: `samples every 10%: ${samples.map(mb).join(', ')} MB`,
    });
    rows.push({
      measure: 'heap after the run (GC)',
      value: `${mb(end.heapUsed)} MB`,
      detail: `${Math.round(total / seconds)} events/s during the run`,
    });
    // Growth over the second half: the last sample minus the middle one (what the words say, not a peak).
    const middle = samples[Math.floor(samples.length / 2) - 1] ?? rssStart;
    const growthSecondHalf = (samples[samples.length - 1] ?? rssStart) - middle;
    return {
      columns: ['measure', 'value', 'detail'],
      rows,
      summary: {
        bytesPerTrackedRequest: Math.round(perRequest),
        rssStartMb: mb(rssStart),
        rssPeakMb: mb(peak),
        rssGrowthSecondHalfMb: mb(growthSecondHalf),
      },
      notes: [
        'RSS growth over the second half of the run (the last sample minus the one at 50%) shows whether memory is bounded (trackers and records are capped); negative when it shrank.',
      ],
    };
  },
};
