// The content fingerprint's plain-JS hash (issue 14: the n8n package imports no Node built-in) and the registry's
// exact connection key. Fingerprints are persisted in resume records, so the hash's output is pinned.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hash64 } from '../../core/hash';
import { fingerprint } from '../../core/tracker';
import { keyOf, resolveOptions } from '../../core/registry';
import { ResumeRecord } from '../../core/resume';
import { FakePlatform } from '../helpers/fake-platform';

describe('hash64', () => {
  test('is stable: the values resume records already hold', () => {
    expect(hash64('')).toBe('488bdcb81aee8d83');
    expect(hash64('a')).toBe('501c2ba782c97901');
    expect(hash64('{"_id":"a","status":100}')).toBe('5f041ae2a55df195');
    expect(hash64('\u00e9\ud83d\ude00')).toBe('82016db748ff104e');
  });

  test('gives 16 hex digits, and no collision over 50 000 near-identical texts, in either 32-bit half', () => {
    const whole = new Set<string>();
    const high = new Set<string>();
    const low = new Set<string>();
    const base = JSON.stringify({ _id: 'x', status: 100, first_text: 'Hello, my order has not arrived yet.' });
    let malformed = 0;
    for (let i = 0; i < 50_000; i++) {
      const print = hash64(`${base}${i}`);
      if (!/^[0-9a-f]{16}$/.test(print)) malformed += 1;
      whole.add(print);
      high.add(print.slice(0, 8));
      low.add(print.slice(8));
    }
    expect(malformed).toBe(0);
    expect(whole.size).toBe(50_000);
    // 50 000 values in 2^32: about 0.3 birthday collisions per half are expected; more would mean a weak lane.
    expect(high.size).toBeGreaterThan(49_995);
    expect(low.size).toBeGreaterThan(49_995);
  });

  test('one changed, swapped or added character changes it', () => {
    const text = '{"_id":"a","status":100,"note":"ab"}';
    const variants = [
      '{"_id":"a","status":101,"note":"ab"}',
      '{"_id":"a","status":100,"note":"ba"}',
      '{"_id":"a","status":100,"note":"ab "}',
      '{"_id":"a","status":100,"note":"a"}',
    ];
    for (const variant of variants) expect(hash64(variant)).not.toBe(hash64(text));
  });
});

describe('fingerprint', () => {
  test('updatedAt when the server sets it, else the content hash', () => {
    expect(fingerprint({ _id: 'a', updatedAt: '2026-12-01T10:00:00.000Z' })).toBe('u:2026-12-01T10:00:00.000Z');
    const element = { _id: 'a', status: 100 };
    expect(fingerprint(element)).toBe(`h:${hash64(JSON.stringify(element))}`);
    expect(fingerprint({ _id: 'a', status: 200 })).not.toBe(fingerprint(element));
  });

  test('a record written with the SHA-1 fingerprint finds the element changed (recovered once), never the same', () => {
    const element = { _id: 'a', status: 100 };
    // What the earlier SHA-1 fingerprint stored: 27 base64url characters.
    const record = ResumeRecord.read({ topic: '/p1/requests', seen: { a: 'h:lQg8o0Qm2uNwWJHxZu6VQ6dbVNU' } });
    expect(record.diff([element]).changes).toEqual([{ method: 'UPDATE', data: element }]);
  });
});

describe('no Node built-in in the files of the hot path (the n8n package may import none)', () => {
  test.each(['tracker', 'registry', 'resume', 'snapshot-diff', 'hash', 'protocol'])('core/%s.ts', (name) => {
    const source = fs.readFileSync(path.join(__dirname, '..', '..', 'core', `${name}.ts`), 'utf8');
    expect(source).not.toMatch(/from ['"]node:|require\(['"]node:|from ['"](crypto|fs|path|os|http|https)['"]/);
  });
});

describe('the connection key', () => {
  const platform = new FakePlatform();
  const key = (token: string) => keyOf(resolveOptions({ endpoint: 'ws://127.0.0.1:9/api/', token, platform }));

  test('is exact: two tokens never share a socket, with or without the JWT prefix one token is one key', () => {
    expect(key('aaa.bbb.ccc')).not.toBe(key('aaa.bbb.ccd'));
    expect(key('JWT aaa.bbb.ccc')).toBe(key('aaa.bbb.ccc'));
  });
});
