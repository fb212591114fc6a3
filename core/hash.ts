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
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return hex8(h2) + hex8(h1);
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
