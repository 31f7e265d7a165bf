// The in-process ways: the kind's model over LocalParams (the PS shards' exact update rules), fed
// the evaluation stream in time order in batches. The incremental twin trains online, one
// pass, score-then-train like a worker; frozen trains on the first 30% (2 epochs) and then only
// scores; periodic retrains from scratch on everything seen at every window boundary. Probe
// sets (a kind's evalExtras) are scored by the weights that score their anchor example.
import type { RowBoundsStats } from '../../shared/row-bounds.ts';
import { BatchReservoir, LocalParams, sliceBatch, type Batch, type FlywheelConfig, type TrainableModel } from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import type { EvalProbes } from '../../shared/models/types.ts';
import { windowStart, type EvalOptions } from './protocol.ts';
import type { EvalStream } from './stream.ts';

/** One model and its parameters, trained with the PS rules and the PS clip of each push. */
export class OfflineLearner {
  readonly params: LocalParams;
  private readonly model: TrainableModel;
  /** Values predicted per example. */
  readonly width: number;
  /** Pushes applied, as a single PS shard would count them. */
  version = 0;
  /** The worker's replay reservoir, when cfg.worker.replayFraction > 0 (online ways only). */
  replay?: BatchReservoir;

  constructor(private readonly cfg: FlywheelConfig) {
    const m = resolveModel(cfg);
    this.params = new LocalParams(m.spec, cfg.ps);
    this.model = m.kind.create(m.spec, m.settings);
    this.width = this.model.predictionWidth;
  }

  /** Scores examples [from, to) of the stream with the current weights, then trains on them. */
  step(s: EvalStream, from: number, to: number, out?: Float32Array): void {
    const n = to - from;
    const fresh = sliceBatch(s.examples, from, to);
    const k = this.replay ? Math.round(this.cfg.worker.replayFraction * n) : 0;
    const batch = this.replay ? this.replay.mix(fresh, k) : fresh;
    const r = this.model.trainStep(batch, this.params, { scores: out !== undefined });
    this.replay?.add(fresh);
    // As a worker's push: the newest event time of the new examples, the clock of counter decay and of row TTLs.
    let eventTimeMs = 0;
    for (let i = 0; i < fresh.size; i++) if (fresh.eventTs[i] > eventTimeMs) eventTimeMs = fresh.eventTs[i];
    // LocalParams clips and applies through the PS shards' own Updater.
    this.params.apply(eventTimeMs > 0 ? { ...r, eventTimeMs: Math.floor(eventTimeMs) } : r);
    this.version++;
    out?.set(r.predictions.subarray(0, n * this.width), from * this.width);
  }

  /** Scores examples [from, to) of `b` without training, in pieces of at most `piece`, into out at example `at`. */
  predict(b: Batch, from: number, to: number, out: Float32Array, at: number, piece = 2048): void {
    for (let a = from; a < to; a += piece) {
      const e = Math.min(to, a + piece);
      out.set(this.model.predict(sliceBatch(b, a, e), this.params), (at + a - from) * this.width);
    }
  }

  /** Scores the probe sets `sets` into out (set after set). */
  scoreProbes(p: EvalProbes, sets: Iterable<number>, out: Float32Array): void {
    for (const set of sets) this.predict(p.batch, set * p.size, (set + 1) * p.size, out, set * p.size);
  }
}

/** Probe sets grouped by the training batch their anchor falls in. */
function setsByBatch(p: EvalProbes | undefined, B: number): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let set = 0; set < (p?.count ?? 0); set++) {
    const b = Math.floor(p!.anchor[set] / B);
    let l = m.get(b);
    if (!l) m.set(b, (l = []));
    l.push(set);
  }
  return m;
}

export interface WayScores {
  /** predictionWidth values per stream example. */
  scores: Float32Array;
  /** predictionWidth values per probe example (none without probes). */
  probeScores: Float32Array;
  /** Model version that scored each window's first and last batch. */
  versions: { window: number; first: number; last: number }[];
  trainMs: number;
  examplesTrained: number;
  /** The sparse tables at the end (the online way): rows and bytes held, and what ps.rows bounds did. */
  memory?: { sparseRows: number; sparseBytes: number; bounds?: RowBoundsStats };
}

const emptyScores = (s: EvalStream, width: number): WayScores => ({
  scores: new Float32Array(s.size * width), probeScores: new Float32Array((s.extras.probes?.batch.size ?? 0) * width),
  versions: [], trainMs: 0, examplesTrained: 0,
});

/**
 * Trains `epochs` passes over examples [0, to) in batches of B, in time order. During the
 * first pass, `first` receives the prequential scores and the probe sets are scored before
 * the batch holding their anchor is trained on.
 */
function trainPrefix(l: OfflineLearner, s: EvalStream, to: number, o: EvalOptions, first?: WayScores): void {
  const B = o.batchSize;
  const probes = s.extras.probes;
  const byBatch = first ? setsByBatch(probes, B) : undefined;
  for (let e = 0; e < o.epochs; e++) {
    for (let from = 0; from < to; from += B) {
      const sets = e === 0 ? byBatch?.get(from / B) : undefined;
      if (sets) l.scoreProbes(probes!, sets, first!.probeScores);
      l.step(s, from, Math.min(to, from + B), e === 0 ? first?.scores : undefined);
    }
  }
}

