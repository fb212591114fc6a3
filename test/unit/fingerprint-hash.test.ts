// The content fingerprint's plain-JS hash (issue 14: the n8n package imports no Node built-in) and the registry's
// exact connection key. Fingerprints are persisted in resume records, so the hash's output is pinned.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hash64 } from '../../core/hash';
import { keyOf, resolveOptions } from '../../core/registry';
import { FakePlatform } from '../helpers/fake-platform';

describe('hash64', () => {
  test('is stable: the values a resume record will hold once fingerprints use it', () => {
    expect(hash64('')).toBe('ca36d962df09a278');
    expect(hash64('a')).toBe('44c00aa376344d1c');
    expect(hash64('{"_id":"a","status":100}')).toBe('9d6a3c5583b9cbf2');
    expect(hash64('\u00e9\ud83d\ude00')).toBe('6a128f5c980af7e0');
  });

  test('gives 16 hex digits, and no collision over 10 000 near-identical texts, in either 32-bit half', () => {
    const whole = new Set<string>();
    const high = new Set<string>();
    const low = new Set<string>();
    const base = JSON.stringify({ _id: 'x', status: 100, first_text: 'Hello, my order has not arrived yet.' });
    let malformed = 0;
    for (let i = 0; i < 10_000; i++) {
      const print = hash64(`${base}${i}`);
      if (!/^[0-9a-f]{16}$/.test(print)) malformed += 1;
      whole.add(print);
      high.add(print.slice(0, 8));
      low.add(print.slice(8));
    }
    expect(malformed).toBe(0);
    expect(whole.size).toBe(10_000);
    // 10 000 values in 2^32: a birthday collision per half is unlikely (about 1 in 90); more would mean a weak lane.
    expect(high.size).toBeGreaterThanOrEqual(9_999);
    expect(low.size).toBeGreaterThanOrEqual(9_999);
  });

  test('one changed, swapped or added character changes it, a trailing NUL too', () => {
    expect(hash64('x\u0000')).not.toBe(hash64('x'));
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

describe('no Node built-in in the files of the hot path (the n8n package may import none)', () => {
  test.each(['registry', 'resume', 'snapshot-diff', 'hash', 'protocol'])('core/%s.ts', (name) => {
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
