// The validation gate's decisions, as pure logic over a scoring function and the kind's
// metric, so the rules can be tested without servers and hold for any kind (AUC up, WAPE down):
//  - a new chunk of held-out data joins the holdout only if the serving model scores it about
//    as well as the holdout itself; a chunk it finds much worse (flipped labels, a broken feed)
//    is quarantined, up to maxQuarantineRounds in a row, after which it is taken as real drift;
//  - a candidate replaces the serving version only if its holdout headline figure is not worse
//    than the serving version's by more than the tolerance; otherwise the learning rate decays.
import { BatchRing, type Batch, type BatchShape, type GateConfig, type MetricDef } from '../../shared/index.ts';

export type Scorer = (b: Batch) => Float32Array;

export type ChunkVerdict = 'admitted' | 'quarantined' | 'admitted-as-drift';

export interface Decision {
  accepted: boolean;
  reason: string;
  /** The metric's headline, e.g. 'auc'. */
  metric: string;
  candidate: number;
  serving: number;
  holdoutExamples: number;
}

export class GateRules {
  readonly holdout: BatchRing;
  quarantinedInARow = 0;
  quarantinedChunks = 0;
  lrFactor = 1;
  rejectedInARow = 0;

  constructor(private readonly cfg: GateConfig, shape: BatchShape, private readonly metric: MetricDef) {
    this.holdout = new BatchRing(cfg.maxHoldoutExamples, shape);
  }

  /** The headline figure of a scorer on a batch. */
  headlineOf(score: Scorer, b: Batch): number {
    const m = this.metric.create();
    m.add(score(b), b, 0, b.size);
    return m.figures()[this.metric.headline];
  }

  /** True when `a` is worse than `b` by more than `tolerance`, in the metric's direction. */
  private worse(a: number, b: number, tolerance: number): boolean {
    return this.metric.higherIsBetter ? a < b - tolerance : a > b + tolerance;
  }

  /** True when the rejections in a row call for rolling the PS weights back (then counts anew). */
  takeRollback(): boolean {
    const n = this.cfg.rollbackAfterRejections;
    if (n === 0 || this.rejectedInARow < n) return false;
    this.rejectedInARow = 0;
    return true;
  }

  /** Judges a chunk of new held-out data with the serving model (none yet: admitted). */
  judgeChunk(chunk: Batch, serving: Scorer | undefined): ChunkVerdict {
    if (serving && this.holdout.size >= this.cfg.minHoldoutExamples) {
      const onChunk = this.headlineOf(serving, chunk);
      const onHoldout = this.headlineOf(serving, this.holdout.view());
      if (Number.isFinite(onChunk) && Number.isFinite(onHoldout) && this.worse(onChunk, onHoldout, this.cfg.admitTolerance)) {
        if (this.quarantinedInARow < this.cfg.maxQuarantineRounds) {
          this.quarantinedInARow++;
          this.quarantinedChunks++;
          return 'quarantined';
        }
        this.quarantinedInARow = 0;
        this.holdout.add(chunk);
        return 'admitted-as-drift';
      }
    }
    this.quarantinedInARow = 0;
    this.holdout.add(chunk);
    return 'admitted';
  }

  /** Compares a candidate with the serving version on the holdout. */
  decide(candidate: Scorer, serving: Scorer | undefined): Decision | undefined {
    const h = this.holdout.view();
    const metric = this.metric.headline;
    if (!serving) {
      return { accepted: true, reason: 'first version: nothing serving yet', metric, candidate: NaN, serving: NaN, holdoutExamples: h.size };
    }
    if (h.size < this.cfg.minHoldoutExamples) return undefined;
    const c = this.headlineOf(candidate, h);
    const s = this.headlineOf(serving, h);
    const accepted = !this.worse(c, s, this.cfg.tolerance);
    this.lrFactor = accepted ? Math.min(1, this.lrFactor * 2) : Math.max(1 / 16, this.lrFactor * this.cfg.lrDecay);
    this.rejectedInARow = accepted ? 0 : this.rejectedInARow + 1;
    const dir = this.metric.higherIsBetter ? '<' : '>';
    const sign = this.metric.higherIsBetter ? '-' : '+';
    return {
      accepted,
      reason: accepted ? 'not worse than serving' : `holdout ${metric} ${c.toFixed(4)} ${dir} serving ${s.toFixed(4)} ${sign} ${this.cfg.tolerance}`,
      metric, candidate: c, serving: s, holdoutExamples: h.size,
    };
  }
}
