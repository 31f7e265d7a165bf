// Hashing used for feature ids, partitioning and deterministic initial values.
// Every process must compute the same numbers from the same inputs, so nothing here
// depends on Math.random or on insertion order.

/** FNV-1a over the UTF-16 code units of a string: fast, stable across processes. */
export function fnv1a32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A well-mixed 32-bit hash of a string, for bucketing (feature rows, stream shards). FNV-1a's
 * low bits depend only on the low bits of the characters, so `fnv1a32(s) % 2^k` makes
 * structured collisions among similar ids (u22, u178, u206 share a row); the finalizer fixes it.
 */
export function hashString(s: string): number {
  return mix32(fnv1a32(s));
}

/** murmur3's 32-bit finalizer: spreads low-entropy integers (row ids) over all bits. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x85ebca6b);
  x = (x ^ (x >>> 13)) >>> 0;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combine two 32-bit hashes into one. */
export function combine32(a: number, b: number): number {
  return mix32((a ^ Math.imul(b, 0x9e3779b1)) >>> 0);
}

/** A uniform number in [0, 1) derived from a 32-bit hash. */
export function unitFromHash(h: number): number {
  return (h >>> 0) / 4294967296;
}

/** Small seeded PRNG (mulberry32) for sampling where reproducibility matters. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
