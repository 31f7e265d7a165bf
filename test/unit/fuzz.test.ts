// A small, bounded fuzz run: random mutations (bit flips, truncation, byte insertion and
// deletion, field swaps) of valid pushes, deltas, event bodies and event messages. Every input
// must be accepted cleanly or refused with a typed error; a refused push changes nothing.
// Bounded by count and time: FUZZ_ITERATIONS per target (default 2000) or 10 s in all.
// Reproduce a failure with FLYWHEEL_FUZZ_SEED=<the printed seed>.
import t from 'tap';
import { FlywheelError, Replica, encode, encodeDelta, encodePush, parseDelta, type WeightDelta } from '../../shared/index.ts';
import { parseEventsBody } from '../../services/ingest/parse-events.ts';
import { parseEventBatch } from '../../services/worker/trainer.ts';
import { PsHarness } from '../helpers/ps-harness.ts';
import { shardDigest } from '../corpus/shard-digest.ts';

const SEED = Number(process.env.FLYWHEEL_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 2000);
const deadline = Date.now() + 10_000;
const ERROR_CODES = new Set(['BAD_MESSAGE', 'BAD_EVENT', 'UNKNOWN_PARAMETER', 'WRONG_SHAPE', 'NON_FINITE', 'STALE_GRADIENT', 'FUTURE_VERSION', 'PAYLOAD_TOO_LARGE', 'MAILBOX_FULL', 'NOT_OWNER']);

/** mulberry32: a seeded PRNG, so one seed replays one run exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

class Mutator {
  constructor(readonly rand: () => number) {}
  int(n: number): number { return Math.floor(this.rand() * n); }

  /** One to three byte-level mutations. */
  bytes(src: Uint8Array): Uint8Array {
    let b = Uint8Array.from(src);
    for (let k = 1 + this.int(3); k > 0; k--) {
      const i = this.int(Math.max(1, b.length));
      switch (this.int(5)) {
        case 0: if (b.length) b[i] ^= 1 << this.int(8); break;
        case 1: b = b.slice(0, this.int(b.length + 1)); break;
        case 2: b = Uint8Array.from([...b.subarray(0, i), this.int(256), ...b.subarray(i)]); break;
        case 3: b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1)]); break;
        default: if (b.length) b[i] = [0x00, 0xff, 0xc0, 0xc1, 0x7f, 0x80][this.int(6)]; break;
      }
    }
    return b;
  }

  /** Swaps the values of two fields somewhere in a (copied) object tree. */
  swap<T>(value: T): T {
    const copy = structuredClone(value) as Record<string, unknown>;
    const slots: [Record<string, unknown>, string][] = [];
    const walk = (o: unknown) => {
      if (o === null || typeof o !== 'object' || ArrayBuffer.isView(o)) return;
      for (const k of Object.keys(o)) { slots.push([o as Record<string, unknown>, k]); walk((o as Record<string, unknown>)[k]); }
    };
    walk(copy);
    if (slots.length < 2) return copy as T;
    const [a, ka] = slots[this.int(slots.length)];
    const [b, kb] = slots[this.int(slots.length)];
    // Leaves anywhere, or any two fields of one object: never a value into its own subtree.
    const leaf = (v: unknown) => v === null || typeof v !== 'object' || ArrayBuffer.isView(v);
    if (a !== b && !(leaf(a[ka]) && leaf(b[kb]))) return copy as T;
    const tmp = a[ka];
    a[ka] = b[kb];
    b[kb] = tmp;
    return copy as T;
  }
}

function typed(err: unknown): string | undefined {
  return err instanceof FlywheelError && ERROR_CODES.has(err.code) ? undefined : `untyped ${(err as Error)?.name}: ${(err as Error)?.message}`;
}

t.comment(`fuzz seed ${SEED} (FLYWHEEL_FUZZ_SEED=${SEED} replays it), ${ITERATIONS} mutations per target or 10 s`);
const m = new Mutator(rng(SEED));

