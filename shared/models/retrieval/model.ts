// The retrieval kind's two towers in plain typed-array loops (spec.ts has the formulas).
// Training: a softmax over the batch's own items (in-batch negatives), each logit corrected by
// the item's streaming log-frequency (Yi et al. 2019) so that popular items, which are
// everybody's negatives, are not pushed down for being popular; a basket's other items and
// copies of the positive are not negatives. Prediction: the rank of the example's item among
// the whole catalogue (every row the item table holds), scored with the weights before the
// step — the prequential test a recommender faces.
import { WrongShapeError } from '../../errors.ts';
import type { Batch } from '../batch.ts';
import type { StepResult, TableGrad, TrainableModel, WeightSource } from '../types.ts';
import type { RetrievalModelConfig } from './config.ts';
import { COUNT_WEIGHTS, CountFeatures } from './count-features.ts';
import { CatalogueIndex, rankOf, sameUserState } from './ranking.ts';
import { ID_HISTORY, ID_ITEM, ID_USER, REPEAT, TABLES } from './spec.ts';

/** Divides each row's gradient by how many examples it took part in. */
function meanPerRow(g: Float32Array, counts: Float32Array, dim: number): void {
  for (let s = 0; s < counts.length; s++) { const c = counts[s] || 1; for (let d = 0; d < dim; d++) g[s * dim + d] /= c; }
}

/** Row ids of a batch's examples in one table, each distinct row once. */
class RowSet {
  readonly rows: number[] = [];
  private readonly at = new Map<number, number>();
  slot(row: number): number {
    let s = this.at.get(row);
    if (s === undefined) { s = this.rows.length; this.at.set(row, s); this.rows.push(row); }
    return s;
  }
}

export interface UserVectors {
  /** B x dim user-tower outputs. */
  u: Float32Array;
  users: RowSet;
  hist: RowSet;
  /** Per example: its user's slot, and its history rows' slots (H each, -1 pads). */
  userSlot: Int32Array;
  histSlot: Int32Array;
  /** Values of the distinct user / history rows read. */
  userW: Float32Array;
  histW: Float32Array;
}

/** The count features of a batch: their weights [w_own, w_pop] and H own features per example. */
interface CountInputs {
  fw: Float32Array;
  own: Float32Array;
}

export class RetrievalModel implements TrainableModel {
  readonly predictionWidth = 1;
  private readonly D: number;
  private readonly H: number;
  private readonly catalogue = new CatalogueIndex();
  private catW = new Float32Array(0);
  /** The catalogue's popularity feature (count-features.ts), with the catalogue. */
  private catPop = new Float32Array(0);
  readonly counts: CountFeatures;

  constructor(private readonly cfg: RetrievalModelConfig) {
    this.D = cfg.dim;
    this.H = cfg.history;
    this.counts = new CountFeatures(cfg);
  }

  private check(b: Batch): void {
    if (b.idWidth !== ID_HISTORY + this.H || b.denseWidth !== 1 || b.targetWidth !== 2) {
      throw new WrongShapeError(`retrieval batch needs ${ID_HISTORY + this.H} ids, 1 dense value and 2 targets per example`);
    }
    const W = b.idWidth;
    for (let i = 0; i < b.size; i++) {
      const u = b.ids[i * W + ID_USER], it = b.ids[i * W + ID_ITEM];
      if (!(u >= 0 && u < this.cfg.userBuckets)) throw new WrongShapeError(`example ${i}: user row ${u} is outside [0, ${this.cfg.userBuckets})`);
      if (!(it >= 0 && it < this.cfg.itemBuckets)) throw new WrongShapeError(`example ${i}: item row ${it} is outside [0, ${this.cfg.itemBuckets})`);
      for (let k = 0; k < this.H; k++) {
        const h = b.ids[i * W + ID_HISTORY + k];
        if (!(h >= -1 && h < this.cfg.itemBuckets)) throw new WrongShapeError(`example ${i}: history row ${h} is outside [-1, ${this.cfg.itemBuckets})`);
      }
    }
  }

