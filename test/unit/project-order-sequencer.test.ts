// npm test runs the projects in order, unit, integration, e2e, so the e2e cache fills in the background meanwhile.
interface Test {
  path: string;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require('../project-order-sequencer.js') as new (options: unknown) => {
  sort(tests: Test[]): Promise<Test[]>;
};

function fakeTest(path: string, project: string | undefined, size: number): Test {
  return {
    path,
    context: {
      config: { displayName: project === undefined ? undefined : { name: project, color: 'white' }, cache: false },
      hasteFS: { getSize: () => size },
    },
  } as Test;
}

test('e2e after integration after unit, jest order (largest first without timings) within each', async () => {
  const tests = [
    fakeTest('e2e-small', 'e2e', 1),
    fakeTest('e2e-big', 'e2e', 9),
    fakeTest('bench', 'n8n-throughput', 99),
    fakeTest('int', 'integration', 5),
    fakeTest('unit-small', 'unit', 1),
    fakeTest('unit-big', 'unit', 3),
  ];
  const sorted = await new Sequencer({}).sort(tests);
  expect(sorted.map((t) => t.path)).toEqual(['unit-big', 'unit-small', 'int', 'e2e-big', 'e2e-small', 'bench']);
});
