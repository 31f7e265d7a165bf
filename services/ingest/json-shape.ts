// Checks the shape of a JSON or NDJSON body on its bytes, before it is decoded or parsed.
// JSON.parse builds whatever the body describes: 7 MB of nested arrays is millions of arrays
// (8 such bodies at once took ingest to 1.3 GB), and a flat array of millions of numbers or an
// object of millions of keys costs as much. No valid request holds any of them, so they are
// refused here, in one pass that allocates nothing. Structural characters are ASCII and every
// byte of a multi-byte UTF-8 sequence is >= 0x80, so the bytes can be read before decoding.

export interface ShapeLimits {
  /** Deepest nesting of arrays and objects (an event in a JSON array is at depth 2, its context at 3). */
  maxDepth: number;
  /** Members of the top-level array of a JSON body: the events. */
  maxTopLevelItems: number;
  /** Members of any other array or object (an event has at most 7 fields, its context 64 keys). */
  maxMembers: number;
}

export type ShapeRefusal = { code: 'too_deep' | 'too_many_events' | 'too_wide'; reason: string };

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c;
const OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;

/**
 * The first limit the body breaks, or undefined. Malformed JSON is left to the parser (an
 * unbalanced bracket only moves the depth count), except that it too is held to the limits.
 */
export function checkJsonShape(b: Uint8Array, ndjson: boolean, l: ShapeLimits): ShapeRefusal | undefined {
  // Members counted per open container, as commas seen at its depth.
  const commas = new Int32Array(l.maxDepth + 1);
  let depth = 0;
  let topIsArray = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = b.indexOf(QUOTE, j + 1);
        if (j < 0) return undefined; // unterminated: the parser says so
        let k = j - 1;
        while (b[k] === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > l.maxDepth) {
        return { code: 'too_deep', reason: `JSON nested deeper than ${l.maxDepth} levels (an event needs at most ${ndjson ? 2 : 3})` };
      }
      commas[depth] = 0;
      if (depth === 1) topIsArray = c === OPEN_ARRAY;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth > 0) depth--;
    } else if (c === COMMA && depth > 0) {
      const members = ++commas[depth] + 1;
      if (depth === 1 && topIsArray && !ndjson) {
        if (members > l.maxTopLevelItems) return { code: 'too_many_events', reason: `more than ${l.maxTopLevelItems} events in one request` };
      } else if (members > l.maxMembers) {
        return { code: 'too_wide', reason: `a JSON object or array with more than ${l.maxMembers} members (no field of an event holds that many)` };
      }
    }
  }
  return undefined;
}