  /** The user tower of every example of the batch. */
  userVectors(b: Batch, w: WeightSource): UserVectors {
    const { D, H } = this;
    const W = b.idWidth;
    const users = new RowSet(), hist = new RowSet();
    const userSlot = new Int32Array(b.size), histSlot = new Int32Array(b.size * H).fill(-1);
    for (let i = 0; i < b.size; i++) {
      userSlot[i] = users.slot(b.ids[i * W + ID_USER]);
      for (let k = 0; k < H; k++) {
        const h = b.ids[i * W + ID_HISTORY + k];
        if (h >= 0) histSlot[i * H + k] = hist.slot(h);
      }
    }
    const userW = new Float32Array(users.rows.length * D);
    const histW = new Float32Array(hist.rows.length * D);
    w.readRows(TABLES.user, Int32Array.from(users.rows), userW);
    if (hist.rows.length) w.readRows(TABLES.history, Int32Array.from(hist.rows), histW);
    const u = new Float32Array(b.size * D);
    for (let i = 0; i < b.size; i++) {
      const o = i * D, us = userSlot[i] * D;
      for (let d = 0; d < D; d++) u[o + d] = userW[us + d];
      let n = 0;
      for (let k = 0; k < H; k++) if (histSlot[i * H + k] >= 0) n++;
      if (n === 0) continue;
      const inv = 1 / n;
      for (let k = 0; k < H; k++) {
        const s = histSlot[i * H + k];
        if (s < 0) continue;
        for (let d = 0; d < D; d++) u[o + d] += histW[s * D + d] * inv;
      }
    }
    return { u, users, hist, userSlot, histSlot, userW, histW };
  }

  /** The repeat bonus of each history position (most recent first); zeros without the term. */
  private repeatWeight(w: WeightSource): Float32Array {
    return this.cfg.repeatTerm ? w.dense(REPEAT) : new Float32Array(this.H);
  }

  /** Loads the catalogue (the item table's held rows) and its vectors. */
  private loadCatalogue(w: WeightSource): void {
    if (!w.heldRows) throw new Error('the retrieval kind needs weights that list their rows (heldRows)');
    this.catalogue.update(w.heldRows(TABLES.item));
    const n = this.catalogue.size, E = this.D + 1;
    if (this.catW.length < n * E) this.catW = new Float32Array(Math.max(n * E, this.catW.length * 2));
    w.readRows(TABLES.item, this.catalogue.rows, this.catW);
    if (this.counts.popularity) {
      if (this.catPop.length < n) this.catPop = new Float32Array(Math.max(n, this.catPop.length * 2));
      this.counts.popularityOf(w, this.catalogue.rows, this.catPop);
    }
  }

  /** The count features' inputs of a batch: their weights and each example's own features. */
  private countInputs(b: Batch, w: WeightSource): CountInputs {
    return { fw: this.counts.weights(w), own: this.counts.batchOwn(b, w) };
  }

  /** The rank of each example's item among the catalogue, for its user as the batch has it. */
  ranks(b: Batch, w: WeightSource, uv: UserVectors, onlyScored: boolean): Float32Array {
    const { D, H } = this;
    const E = D + 1;
    const W = b.idWidth;
    const out = new Float32Array(b.size).fill(NaN);
    this.loadCatalogue(w);
    const N = this.catalogue.size;
    const scores = new Float32Array(N);
    const cat = this.catW;
    const beta = this.repeatWeight(w);
    const ci = this.countInputs(b, w);
    let scoredFor = -1;
    const skip: number[] = [];
    for (let i = 0; i < b.size; i++) {
      if (onlyScored && b.targets[i * 2 + 1] !== 1) continue;
      // A basket's examples share user and history: the catalogue is scored once for them.
      if (scoredFor < 0 || !this.sameUserState(b, scoredFor, i)) {
        this.scoreCatalogue(b, i, uv.u, beta, ci, scores, skip);
        scoredFor = i;
      }
      const target = this.catalogue.slotOf(b.ids[i * W + ID_ITEM]);
      out[i] = rankOf(scores, N, target, this.cfg.newItemsOnly ? skip : undefined);
    }
    return out;
  }

