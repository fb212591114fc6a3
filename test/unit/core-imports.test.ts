// What the n8n package's core may import (issue 14: no runtime dependency, no process or file system), and the
// registry's exact connection key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyOf, resolveOptions } from '../../core/registry';
import { FakePlatform } from '../helpers/fake-platform';

const CORE = path.join(__dirname, '..', '..', 'core');

/** Every module core/portable.ts reaches (the core the n8n nodes load), and what each imports from outside. */
function portableGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (name: string) => {
    if (graph.has(name)) return;
    const source = fs.readFileSync(path.join(CORE, `${name}.ts`), 'utf8');
    const specifiers = [...source.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    graph.set(
      name,
      specifiers.filter((s) => !s.startsWith('./')),
    );
    for (const local of specifiers.filter((s) => s.startsWith('./'))) visit(local.slice(2));
  };
  visit('portable');
  return graph;
}

test("the n8n side's core imports nothing from outside but node:crypto (the tracker's SHA-1, allowed by n8n's scanner)", () => {
  const graph = portableGraph();
  expect(graph.size).toBeGreaterThan(10);
  const outside = [...graph].filter(([, imports]) => imports.length).map(([name, imports]) => ({ name, imports }));
  expect(outside).toEqual([{ name: 'tracker', imports: ['node:crypto'] }]);
  for (const name of ['node-platform', 'expression', 'expression-worker', 'pipeline'])
    expect(graph.has(name)).toBe(false);
});

describe('the connection key', () => {
  const platform = new FakePlatform();
  const key = (token: string) => keyOf(resolveOptions({ endpoint: 'ws://127.0.0.1:9/api/', token, platform }));

  test('is exact: two tokens never share a socket, with or without the JWT prefix one token is one key', () => {
    expect(key('aaa.bbb.ccc')).not.toBe(key('aaa.bbb.ccd'));
    expect(key('JWT aaa.bbb.ccc')).toBe(key('aaa.bbb.ccc'));
  });
});
