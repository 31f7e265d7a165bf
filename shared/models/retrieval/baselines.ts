// The retrieval kind's yardsticks, each ranking the whole catalogue it has learnt (every item
// it has seen taken) for each basket before learning from it, exactly as the model is scored:
//   popularity           items by how often they were taken so far
//   recent-popularity    the same, each count halving every 200 baskets
//   item-knn             co-occurrence with the user's last 20 items, cosine-normalised by the
//                        items' counts (Sarwar et al. 2001's item-based kNN), popularity breaking ties
//   own-then-popularity  the user's own past items (most often taken first), then popularity
import type { Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';
import type { RetrievalModelConfig } from './config.ts';
import { rankOf } from './ranking.ts';
import { ID_HISTORY, ID_ITEM, ID_USER } from './spec.ts';

export const RECENT_HALF_LIFE_BASKETS = 200;
export const KNN_HISTORY = 20;
/** Above any popularity count: a user's own items rank first. */
const OWN = 1e9;

type Scorer = (b: Batch, i: number, scores: Float64Array) => void;

/** The catalogue a baseline has learnt, in slots, and how a basket's ranks are read off scores. */
abstract class CatalogueBaseline implements Baseline {
  abstract readonly name: string;
  protected readonly slotOf = new Map<number, number>();
  protected count = new Float64Array(1024);
  protected size = 0;
  private scores = new Float64Array(1024);

  constructor(protected readonly cfg: RetrievalModelConfig) {}

  protected slot(row: number): number {
    let s = this.slotOf.get(row);
    if (s === undefined) {
      s = this.size++;
      this.slotOf.set(row, s);
      if (s >= this.count.length) { const c = new Float64Array(this.count.length * 2); c.set(this.count); this.count = c; }
    }
    return s;
  }

  protected abstract score: Scorer;

  predict(b: Batch): Float32Array {
    const out = new Float32Array(b.size).fill(NaN);
    const W = b.idWidth, H = this.cfg.history;
    if (this.scores.length < this.size) this.scores = new Float64Array(this.count.length);
    const skip: number[] = [];
    let scoredFor = -1;
    for (let i = 0; i < b.size; i++) {
      if (b.targets[i * 2 + 1] !== 1) continue;
      if (scoredFor < 0 || !sameUserState(b, scoredFor, i, H)) {
        this.scores.fill(0, 0, this.size);
        this.score(b, i, this.scores);
        skip.length = 0;
        if (this.cfg.newItemsOnly) for (let k = 0; k < H; k++) { const s = this.slotOf.get(b.ids[i * W + ID_HISTORY + k]); if (s !== undefined) skip.push(s); }
        scoredFor = i;
      }
      out[i] = rankOf(this.scores, this.size, this.slotOf.get(b.ids[i * W + ID_ITEM]) ?? -1, skip.length ? skip : undefined);
    }
    return out;
  }

  abstract learn(b: Batch): void;
}

function sameUserState(b: Batch, a: number, c: number, H: number): boolean {
  const W = b.idWidth;
  if (b.eventTs[a] !== b.eventTs[c] || b.ids[a * W + ID_USER] !== b.ids[c * W + ID_USER]) return false;
  for (let k = 0; k < H; k++) if (b.ids[a * W + ID_HISTORY + k] !== b.ids[c * W + ID_HISTORY + k]) return false;
  return true;
}

export class Popularity extends CatalogueBaseline {
  readonly name = 'popularity';
  protected score: Scorer = (_b, _i, scores) => { scores.set(this.count.subarray(0, this.size)); };
  learn(b: Batch): void {
    for (let i = 0; i < b.size; i++) this.count[this.slot(b.ids[i * b.idWidth + ID_ITEM])]++;
  }
}

export class RecentPopularity extends CatalogueBaseline {
  readonly name = 'recent-popularity';
  // Counts as count x growth: adding `growth`, which doubles every half-life, decays the others.
  private growth = 1;
  private lastUser = -1;
  private lastTs = NaN;
  protected score: Scorer = (_b, _i, scores) => { scores.set(this.count.subarray(0, this.size)); };
  learn(b: Batch): void {
    const W = b.idWidth;
    for (let i = 0; i < b.size; i++) {
      const u = b.ids[i * W + ID_USER];
      if (u !== this.lastUser || b.eventTs[i] !== this.lastTs) {
        this.lastUser = u; this.lastTs = b.eventTs[i];
        this.growth *= 2 ** (1 / RECENT_HALF_LIFE_BASKETS);
        if (this.growth > 1e200) { for (let s = 0; s < this.size; s++) this.count[s] /= this.growth; this.growth = 1; }
      }
      this.count[this.slot(b.ids[i * W + ID_ITEM])] += this.growth;
    }
  }
}

export class ItemKnn extends CatalogueBaseline {
  readonly name = 'item-knn';
  private readonly cooc = new Map<number, Map<number, number>>();
  protected score: Scorer = (b, i, scores) => {
    const W = b.idWidth, n = this.size;
    let max = 0;
    for (let s = 0; s < n; s++) if (this.count[s] > max) max = this.count[s];
    const tie = 1e-9 / (max + 1);
    for (let s = 0; s < n; s++) scores[s] = this.count[s] * tie;
    for (let k = 0; k < Math.min(KNN_HISTORY, this.cfg.history); k++) {
      const h = this.slotOf.get(b.ids[i * W + ID_HISTORY + k]);
      if (h === undefined) continue;
      const nb = this.cooc.get(h);
      if (!nb) continue;
      const ch = this.count[h];
      for (const [s, c] of nb) scores[s] += c / Math.sqrt(ch * this.count[s]);
    }
  };
  private bump(a: number, c: number): void {
    let m = this.cooc.get(a);
    if (!m) this.cooc.set(a, (m = new Map()));
    m.set(c, (m.get(c) ?? 0) + 1);
  }
  learn(b: Batch): void {
    const W = b.idWidth;
    for (let i = 0; i < b.size; i++) {
      const it = this.slot(b.ids[i * W + ID_ITEM]);
      this.count[it]++;
      for (let k = 0; k < Math.min(KNN_HISTORY, this.cfg.history); k++) {
        const h = this.slotOf.get(b.ids[i * W + ID_HISTORY + k]);
        if (h === undefined || h === it) continue;
        this.bump(h, it);
        this.bump(it, h);
      }
    }
  }
}

export class OwnThenPopularity extends CatalogueBaseline {
  readonly name = 'own-then-popularity';
  private readonly own = new Map<number, Map<number, number>>();
  protected score: Scorer = (b, i, scores) => {
    scores.set(this.count.subarray(0, this.size));
    const mine = this.own.get(b.ids[i * b.idWidth + ID_USER]);
    if (mine) for (const [s, c] of mine) scores[s] += OWN * c;
  };
  learn(b: Batch): void {
    const W = b.idWidth;
    for (let i = 0; i < b.size; i++) {
      const s = this.slot(b.ids[i * W + ID_ITEM]);
      this.count[s]++;
      const u = b.ids[i * W + ID_USER];
      let m = this.own.get(u);
      if (!m) this.own.set(u, (m = new Map()));
      m.set(s, (m.get(s) ?? 0) + 1);
    }
  }
}

export function retrievalBaselines(cfg: RetrievalModelConfig): Baseline[] {
  return [new Popularity(cfg), new RecentPopularity(cfg), new ItemKnn(cfg), new OwnThenPopularity(cfg)];
}