  /** Every catalogue row's score for example i's user state, as the ranking has them. */
  catalogueScores(b: Batch, i: number, w: WeightSource): { rows: Int32Array; scores: Float32Array } {
    this.check(b);
    const uv = this.userVectors(b, w);
    this.loadCatalogue(w);
    const scores = new Float32Array(this.catalogue.size);
    this.scoreCatalogue(b, i, uv.u, this.repeatWeight(w), this.countInputs(b, w), scores, []);
    return { rows: this.catalogue.rows.slice(), scores };
  }

  private sameUserState(b: Batch, a: number, c: number): boolean {
    return sameUserState(b, a, c, this.H);
  }

  /**
   * Scores the whole catalogue for example i's user state into `scores`, the repeat bonus
   * added to the user's recent items, whose catalogue slots (and history positions) go to
   * `skip` (and `skipPos`).
   */
  private scoreCatalogue(b: Batch, i: number, u: Float32Array, beta: Float32Array, ci: CountInputs, scores: Float32Array, skip: number[], skipPos?: number[]): void {
    const { D, H } = this;
    const E = D + 1, N = this.catalogue.size, cat = this.catW, o = i * D;
    const wPop = this.counts.popularity ? ci.fw[1] : 0, pop = this.catPop;
    for (let n = 0; n < N; n++) {
      const c = n * E;
      let s = cat[c + D];
      for (let d = 0; d < D; d++) s += u[o + d] * cat[c + d];
      scores[n] = wPop === 0 ? s : s + wPop * pop[n];
    }
    skip.length = 0;
    if (skipPos) skipPos.length = 0;
    for (let k = 0; k < H; k++) {
      const h = b.ids[i * b.idWidth + ID_HISTORY + k];
      const slot = h < 0 ? -1 : this.catalogue.slotOf(h);
      if (slot < 0) continue;
      scores[slot] += beta[k] + ci.fw[0] * ci.own[i * H + k];
      skip.push(slot);
      skipPos?.push(k);
    }
  }

  /** Back through the user tower: U[user] takes du, each history row du / n; per row, the
   *  mean over the examples it plays its part in. */
  private userTowerGrads(uv: UserVectors, gU: Float32Array, B: number): { gUser: Float32Array; gHist: Float32Array } {
    const { D, H } = this;
    const gUser = new Float32Array(uv.users.rows.length * D);
    const gHist = new Float32Array(uv.hist.rows.length * D);
    const userCount = new Float32Array(uv.users.rows.length);
    const histCount = new Float32Array(uv.hist.rows.length);
    for (let i = 0; i < B; i++) {
      const o = i * D, us = uv.userSlot[i];
      userCount[us]++;
      for (let d = 0; d < D; d++) gUser[us * D + d] += gU[o + d];
      let n = 0;
      for (let k = 0; k < H; k++) if (uv.histSlot[i * H + k] >= 0) n++;
      for (let k = 0; k < H; k++) {
        const s = uv.histSlot[i * H + k];
        if (s < 0) continue;
        histCount[s]++;
        for (let d = 0; d < D; d++) gHist[s * D + d] += gU[o + d] / n;
      }
    }
    meanPerRow(gUser, userCount, D);
    meanPerRow(gHist, histCount, D);
    return { gUser, gHist };
  }

  predict(b: Batch, w: WeightSource): Float32Array {
    this.check(b);
    return this.ranks(b, w, this.userVectors(b, w), false);
  }

