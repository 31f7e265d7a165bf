// The hand decoder of pushes (shared/push-decode.ts) must give exactly what decodeViews (msgpackr)
// gives whenever it answers, and give up (null) wherever msgpackr would fail or read something
// else: over the push corpus, over every truncation and many single-byte changes of pushes as
// encodePush and msgpackr write them. And it must answer for the pushes workers send.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { WireArray, decodeViews, encode, encodePush, type GradientPush } from '../../shared/index.ts';
import { decodePushFast } from '../../shared/push-decode.ts';
import { loadCorpus, messageBytes } from '../corpus/values.ts';
import type { PushCase } from '../corpus/generate-push.ts';

/** WireArrays as (type, where in the message, length): two decodes agree when these do. */
function plain(v: unknown): unknown {
  if (v instanceof WireArray) return { wire: v.type.name, buffer: v.bytes.buffer, at: v.bytes.byteOffset, n: v.bytes.length };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** '' when the hand decoder agrees with msgpackr on `bytes` (or gives up), else what differs. */
function disagreement(bytes: Uint8Array): string {
  let fast: unknown, slow: unknown, slowErr: unknown;
  try { fast = decodePushFast(bytes); } catch (err) { return `hand decoder threw ${String(err)}`; }
  try { slow = decodeViews(bytes); } catch (err) { slowErr = err; }
  if (fast === null) return '';
  if (slowErr) return `hand decoder answered where msgpackr fails (${String(slowErr)})`;
  return isDeepStrictEqual(plain(fast), plain(slow)) ? '' : 'different values';
}

const push = (over: Partial<GradientPush> = {}): GradientPush => ({
  worker: 'worker-3', seq: 70_000, baseVersion: 300, examples: 1024, newestAcceptedAtMs: 1_700_000_000_123, meanAcceptedAtMs: 1_700_000_000_000.5,
  dense: [{ name: 'l0.w', values: Float32Array.of(0.5, -1.25, 3) }],
  sparse: [
    { table: 'emb.a', rows: Int32Array.of(1, 5, 9), grads: Float32Array.from({ length: 6 }, (_, i) => i - 2.5) },
    { table: 'bias.a', rows: Int32Array.of(2), grads: Float32Array.of(0.25) },
  ],
  eventTimeMs: 1_700_000_000_999,
  ...over,
});

const SHAPES: [string, Uint8Array][] = [
  ['encodePush', encodePush(push())],
  ['encodePush, no eventTimeMs, empty arrays', encodePush((({ eventTimeMs: _, ...p }) => p)(push({ dense: [], sparse: [] })))],
  ['msgpackr, eventTimeMs undefined (left to msgpackr)', encode(push({ eventTimeMs: undefined }))],
  ['msgpackr', encode(push())],
  ['msgpackr, negative and small numbers', encode(push({ seq: 0, baseVersion: 5, examples: -3, newestAcceptedAtMs: -200, meanAcceptedAtMs: -40_000 }))],
  ['msgpackr, eventTimeMs null', encode({ ...push(), eventTimeMs: null })],
];

t.test('it answers for pushes as workers write them, with msgpackr\'s values', async (t) => {
  for (const [what, bytes] of SHAPES) {
    if (what.includes('left to msgpackr')) t.equal(decodePushFast(bytes), null, `${what}: not decoded by hand`);
    else t.not(decodePushFast(bytes), null, `${what}: decoded by hand`);
    t.equal(disagreement(bytes), '', `${what}: the same values`);
  }
});

t.test('the push corpus: the same answer or none', async (t) => {
  const corpus = loadCorpus<PushCase>('wire-push.json');
  const problems: string[] = [];
  for (const c of [{ name: 'setup', input: corpus.config!.setup }, ...corpus.cases]) {
    const bytes = messageBytes(c.input);
    if (bytes.length > 1 << 20) continue; // the oversized case is refused before decoding
    const d = disagreement(bytes);
    if (d) problems.push(`${c.name}: ${d}`);
  }
  t.same(problems, []);
});

t.test('every truncation and single-byte changes: the same answer or none', async (t) => {
  const problems: string[] = [];
  let answered = 0, cases = 0;
  for (const [what, bytes] of SHAPES) {
    for (let n = 0; n < bytes.length; n++) {
      cases++;
      const d = disagreement(bytes.subarray(0, n));
      if (d) problems.push(`${what} cut at ${n}: ${d}`);
    }
    for (let i = 0; i < bytes.length; i++) {
      for (const v of [0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0xa0, 0xc0, 0xc1, 0xc7, 0xcb, 0xd4, 0xd9, 0xdc, 0xde, 0xff, bytes[i] ^ 1, bytes[i] ^ 0x80]) {
        const b = Uint8Array.from(bytes);
        b[i] = v;
        cases++;
        const d = disagreement(b);
        if (d) problems.push(`${what}, byte ${i} = ${v}: ${d}`);
        else if (decodePushFast(b) !== null) answered++;
      }
    }
    // Trailing bytes are an error to msgpackr.
    cases++;
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    if (disagreement(longer)) problems.push(`${what} + 1 byte: ${disagreement(longer)}`);
  }
  t.same(problems.slice(0, 20), [], `${cases} messages, ${answered} changed ones answered by hand`);
});
