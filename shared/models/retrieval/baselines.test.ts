// The retrieval baselines on tiny streams worked out by hand: each ranks its learnt catalogue
// for a basket before learning it, ties half, an unseen item last, newItemsOnly leaving the
// user's history out; then what sets each apart (recency, co-occurrence, the user's own items).
import t from 'tap';
import { emptyBatch, type Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';
import { ItemKnn, OwnThenPopularity, Popularity, RecentPopularity, retrievalBaselines } from './baselines.ts';
import { rankOfPair } from './ranking.ts';
import { retrievalConfigSchema, type RetrievalModelConfig } from './config.ts';
import { ID_HISTORY, ID_ITEM, ID_USER, retrievalShape } from './spec.ts';

const cfgOf = (over: Partial<RetrievalModelConfig> = {}): RetrievalModelConfig =>
  retrievalConfigSchema.parse({ history: 3, itemBuckets: 100, userBuckets: 100, ...over });

/** One example: its user row, item row, event time, pre-basket history (most recent first). */
interface Ex { u: number; i: number; ts: number; h?: number[]; scored?: 0 | 1 }

function batch(cfg: RetrievalModelConfig, exs: Ex[]): Batch {
  const b = emptyBatch(retrievalShape(cfg), exs.length);
  const W = b.idWidth;
  exs.forEach((e, k) => {
    b.ids[k * W + ID_USER] = e.u;
    b.ids[k * W + ID_ITEM] = e.i;
    for (let j = 0; j < cfg.history; j++) b.ids[k * W + ID_HISTORY + j] = e.h?.[j] ?? -1;
    b.eventTs[k] = e.ts;
    b.targets[k * 2 + 1] = e.scored ?? 1;
  });
  // basketScored is the metric's business, not the baselines': the scored examples of each basket.
  exs.forEach((e, k) => { b.targets[k * 2] = exs.filter((o) => o.u === e.u && o.ts === e.ts && (o.scored ?? 1) === 1).length; });
  return b;
}

const ranks = (bl: Baseline, cfg: RetrievalModelConfig, exs: Ex[]) => Array.from(bl.predict(batch(cfg, exs)));
const learn = (bl: Baseline, cfg: RetrievalModelConfig, exs: Ex[]) => bl.learn(batch(cfg, exs));

// Item rows.
const A = 10, B = 11, C = 12, D = 13, E = 14, F = 15, G = 16, P = 17, V = 18, W = 19, X = 20, Y = 21, Z = 22, UNSEEN = 99;

t.test('the four, in order, by name', (t) => {
  t.same(retrievalBaselines(cfgOf()).map((b) => b.name), ['popularity', 'recent-popularity', 'item-knn', 'own-then-popularity']);
  t.end();
});

t.test('popularity: counts rank the catalogue, ties half, unseen last, unscored NaN but learnt', (t) => {
  const c = cfgOf();
  const pop = new Popularity(c);
  t.same(ranks(pop, c, [{ u: 1, i: A, ts: 0 }]), [0], 'an empty catalogue: every item ranks at its size, 0');
  learn(pop, c, [{ u: 1, i: A, ts: 0 }, { u: 2, i: A, ts: 1 }, { u: 3, i: B, ts: 2 }]);
  // Counts A 2, B 1: a catalogue of 2, so the unseen item ranks 2; the unscored one is not ranked.
  const got = ranks(pop, c, [{ u: 4, i: A, ts: 3 }, { u: 4, i: B, ts: 3 }, { u: 4, i: UNSEEN, ts: 3 }, { u: 4, i: A, ts: 3, scored: 0 }]);
  t.same(got.slice(0, 3), [0, 1, 2], 'A above B, the unseen item last');
  t.ok(Number.isNaN(got[3]), 'an unscored example is not ranked');
  // B once more, and C three times in unscored examples, which are learnt all the same:
  // C 3, A 2, B 2: A and B tie (one above, one tie: 1 + 1/2).
  learn(pop, c, [{ u: 5, i: B, ts: 4 }, { u: 6, i: C, ts: 5, scored: 0 }, { u: 7, i: C, ts: 6, scored: 0 }, { u: 8, i: C, ts: 7, scored: 0 }]);
  t.same(ranks(pop, c, [{ u: 9, i: C, ts: 8 }, { u: 9, i: A, ts: 8 }, { u: 9, i: B, ts: 8 }]), [0, 1.5, 1.5], 'unscored examples count; A ties B');
  t.end();
});

t.test('newItemsOnly: the history rows in the catalogue are left out of the ranking', (t) => {
  const stream: Ex[] = [{ u: 1, i: A, ts: 0 }, { u: 2, i: A, ts: 1 }, { u: 3, i: B, ts: 2 }, { u: 4, i: C, ts: 3 }];
  // Counts A 2, B 1, C 1; the user's history is A and a row never learnt (no slot, nothing to skip).
  const ask: Ex[] = [{ u: 5, i: B, ts: 4, h: [A, UNSEEN] }];
  const plain = new Popularity(cfgOf());
  const fresh = new Popularity(cfgOf({ newItemsOnly: true }));
  learn(plain, cfgOf(), stream);
  learn(fresh, cfgOf(), stream);
  t.same(ranks(plain, cfgOf(), ask), [1.5], 'every item ranked: A above B, C ties');
  t.same(ranks(fresh, cfgOf(), ask), [0.5], 'A left out: only C, tied');
  t.end();
});

t.test('recent-popularity: a later basket weighs more, one basket weighs the same, half-life 200', (t) => {
  const c = cfgOf();
  const rp = new RecentPopularity(c);
  learn(rp, c, [{ u: 1, i: A, ts: 0 }]); // basket 0: weight 1
  learn(rp, c, [{ u: 2, i: B, ts: 1 }]); // basket 1: weight 2^(1/200)
  t.same(ranks(rp, c, [{ u: 9, i: A, ts: 9 }, { u: 9, i: B, ts: 9 }]), [1, 0], 'B, as often taken as A but later, first');
  // C and D in one basket (u3 at ts 2) split over two learn calls: basket 2 for both.
  learn(rp, c, [{ u: 3, i: C, ts: 2 }]);
  learn(rp, c, [{ u: 3, i: D, ts: 2 }]);
  t.same(ranks(rp, c, [{ u: 9, i: C, ts: 9 }, { u: 9, i: D, ts: 9 }, { u: 9, i: B, ts: 9 }, { u: 9, i: A, ts: 9 }]), [0.5, 0.5, 2, 3],
    'the two items of one basket tie, above the older ones');

  // A in baskets 0 and 1 weighs 1 + 2^(1/200) = 2.00347; B once in basket k weighs 2^(k/200):
  // 1.99309 at k = 199, 2.00695 at k = 201. F fills the baskets between (one user, a basket per ts).
  const race = (k: number, from = 0) => {
    const bl = new RecentPopularity(c);
    const fill: Ex[] = [];
    for (let j = 2; j < k; j++) fill.push({ u: 8, i: F, ts: from + j });
    learn(bl, c, [{ u: 1, i: A, ts: from }, { u: 1, i: A, ts: from + 1 }, ...fill, { u: 2, i: B, ts: from + k }]);
    return ranks(bl, c, [{ u: 9, i: A, ts: from + k + 1 }, { u: 9, i: B, ts: from + k + 1 }]);
  };
  t.same(race(199), [1, 2], 'B at basket 199: just under twice as old A, which stays ahead (F first)');
  t.same(race(201), [2, 1], 'B at basket 201: just over, B ahead');
  t.end();
});

t.test('recent-popularity: counts keep their ratios across the renormalisation (weight past 1e30 near basket 19932)', (t) => {
  const c = cfgOf();
  // X in baskets 19900 and 19901, Y in basket k after the renormalisation: Y is ahead iff
  // 2^(k/200) > 2^(19900/200) + 2^(19901/200), i.e. k > 19900 + 200 log2(1 + 2^(1/200)) = 20100.5.
  const race = (k: number) => {
    const bl = new RecentPopularity(c);
    const exs: Ex[] = [];
    for (let j = 0; j < 19900; j++) exs.push({ u: 8, i: F, ts: j });
    exs.push({ u: 1, i: X, ts: 19900 }, { u: 1, i: X, ts: 19901 });
    for (let j = 19902; j < k; j++) exs.push({ u: 8, i: F, ts: j });
    exs.push({ u: 2, i: Y, ts: k });
    for (let at = 0; at < exs.length; at += 256) learn(bl, c, exs.slice(at, at + 256));
    return ranks(bl, c, [{ u: 9, i: X, ts: k + 1 }, { u: 9, i: Y, ts: k + 1 }]);
  };
  t.same(race(20100), [1, 2], 'Y in basket 20100: X still ahead');
  t.same(race(20101), [2, 1], 'Y in basket 20101: Y ahead');
  t.end();
});

t.test('item-knn: the item co-occurring with the history first, cosine-normalised, popularity as tie-breaker', (t) => {
  const c = cfgOf();
  const knn = new ItemKnn(c);
  // u1 took A then B (B's history [A]: cooc(A, B) = 1); C taken three times with no history.
  learn(knn, c, [{ u: 1, i: A, ts: 0 }, { u: 1, i: B, ts: 1, h: [A] }, { u: 2, i: C, ts: 2 }, { u: 3, i: C, ts: 3 }, { u: 4, i: C, ts: 4 }]);
  // For history [A]: B 1/sqrt(1x1) = 1; C only its tie-breaker 3e-9/4; A (not its own neighbour) 1e-9/4.
  t.same(ranks(knn, c, [{ u: 5, i: B, ts: 5, h: [A] }, { u: 5, i: C, ts: 5, h: [A] }, { u: 5, i: A, ts: 5, h: [A] }]), [0, 1, 2],
    'B (co-occurs with A) above the more popular C; C above A by popularity');
  // Without history, only the tie-breaker: popularity order (C 3, A 1 ties B 1).
  t.same(ranks(knn, c, [{ u: 6, i: C, ts: 5 }, { u: 6, i: B, ts: 5 }]), [0, 1.5], 'no history: popularity');

  // u1 takes A again with A in its history: a repeat, not a co-occurrence of A with itself.
  learn(knn, c, [{ u: 1, i: A, ts: 6, h: [B, A] }]);
  // Counts A 2, B 1, C 3. For history [A]: B 1/sqrt(2x1); A, without a self-neighbour, only its
  // tie-breaker 2e-9/4, below C's 3e-9/4 (cooc(A, A) = 1 would give A 1/2 and put it second).
  t.same(ranks(knn, c, [{ u: 7, i: B, ts: 7, h: [A] }, { u: 7, i: C, ts: 7, h: [A] }, { u: 7, i: A, ts: 7, h: [A] }]), [0, 1, 2],
    'an item is not its own neighbour');

  const cos = new ItemKnn(c);
  // cooc(A, B) = 1 with B taken once; cooc(A, D) = 2 but D taken 9 times; A taken 3 times.
  const exs: Ex[] = [
    { u: 1, i: A, ts: 0 }, { u: 1, i: B, ts: 1, h: [A] },
    { u: 2, i: A, ts: 2 }, { u: 2, i: D, ts: 3, h: [A] },
    { u: 3, i: A, ts: 4 }, { u: 3, i: D, ts: 5, h: [A] },
  ];
  for (let u = 4; u < 11; u++) exs.push({ u, i: D, ts: 2 * u });
  learn(cos, c, exs);
  // B: 1/sqrt(3x1) = 0.577; D: 2/sqrt(3x9) = 0.385 (raw co-occurrence would put D first).
  t.same(ranks(cos, c, [{ u: 11, i: B, ts: 30, h: [A] }, { u: 11, i: D, ts: 30, h: [A] }]), [0, 1], 'cosine: B above D');
  t.end();
});

t.test('item-knn: a (basket, history row, item) co-occurs once, even split over two learn calls', (t) => {
  const c = cfgOf();
  const knn = new ItemKnn(c);
  learn(knn, c, [{ u: 1, i: A, ts: 0 }, { u: 1, i: B, ts: 1, h: [A] }]);
  learn(knn, c, [{ u: 1, i: B, ts: 1, h: [A] }, { u: 2, i: A, ts: 2 }, { u: 2, i: E, ts: 3, h: [A] }]);
  // Counts A 2, B 2, E 1; cooc(A, B) = 1 (not 2), cooc(A, E) = 1: B 1/sqrt(2x2) = 0.5 below
  // E 1/sqrt(2x1) = 0.707; counted twice, B would score 1 and lead.
  t.same(ranks(knn, c, [{ u: 3, i: E, ts: 4, h: [A] }, { u: 3, i: B, ts: 4, h: [A] }]), [0, 1], 'E above B');
  t.end();
});

t.test('item-knn: only the first 20 history rows count, learning and ranking', (t) => {
  const c = cfgOf({ history: 25 });
  const knn = new ItemKnn(c);
  const R = Array.from({ length: 21 }, (_, k) => 30 + k);
  // R0..R20 taken once each; then B with history R0..R20 (R20 the 21st); then G, once, no history.
  learn(knn, c, [...R.map((r, k) => ({ u: 9, i: r, ts: k })), { u: 8, i: B, ts: 100, h: R }, { u: 8, i: G, ts: 101 }]);
  // 23 items, each taken once. For history [R20] nothing co-occurs (R20 was 21st): all 23 tie, 22 / 2.
  t.same(ranks(knn, c, [{ u: 7, i: B, ts: 102, h: [R[20]] }]), [11], 'the 21st row learnt no co-occurrence');
  // R0 co-occurs with B, but at position 21 of this history it is not read.
  const h = [G, ...Array.from({ length: 19 }, () => -1), R[0]];
  t.same(ranks(knn, c, [{ u: 7, i: B, ts: 102, h }]), [11], 'the 21st row is not read');
  t.same(ranks(knn, c, [{ u: 7, i: B, ts: 102, h: [G, R[0]] }]), [0], 'the same row within the first 20 is');
  t.end();
});

t.test('own-then-popularity: the user\'s own items (by times, then popularity) above every other', (t) => {
  // history 1: the batch shows one past item only; the baseline keeps all of them.
  const c = cfgOf({ history: 1 });
  const own = new OwnThenPopularity(c);
  const exs: Ex[] = [{ u: 1, i: X, ts: 0 }, { u: 1, i: Y, ts: 1, h: [X] }];
  for (let u = 2; u < 52; u++) exs.push({ u, i: P, ts: u }); // P taken 50 times
  exs.push({ u: 1, i: X, ts: 60, h: [Y] });
  learn(own, c, exs);
  // u1: X twice, Y once (not in the batch's history [X]); P, 50 counts, only after them; catalogue 3.
  t.same(ranks(own, c, [{ u: 1, i: X, ts: 61, h: [X] }, { u: 1, i: Y, ts: 61, h: [X] }, { u: 1, i: P, ts: 61, h: [X] }, { u: 1, i: UNSEEN, ts: 61, h: [X] }]),
    [0, 1, 2, 3], 'X (twice), Y (once), then the popular P, the unseen item last');
  // Two users' baskets in one batch are scored apart: u2 took P, so P comes first for u2,
  // then the others by popularity (X 2 above Y 1).
  t.same(ranks(own, c, [{ u: 1, i: P, ts: 61, h: [X] }, { u: 2, i: P, ts: 61, h: [P] }, { u: 2, i: X, ts: 61, h: [P] }]), [2, 0, 1],
    'u1 ranks P third, u2 first');
  // u1 takes Z once, later than Y: items taken equally often are ordered by popularity (both 1): a tie.
  learn(own, c, [{ u: 1, i: Z, ts: 62, h: [X] }]);
  t.same(ranks(own, c, [{ u: 1, i: X, ts: 63, h: [Z] }, { u: 1, i: Z, ts: 63, h: [Z] }, { u: 1, i: Y, ts: 63, h: [Z] }, { u: 1, i: P, ts: 63, h: [Z] }]),
    [0, 1.5, 1.5, 3], 'X (twice), then Z and Y (once each, as popular) tied, then P');
  // V and W once each in u1's latest basket: V, W, Z, Y all taken once, all of popularity 1.
  learn(own, c, [{ u: 1, i: V, ts: 64, h: [Z] }, { u: 1, i: W, ts: 64, h: [Z] }]);
  const now = (): Ex[] => [X, V, W, Z, Y, P].map((i) => ({ u: 1, i, ts: 65, h: [W] }));
  t.same(ranks(own, c, now()), [0, 2.5, 2.5, 2.5, 2.5, 5], 'four items taken once tie after X');
  // Another user takes W: popularity breaks the tie among the user's own items.
  learn(own, c, [{ u: 6, i: W, ts: 66 }]);
  t.same(ranks(own, c, now()), [0, 3, 1, 3, 3, 5], 'W (more popular) first among them');
  t.end();
});

t.test('own-then-popularity under newItemsOnly: the history rows are left out', (t) => {
  const c = cfgOf({ history: 1, newItemsOnly: true });
  const own = new OwnThenPopularity(c);
  learn(own, c, [{ u: 1, i: X, ts: 0 }, { u: 1, i: Y, ts: 1, h: [X] }, { u: 1, i: X, ts: 2, h: [Y] }, { u: 2, i: P, ts: 3 }]);
  // Ranked in full: X, Y, P. With the history [X] left out: Y first, P second.
  t.same(ranks(own, c, [{ u: 1, i: Y, ts: 4, h: [X] }, { u: 1, i: P, ts: 4, h: [X] }]), [0, 1], 'X skipped');
  t.end();
});

t.test('rankOfPair: primary key first, the secondary among equal primaries, ties half, skip, absent last', (t) => {
  const p = Float64Array.from([5, 0, 5, 0, 0]);
  const q = Float64Array.from([1, 9, 2, 3, 3]);
  // Order: slot 2 (5, 2), slot 0 (5, 1), slot 1 (0, 9), slots 3 and 4 (0, 3) tied.
  t.same([0, 1, 2, 3, 4].map((s) => rankOfPair(p, q, 5, s)), [1, 2, 0, 3.5, 3.5]);
  t.equal(rankOfPair(p, q, 5, 3, [2, 4, 3]), 2, 'slots 2 and 4 skipped (slot 3 itself ignored in skip): 0 and 1 above');
  t.equal(rankOfPair(p, q, 5, -1), 5, 'not in the catalogue: last');
  t.end();
});
