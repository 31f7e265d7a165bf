// CtrModel.trainStep: every gradient against a central finite difference of the model's own
// loss (including the per-row-mean scaling of sparse rows), scores == predict, no tensor
// leaks, and plain SGD on its gradients learning a planted rule. Runs on cpu and wasm.
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { ParamSpec } from '../../param-spec.ts';
import { mulberry32 } from '../../hash.ts';
import type { Batch } from '../batch.ts';
import type { StepResult } from '../types.ts';
import { MapWeights } from '../../../test/helpers/map-weights.ts';
import { CTR_MODEL_DEFAULTS, type CtrModelConfig } from './config.ts';
import { ctrParamSpec } from './spec.ts';
import { CtrModel } from './model.ts';

type CtrBatch = Pick<Batch, 'size' | 'ids' | 'targets'>;

const CFG: CtrModelConfig = { ...CTR_MODEL_DEFAULTS, fields: ['a', 'b'], embDim: 3, buckets: 16, hidden: [4] };

function randomBatch(rnd: () => number, size: number, idRangeA: number, label: (a: number, b: number) => number): CtrBatch {
  const ids = new Int32Array(size * 2);
  const targets = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    ids[2 * i] = Math.floor(rnd() * idRangeA);
    ids[2 * i + 1] = Math.floor(rnd() * 16);
    targets[i] = label(ids[2 * i], ids[2 * i + 1]);
  }
  return { size, ids, targets };
}

/** Weights moved off their initial values (zero biases, tiny embeddings) and a batch of 12. */
function gradCheckSetup(spec: ParamSpec, seed: number): { w: MapWeights; batch: CtrBatch } {
  const w = new MapWeights(spec);
  const rnd = mulberry32(seed);
  for (const v of w.denseValues.values()) for (let i = 0; i < v.length; i++) v[i] += rnd() - 0.5;
  // ids of field a from 0..3 so rows repeat (counts up to ~5); field b over all 16 buckets.
  const batch = randomBatch(rnd, 12, 4, () => (rnd() < 0.4 ? 1 : 0));
  for (let i = 0; i < batch.ids.length; i++) {
    for (const tbl of ['emb.', 'bias.']) {
      const row = w.row(tbl + (i % 2 === 0 ? 'a' : 'b'), batch.ids[i]);
      for (let j = 0; j < row.length; j++) row[j] = rnd() * 2 - 1;
    }
  }
  return { w, batch };
}

/**
 * A central difference across a relu kink measures neither side, so take the first seed whose
 * first-layer pre-activations all sit beyond what an eps nudge of one weight can move (~0.015).
 */
function clearOfKinks(spec: ParamSpec): { seed: number; w: MapWeights; batch: CtrBatch } {
  for (let seed = 1; ; seed++) {
    const { w, batch } = gradCheckSetup(spec, seed);
    if (minAbsFirstLayer(w, batch) > 0.05 || seed === 1000) return { seed, w, batch };
  }
}

/** min over examples and units of |sum_f emb_f[id] @ l0.w.<f> + l0.b|, computed in float64. */
function minAbsFirstLayer(w: MapWeights, batch: CtrBatch): number {
  const h = CFG.hidden[0], d = CFG.embDim;
  let min = Infinity;
  for (let i = 0; i < batch.size; i++) {
    for (let u = 0; u < h; u++) {
      let a = w.dense('l0.b')[u];
      CFG.fields.forEach((f, fi) => {
        const e = w.row(`emb.${f}`, batch.ids[i * CFG.fields.length + fi]);
        for (let j = 0; j < d; j++) a += e[j] * w.dense(`l0.w.${f}`)[j * h + u];
      });
      min = Math.min(min, Math.abs(a));
    }
  }
  return min;
}

/** Brute-force AUC: the share of (positive, negative) pairs ranked right, ties counting half. */
function auc(scores: Float32Array, labels: Float32Array): number {
  let right = 0, pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      right += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return right / pairs;
}

