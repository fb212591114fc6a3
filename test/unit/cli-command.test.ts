// The pieces every CLI command shares (cli/command.ts), through the commands that use them.
import { EXIT, type CommandIo } from '../../cli/command';
import { runDashboard } from '../../cli/dashboard';
import { runForecast } from '../../cli/forecast';
import { runListen } from '../../cli/listen';
import { runMetrics } from '../../cli/metrics';

function io(): CommandIo & { out: string; err: string } {
  const sink = { out: '', err: '' } as CommandIo & { out: string; err: string };
  sink.stdout = { write: (text: string) => (sink.out += text) };
  sink.stderr = { write: (text: string) => (sink.err += text) };
  return sink;
}

const commands = {
  listen: (argv: string[], o: CommandIo, env: NodeJS.ProcessEnv) => runListen(argv, o, { env }),
  metrics: (argv: string[], o: CommandIo, env: NodeJS.ProcessEnv) => runMetrics(argv, o, { env }),
  dashboard: (argv: string[], o: CommandIo, env: NodeJS.ProcessEnv) => runDashboard(argv, o, { env }),
};

describe.each(Object.entries(commands))('%s', (name, run) => {
  test('an unencrypted remote endpoint is a usage error that names --insecure', async () => {
    const out = io();
    const code = await run(['--project', 'p', '--endpoint', 'ws://example.com/api/'], out, { PINGSTREAMS_TOKEN: 'x' });
    expect(code).toBe(EXIT.USAGE);
    expect(out.err).toMatch(new RegExp(`^pingstreams ${name}: .*pass --insecure\\.\\n\\nUsage: pingstreams ${name}`));
    expect(out.err).toContain(`Run "pingstreams help ${name}" for all options.`);
  });

  test('no token: a usage error; a --token in a usage error is removed', async () => {
    const out = io();
    expect(await run(['--project', 'p'], out, {})).toBe(EXIT.USAGE);
    expect(out.err).toContain('No access token: set the PINGSTREAMS_TOKEN environment variable');
    const leaked = io();
    expect(await run(['--project', 'p', '--token', 'opaque-secret-1', '--bogus'], leaked, {})).toBe(EXIT.USAGE);
    expect(leaked.err).toContain('Unknown option "--bogus"');
    expect(leaked.err).not.toContain('opaque-secret-1');
  });

  test('--help prints the whole usage on stdout', async () => {
    const out = io();
    expect(await run(['--help'], out, {})).toBe(EXIT.OK);
    expect(out.out).toMatch(new RegExp(`^Usage: pingstreams ${name}`));
    expect(out.err).toBe('');
  });
});

test('forecast reports its usage errors the same way', async () => {
  const out = io();
  expect(await runForecast(['--rate', '10/h'], out)).toBe(EXIT.USAGE);
  expect(out.err).toMatch(/^pingstreams forecast: --aht is required\.\n\nUsage: pingstreams forecast/);
});
