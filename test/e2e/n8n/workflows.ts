// The credential and workflows the e2e test imports with the n8n CLI (same shapes as examples/n8n/).
export const CREDENTIAL_ID = 'PsEmulatorCred01';
export const TRIGGER_WORKFLOW_ID = 'PsTriggerFlow001';
export const ACTION_WORKFLOW_ID = 'PsSnapshotFlow01';

const credentialRef = { pingstreamsApi: { id: CREDENTIAL_ID, name: 'Pingstreams emulator' } };

export function credential(endpoint: string, token: string) {
  return [
    {
      id: CREDENTIAL_ID,
      name: 'Pingstreams emulator',
      type: 'pingstreamsApi',
      data: { accessToken: token, endpoint, allowInsecure: false },
    },
  ];
}

/** Posts one HTTP request per item, tagged with the execution id, to the test's sink. */
export function postToSink(name: string, url: string, position: [number, number]) {
  return {
    id: `${name.replace(/\W/g, '').toLowerCase()}-node`,
    name,
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position,
    parameters: {
      method: 'POST',
      url,
      sendHeaders: true,
      headerParameters: { parameters: [{ name: 'x-execution', value: '={{ $execution.id }}' }] },
      sendBody: true,
      specifyBody: 'json',
      jsonBody: '={{ JSON.stringify($json) }}',
      options: {},
    },
  };
}

export function triggerWorkflow(projectId: string, sinkUrl: string) {
  return {
    id: TRIGGER_WORKFLOW_ID,
    name: 'Pingstreams requests to HTTP (e2e)',
    active: false,
    nodes: [
      {
        id: 'pingstreams-trigger-node',
        name: 'Pingstreams Trigger',
        type: 'n8n-nodes-pingstreams.pingstreamsTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: { resource: 'requests', projectId, events: ['CREATE', 'UPDATE'], output: 'event', options: {} },
        credentials: credentialRef,
      },
      postToSink('Post Event', sinkUrl, [240, 0]),
    ],
    connections: { 'Pingstreams Trigger': { main: [[{ node: 'Post Event', type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1' },
    pinData: {},
  };
}

export const METRICS_ALERT_WORKFLOW_ID = 'PsMetricsAlert01';

/** Live Metrics trigger: one execution when the queue grows past `queueAbove`, one when it is back. */
export function metricsAlertWorkflow(projectId: string, sinkUrl: string, queueAbove: number) {
  return {
    id: METRICS_ALERT_WORKFLOW_ID,
    name: 'Pingstreams queue alert (e2e)',
    active: false,
    nodes: [
      {
        id: 'pingstreams-metrics-trigger-node',
        name: 'Queue Alert',
        type: 'n8n-nodes-pingstreams.pingstreamsTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: {
          resource: 'liveMetrics',
          projectId,
          emit: 'condition',
          condition: 'queueAbove',
          conditionValue: queueAbove,
          holdSeconds: 0,
          coolDownSeconds: 0,
          checkSeconds: 1,
        },
        credentials: credentialRef,
      },
      postToSink('Post Alert', sinkUrl, [240, 0]),
    ],
    connections: { 'Queue Alert': { main: [[{ node: 'Post Alert', type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1' },
    pinData: {},
  };
}

export const METRICS_INTERVAL_WORKFLOW_ID = 'PsMetricsEvery01';

/** Live Metrics trigger: the figures every `seconds`. */
export function metricsIntervalWorkflow(projectId: string, sinkUrl: string, seconds: number) {
  const workflow = metricsAlertWorkflow(projectId, sinkUrl, 0);
  workflow.id = METRICS_INTERVAL_WORKFLOW_ID;
  workflow.name = 'Pingstreams figures every interval (e2e)';
  workflow.nodes[0].parameters = {
    resource: 'liveMetrics',
    projectId,
    emit: 'interval',
    intervalSeconds: seconds,
  } as unknown as (typeof workflow.nodes)[0]['parameters'];
  return workflow;
}

export function snapshotWorkflow(projectId: string, sinkUrl: string) {
  return {
    id: ACTION_WORKFLOW_ID,
    name: 'Pingstreams open requests snapshot (e2e)',
    active: false,
    nodes: [
      {
        id: 'manual-node',
        name: 'Start',
        type: 'n8n-nodes-base.manualTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: {},
      },
      {
        id: 'pingstreams-node',
        name: 'Pingstreams',
        type: 'n8n-nodes-pingstreams.pingstreams',
        typeVersion: 1,
        position: [240, 0],
        parameters: { operation: 'getSnapshot', resource: 'requests', projectId, output: 'data', options: {} },
        credentials: credentialRef,
      },
      postToSink('Post Snapshot', sinkUrl, [480, 0]),
    ],
    connections: {
      Start: { main: [[{ node: 'Pingstreams', type: 'main', index: 0 }]] },
      Pingstreams: { main: [[{ node: 'Post Snapshot', type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
    pinData: {},
  };
}

export const QUEUE_WORKFLOW_ID = 'PsQueueFlow00001';
export const STATIC_DATA_WORKFLOW_ID = 'PsStaticFlow0001';

/**
 * For queue mode: the trigger, a Code node that waits `codeDelayMs` (so a worker can be killed while it runs
 * executions) and, with `writeStaticData`, counts the items in the workflow's own static data (as users do to keep
 * state between executions), then the post to the sink.
 */
export function queueWorkflow(
  projectId: string,
  sinkUrl: string,
  options: Record<string, unknown>,
  code: { delayMs?: number; writeStaticData?: boolean } = {},
) {
  const id = code.writeStaticData ? STATIC_DATA_WORKFLOW_ID : QUEUE_WORKFLOW_ID;
  return {
    id,
    name: `Pingstreams requests through queue mode${code.writeStaticData ? ', counting in static data' : ''} (e2e)`,
    active: false,
    nodes: [
      {
        id: 'pingstreams-trigger-node',
        name: 'Pingstreams Trigger',
        type: 'n8n-nodes-pingstreams.pingstreamsTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: { resource: 'requests', projectId, events: ['CREATE', 'UPDATE'], output: 'event', options },
        credentials: credentialRef,
      },
      {
        id: 'code-node',
        name: 'Code',
        type: 'n8n-nodes-base.code',
        typeVersion: 2,
        position: [240, 0],
        parameters: {
          mode: 'runOnceForAllItems',
          jsCode: [
            ...(code.writeStaticData
              ? [
                  "const data = $getWorkflowStaticData('global');",
                  'data.items = (data.items ?? 0) + $input.all().length;',
                ]
              : []),
            ...(code.delayMs ? [`await new Promise((resolve) => setTimeout(resolve, ${code.delayMs}));`] : []),
            'return $input.all();',
          ].join('\n'),
        },
      },
      postToSink('Post Event', sinkUrl, [480, 0]),
    ],
    connections: {
      'Pingstreams Trigger': { main: [[{ node: 'Code', type: 'main', index: 0 }]] },
      Code: { main: [[{ node: 'Post Event', type: 'main', index: 0 }]] },
    },
    settings: { executionOrder: 'v1' },
    pinData: {},
  };
}
