// The validation gate's decisions, as pure logic over a scoring function, so the rules can be
// tested without servers:
//  - a new chunk of held-out data joins the holdout only if the serving model scores it about
//    as well as the holdout itself; a chunk it finds much worse (flipped labels, a broken feed)
//    is quarantined, up to maxQuarantineRounds in a row, after which it is taken as real drift;
//  - a candidate replaces the serving version only if its holdout AUC is not worse than the
//    serving version's by more than the tolerance; otherwise the learning rate is decayed.
import { ScoreHistogram, type GateConfig } from '../../shared/index.ts';
import { HoldoutWindow, type ExampleChunk } from './holdout.ts';

export type Scorer = (c: ExampleChunk) => Float32Array;

export function aucOf(scores: Float32Array, labels: Float32Array): { auc: number; logLoss: number } {
  const h = new ScoreHistogram();
  h.addBatch(scores, labels);
  return { auc: h.auc(), logLoss: h.logLoss() };
}

export type ChunkVerdict = 'admitted' | 'quarantined' | 'admitted-as-drift';

export interface Decision {
  accepted: boolean;
  reason: string;
  candidateAuc: number;
  servingAuc: number;
  holdoutExamples: number;
}

export class GateRules {
  readonly holdout: HoldoutWindow;
  quarantinedInARow = 0;
  quarantinedChunks = 0;
  lrFactor = 1;
  rejectedInARow = 0;

  /** True when the rejections in a row call for rolling the PS weights back (then counts anew). */
  takeRollback(): boolean {
    const n = this.cfg.rollbackAfterRejections;
    if (n === 0 || this.rejectedInARow < n) return false;
    this.rejectedInARow = 0;
    return true;
  }

  constructor(private readonly cfg: GateConfig, fields: number) {
    this.holdout = new HoldoutWindow(cfg.maxHoldoutExamples, fields);
  }

  /** Judges a chunk of new held-out data with the serving model (none yet: admitted). */
  judgeChunk(chunk: ExampleChunk, serving: Scorer | undefined): ChunkVerdict {
    if (serving && this.holdout.size >= this.cfg.minHoldoutExamples) {
      const onChunk = aucOf(serving(chunk), chunk.labels).auc;
      const h = this.holdout.view();
      const onHoldout = aucOf(serving(h), h.labels).auc;
      if (Number.isFinite(onChunk) && Number.isFinite(onHoldout) && onChunk < onHoldout - this.cfg.admitTolerance) {
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
    if (!serving) {
      return { accepted: true, reason: 'first version: nothing serving yet', candidateAuc: NaN, servingAuc: NaN, holdoutExamples: h.size };
    }
    if (h.size < this.cfg.minHoldoutExamples) return undefined;
    const c = aucOf(candidate(h), h.labels).auc;
    const s = aucOf(serving(h), h.labels).auc;
    const accepted = !(c < s - this.cfg.tolerance);
    this.lrFactor = accepted ? Math.min(1, this.lrFactor * 2) : Math.max(1 / 16, this.lrFactor * this.cfg.lrDecay);
    this.rejectedInARow = accepted ? 0 : this.rejectedInARow + 1;
    return {
      accepted,
      reason: accepted ? 'not worse than serving' : `holdout AUC ${c.toFixed(4)} < serving ${s.toFixed(4)} - ${this.cfg.tolerance}`,
      candidateAuc: c, servingAuc: s, holdoutExamples: h.size,
    };
  }
}