/** The incremental twin: one online pass, score then train, like a worker with one PS shard. */
export function runIncrementalTwin(s: EvalStream, cfg: FlywheelConfig, o: EvalOptions): WayScores {
  const t0 = performance.now();
  const l = new OfflineLearner(cfg);
  const out = emptyScores(s, l.width);
  if (cfg.worker.replayFraction > 0) l.replay = new BatchReservoir(cfg.worker.replayCapacity, s.examples, cfg.seed + 11);
  trainPrefix(l, s, s.size, { ...o, epochs: 1 }, out);
  for (let w = 0; w < o.windows; w++) {
    const a = windowStart(w, s.size, o.windows), b = windowStart(w + 1, s.size, o.windows);
    out.versions.push({ window: w, first: Math.floor(a / o.batchSize), last: Math.floor((b - 1) / o.batchSize) });
  }
  out.trainMs = performance.now() - t0;
  out.examplesTrained = s.size;
  const u = l.params.updater;
  let sparseRows = 0, sparseBytes = u.bounds?.bytes ?? 0;
  for (const t of u.tables.values()) { sparseRows += t.arena.count; sparseBytes += t.arena.bytes; }
  out.memory = { sparseRows, sparseBytes, ...(u.bounds ? { bounds: { ...u.bounds.stats } } : {}) };
  return out;
}

/**
 * Frozen and periodic together: the model periodic retrains at the boundary that ends the
 * frozen prefix IS the frozen model (same init, data, order and epochs), so it is trained once.
 * Periodic window 0 has seen nothing: it is scored by the initial weights.
 */
export function runFrozenAndPeriodic(s: EvalStream, cfg: FlywheelConfig, o: EvalOptions, say: (l: string) => void): { frozen: WayScores; periodic: WayScores } {
  const l0 = new OfflineLearner(cfg);
  const P = l0.width;
  const frozen = emptyScores(s, P);
  const periodic = emptyScores(s, P);
  const W = o.windows;
  const frozenEnd = Math.round(o.frozenFraction * s.size);
  const probes = s.extras.probes;
  const setSize = (probes?.size ?? 0) * P;
  const setsWhere = (keep: (anchor: number) => boolean) => [...Array(probes?.count ?? 0).keys()].filter((x) => keep(probes!.anchor[x]));
  /** Scores examples [a, b) and the probe sets anchored in them with l. */
  const scoreRange = (l: OfflineLearner, way: WayScores, a: number, b: number) => {
    l.predict(s.examples, a, b, way.scores, a);
    if (probes) l.scoreProbes(probes, setsWhere((x) => x >= a && x < b), way.probeScores);
  };
  /** The frozen way: its first pass's prequential scores over the prefix, then l's scores. */
  const frozenFrom = (l: OfflineLearner, firstPass: WayScores) => {
    frozen.scores.set(firstPass.scores.subarray(0, frozenEnd * P));
    for (const set of setsWhere((x) => x < frozenEnd)) frozen.probeScores.set(firstPass.probeScores.subarray(set * setSize, (set + 1) * setSize), set * setSize);
    scoreRange(l, frozen, frozenEnd, s.size);
  };
  let frozenDone = false;
  scoreRange(l0, periodic, 0, windowStart(1, s.size, W));
  periodic.versions.push({ window: 0, first: 0, last: 0 });
  for (let w = 1; w < W; w++) {
    const t0 = performance.now();
    const end = windowStart(w, s.size, W);
    const l = new OfflineLearner(cfg);
    const isFrozen = end === frozenEnd;
    const firstPass = isFrozen ? emptyScores(s, P) : undefined;
    trainPrefix(l, s, end, o, firstPass);
    scoreRange(l, periodic, end, windowStart(w + 1, s.size, W));
    periodic.versions.push({ window: w, first: w, last: w });
    if (isFrozen) {
      frozenFrom(l, firstPass!);
      frozen.versions.push({ window: w, first: l.version, last: l.version });
      frozen.trainMs = performance.now() - t0;
      frozenDone = true;
    }
    const ms = performance.now() - t0;
    periodic.trainMs += ms;
    periodic.examplesTrained += end * o.epochs;
    say(`  periodic retrain ${w}/${W - 1}: ${(end * o.epochs).toLocaleString('en-US')} examples in ${(ms / 1000).toFixed(1)} s${isFrozen ? ' (also the frozen model)' : ''}`);
  }
  if (!frozenDone) {
    // The frozen prefix does not end on a window boundary: train it on its own.
    const t0 = performance.now();
    const l = new OfflineLearner(cfg);
    const firstPass = emptyScores(s, P);
    trainPrefix(l, s, frozenEnd, o, firstPass);
    frozenFrom(l, firstPass);
    frozen.versions.push({ window: -1, first: l.version, last: l.version });
    frozen.trainMs = performance.now() - t0;
  }
  frozen.examplesTrained = frozenEnd * o.epochs;
  return { frozen, periodic };
}
