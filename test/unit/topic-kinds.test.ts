// The topic kinds are described once (core/topic-kinds.ts): these tests hold every reader to the description,
// so a new kind is checked by them without being named here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildTopic,
  describeTopicKind,
  InvalidTopicError,
  kindsAskedFor,
  METHODS,
  parseTopic,
  topicFromFields,
  TOPIC_ID_FIELDS,
  TOPIC_KIND_DESCRIPTIONS,
  TOPIC_KINDS,
  type TopicField,
} from '../../core';
import { TopicTracker, isClosedRequest } from '../../core/tracker';
import {
  EVENTS_PROPERTY,
  methodsParameter,
  topicFromParameters,
  topicProperties,
} from '../../nodes/Pingstreams/shared';
import { EDITOR_TOPIC_KINDS, injectEditorData } from '../../node-red/editor-data';
import { parseListenArgs } from '../../cli/listen';
import { kindFlag } from '../../cli/topic-flags';

const P = '5eb45fbc1f9e1f0012d62207';
const LOCALES = join(__dirname, '..', '..', 'node-red', 'locales');
/** A value for each field, as a host would read it. */
const sample = (field: TopicField): string =>
  field === 'topic' ? `/${P}/bots/b1` : field === 'projectId' ? P : `x-${field}`;

describe('each kind, from its description', () => {
  test.each(TOPIC_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].path !== undefined))(
    '%s: built from its ids, parsed back to the same kind and ids; each id is required',
    (kind) => {
      const { ids, pattern } = TOPIC_KIND_DESCRIPTIONS[kind];
      const topic = topicFromFields(kind, sample);
      expect(topic.split('/').length).toBe(pattern!.split('/').length);
      expect(parseTopic(topic)).toEqual({ kind, ...Object.fromEntries(ids.map((f) => [f, sample(f)])) });
      for (const missing of ids)
        expect(() => topicFromFields(kind, (f) => (f === missing ? undefined : sample(f)))).toThrow(
          new RegExp(`The ${TOPIC_ID_FIELDS[missing].label} is missing`),
        );
    },
  );

  test('the custom kind takes the whole topic; what no kind describes parses as custom', () => {
    expect(topicFromFields('custom', sample)).toBe(`/${P}/bots/b1`);
    expect(parseTopic(`/${P}/bots/b1`)).toEqual({ kind: 'custom', projectId: P });
  });

  test('a reserved id is refused when building, and the topic it would make is no such kind', () => {
    expect(TOPIC_ID_FIELDS.projectUserId.reserved).toContain('users');
    expect(() => buildTopic({ kind: 'agent', projectId: P, projectUserId: 'users' })).toThrow(/names another topic/);
    expect(parseTopic(`/${P}/project_users/users`).kind).toBe('custom');
  });

  test('an unknown kind is an InvalidTopicError that lists the kinds', () => {
    expect(() => describeTopicKind('bots')).toThrow(InvalidTopicError);
    expect(() => buildTopic({ kind: 'bots' as never, projectId: P })).toThrow(
      new RegExp(`Unknown topic kind "bots": use one of ${TOPIC_KINDS.join(', ')}`),
    );
  });

  test('the ids a host is given ask for the most specific kinds; a kind that must be named is not guessed', () => {
    const asked = (ids: string[], named: string[] = []) =>
      kindsAskedFor(new Set(ids) as never, new Set(named) as never);
    expect(asked(['projectId'])).toEqual(['requests']);
    expect(asked(['projectId', 'requestId'])).toEqual(['request']);
    expect(asked(['projectId', 'requestId'], ['messages'])).toEqual(['messages']);
    expect(asked(['projectId', 'requestId', 'projectUserId'])).toEqual(['request', 'agent']);
    expect(asked([])).toEqual([]);
  });
});

describe('the tracker reads its rules from the description', () => {
  test.each(TOPIC_KINDS)('%s: closed elements leave it when the kind says so', (kind) => {
    const { closedStatus } = TOPIC_KIND_DESCRIPTIONS[kind];
    const tracker = new TopicTracker(kind, 100, 100);
    tracker.applySnapshot([]);
    tracker.applyLive('UPDATE', { _id: 'a', status: closedStatus ?? 1000 });
    expect(isClosedRequest(kind, { _id: 'a', status: closedStatus ?? 1000 })).toBe(closedStatus !== undefined);
    expect(tracker.get('a') === undefined).toBe(closedStatus !== undefined);
    tracker.applyLive('DELETE', { _id: 'b' });
    expect(tracker.get('b')).toBeUndefined();
  });

  test.each(TOPIC_KINDS)('%s: an empty snapshot after a reconnect deletes only on a single-object kind', (kind) => {
    const tracker = new TopicTracker(kind, 100, 100);
    tracker.applySnapshot([{ _id: 'a', status: 200 }]);
    const diff = tracker.applySnapshot([]);
    expect(diff.changes.map((c) => c.method)).toEqual(
      TOPIC_KIND_DESCRIPTIONS[kind].shape === 'single' ? ['DELETE'] : [],
    );
    expect(diff.missing.length).toBe(TOPIC_KIND_DESCRIPTIONS[kind].lookUpMissing ? 1 : 0);
  });
});

