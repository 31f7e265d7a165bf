// The in-process ways: the kind's model over LocalParams (the PS shards' exact update rules), fed
// the evaluation stream in time order in batches. The incremental twin trains online, one
// pass, score-then-train like a worker; frozen trains on the first 30% (2 epochs) and then only
// scores; periodic retrains from scratch on everything seen at every window boundary.
import { BatchReservoir, LocalParams, type Batch, type FlywheelConfig, type TrainableModel } from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { windowStart, type EvalOptions } from './protocol.ts';
import type { EvalStream } from './stream.ts';

/** One model and its parameters, trained with the PS rules and the PS clip of each push. */
export class OfflineLearner {
  readonly params: LocalParams;
  private readonly model: TrainableModel;
  /** Pushes applied, as a single PS shard would count them. */
  version = 0;
  /** The worker's replay reservoir, when cfg.worker.replayFraction > 0 (online ways only). */
  replay?: BatchReservoir;

  constructor(private readonly cfg: FlywheelConfig) {
    const m = resolveModel(cfg);
    this.params = new LocalParams(m.spec, cfg.ps);
    this.model = m.kind.create(m.spec, m.settings);
  }

  /** Scores examples [from, to) with the current weights, then trains on them. */
  step(s: EvalStream, from: number, to: number, out?: Float32Array): void {
    const F = s.fields;
    const n = to - from;
    const fresh = evalBatch(s.ids.subarray(from * F, to * F), n, F, s.labels.subarray(from, to));
    const k = this.replay ? Math.round(this.cfg.worker.replayFraction * n) : 0;
    const r = this.model.trainStep(this.replay ? this.replay.mix(fresh, k) : fresh, this.params);
    this.replay?.add(fresh);
    // LocalParams clips and applies through the PS shards' own Updater.
    this.params.apply(r);
    this.version++;
    out?.set(r.predictions.subarray(0, n), from);
  }

  /** Scores `size` examples of F row ids each, in pieces of at most `batch`, without training. */
  predict(ids: Int32Array, size: number, F: number, out: Float32Array, outOffset: number, batch = 2048): void {
    for (let a = 0; a < size; a += batch) {
      const b = Math.min(size, a + batch);
      out.set(this.model.predict(evalBatch(ids.subarray(a * F, b * F), b - a, F), this.params), outOffset + a);
    }
  }

  /** Scores the ranking sets `sets` (indices into s.rank) into out (set-major). */
  scoreRankSets(s: EvalStream, sets: number[], out: Float32Array): void {
    const { size } = s.rank;
    const F = s.fields;
    for (const set of sets) this.predict(s.rank.ids.subarray(set * size * F, (set + 1) * size * F), size, F, out, set * size);
  }
}

/** Examples of the evaluation stream as a Batch (hashed ids and a 0/1 target, no dense features). */
function evalBatch(ids: Int32Array, size: number, F: number, targets: Float32Array = new Float32Array(size)): Batch {
  return { size, ids, idWidth: F, dense: new Float32Array(0), denseWidth: 0, targets, targetWidth: 1, eventTs: new Float64Array(size) };
}

/** Ranking sets grouped by the training batch their positive falls in. */
function setsByBatch(s: EvalStream, B: number): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let set = 0; set < s.rank.count; set++) {
    const b = Math.floor(s.rank.example[set] / B);
    let l = m.get(b);
    if (!l) m.set(b, (l = []));
    l.push(set);
  }
  return m;
}

export interface WayScores {
  scores: Float32Array;
  rankScores: Float32Array;
  /** Model version that scored each window's first and last batch. */
  versions: { window: number; first: number; last: number }[];
  trainMs: number;
  examplesTrained: number;
}

const emptyScores = (s: EvalStream): WayScores => ({
  scores: new Float32Array(s.size), rankScores: new Float32Array(s.rank.count * s.rank.size), versions: [], trainMs: 0, examplesTrained: 0,
});

/**
 * Trains `epochs` passes over examples [0, to) in batches of B, in time order. During the
 * first pass, `first` receives the prequential scores and the ranking sets are scored before
 * the batch holding their positive is trained on.
 */
function trainPrefix(l: OfflineLearner, s: EvalStream, to: number, o: EvalOptions, first?: WayScores): void {
  const B = o.batchSize;
  const byBatch = first ? setsByBatch(s, B) : undefined;
  for (let e = 0; e < o.epochs; e++) {
    for (let from = 0; from < to; from += B) {
      const sets = e === 0 ? byBatch?.get(from / B) : undefined;
      if (sets) l.scoreRankSets(s, sets, first!.rankScores);
      l.step(s, from, Math.min(to, from + B), e === 0 ? first?.scores : undefined);
    }
  }
}

