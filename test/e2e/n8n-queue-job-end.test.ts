// n8n's main learns that a queued job ended from Bull's Job.finished(), which reads the job's state and only then
// listens for its end. n8n 2.40 has Bull remove a job as it completes (its queue retention is 0 by default), so a
// job that ends before the main listens is never reported (Bull issues #1371, #1906): the trigger's wait for that
// execution never ends, and with Keep Order Per the element's next changes wait behind it. Here a slow link
// between the main and Redis (a delaying proxy; the worker is connected directly) makes every fast job end first.
// With n8n keeping some completed jobs (N8N_EXECUTIONS_QUEUE_KEEP_LAST_COMPLETED, _FAILED), the main finds the
// job completed and each end is reported: what docs/n8n.md recommends for queue mode.
// Run: npx jest --selectProjects e2e -- test/e2e/n8n-queue-job-end   (logs in test-artifacts/n8n-queue-job-end-*/)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../emulator';
import { Resources } from '../helpers/resources';
import { sleep, waitFor } from '../helpers/wait';
import { DelayProxy } from './n8n/delay-proxy';
import { HttpSink, buildAndPack, freePort, newArtifactsDir, provision, type SinkRequest } from './n8n/harness';
import { KEEP_ENDED_JOBS, QueueCluster, mainSubscribed } from './n8n/queue';
import { QUEUE_WORKFLOW_ID, credential, queueWorkflow } from './n8n/workflows';

jest.setTimeout(5 * 60_000);

/** Each way between the main and Redis: far longer than the worker needs for the workflow (no Code wait). */
const LINK_DELAY_MS = 1_200;

let emu: Emulator;
let sink: HttpSink;
let cluster: QueueCluster;
let proxy: DelayProxy;
const resources = new Resources();

const topic = () => `/${emu.projectId}/requests`;
interface Envelope {
  recovered: boolean;
  data: { _id: string; first_text?: string };
}
const envelope = (r: SinkRequest) => r.body as unknown as Envelope;
const posted = (text: string) => sink.on('/events').filter((r) => envelope(r).data?.first_text === text);
const subscribed = (acceptedBefore: number) => mainSubscribed(emu, topic(), acceptedBefore);
let request: { request_id: unknown };
let other: { request_id: unknown };
const change = (text: string, of = request) =>
  emu.updateRequest(emu.projectId, String(of.request_id), { first_text: text });

beforeAll(async () => {
  const artifacts = newArtifactsDir('n8n-queue-job-end');
  const paths = await provision('queue');
  emu = resources.add('emulator', await startEmulator(), (e) => e.close());
  sink = resources.add('sink', new HttpSink(), (s) => s.close());
  await sink.start();
  const packDir = resources.add('pack folder', mkdtempSync(join(tmpdir(), 'pingstreams-pack-')), (dir) =>
    rmSync(dir, { recursive: true, force: true }),
  );
  const redisPort = await freePort();
  proxy = resources.add('proxy', new DelayProxy(redisPort), (p) => p.close());
  await proxy.start();
  cluster = resources.add(
    'queue-mode cluster',
    new QueueCluster(paths, artifacts, {
      workers: 1,
      concurrency: 5,
      mainEnv: { QUEUE_BULL_REDIS_PORT: String(proxy.port) },
    }),
    (c) => c.dispose(),
  );
  cluster.redis.port = redisPort;
  const tarball = await buildAndPack(packDir, join(artifacts, 'package'));
  await cluster.prepare(tarball);
  const main = cluster.main;
  await main.cli(
    ['import:credentials', `--input=${main.writeJson('credentials.json', credential(emu.url, emu.tokens.owner))}`],
    'import-credentials',
  );
  const workflow = queueWorkflow(emu.projectId, sink.url('/events'), { orderBy: 'element', emitRecovered: true });
  await main.cli(['import:workflow', `--input=${main.writeJson('workflows.json', [workflow])}`], 'import-workflows');
  await main.cli(['publish:workflow', `--id=${QUEUE_WORKFLOW_ID}`], 'publish-workflow');
  await cluster.start();
  await subscribed(0);
  [request, other] = emu.getRequests(emu.projectId).filter((r) => Number(r.status) < 1000);
}, 20 * 60_000);

afterAll(() => resources.closeAll(60_000), 5 * 60_000);

test("n8n's defaults: a job that ends before the main listens for it is never reported, and the element's next change waits behind it (Keep Order Per)", async () => {
  // The worker's first job is slow (its task runner starts): on another element, before the link slows down.
  change('warm-up', other);
  await waitFor(() => posted('warm-up').length === 1, 'the warm-up change posted', 60_000);
  proxy.delayMs = LINK_DELAY_MS;
  change('job end 1');
  await waitFor(() => posted('job end 1').length === 1, 'the first change posted', 60_000);
  change('job end 2');
  await sleep(30_000); // over 12 round trips of the slow link: the second execution would have posted long before
  expect(posted('job end 2')).toEqual([]);
  // It ran: the worker finished it, and n8n's main never heard.
  expect(cluster.postgres.query('SELECT status FROM execution_entity ORDER BY id').trim().split('\n')).toEqual([
    'success',
    'success',
  ]);
});

test('with completed jobs kept (N8N_EXECUTIONS_QUEUE_KEEP_LAST_COMPLETED), every end is reported: the held change arrives once, later ones in order without waiting', async () => {
  proxy.delayMs = 0;
  const accepted = emu.stats().connectionsAccepted;
  await cluster.newMain({ QUEUE_BULL_REDIS_PORT: String(proxy.port), ...KEEP_ENDED_JOBS });
  await subscribed(accepted);
  // The killed main's record counted the held change undelivered: the new one sends it, recovered.
  await waitFor(() => posted('job end 2').length === 1, 'the held change posted by the new main', 60_000);
  expect(envelope(posted('job end 2')[0]).recovered).toBe(true);

  proxy.delayMs = LINK_DELAY_MS;
  change('job end 3');
  await waitFor(() => posted('job end 3').length === 1, 'the third change posted', 60_000);
  change('job end 4');
  await waitFor(() => posted('job end 4').length === 1, 'the fourth change posted', 45_000);
  await sleep(2_000); // a repeat would show up now
  expect(['job end 1', 'job end 2', 'job end 3', 'job end 4'].map((text) => posted(text).length)).toEqual([1, 1, 1, 1]);
});
