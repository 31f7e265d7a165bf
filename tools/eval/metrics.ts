// The figures of one way of training, from its prequential scores: per window of stream time,
// overall (the evaluated tail of the stream), per segment (new vs returning users, item
// popularity), and ranking (HR@K, NDCG@K of each sampled positive among its candidates).
import { ScoreHistogram, binaryFigures } from '../../shared/index.ts';
import { firstEvalWindow, type EvalOptions } from './protocol.ts';
import { POPULARITY_BUCKETS, type EvalStream } from './stream.ts';

export interface Figures { examples: number; auc: number; logLoss: number; accuracy: number; precision: number; recall: number; f1: number }

export function figuresOf(h: ScoreHistogram): Figures {
  return { examples: h.n, ...binaryFigures(h) } as Figures;
}

export interface RankFigures { sets: number; hr: number; ndcg: number }

export interface WindowRow extends Figures {
  window: number;
  fromMs: number;
  toMs: number;
  hr: number;
  ndcg: number;
}

export interface WayFigures {
  overall: Figures & { hr: number; ndcg: number; rankSets: number };
  windows: WindowRow[];
  segments: { newUsers: Figures; returningUsers: Figures; popularity: Record<string, Figures> };
}

/**
 * Rank of the positive among a set of scores (the positive at `offset`, its candidates after
 * it): how many candidates score higher, ties counted against the positive, so a model that
 * scores everything alike ranks it last rather than first.
 */
export function rankOfPositive(scores: ArrayLike<number>, offset: number, size: number): number {
  const p = scores[offset];
  let r = 0;
  for (let c = 1; c < size; c++) if (scores[offset + c] >= p) r++;
  return r;
}

/** HR@K: 1 when the positive is among the top K. */
export function hitAtK(rank: number, k: number): number {
  return rank < k ? 1 : 0;
}

/** NDCG@K with one relevant item: 1 / log2(rank + 2) inside the top K, else 0. */
export function ndcgAtK(rank: number, k: number): number {
  return rank < k ? 1 / Math.log2(rank + 2) : 0;
}

/** Mean HR@K and NDCG@K over the sets whose index passes `keep`. */
export function rankFigures(rankScores: Float32Array, count: number, size: number, k: number, keep: (set: number) => boolean): RankFigures {
  let sets = 0, hr = 0, ndcg = 0;
  for (let s = 0; s < count; s++) {
    if (!keep(s)) continue;
    const r = rankOfPositive(rankScores, s * size, size);
    sets++;
    hr += hitAtK(r, k);
    ndcg += ndcgAtK(r, k);
  }
  return { sets, hr: sets ? hr / sets : NaN, ndcg: sets ? ndcg / sets : NaN };
}

/** Every figure of one way from its per-example scores and per-set ranking scores. */
export function wayFigures(s: EvalStream, scores: Float32Array, rankScores: Float32Array, o: EvalOptions): WayFigures {
  const W = o.windows;
  const first = firstEvalWindow(o);
  const perWindow = Array.from({ length: W }, () => new ScoreHistogram());
  const newU = new ScoreHistogram(), oldU = new ScoreHistogram();
  const pop = POPULARITY_BUCKETS.map(() => new ScoreHistogram());
  for (let i = 0; i < s.size; i++) {
    const w = s.window[i];
    perWindow[w].add(scores[i], s.labels[i]);
    if (w < first) continue;
    (s.newUser[i] ? newU : oldU).add(scores[i], s.labels[i]);
    pop[s.popularity[i]].add(scores[i], s.labels[i]);
  }
  const overallH = new ScoreHistogram();
  for (let w = first; w < W; w++) overallH.merge(perWindow[w]);
  const { count, size, example } = s.rank;
  const windowOfSet = (set: number) => s.window[example[set]];
  const windows: WindowRow[] = perWindow.map((h, w) => {
    const r = rankFigures(rankScores, count, size, o.rankK, (set) => windowOfSet(set) === w);
    const [from, to] = windowSpan(s, w);
    return { window: w, fromMs: from, toMs: to, ...figuresOf(h), hr: r.hr, ndcg: r.ndcg };
  });
  const r = rankFigures(rankScores, count, size, o.rankK, (set) => windowOfSet(set) >= first);
  return {
    overall: { ...figuresOf(overallH), hr: r.hr, ndcg: r.ndcg, rankSets: r.sets },
    windows,
    segments: {
      newUsers: figuresOf(newU), returningUsers: figuresOf(oldU),
      popularity: Object.fromEntries(POPULARITY_BUCKETS.map((b, i) => [b, figuresOf(pop[i])])),
    },
  };
}

/** Event time of the first and last example of window w. */
export function windowSpan(s: EvalStream, w: number): [number, number] {
  let lo = -1, hi = -1;
  for (let i = 0; i < s.size; i++) {
    if (s.window[i] !== w) continue;
    if (lo < 0) lo = i;
    hi = i;
  }
  return lo < 0 ? [NaN, NaN] : [s.eventTs[lo], s.eventTs[hi]];
}

/**
 * Window of each bucket of event time (key = floor(ts / bucketMs)): the window holding most
 * of the bucket's examples. The workers report histograms per bucket; this is how their
 * figures are cut into the same windows of example count as the in-process ways.
 */
export function bucketWindows(s: EvalStream, bucketMs: number, windows: number): Map<number, number> {
  const counts = new Map<number, Int32Array>();
  for (let i = 0; i < s.size; i++) {
    const k = Math.floor(s.eventTs[i] / bucketMs);
    let c = counts.get(k);
    if (!c) counts.set(k, (c = new Int32Array(windows)));
    c[s.window[i]]++;
  }
  const out = new Map<number, number>();
  for (const [k, c] of counts) {
    let best = 0;
    for (let w = 1; w < windows; w++) if (c[w] > c[best]) best = w;
    out.set(k, best);
  }
  return out;
}