t.test('mutated pushes: applied cleanly, or refused with a typed error and no change', async (t) => {
  const h = await new PsHarness(2).start();
  t.teardown(() => h.stop());
  const r0 = h.rowOwnedBy('emb.a', 0);
  let digest = shardDigest(h.shards[0]);
  const failures: string[] = [];
  let n = 0;
  let applied = 0;
  for (; n < ITERATIONS && Date.now() < deadline; n++) {
    const base = { worker: 'fuzz', seq: n, baseVersion: 0, dense: [], sparse: [{ table: 'emb.a', rows: new Int32Array([r0]), grads: new Float32Array([0.01, -0.01]) }], examples: 1, newestAcceptedAtMs: 1, meanAcceptedAtMs: 1 };
    const bytes = m.rand() < 0.3 ? encodePush(m.swap(base)) : m.bytes(encodePush(base));
    const version = h.shards[0].version;
    const rep = await h.pushRaw(0, bytes);
    if (rep.ok) {
      applied++;
      digest = shardDigest(h.shards[0]);
      continue;
    }
    if (!ERROR_CODES.has(rep.error.code) || !rep.error.message) failures.push(`#${n}: untyped reply ${JSON.stringify(rep.error)}`);
    if (h.shards[0].version !== version || shardDigest(h.shards[0]) !== digest) failures.push(`#${n}: refused (${rep.error.code}) but the shard changed`);
  }
  t.ok(h.shards[0].healthy, 'the shard actor never crashed');
  t.same(failures.slice(0, 5), [], `${n} mutated pushes, ${applied} applied, ${failures.length} failures`);
});

t.test('mutated deltas: applied, old or gap, or refused with a typed error', async (t) => {
  const h = new PsHarness(2);
  const replica = new Replica(h.spec, 2, h.store);
  const failures: string[] = [];
  let n = 0;
  for (; n < ITERATIONS && Date.now() < deadline; n++) {
    const v = replica.shards[0].version;
    const base: WeightDelta = {
      shard: 0, epoch: 0, epochStartVersion: 0, restoredEpoch: 0, fromVersion: v, toVersion: v + 1, persistedVersion: v + 1,
      dense: [{ name: 'l0.b', values: new Float32Array([0.1, 0.2]) }], sparse: [{ table: 'emb.a', rows: new Int32Array([3, 9]), values: new Float32Array([1, 2, 3, 4]) }],
      newestAcceptedAtMs: 1, pushAcceptedAtMs: new Float64Array([1]), pushExamples: new Int32Array([1]), publishedAtMs: 1,
    };
    const bytes = m.rand() < 0.3 ? encodeDelta(m.swap(base)) : m.bytes(encodeDelta(base));
    try {
      const d = parseDelta(bytes);
      // As Replica.start does before receive(): a delta for a shard it does not have is bad.
      if (d.shard >= replica.shardCount) continue;
      const view = () => JSON.stringify(replica.shards.map((s) => [s.version, s.epoch, s.epochStartVersion, s.persistedVersion]));
      const before = view();
      const out = replica.applyDelta(d);
      if (out !== 'applied' && view() !== before) failures.push(`#${n}: ${out} but the versions changed`);
    } catch (err) {
      const bad = typed(err);
      if (bad) failures.push(`#${n}: ${bad}`);
    }
  }
  t.same(failures.slice(0, 5), [], `${n} mutated deltas, ${replica.stats.applied} applied, ${replica.stats.bad} bad, ${failures.length} failures`);
});

t.test('mutated event bodies and event messages: accepted or refused with a reason', async (t) => {
  const ev = { userId: 'u1', itemId: 'i1', type: 'click', ts: 1700000000000, categoryId: 'c', value: 2, context: { country: 'France' } };
  const failures: string[] = [];
  let n = 0;
  let accepted = 0;
  for (; n < ITERATIONS && Date.now() < deadline; n++) {
    const events = m.rand() < 0.3 ? [m.swap(ev), ev] : [ev, ev];
    const ndjson = m.rand() < 0.5;
    const text = ndjson ? events.map((e) => JSON.stringify(e)).join('\n') : JSON.stringify(events);
    const body = Buffer.from(m.bytes(Buffer.from(text)));
    try {
      const r = parseEventsBody(body, ndjson ? 'application/x-ndjson' : 'application/json', 50);
      if (r.ok) accepted++;
      else if (!r.reason || !r.code) failures.push(`#${n}: a refusal without code or reason`);
    } catch (err) {
      failures.push(`#${n}: parseEventsBody threw ${(err as Error).name}: ${(err as Error).message}`);
    }
    const msg = m.rand() < 0.3 ? encode(m.swap({ acceptedAtMs: 1700000000000, events })) : m.bytes(encode({ acceptedAtMs: 1700000000000, events }));
    try {
      parseEventBatch(msg);
    } catch (err) {
      const bad = typed(err);
      if (bad) failures.push(`#${n}: parseEventBatch: ${bad}`);
    }
  }
  t.same(failures.slice(0, 5), [], `${n} mutated bodies and messages, ${accepted} bodies accepted, ${failures.length} failures`);
});
