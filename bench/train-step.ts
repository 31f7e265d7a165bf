// ms per CtrModel.trainStep on the backend initTensorBackend picks (FLYWHEEL_TF_BACKEND forces one).
// Prints one JSON line per configuration. The default case is the reference shape of the bench:
// B=1024, 26 fields x 16-dim embeddings, 8,000 unique rows in the batch, MLP 256-128.
//   node --import tsx bench/train-step.ts [--steps 20] [--warmup 5]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initDense, initRow, type ParamSpec } from '../shared/param-spec.ts';
import { ctrParamSpec, CTR_MODEL_DEFAULTS, CtrModel, type CtrModelConfig } from '../shared/models/ctr/index.ts';
import type { Batch } from '../shared/models/batch.ts';
import type { WeightSource } from '../shared/models/types.ts';

type CtrBatch = Pick<Batch, 'size' | 'ids' | 'targets'>;
import { initTensorBackend } from '../shared/model/backend.ts';
import { mulberry32 } from '../shared/hash.ts';

export interface Case { name: string; batch: number; fields: number; embDim: number; hidden: number[]; uniqueRows: number }

export const CASES: Case[] = [
  { name: 'criteo-like', batch: 1024, fields: 26, embDim: 16, hidden: [256, 128], uniqueRows: 8000 },
  { name: 'small', batch: 256, fields: 5, embDim: 8, hidden: [64, 32], uniqueRows: 600 },
];

/** Weights at their spec-initial values; rows are computed on read (as a fresh Replica would). */
class InitialWeights implements WeightSource {
  private readonly denseValues = new Map<string, Float32Array>();
  constructor(private readonly spec: ParamSpec) {
    for (const d of spec.dense) this.denseValues.set(d.name, initDense(d, spec.seed));
  }
  dense(name: string): Float32Array {
    return this.denseValues.get(name)!;
  }
  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    const t = this.spec.tables.find((x) => x.name === table)!;
    for (let i = 0; i < rowIds.length; i++) initRow(t, rowIds[i], this.spec.seed, out, i * t.dim);
  }
}

/** Ids drawn so the batch touches about `uniqueRows` distinct rows over all fields. */
function makeBatch(c: Case, seed: number): CtrBatch {
  const rnd = mulberry32(seed);
  const range = idRange(c.uniqueRows / c.fields, c.batch);
  const ids = new Int32Array(c.batch * c.fields);
  for (let i = 0; i < ids.length; i++) ids[i] = Math.floor(rnd() * range);
  const labels = new Float32Array(c.batch);
  for (let b = 0; b < c.batch; b++) labels[b] = rnd() < 0.2 ? 1 : 0;
  return { size: c.batch, ids, targets: labels };
}

/** K such that B uniform draws from [0, K) hit `distinct` values on average: K(1 - e^(-B/K)). */
function idRange(distinct: number, B: number): number {
  let lo = distinct, hi = distinct * 1000;
  for (let i = 0; i < 60; i++) {
    const k = (lo + hi) / 2;
    if (k * (1 - Math.exp(-B / k)) < distinct) lo = k; else hi = k;
  }
  return Math.max(1, Math.round(lo));
}

function countUnique(batch: CtrBatch, F: number): number {
  let n = 0;
  for (let f = 0; f < F; f++) {
    const s = new Set<number>();
    for (let b = 0; b < batch.size; b++) s.add(batch.ids[b * F + f]);
    n += s.size;
  }
  return n;
}

export interface StepResult { backend: string; uniqueRows: number; msMedian: number; msMin: number; msMax: number; samplesMs: number[]; leakedTensors: number }

/** ms per trainStep of one case on the backend already initialized. */
export function runCase(c: Case, steps: number, warmup: number): Omit<StepResult, 'backend'> {
  const cfg: CtrModelConfig = {
    ...CTR_MODEL_DEFAULTS, fields: Array.from({ length: c.fields }, (_, i) => `f${i}`), embDim: c.embDim, hidden: c.hidden,
  };
  const spec = ctrParamSpec('bench', 7, cfg);
  const model = new CtrModel(spec, cfg);
  const weights = new InitialWeights(spec);
  const batches = Array.from({ length: 4 }, (_, i) => makeBatch(c, 100 + i));
  for (let i = 0; i < warmup; i++) model.trainStep(batches[i % batches.length], weights);
  const tensorsBefore = tf.memory().numTensors;
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    model.trainStep(batches[i % batches.length], weights);
    ms.push(performance.now() - t0);
  }
  const samplesMs = ms.slice();
  ms.sort((a, b) => a - b);
  return {
    samplesMs, uniqueRows: countUnique(batches[0], c.fields), msMedian: ms[Math.floor(ms.length / 2)], msMin: ms[0],
    msMax: ms[ms.length - 1], leakedTensors: tf.memory().numTensors - tensorsBefore,
  };
}

export async function initBackend(): Promise<string> {
  return initTensorBackend(() => undefined);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '20' }, warmup: { type: 'string', default: '5' } } });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const backend = await initBackend();
  for (const c of CASES) {
    const r = runCase(c, steps, warmup);
    console.log(JSON.stringify({
      bench: 'train-step', case: c.name, backend, batch: c.batch, fields: c.fields, embDim: c.embDim, hidden: c.hidden,
      uniqueRows: r.uniqueRows, steps, msPerStepMedian: round(r.msMedian), msMin: round(r.msMin),
      msMax: round(r.msMax), examplesPerSec: Math.round((c.batch * 1000) / r.msMedian), leakedTensors: r.leakedTensors,
    }));
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

// Run as a script; imported by bench/train.ts for the suite.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