  trainStep(b: Batch, w: WeightSource, opts?: { scores?: boolean }): StepResult {
    this.check(b);
    if (this.cfg.negatives === 'catalogue') return this.trainOverCatalogue(b, w, opts?.scores !== false);
    const { D, H } = this;
    const E = D + 1;
    const W = b.idWidth;
    const B = b.size;
    const uv = this.userVectors(b, w);
    const predictions = opts?.scores === false ? new Float32Array(B).fill(NaN) : this.ranks(b, w, uv, true);
    // The batch's items: column j of the softmax is example j's item.
    const items = new RowSet();
    const itemSlot = new Int32Array(B);
    for (let j = 0; j < B; j++) itemSlot[j] = items.slot(b.ids[j * W + ID_ITEM]);
    const itemW = new Float32Array(items.rows.length * E);
    w.readRows(TABLES.item, Int32Array.from(items.rows), itemW);
    const beta = this.repeatWeight(w);
    const ci = this.countInputs(b, w);
    const itemPop = new Float32Array(items.rows.length);
    this.counts.popularityOf(w, Int32Array.from(items.rows), itemPop);
    const gFw = new Float64Array(ci.fw.length);
    const invT = 1 / this.cfg.temperature;
    const gU = new Float32Array(B * D);
    const gItem = new Float32Array(items.rows.length * E);
    const gBeta = new Float32Array(H);
    let loss = 0;
    const z = new Float64Array(B);
    // Per column: the history position of its item for this row's user, or -1.
    const inHist = new Int32Array(B);
    for (let i = 0; i < B; i++) {
      const o = i * D;
      const ui = b.ids[i * W + ID_USER], ti = b.eventTs[i], it = b.ids[i * W + ID_ITEM];
      let max = -Infinity;
      for (let j = 0; j < B; j++) {
        const jt = b.ids[j * W + ID_ITEM];
        // Not negatives: copies of the positive, and the other items of the same basket.
        if (j !== i && (jt === it || (b.ids[j * W + ID_USER] === ui && b.eventTs[j] === ti))) { z[j] = -Infinity; continue; }
        const v = itemSlot[j] * E;
        let s = itemW[v + D];
        for (let d = 0; d < D; d++) s += uv.u[o + d] * itemW[v + d];
        let rep = -1;
        if (this.cfg.repeatTerm || this.counts.own) for (let k = 0; k < H; k++) if (b.ids[i * W + ID_HISTORY + k] === jt) { rep = k; break; }
        inHist[j] = rep;
        if (rep >= 0) s += beta[rep] + ci.fw[0] * ci.own[i * H + rep];
        s += ci.fw[1] * itemPop[itemSlot[j]];
        z[j] = s * invT - (this.cfg.logQ ? b.dense[j] : 0);
        if (z[j] > max) max = z[j];
      }
      let sum = 0;
      for (let j = 0; j < B; j++) sum += z[j] === -Infinity ? 0 : Math.exp(z[j] - max);
      const lse = max + Math.log(sum);
      loss += lse - z[i];
      for (let j = 0; j < B; j++) {
        if (z[j] === -Infinity) continue;
        const g = (Math.exp(z[j] - lse) - (j === i ? 1 : 0)) * invT;
        if (g === 0) continue;
        const v = itemSlot[j] * E;
        for (let d = 0; d < D; d++) {
          gU[o + d] += g * itemW[v + d];
          gItem[v + d] += g * uv.u[o + d];
        }
        gItem[v + D] += g;
        if (inHist[j] >= 0) { gBeta[inHist[j]] += g; gFw[0] += g * ci.own[i * H + inHist[j]]; }
        gFw[1] += g * itemPop[itemSlot[j]];
      }
    }
    const { gUser, gHist } = this.userTowerGrads(uv, gU, B);
    // Per item row, the mean over the examples it is the positive of (as the other kinds do).
    const itemCount = new Float32Array(items.rows.length);
    for (let i = 0; i < B; i++) itemCount[itemSlot[i]]++;
    meanPerRow(gItem, itemCount, E);
    const sparse = new Map<string, TableGrad>([
      [TABLES.user, { rows: Int32Array.from(uv.users.rows), grads: gUser }],
      [TABLES.item, { rows: Int32Array.from(items.rows), grads: gItem }],
    ]);
    if (uv.hist.rows.length) sparse.set(TABLES.history, { rows: Int32Array.from(uv.hist.rows), grads: gHist });
    this.addCountGrads(sparse, b, gFw);
    const dense = new Map<string, Float32Array>();
    if (this.cfg.repeatTerm) dense.set(REPEAT, gBeta.map((g) => g / B));
    return { predictions, loss: B ? loss / B : 0, dense, sparse };
  }

