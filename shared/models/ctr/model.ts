// One training step of the CTR model on one batch: forward with the weights as they are now
// (those scores are the prequential "test" of this batch), then the gradients that a push
// sends to the parameter servers. Only the batch's unique table rows become tensors, never a
// whole 262144-row table; nothing is cached between calls because the weights change every step.
import * as tf from '@tensorflow/tfjs-core';
import { denseSize, findDense, findTable, type DenseSpec, type ParamSpec } from '../../param-spec.ts';
import { ConfigError, WrongShapeError } from '../../errors.ts';
import { uniqueRows, type FieldRows } from '../unique-rows.ts';
import { embeddingLookup } from '../../model/embedding.ts';
import { dense, sigmoidCrossEntropy, sumN } from '../../model/layers.ts';
import type { Batch } from '../batch.ts';
import type { TableGrad, StepResult, TrainableModel, WeightSource } from '../types.ts';
import type { CtrModelConfig } from './config.ts';
import { biasTable, embTable, firstLayerWeight } from './spec.ts';
import { STAT_FIRST_LAYER, STAT_WIDE_TABLE, StatFeatures, statKeys, statTables, type StatInputs } from './stats.ts';

/** Host-side inputs of one call, built before any tensor exists. */
interface HostInputs {
  fields: FieldRows[];
  emb: Float32Array[];
  bias: Float32Array[];
  /** The online statistics' features (and, when training, the counts to push). */
  stats?: StatInputs;
  /** The statistics' wide weights (one row). */
  wide?: Float32Array;
}

/** The statistics' tensors of one call: features [B, W] (a constant), wide weights [W, 1], first-layer block [W, h0]. */
interface StatTensors {
  x: tf.Tensor2D;
  wide?: tf.Tensor2D;
  deep?: tf.Tensor2D;
}

export class CtrModel implements TrainableModel {
  readonly predictionWidth = 1;
  private readonly fields: string[];
  private readonly embDim: number;
  private readonly buckets: number;
  private readonly denseNames: string[];
  private readonly denseSpecs: DenseSpec[];
  private readonly stats?: StatFeatures;
  private readonly statsDeep?: DenseSpec;

  constructor(readonly spec: ParamSpec, readonly cfg: CtrModelConfig) {
    if (cfg.fields.length === 0) throw new ConfigError('fields', 'needs at least one field');
    if (cfg.hidden.length === 0) throw new ConfigError('hidden', 'needs at least one hidden layer');
    this.fields = [...cfg.fields];
    this.embDim = cfg.embDim;
    this.buckets = cfg.buckets;
    for (const f of this.fields) {
      for (const [name, dim] of [[embTable(f), cfg.embDim], [biasTable(f), 1]] as const) {
        const t = findTable(spec, name);
        if (!t || t.dim !== dim || t.rows !== cfg.buckets) {
          throw new ConfigError('spec', `table ${name} must exist with dim ${dim} and ${cfg.buckets} rows`);
        }
      }
    }
    if (statKeys(cfg).length) {
      this.stats = new StatFeatures(cfg);
      const want = statTables(cfg).map((t) => [t.name, t.dim, t.rows] as const);
      if (cfg.statsInto !== 'deep') want.push([STAT_WIDE_TABLE, this.stats.width, 1]);
      for (const [name, dim, rows] of want) {
        const t = findTable(spec, name);
        if (!t || t.dim !== dim || t.rows !== rows) throw new ConfigError('spec', `table ${name} must exist with dim ${dim} and ${rows} rows`);
      }
      if (cfg.statsInto !== 'wide') {
        this.statsDeep = findDense(spec, STAT_FIRST_LAYER);
        if (!this.statsDeep) throw new ConfigError('spec', `dense tensor ${STAT_FIRST_LAYER} is missing`);
      }
    }
    this.denseNames = [...this.fields.map(firstLayerWeight), 'l0.b'];
    for (let i = 1; i < cfg.hidden.length; i++) this.denseNames.push(`l${i}.w`, `l${i}.b`);
    this.denseNames.push('out.w', 'out.b');
    this.denseSpecs = this.denseNames.map((name) => {
      const d = findDense(spec, name);
      if (!d) throw new ConfigError('spec', `dense tensor ${name} is missing`);
      return d;
    });
  }

