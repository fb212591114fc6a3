// A fast, plain-JS, non-cryptographic string hash (no Node built-ins: the n8n package may import none).
// Its output is persisted in resume records (element fingerprints), so it must never change for the same text.

/**
 * 64 bits of the UTF-16 code units of `text`, as 16 hex digits: two 32-bit multiply-xor lanes (cyrb53's mixing,
 * with both lanes kept whole). Why 64 bits are enough where it is used: a resume record compares one stored
 * fingerprint per element id, so a change goes unnoticed only if the element's old and new content collide,
 * about 1 in 2^64 per comparison (records hold at most 2 000 entries); the tracker compares content exactly anyway.
 * Not for secrets: anyone can make collisions on purpose.
 */
export function hash64(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  const length = text.length;
  let i = 0;
  // Two code units (16 bits each) per step, losslessly in one 32-bit word: half the multiplications.
  for (; i + 1 < length; i += 2) {
    const pair = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    h1 = Math.imul(h1 ^ pair, 2654435761);
    h2 = Math.imul(h2 ^ pair, 1597334677);
  }
  if (i < length) {
    const last = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ last, 2654435761);
    h2 = Math.imul(h2 ^ last, 1597334677);
  }
  // The length tells "x" from "x\u0000" (whose last pair is the same word).
  h1 = Math.imul(h1 ^ length, 2654435761);
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return hex8(h2) + hex8(h1);
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