describe('n8n reads the kinds from the description', () => {
  const get = (params: Record<string, unknown>) => (name: string, fallback?: unknown) => params[name] ?? fallback;

  test('an unknown resource is a clear error, not the project requests', () => {
    expect(() => topicFromParameters(get({ resource: 'bots', projectId: P }))).toThrow(InvalidTopicError);
    expect(() => topicFromParameters(get({ resource: 'bots', projectId: P }))).toThrow(/Unknown topic kind "bots"/);
  });

  test('each kind is an option with its label and path; each field shows for the kinds that use it', () => {
    const [resource, ...fields] = topicProperties();
    expect(resource.options!.map((o) => (o as { value: string }).value).sort()).toEqual([...TOPIC_KINDS].sort());
    for (const kind of TOPIC_KINDS) {
      const option = resource.options!.find((o) => (o as { value: string }).value === kind) as { name: string };
      expect(option.name).toBe(TOPIC_KIND_DESCRIPTIONS[kind].label);
      const shown = fields.filter((f) => (f.displayOptions!.show!.resource as string[]).includes(kind));
      const { path, ids } = TOPIC_KIND_DESCRIPTIONS[kind];
      expect(shown.map((f) => f.name)).toEqual(path === undefined ? ['topic'] : ids);
      expect(
        topicFromParameters(
          get(Object.fromEntries([['resource', kind], ...shown.map((f) => [f.name, sample(f.name as TopicField)])])),
        ),
      ).toBe(topicFromFields(kind, sample));
    }
  });

  test("the Events option and the methods parameter are the core's methods", () => {
    expect(EVENTS_PROPERTY.options!.map((o) => (o as { value: string }).value).sort()).toEqual([...METHODS].sort());
    expect(methodsParameter([...METHODS, 'PATCH'])).toEqual([...METHODS]);
  });
});

describe('Node-RED and the CLI read the kinds from the description', () => {
  test('the editor gets every kind and its fields at build time; every locale labels every kind', () => {
    expect(EDITOR_TOPIC_KINDS.map((k) => k.kind)).toEqual([...TOPIC_KINDS]);
    const html = readFileSync(join(__dirname, '..', '..', 'node-red', 'pingstreams-in.html'), 'utf8');
    expect(html).toContain('var KINDS = PINGSTREAMS_TOPIC_KINDS;');
    expect(injectEditorData(html)).toContain(`var KINDS = ${JSON.stringify(EDITOR_TOPIC_KINDS)};`);
    for (const locale of readdirSync(LOCALES)) {
      const { kinds } = JSON.parse(readFileSync(join(LOCALES, locale, 'pingstreams-in.json'), 'utf8'));
      expect(Object.keys(kinds).sort()).toEqual([...TOPIC_KINDS].sort());
      // The sidebar help explains each kind under its label.
      const help = readFileSync(join(LOCALES, locale, 'pingstreams-in.html'), 'utf8');
      for (const kind of TOPIC_KINDS)
        expect([kind, help]).toEqual([kind, expect.stringContaining(`<b>${kinds[kind]}</b>`)]);
      // The subscription node's help lists the kinds msg.kind may name (those with a path).
      const subscriptionHelp = readFileSync(join(LOCALES, locale, 'pingstreams-subscription.html'), 'utf8');
      for (const kind of TOPIC_KINDS.filter((k) => TOPIC_KIND_DESCRIPTIONS[k].path !== undefined))
        expect([kind, subscriptionHelp]).toEqual([kind, expect.stringContaining(`<code>${kind}</code>`)]);
    }
  });

  test.each(TOPIC_KINDS.filter((kind) => TOPIC_KIND_DESCRIPTIONS[kind].path !== undefined))(
    'listen: the id flags (and the name, when it must be named) of %s give its topic',
    (kind) => {
      const { ids, namedOnly } = TOPIC_KIND_DESCRIPTIONS[kind];
      const argv = ids.flatMap((f) => [`--${TOPIC_ID_FIELDS[f].flag}`, sample(f)]);
      if (namedOnly) argv.push(`--${kindFlag(kind)}`);
      const config = parseListenArgs(argv, { PINGSTREAMS_TOKEN: 't' });
      expect(config !== 'help' && config.topics).toEqual([topicFromFields(kind, sample)]);
    },
  );
});