  /** Scores the batch with the current weights, then returns the gradients of its mean logloss. */
  trainStep(batch: Pick<Batch, 'size' | 'ids' | 'targets'>, weights: WeightSource): StepResult {
    if (batch.targets.length !== batch.size) {
      throw new WrongShapeError(`batch has ${batch.size} examples but ${batch.targets.length} labels`);
    }
    // Examples whose label comes later (NaN) are scored now and trained when it arrives: the
    // step trains the labelled ones and scores them all with the same weights.
    let unknown = 0;
    for (let i = 0; i < batch.size; i++) if (Number.isNaN(batch.targets[i])) unknown++;
    if (unknown > 0) {
      const predictions = this.predict(batch, weights);
      if (unknown === batch.size) return { predictions, loss: 0, dense: new Map(), sparse: new Map() };
      const known: number[] = [];
      for (let i = 0; i < batch.size; i++) if (!Number.isNaN(batch.targets[i])) known.push(i);
      const F = this.fields.length;
      const sub = { size: known.length, ids: new Int32Array(known.length * F), targets: new Float32Array(known.length) };
      known.forEach((i, j) => { sub.ids.set(batch.ids.subarray(i * F, (i + 1) * F), j * F); sub.targets[j] = batch.targets[i]; });
      return { ...this.trainStep(sub, weights), predictions };
    }
    const host = this.hostInputs(batch, weights, batch.targets);
    const F = this.fields.length;
    let logits: tf.Tensor | undefined;
    let result: StepResult | undefined;
    try {
      tf.tidy(() => {
        const { idx, emb, bias } = this.rowTensors(host);
        const dns = this.denseTensors(weights);
        const y = tf.tensor2d(batch.targets, [batch.size, 1]);
        const st = this.statTensors(host, batch.size, weights);
        const D = dns.length;
        const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
          let at = 2 * F + D;
          const learnt = st && { x: st.x, wide: st.wide && (xs[at++] as tf.Tensor2D), deep: st.deep && (xs[at++] as tf.Tensor2D) };
          const z = this.logits(xs.slice(0, F) as tf.Tensor2D[], xs.slice(F, 2 * F) as tf.Tensor2D[], idx, xs.slice(2 * F, 2 * F + D), learnt);
          logits = tf.keep(z); // the forward's logits, kept past valueAndGrads' internal tidy
          return sigmoidCrossEntropy(z, y);
        })([...emb, ...bias, ...dns, ...(st?.wide ? [st.wide] : []), ...(st?.deep ? [st.deep] : [])]);
        const scale = batch.size; // d mean / d row = sum / B; we want sum / count(row)
        const sparse = new Map<string, TableGrad>();
        for (let f = 0; f < F; f++) {
          const fr = host.fields[f];
          sparse.set(embTable(this.fields[f]), { rows: fr.rows, grads: perRowMean(grads[f], fr.counts, scale) });
          sparse.set(biasTable(this.fields[f]), { rows: fr.rows, grads: perRowMean(grads[F + f], fr.counts, scale) });
        }
        const denseGrads = new Map<string, Float32Array>();
        this.denseNames.forEach((name, i) => denseGrads.set(name, grads[2 * F + i].dataSync() as Float32Array));
        let at = 2 * F + D;
        // The wide row is touched by every example: d(mean loss)/d row is already its per-row mean.
        if (st?.wide) sparse.set(STAT_WIDE_TABLE, { rows: Int32Array.of(0), grads: grads[at++].dataSync() as Float32Array });
        if (st?.deep) denseGrads.set(STAT_FIRST_LAYER, grads[at++].dataSync() as Float32Array);
        // The counter tables' "gradients" are the batch's counts (the counter rule adds them).
        for (const [name, g] of host.stats?.counts ?? []) sparse.set(name, g);
        result = { predictions: sigmoidOf(logits!.dataSync() as Float32Array), loss: value.dataSync()[0], dense: denseGrads, sparse };
      });
    } finally {
      logits?.dispose();
    }
    return result!;
  }

  /** sigmoid(logit) per example with the current weights; labels, if any, are not read. */
  predict(batch: Pick<Batch, 'size' | 'ids'>, weights: WeightSource): Float32Array {
    const host = this.hostInputs(batch, weights);
    return tf.tidy(() => {
      const { idx, emb, bias } = this.rowTensors(host);
      const st = this.statTensors(host, batch.size, weights);
      return sigmoidOf(this.logits(emb, bias, idx, this.denseTensors(weights), st).dataSync() as Float32Array);
    });
  }

  /** logit = out.b + sum_f bias_f[id] + MLP(emb_f[id] for every f [, stats]) [+ stats . wide], shape [B, 1]. */
  private logits(emb: tf.Tensor2D[], bias: tf.Tensor2D[], idx: tf.Tensor1D[], dns: tf.Tensor[], st?: StatTensors): tf.Tensor2D {
    const F = this.fields.length;
    const H = this.cfg.hidden.length;
    const x = emb.map((t, f) => embeddingLookup(t, idx[f]));
    const w0 = dns.slice(0, F) as tf.Tensor2D[];
    let h = st?.deep ? dense([...x, st.x], [...w0, st.deep], dns[F] as tf.Tensor1D, 'relu') : dense(x, w0, dns[F] as tf.Tensor1D, 'relu');
    for (let i = 1; i < H; i++) h = dense([h], [dns[F + 2 * i - 1] as tf.Tensor2D], dns[F + 2 * i] as tf.Tensor1D, 'relu');
    const deep = dense([h], [dns[F + 2 * H - 1] as tf.Tensor2D], dns[F + 2 * H] as tf.Tensor1D, 'linear');
    const terms = [deep, ...bias.map((t, f) => embeddingLookup(t, idx[f]))];
    // dense() brings the matMul gradient (tfjs-core registers none); its zero bias is a constant.
    if (st?.wide) terms.push(dense([st.x], [st.wide], tf.zeros([1]) as tf.Tensor1D, 'linear'));
    return sumN(terms);
  }

  /** The statistics' features and weights as tensors, when the model has statistics. */
  private statTensors(host: HostInputs, B: number, weights: WeightSource): StatTensors | undefined {
    if (!this.stats || !host.stats) return undefined;
    const W = this.stats.width;
    const x = tf.tensor2d(host.stats.x, [B, W]);
    const wide = host.wide && tf.tensor2d(host.wide, [W, 1]);
    const deep = this.statsDeep && tf.tensor2d(weights.dense(STAT_FIRST_LAYER), [W, this.statsDeep.shape[1]]);
    return { x, wide, deep };
  }

  /** Per field: slot of each example [B] and the unique rows [U_f, dim] of emb and bias. */
  private rowTensors(host: HostInputs): { idx: tf.Tensor1D[]; emb: tf.Tensor2D[]; bias: tf.Tensor2D[] } {
    return {
      idx: host.fields.map((fr) => tf.tensor1d(fr.slot, 'int32')),
      emb: host.emb.map((buf, f) => tf.tensor2d(buf, [host.fields[f].rows.length, this.embDim])),
      bias: host.bias.map((buf, f) => tf.tensor2d(buf, [host.fields[f].rows.length, 1])),
    };
  }

  private denseTensors(weights: WeightSource): tf.Tensor[] {
    return this.denseSpecs.map((d) => {
      const values = weights.dense(d.name);
      if (values.length !== denseSize(d)) {
        throw new WrongShapeError(`dense ${d.name} has ${values.length} floats, spec shape is [${d.shape.join(', ')}]`);
      }
      return tf.tensor(values, d.shape, 'float32');
    });
  }

  /** Unique rows per field and their current values, read once per field and table. */
  private hostInputs(batch: Pick<Batch, 'size' | 'ids'>, weights: WeightSource, targets?: Float32Array): HostInputs {
    const F = this.fields.length;
    if (!(batch.size > 0) || batch.ids.length !== batch.size * F) {
      throw new WrongShapeError(`batch of ${batch.size} examples x ${F} fields needs ${batch.size * F} ids, got ${batch.ids.length}`);
    }
    const out: HostInputs = { fields: [], emb: [], bias: [] };
    for (let f = 0; f < F; f++) {
      const fr = uniqueRows(batch.ids, batch.size, F, f, this.buckets);
      const emb = new Float32Array(fr.rows.length * this.embDim);
      const bias = new Float32Array(fr.rows.length);
      weights.readRows(embTable(this.fields[f]), fr.rows, emb);
      weights.readRows(biasTable(this.fields[f]), fr.rows, bias);
      out.fields.push(fr);
      out.emb.push(emb);
      out.bias.push(bias);
    }
    if (this.stats) {
      // Counts to push only in a training step (targets given).
      out.stats = this.stats.build(batch, weights, targets);
      if (this.cfg.statsInto !== 'deep') {
        out.wide = new Float32Array(this.stats.width);
        weights.readRows(STAT_WIDE_TABLE, Int32Array.of(0), out.wide);
      }
    }
    return out;
  }
}


/** Turns d(mean loss)/d row (a sum over examples / B) into the mean over the row's examples. */
function perRowMean(grad: tf.Tensor, counts: Int32Array, batchSize: number): Float32Array {
  // Scaling in place is safe: the tensor is disposed right after and no backend reuses the
  // array it hands out (wasm and tfjs-node copy; cpu allocates a new one per op).
  const g = grad.dataSync() as Float32Array;
  const dim = g.length / counts.length;
  for (let r = 0, k = 0; r < counts.length; r++) {
    const s = batchSize / counts[r];
    for (let j = 0; j < dim; j++, k++) g[k] *= s;
  }
  return g;
}

function sigmoidOf(z: Float32Array): Float32Array {
  const p = new Float32Array(z.length);
  for (let i = 0; i < z.length; i++) p[i] = 1 / (1 + Math.exp(-z[i]));
  return p;
}