/** The incremental twin: one online pass, score then train, like a worker with one PS shard. */
export function runIncrementalTwin(s: EvalStream, cfg: FlywheelConfig, o: EvalOptions): WayScores {
  const t0 = performance.now();
  const out = emptyScores(s);
  const l = new OfflineLearner(cfg);
  if (cfg.worker.replayFraction > 0) l.replay = new BatchReservoir(cfg.worker.replayCapacity, { idWidth: s.fields, denseWidth: 0, targetWidth: 1 }, cfg.seed + 11);
  trainPrefix(l, s, s.size, { ...o, epochs: 1 }, out);
  for (let w = 0; w < o.windows; w++) {
    const a = windowStart(w, s.size, o.windows), b = windowStart(w + 1, s.size, o.windows);
    out.versions.push({ window: w, first: Math.floor(a / o.batchSize), last: Math.floor((b - 1) / o.batchSize) });
  }
  out.trainMs = performance.now() - t0;
  out.examplesTrained = s.size;
  return out;
}

/**
 * Frozen and periodic together: the model periodic retrains at the boundary that ends the
 * frozen prefix IS the frozen model (same init, data, order and epochs), so it is trained once.
 * Periodic window 0 has seen nothing: it is scored by the initial weights.
 */
export function runFrozenAndPeriodic(s: EvalStream, cfg: FlywheelConfig, o: EvalOptions, say: (l: string) => void): { frozen: WayScores; periodic: WayScores } {
  const frozen = emptyScores(s);
  const periodic = emptyScores(s);
  const W = o.windows;
  const frozenEnd = Math.round(o.frozenFraction * s.size);
  const setsOfWindows = (lo: number, hi: number) => [...Array(s.rank.count).keys()].filter((x) => s.window[s.rank.example[x]] >= lo && s.window[s.rank.example[x]] < hi);
  const scoreWindows = (l: OfflineLearner, way: WayScores, lo: number, hi: number) => {
    const a = windowStart(lo, s.size, W), b = windowStart(hi, s.size, W);
    l.predict(s.ids.subarray(a * s.fields, b * s.fields), b - a, s.fields, way.scores, a);
    l.scoreRankSets(s, setsOfWindows(lo, hi), way.rankScores);
  };
  let frozenDone = false;
  const frozenFrom = (l: OfflineLearner, firstPass: WayScores, w: number) => {
    frozen.scores.set(firstPass.scores.subarray(0, frozenEnd));
    for (let set = 0; set < s.rank.count; set++) if (s.rank.example[set] < frozenEnd) frozen.rankScores.set(firstPass.rankScores.subarray(set * s.rank.size, (set + 1) * s.rank.size), set * s.rank.size);
    scoreWindows(l, frozen, w, W);
    frozen.versions.push({ window: w, first: l.version, last: l.version });
    frozenDone = true;
  };
  const l0 = new OfflineLearner(cfg);
  scoreWindows(l0, periodic, 0, 1);
  periodic.versions.push({ window: 0, first: 0, last: 0 });
  for (let w = 1; w < W; w++) {
    const t0 = performance.now();
    const end = windowStart(w, s.size, W);
    const l = new OfflineLearner(cfg);
    const isFrozen = end === frozenEnd;
    const firstPass = isFrozen ? emptyScores(s) : undefined;
    trainPrefix(l, s, end, o, firstPass);
    scoreWindows(l, periodic, w, w + 1);
    periodic.versions.push({ window: w, first: w, last: w });
    if (isFrozen) { frozenFrom(l, firstPass!, w); frozen.trainMs = performance.now() - t0; }
    const ms = performance.now() - t0;
    periodic.trainMs += ms;
    periodic.examplesTrained += end * o.epochs;
    say(`  periodic retrain ${w}/${W - 1}: ${(end * o.epochs).toLocaleString('en-US')} examples in ${(ms / 1000).toFixed(1)} s${isFrozen ? ' (also the frozen model)' : ''}`);
  }
  if (!frozenDone) {
    // The frozen prefix does not end on a window boundary: train it on its own.
    const t0 = performance.now();
    const l = new OfflineLearner(cfg);
    const firstPass = emptyScores(s);
    trainPrefix(l, s, frozenEnd, o, firstPass);
    frozen.scores.set(firstPass.scores.subarray(0, frozenEnd));
    l.predict(s.ids.subarray(frozenEnd * s.fields), s.size - frozenEnd, s.fields, frozen.scores, frozenEnd);
    const sets = [...Array(s.rank.count).keys()];
    for (const set of sets) if (s.rank.example[set] < frozenEnd) frozen.rankScores.set(firstPass.rankScores.subarray(set * s.rank.size, (set + 1) * s.rank.size), set * s.rank.size);
    l.scoreRankSets(s, sets.filter((set) => s.rank.example[set] >= frozenEnd), frozen.rankScores);
    frozen.versions.push({ window: -1, first: l.version, last: l.version });
    frozen.trainMs = performance.now() - t0;
  }
  frozen.examplesTrained = frozenEnd * o.epochs;
  return { frozen, periodic };
}
