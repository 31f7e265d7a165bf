// POST /v1/recommend's input rules: k is a JSON integer, and a candidate listed twice is ranked once.
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { LocalParams } from '../../model/local-params.ts';
import { loadConfig } from '../../config.ts';
import { resolveModel } from '../registry.ts';
import type { CtrModelConfig } from './config.ts';
import { ctrServing } from './serving.ts';

await tf.setBackend('cpu');
const cfg = loadConfig({ env: {}, overrides: { settings: { fields: ['user', 'item'], buckets: 1 << 10, hidden: [4], embDim: 2 } } });
const m = resolveModel(cfg);
const params = new LocalParams(m.spec, cfg.ps);
const plugin = ctrServing({
  model: m.name, settings: m.settings as CtrModelConfig, spec: m.spec, predictor: m.kind.create(m.spec, m.settings), maxBatch: 100,
  weights: () => params, versionInfo: () => ({ versions: [7] }),
});
const recommend = (body: unknown) => plugin.routes['POST /v1/recommend']({} as never, Buffer.from(JSON.stringify(body))) as { items: { itemId: string }[]; versions: number[] };

t.test('k must be a JSON integer in 1..1000', async (t) => {
  for (const k of ['5', true, 2.5, 0, 1001, null]) {
    t.throws(() => recommend({ userId: 'u', k, candidates: ['a', 'b'] }), { status: 400, message: /k must be an integer/ }, `k ${JSON.stringify(k)} refused`);
  }
  t.equal(recommend({ userId: 'u', k: 1, candidates: ['a', 'b'] }).items.length, 1);
});

t.test('a candidate listed twice is ranked once', async (t) => {
  const r = recommend({ userId: 'u', k: 10, candidates: ['a', 'b', 'a', { itemId: 'b' }, 'c'] });
  t.same(r.items.map((x) => x.itemId).sort(), ['a', 'b', 'c']);
  t.same(r.versions, [7], 'names the versions used');
});
