// The push corpus (test/corpus/wire-push.json) against PS shard 0 of the in-process harness:
// each bad push gets its error code and reason; a replayed (worker, seq) is acknowledged as a
// duplicate and applied once; no case changes the shard's memory, its version or the store.
import t from 'tap';
import { MODEL, PsHarness } from '../helpers/ps-harness.ts';
import { loadCorpus, messageBytes } from '../corpus/values.ts';
import { shardDigest } from '../corpus/shard-digest.ts';
import type { PushCase } from '../corpus/generate-push.ts';

const corpus = loadCorpus<PushCase>('wire-push.json');
const ERROR_CODES = new Set(['BAD_MESSAGE', 'UNKNOWN_PARAMETER', 'WRONG_SHAPE', 'NON_FINITE', 'STALE_GRADIENT', 'FUTURE_VERSION', 'PAYLOAD_TOO_LARGE', 'MAILBOX_FULL', 'NOT_OWNER']);

t.test(`push bad-input corpus: ${corpus.cases.length} cases`, async (t) => {
  const h = await new PsHarness(2).start();
  t.teardown(() => h.stop());
  const setup = await h.pushRaw(0, messageBytes(corpus.config!.setup));
  t.ok(setup.ok && setup.version === 1, 'setup push applied: version 1');
  await h.publish(0);
  const tables = h.spec.tables.map((x) => x.name);
  const stored = await h.store.read(MODEL, 0, tables, true);
  const digest = shardDigest(h.shards[0]);
  for (const c of corpus.cases) {
    const rep = await h.pushRaw(0, messageBytes(c.input));
    const problems: string[] = [];
    if ('code' in c.expect) {
      if (rep.ok) problems.push(`accepted (version ${rep.version}, duplicate ${rep.duplicate})`);
      else {
        if (rep.error.code !== c.expect.code) problems.push(`code ${rep.error.code}, expected ${c.expect.code}`);
        if (!rep.error.message.includes(c.expect.reason)) problems.push(`reason lacks "${c.expect.reason}"`);
        if (!ERROR_CODES.has(rep.error.code)) problems.push(`untyped code ${rep.error.code}`);
        if (rep.error.retryable) problems.push('marked retryable');
      }
    } else if (!rep.ok || !rep.duplicate || rep.version !== 1) problems.push(`expected a duplicate at version 1, got ${JSON.stringify(rep)}`);
    if (h.shards[0].version !== 1) problems.push(`version moved to ${h.shards[0].version}`);
    if (shardDigest(h.shards[0]) !== digest) problems.push('weights, slots or rows changed in memory');
    t.same(problems, [], `${c.name} -> ${rep.ok ? 'ok' : `${rep.error.code}: ${rep.error.message.slice(0, 120)}`}`);
  }
  t.ok(h.shards[0].healthy, 'the shard actor is still running');
  await h.publish(0);
  t.same(await h.store.read(MODEL, 0, tables, true), stored, 'the stored snapshot is unchanged');
  const good = await h.push(0, { worker: 'after', seq: 1, baseVersion: 1, sparse: [{ table: 'emb.a', rows: new Int32Array([h.rowOwnedBy('emb.a', 0)]), grads: new Float32Array([1, 1]) }], newestAcceptedAtMs: Date.now(), meanAcceptedAtMs: Date.now() });
  t.ok(good.ok && good.version === 2, 'a good push is still applied afterwards');
});
