// The retrieval kind's count features (own counts, popularity) are the same numbers in the
// worker's batch and in the inference node's ranking: a model trained on a stream scores its
// catalogue for a user's next basket, and the serving plugin, following the same events over
// the same weights, answers /v1/recommend with the same scores. A serving that left the
// features out would disagree (checked), and the features do move the scores (checked).
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { mulberry32 } from '../../index.ts';
import { LocalParams } from '../../model/local-params.ts';
import { concatBatches, sliceBatch } from '../batch.ts';
import { retrievalConfigSchema, type RetrievalModelConfig } from './config.ts';
import { COUNT_TABLES, CountFeatures, ownRow } from './count-features.ts';
import { RetrievalExampleSource } from './examples.ts';
import { RetrievalModel } from './model.ts';
import { retrievalServing } from './serving.ts';
import { retrievalParamSpec } from './spec.ts';

const cfgOf = (o: Record<string, unknown> = {}): RetrievalModelConfig =>
  retrievalConfigSchema.parse({ history: 4, userBuckets: 1 << 10, itemBuckets: 1 << 10, countBuckets: 1 << 12, dim: 4, ...o });
const buy = (u: string, i: string, ts: number): FlywheelEvent => ({ userId: u, itemId: i, type: 'buy', ts });

/** Users who buy again (half of the picks among their own 5 items) and some popular items. */
function stream(n: number): FlywheelEvent[] {
  const r = mulberry32(7);
  const evs: FlywheelEvent[] = [];
  for (let k = 0; k < n; k++) {
    const u = Math.floor(r() * 20);
    const it = r() < 0.5 ? `i${(u * 5 + Math.floor(r() * 5)) % 60}` : `i${Math.floor(r() * r() * 60)}`;
    evs.push(buy(`u${u}`, it, 1000 + k));
  }
  return evs;
}

function servingScores(c: RetrievalModelConfig, p: LocalParams, evs: FlywheelEvent[], user: string): Map<number, number> {
  const plugin = retrievalServing({
    model: 'm', settings: c, spec: retrievalParamSpec('m', 1, c), predictor: new RetrievalModel(c), maxBatch: 1000,
    weights: () => p, versionInfo: () => ({}),
  });
  plugin.onEvents!(evs);
  const res = plugin.routes['POST /v1/recommend']({} as IncomingMessage, Buffer.from(JSON.stringify({ userId: user, k: 1000 }))) as { source: string; items: { itemId: string; score: number }[] };
  if (res.source !== 'model') throw new Error(`served ${res.source}`);
  return new Map(res.items.map((x) => [hashRow(x.itemId, c.itemBuckets), x.score]));
}

t.test('count features: the worker\'s batch and serving\'s ranking score every item alike', async (t) => {
  for (const negatives of ['batch', 'catalogue'] as const) {
    const c = cfgOf({ countFeatures: ['own', 'popularity'], negatives });
    const p = new LocalParams(retrievalParamSpec('m', 1, c), { learningRate: 0.05, momentum: 0, nesterov: false, clipNorm: 0 });
    const model = new RetrievalModel(c);
    const src = new RetrievalExampleSource(c);
    const evs = stream(3000);
    const all = concatBatches(src.shape, [src.push(evs), src.flush()]);
    for (let a = 0; a < all.size; a += 64) p.apply(model.trainStep(sliceBatch(all, a, Math.min(all.size, a + 64)), p));
    const fw = new CountFeatures(c).weights(p);
    t.ok(Math.abs(fw[0]) > 1e-3 && Math.abs(fw[1]) > 1e-3, `${negatives}: both features' weights were learnt (${fw[0].toFixed(3)}, ${fw[1].toFixed(3)})`);
    const u = hashRow('u3', c.userBuckets);
    const own = new Float32Array(1);
    p.readRows(COUNT_TABLES.own, Int32Array.of(ownRow(u, hashRow('i15', c.itemBuckets), c.countBuckets)), own);
    t.ok(own[0] >= 2, `${negatives}: u3 bought i15 again (${own[0]} times): its own count is the counter's`);

    // u3's next basket, as the worker would build it; and serving, following the same events.
    const next = src.push([buy('u3', 'i0', 99_999), buy('u9', 'i1', 100_000)]);
    t.equal(next.size, 1, 'the next basket closes');
    const m = model.catalogueScores(next, 0, p);
    const s = servingScores(c, p, evs, 'u3');
    t.equal(s.size, m.rows.length, `${negatives}: serving ranks the same catalogue`);
    let worst = 0;
    for (let k = 0; k < m.rows.length; k++) worst = Math.max(worst, Math.abs(m.scores[k] - (s.get(m.rows[k]) ?? Infinity)));
    t.ok(worst < 1e-4, `${negatives}: every item's score agrees (worst ${worst.toExponential(2)})`);

    // Could it fail? Serving the same weights without the features disagrees.
    const off = servingScores({ ...c, countFeatures: [] }, p, evs, 'u3');
    let diff = 0;
    for (let k = 0; k < m.rows.length; k++) diff = Math.max(diff, Math.abs(m.scores[k] - (off.get(m.rows[k]) ?? Infinity)));
    t.ok(diff > 1e-2, `${negatives}: without the features the scores differ (by up to ${diff.toFixed(3)})`);
  }
});