  /** The count features' part of a step: the batch's counts, and the mean gradient of their weights. */
  private addCountGrads(sparse: Map<string, TableGrad>, b: Batch, gFw: Float64Array): void {
    if (!this.counts.on) return;
    for (const [t, g] of this.counts.counts(b)) sparse.set(t, g);
    const B = b.size || 1;
    sparse.set(COUNT_WEIGHTS, { rows: Int32Array.of(0), grads: Float32Array.from(gFw, (g) => g / B) });
  }

  /**
   * The softmax over the whole catalogue, a basket at a time: each of its items is a positive
   * against every catalogue item outside the basket, so for positive i
   *   loss_i = lse(z over catalogue minus basket, z_i) - z_i.
   * Summed over the basket's positives, a catalogue item n outside it takes
   *   dL/dz_n = exp(z_n) * sum_i exp(-lse_i); positive i takes exp(z_i - lse_i) - 1.
   * The catalogue is scored once per basket, before the step: the same scores rank it.
   */
  private trainOverCatalogue(b: Batch, w: WeightSource, withScores: boolean): StepResult {
    const { D, H } = this;
    const E = D + 1;
    const W = b.idWidth;
    const B = b.size;
    const uv = this.userVectors(b, w);
    this.loadCatalogue(w);
    const N = this.catalogue.size;
    const cat = this.catW;
    const beta = this.repeatWeight(w);
    const ci = this.countInputs(b, w);
    const gFw = new Float64Array(ci.fw.length);
    const invT = 1 / this.cfg.temperature;
    const predictions = new Float32Array(B).fill(NaN);
    const scores = new Float32Array(N);
    const gz = new Float64Array(N);
    const gCat = new Float32Array(N * E);
    // Positives not in the catalogue yet (first seen in this batch): their rows, read apart.
    const extra = new RowSet();
    for (let i = 0; i < B; i++) { const it = b.ids[i * W + ID_ITEM]; if (this.catalogue.slotOf(it) < 0) extra.slot(it); }
    const extraW = new Float32Array(extra.rows.length * E);
    if (extra.rows.length) w.readRows(TABLES.item, Int32Array.from(extra.rows), extraW);
    const gExtra = new Float32Array(extra.rows.length * E);
    const extraPop = new Float32Array(extra.rows.length);
    if (extra.rows.length) this.counts.popularityOf(w, Int32Array.from(extra.rows), extraPop);
    const gU = new Float32Array(B * D);
    const gBeta = new Float32Array(H);
    let loss = 0;
    const skip: number[] = [];
    const skipPos: number[] = [];
    const inBasket = new Uint8Array(N);
    for (let a = 0; a < B;) {
      let e = a + 1;
      while (e < B && this.sameUserState(b, a, e)) e++;
      // Examples [a, e) are one basket (or its part in this batch): one user state.
      const o = a * D;
      this.scoreCatalogue(b, a, uv.u, beta, ci, scores, skip, skipPos);
      if (withScores) {
        for (let i = a; i < e; i++) {
          if (b.targets[i * 2 + 1] !== 1) continue;
          predictions[i] = rankOf(scores, N, this.catalogue.slotOf(b.ids[i * W + ID_ITEM]), this.cfg.newItemsOnly ? skip : undefined);
        }
      }
      // The positives' logits; catalogue items of the basket are not negatives.
      const posZ: number[] = [];
      const posSlot: number[] = [];
      for (let i = a; i < e; i++) {
        const it = b.ids[i * W + ID_ITEM];
        const slot = this.catalogue.slotOf(it);
        let s: number;
        if (slot >= 0) { s = scores[slot]; inBasket[slot] = 1; }
        else {
          const x = extra.slot(it) * E;
          s = extraW[x + D] + ci.fw[1] * extraPop[extra.slot(it)];
          for (let d = 0; d < D; d++) s += uv.u[i * D + d] * extraW[x + d];
        }
        posZ.push(s * invT);
        posSlot.push(slot);
      }
      let max = -Infinity;
      for (let n = 0; n < N; n++) if (!inBasket[n] && scores[n] * invT > max) max = scores[n] * invT;
      for (const z of posZ) if (z > max) max = z;
      let sum0 = 0;
      for (let n = 0; n < N; n++) if (!inBasket[n]) sum0 += Math.exp(scores[n] * invT - max);
      let sumInvLse = 0; // sum_i exp(-(lse_i - max))
      const lse: number[] = [];
      for (const z of posZ) {
        const l = Math.log(sum0 + Math.exp(z - max));
        lse.push(l);
        loss += l + max - z;
        sumInvLse += Math.exp(-l);
      }
      for (let n = 0; n < N; n++) gz[n] = inBasket[n] ? 0 : Math.exp(scores[n] * invT - max) * sumInvLse * invT;
      for (let k = 0; k < posZ.length; k++) {
        const g = (Math.exp(posZ[k] - max - lse[k]) - 1) * invT;
        const i = a + k;
        if (posSlot[k] >= 0) gz[posSlot[k]] = g;
        else {
          const x = extra.slot(b.ids[i * W + ID_ITEM]) * E;
          for (let d = 0; d < D; d++) { gU[i * D + d] += g * extraW[x + d]; gExtra[x + d] += g * uv.u[i * D + d]; }
          gExtra[x + D] += g;
          gFw[1] += g * extraPop[extra.slot(b.ids[i * W + ID_ITEM])];
        }
      }
      // The basket's user-state gradient goes to its first example (they share the state).
      for (let n = 0; n < N; n++) {
        const g = gz[n];
        if (g === 0) continue;
        const c = n * E;
        for (let d = 0; d < D; d++) { gU[o + d] += g * cat[c + d]; gCat[c + d] += g * uv.u[o + d]; }
        gCat[c + D] += g;
      }
      for (let x = 0; x < skip.length; x++) { gBeta[skipPos[x]] += gz[skip[x]]; gFw[0] += gz[skip[x]] * ci.own[a * H + skipPos[x]]; }
      if (this.counts.popularity) for (let n = 0; n < N; n++) gFw[1] += gz[n] * this.catPop[n];
      for (let i = a; i < e; i++) { const slot = this.catalogue.slotOf(b.ids[i * W + ID_ITEM]); if (slot >= 0) inBasket[slot] = 0; }
      a = e;
    }
    const { gUser, gHist } = this.userTowerGrads(uv, gU, B);
    // Item rows: the mean loss's gradient (every row is a negative of every example).
    const itemRows = new Int32Array(N + extra.rows.length);
    itemRows.set(this.catalogue.rows);
    itemRows.set(extra.rows, N);
    const gItem = new Float32Array(itemRows.length * E);
    gItem.set(gCat.subarray(0, N * E));
    gItem.set(gExtra, N * E);
    for (let k = 0; k < gItem.length; k++) gItem[k] /= B;
    const sparse = new Map<string, TableGrad>([
      [TABLES.user, { rows: Int32Array.from(uv.users.rows), grads: gUser }],
      [TABLES.item, { rows: itemRows, grads: gItem }],
    ]);
    if (uv.hist.rows.length) sparse.set(TABLES.history, { rows: Int32Array.from(uv.hist.rows), grads: gHist });
    this.addCountGrads(sparse, b, gFw);
    const dense = new Map<string, Float32Array>();
    if (this.cfg.repeatTerm) dense.set(REPEAT, gBeta.map((g) => g / B));
    return { predictions, loss: B ? loss / B : 0, dense, sparse };
  }
}
