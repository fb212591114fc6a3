// Static checks of what n8n loads: package.json's n8n section, the codex files, the node descriptions,
// and the example workflows (every parameter exists, every option value is valid, no JSONata: n8n evaluates none).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  INodeProperties,
  INodePropertyCollection,
  INodePropertyOptions,
  INodeTypeDescription,
} from 'n8n-workflow';
import { PingstreamsApi } from '../../credentials/PingstreamsApi.credentials';
import { Pingstreams } from '../../nodes/Pingstreams/Pingstreams.node';
import { PingstreamsTrigger } from '../../nodes/PingstreamsTrigger/PingstreamsTrigger.node';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  keywords: string[];
  n8n: { n8nNodesApiVersion: number; credentials: string[]; nodes: string[] };
};
const descriptions: Record<string, INodeTypeDescription> = {
  [`${pkg.name}.pingstreams`]: new Pingstreams().description,
  [`${pkg.name}.pingstreamsTrigger`]: new PingstreamsTrigger().description,
};

test('package.json lists the compiled credentials and nodes, and carries the community keyword', () => {
  expect(pkg.keywords).toContain('n8n-community-node-package');
  expect(pkg.n8n.n8nNodesApiVersion).toBe(1);
  for (const file of [...pkg.n8n.credentials, ...pkg.n8n.nodes]) {
    expect(file).toMatch(/^dist\/.+\.js$/);
    expect(existsSync(join(root, file.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  }
  expect(pkg.n8n.credentials).toEqual(['dist/credentials/PingstreamsApi.credentials.js']);
  expect(pkg.n8n.nodes.sort()).toEqual([
    'dist/nodes/Pingstreams/Pingstreams.node.js',
    'dist/nodes/PingstreamsTrigger/PingstreamsTrigger.node.js',
  ]);
});

test('codex files name their node; icons exist where the descriptions point', () => {
  for (const [dir, file] of [
    ['nodes/Pingstreams', 'Pingstreams.node'],
    ['nodes/PingstreamsTrigger', 'PingstreamsTrigger.node'],
  ]) {
    const codex = JSON.parse(readFileSync(join(root, dir, `${file}.json`), 'utf8')) as {
      node: string;
      categories: string[];
    };
    const description = descriptions[codex.node];
    expect(description).toBeDefined();
    expect(codex.categories.length).toBeGreaterThan(0);
    // Themed: a light and a dark variant (n8n's icon-prefer-themed-variants), both present.
    const icon = description.icon as { light: string; dark: string };
    for (const variant of [icon.light, icon.dark])
      expect(existsSync(join(root, dir, variant.replace(/^file:/, '')))).toBe(true);
    expect(icon.light).not.toBe(icon.dark);
    expect(description.credentials).toEqual([
      expect.objectContaining({ name: 'pingstreamsApi', testedBy: 'pingstreamsApiTest' }),
    ]);
  }
  const credentials = new PingstreamsApi();
  const credentialIcon = credentials.icon as { light: string; dark: string };
  for (const variant of [credentialIcon.light, credentialIcon.dark])
    expect(existsSync(join(root, 'credentials', variant.replace(/^file:/, '')))).toBe(true);
  expect(credentials.properties.find((p) => p.name === 'accessToken')?.typeOptions?.password).toBe(true);
});

/** Property definitions by name (n8n allows one name several times with different displayOptions). */
function propertiesNamed(properties: INodeProperties[], name: string): INodeProperties[] {
  return properties.filter((p) => p.name === name);
}

function checkValue(where: string, definitions: INodeProperties[], value: unknown): void {
  expect({ where, known: definitions.length > 0 }).toEqual({ where, known: true });
  if (typeof value === 'string' && value.startsWith('=')) return; // an n8n expression, resolved at run time
  const types = new Set(definitions.map((d) => d.type));
  if (types.has('options') || types.has('multiOptions')) {
    const allowed = definitions.flatMap(
      (d) => (d.options as INodePropertyOptions[] | undefined)?.map((o) => o.value) ?? [],
    );
    for (const v of Array.isArray(value) ? value : [value])
      expect({ where, value: v, ok: allowed.includes(v as string) }).toEqual({ where, value: v, ok: true });
  }
  if (types.has('fixedCollection') && value && typeof value === 'object') {
    const groups = definitions.flatMap((d) => (d.options as INodePropertyCollection[]) ?? []);
    for (const [group, entries] of Object.entries(value)) {
      const values = groups.find((g) => g.name === group)?.values ?? [];
      expect({ where, group, known: values.length > 0 }).toEqual({ where, group, known: true });
      for (const entry of [entries].flat() as Array<Record<string, unknown>>)
        for (const [key, v] of Object.entries(entry))
          checkValue(`${where}.${group}.${key}`, propertiesNamed(values, key), v);
    }
  }
  if (types.has('collection') && value && typeof value === 'object') {
    const inner = definitions.flatMap(
      (d) => (d.options as Array<INodeProperties | INodePropertyCollection>) ?? [],
    ) as INodeProperties[];
    for (const [key, v] of Object.entries(value)) checkValue(`${where}.${key}`, propertiesNamed(inner, key), v);
  }
}

/** The parameters of earlier versions that held JSONata (kept only to tell such workflows what to do). */
const JSONATA_PARAMETERS = ['mapping', 'expression', 'onlyWhen'];

function jsonataIn(parameters: Record<string, unknown>): string[] {
  const options = (parameters.options ?? {}) as Record<string, unknown>;
  return [...Object.entries(parameters), ...Object.entries(options)]
    .filter(
      ([key, value]) =>
        JSONATA_PARAMETERS.includes(key) && typeof value === 'string' && value !== '' && !value.startsWith('='),
    )
    .map(([, value]) => value as string);
}

describe('example workflows', () => {
  const dir = join(root, 'examples', 'n8n');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  test('there are examples for the trigger and for every operation of the action node', () => {
    const all = files.map(
      (f) =>
        JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
          nodes: Array<{ type: string; parameters: Record<string, unknown> }>;
        },
    );
    const nodes = all.flatMap((w) => w.nodes);
    expect(nodes.some((n) => n.type.endsWith('.pingstreamsTrigger'))).toBe(true);
    const operations = new Set(
      nodes.filter((n) => n.type === `${pkg.name}.pingstreams`).map((n) => n.parameters.operation),
    );
    expect([...operations].sort()).toEqual(['getSnapshot', 'waitForEvent']);
  });

  test.each(files)('%s: valid parameters, credentials, connections, and no JSONata', (file) => {
    const workflow = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      nodes: Array<{
        name: string;
        type: string;
        parameters: Record<string, unknown>;
        credentials?: Record<string, unknown>;
      }>;
      connections: Record<string, { main: Array<Array<{ node: string }>> }>;
    };
    const names = new Set(workflow.nodes.map((n) => n.name));
    for (const [from, outputs] of Object.entries(workflow.connections)) {
      expect(names.has(from)).toBe(true);
      for (const link of outputs.main.flat()) expect(names.has(link.node)).toBe(true);
    }
    for (const node of workflow.nodes) {
      const description = descriptions[node.type];
      if (!description) continue;
      expect(Object.keys(node.credentials ?? {})).toEqual(['pingstreamsApi']);
      for (const [key, value] of Object.entries(node.parameters))
        checkValue(`${file}:${node.name}.${key}`, propertiesNamed(description.properties, key), value);
      expect(jsonataIn(node.parameters)).toEqual([]);
      expect(node.parameters.output).not.toBe('mapping');
    }
  });
});

test('the trigger tells the editor what to show while it listens for a test event and once active', () => {
  const trigger = new PingstreamsTrigger().description;
  expect(trigger.eventTriggerDescription).toMatch(/Waiting for a matching Pingstreams event/);
  expect(trigger.activationMessage).toMatch(/now start this workflow/);
  const panel = trigger.triggerPanel as {
    header: string;
    executionsHelp: { active: string; inactive: string };
    activationHint: string;
  };
  expect(panel.header).toMatch(/Listening/);
  expect(panel.executionsHelp.inactive).toMatch(/Execute step.*Events and Only When/s);
  expect(panel.executionsHelp.active).toMatch(/The workflow is active/);
  expect(panel.activationHint).toMatch(/published/);
});