for (const backend of ['cpu', 'wasm']) {
  t.test(`${backend}: trainStep gradients match finite differences`, async (t) => {
    t.ok(await tf.setBackend(backend));
    const spec = ctrParamSpec('grad-check', 3, CFG);
    const model = new CtrModel(spec, CFG);
    const eps = 1e-2;
    const { seed, w, batch } = clearOfKinks(spec);
    t.ok(minAbsFirstLayer(w, batch) > 0.05, `seed ${seed}: min |pre-activation| ${minAbsFirstLayer(w, batch).toFixed(3)} > 0.05`);
    const step = model.trainStep(batch, w);
    const numeric = (x: Float32Array, k: number): number => {
      const keep = x[k];
      x[k] = keep + eps; const lp = model.trainStep(batch, w).loss;
      x[k] = keep - eps; const lm = model.trainStep(batch, w).loss;
      x[k] = keep;
      return (lp - lm) / (2 * eps);
    };
    // Float32 losses (~0.7) round at ~6e-8, i.e. ~3e-6 after dividing by 2 eps; the O(eps^2)
    // truncation term is larger, so allow 2e-4 absolute plus 1% relative.
    const close = (a: number, n: number): boolean => Math.abs(a - n) <= 2e-4 + 1e-2 * Math.abs(n);
    let checked = 0;
    for (const d of spec.dense) {
      const g = step.dense.get(d.name)!;
      t.equal(g.length, w.dense(d.name).length, `${d.name} gradient has the tensor's size`);
      const bad: string[] = [];
      for (let k = 0; k < g.length; k++, checked++) {
        const n = numeric(w.dense(d.name), k);
        if (!close(g[k], n)) bad.push(`[${k}] analytic ${g[k]} numeric ${n}`);
      }
      t.same(bad, [], `dense ${d.name}: batch-mean gradient`);
    }
    for (const [f, col] of [['a', 0], ['b', 1]] as const) {
      const unique = new Set<number>();
      const count = new Map<number, number>();
      for (let i = 0; i < batch.size; i++) {
        const id = batch.ids[2 * i + col];
        unique.add(id);
        count.set(id, (count.get(id) ?? 0) + 1);
      }
      for (const tbl of [`emb.${f}`, `bias.${f}`]) {
        const sg = step.sparse.get(tbl)!;
        t.same([...sg.rows].sort((x, y) => x - y), [...unique].sort((x, y) => x - y), `${tbl}: exactly the batch's unique rows`);
        const dim = sg.grads.length / sg.rows.length;
        const bad: string[] = [];
        for (let i = 0; i < sg.rows.length; i++) {
          const id = sg.rows[i];
          for (let j = 0; j < dim; j++, checked++) {
            // per-row mean: d(mean loss)/d row = sum_i dl_i / B; the PS wants sum_i dl_i / count
            const n = numeric(w.row(tbl, id), j) * (batch.size / count.get(id)!);
            if (!close(sg.grads[i * dim + j], n)) bad.push(`row ${id}[${j}] (count ${count.get(id)}) analytic ${sg.grads[i * dim + j]} numeric ${n}`);
          }
        }
        t.same(bad, [], `${tbl}: per-row-mean gradient`);
      }
    }
    t.ok(checked > 60, `${checked} partial derivatives checked`);
    t.ok([...step.sparse.get('emb.a')!.rows].some((id) => {
      let c = 0;
      for (let i = 0; i < batch.size; i++) if (batch.ids[2 * i] === id) c++;
      return c > 1;
    }), 'the batch repeats some rows, so the per-row mean differs from the batch mean');
  });

  t.test(`${backend}: scores are predict() on the pre-update weights; no tensor leaks`, async (t) => {
    await tf.setBackend(backend);
    const spec = ctrParamSpec('leaks', 5, CFG);
    const model = new CtrModel(spec, CFG);
    const w = new MapWeights(spec);
    const rnd = mulberry32(5);
    const before = tf.memory().numTensors;
    for (let s = 0; s < 20; s++) {
      const batch = randomBatch(rnd, 32, 16, (a) => a % 2);
      const predicted = model.predict(batch, w);
      const step = model.trainStep(batch, w);
      if (s === 0 || s === 19) {
        t.same(Array.from(step.predictions), Array.from(predicted), `step ${s}: scores == predict()`);
        t.ok(step.predictions.every((p) => p > 0 && p < 1) && Number.isFinite(step.loss), 'probabilities and a finite loss');
      }
      w.apply(step, 0.5);
    }
    t.equal(tf.memory().numTensors, before, 'numTensors unchanged after 20 steps and predictions');
    t.throws(() => model.trainStep({ size: 2, ids: new Int32Array([0, 1, 2, 99]), targets: new Float32Array(2) }, w),
      /outside \[0, 16\)/, 'an id outside the buckets is refused');
    t.equal(tf.memory().numTensors, before, 'no leak on the error path');
  });

  t.test(`${backend}: SGD on the returned gradients learns "a is even" (AUC > 0.9)`, async (t) => {
    await tf.setBackend(backend);
    const spec = ctrParamSpec('planted', 9, CFG);
    const model = new CtrModel(spec, CFG);
    const w = new MapWeights(spec);
    const rnd = mulberry32(99);
    const rule = (a: number): number => (a % 2 === 0 ? 1 : 0);
    const test = randomBatch(rnd, 200, 16, rule);
    const aucBefore = auc(model.predict(test, w), test.targets);
    for (let s = 0; s < 150; s++) w.apply(model.trainStep(randomBatch(rnd, 64, 16, rule), w), 0.3);
    const aucAfter = auc(model.predict(test, w), test.targets);
    t.ok(aucAfter > 0.9, `AUC ${aucBefore.toFixed(3)} -> ${aucAfter.toFixed(3)}`);
  });
}
