// Ranking figures of one positive among sampled candidates: its rank, HR@K and NDCG@K, and
// their means over sets of scores laid out set after set, the positive first in each.

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

export interface RankFigures { sets: number; hr: number; ndcg: number }

/** Mean HR@K and NDCG@K over the sets whose index passes `keep`. */
export function rankFigures(scores: Float32Array, count: number, size: number, k: number, keep: (set: number) => boolean): RankFigures {
  let sets = 0, hr = 0, ndcg = 0;
  for (let s = 0; s < count; s++) {
    if (!keep(s)) continue;
    const r = rankOfPositive(scores, s * size, size);
    sets++;
    hr += hitAtK(r, k);
    ndcg += ndcgAtK(r, k);
  }
  return { sets, hr: sets ? hr / sets : NaN, ndcg: sets ? ndcg / sets : NaN };
}
