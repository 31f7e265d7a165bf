// What the retrieval kind serves: POST /v1/recommend { userId, k?, excludeSeen?, filter?,
// candidates? } -> the user's top k out of the whole catalogue, with the versions used.
// The inference node follows the event log (onEvents) for what the weights do not hold: which
// item id a row is, each user's recent items (the user tower's input) and what they have seen,
// and a recency-decayed popularity for users with no history. The catalogue index follows the
// weights: a delta that changes item rows marks them, and the next query upserts them, so a
// new item is recommendable as soon as its first delta lands here.
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { HttpError } from '../../http.ts';
import type { WeightDelta } from '../../protocol.ts';
import { parseJsonObject } from '../serving-util.ts';
import { withVersions, type RouteDocs } from '../../openapi.ts';
import type { ServingContext, ServingPlugin, WeightSource } from '../types.ts';
import type { RetrievalModelConfig } from './config.ts';
import { COUNT_TABLES, CountFeatures } from './count-features.ts';
import { REPEAT, TABLES } from './spec.ts';
import { UserHistory } from './user-history.ts';
import { VectorIndex, type Hit } from './vector-index.ts';

/** Popularity for users without history halves every this many interactions. */
export const POPULARITY_HALF_LIFE = 10_000;

interface ItemName {
  itemId: string;
  categoryId?: string;
}

const ID = { type: ['string', 'integer'] };

/** How the routes below are called (the inference node's /openapi.json). */
export const retrievalRouteDocs: RouteDocs = {
  'POST /v1/recommend': {
    summary: 'A user\'s top k items out of the whole catalogue (or the caller\'s candidates re-ranked)',
    request: {
      type: 'object',
      properties: {
        userId: ID,
        k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
        excludeSeen: { type: 'boolean', default: false },
        filter: {
          type: 'object',
          properties: { categoryId: { oneOf: [ID, { type: 'array', items: ID, minItems: 1, maxItems: 10000 }] }, itemIds: { type: 'array', items: ID, minItems: 1, maxItems: 10000 } },
          additionalProperties: false,
        },
        candidates: { type: 'array', items: ID, minItems: 1, description: 'Re-rank these instead of searching the catalogue' },
      },
      required: ['userId'],
    },
    response: withVersions({
      properties: {
        source: { type: 'string', enum: ['model', 'popularity'], description: 'popularity: a user none of whose events reached this node' },
        reason: { type: 'string', description: 'Why popularity was served' },
        items: { type: 'array', items: { type: 'object', properties: { itemId: { type: 'string' }, score: { type: ['number', 'null'] } }, required: ['itemId', 'score'] } },
      },
      required: ['source', 'items'],
    }),
  },
  'GET /v1/catalogue': {
    summary: 'What this node\'s catalogue index holds',
    response: withVersions({
      properties: {
        items: { type: 'integer' }, named: { type: 'integer' }, usersWithHistory: { type: 'integer' },
        eventsFollowed: { type: 'integer' }, indexRebuilds: { type: 'integer' }, rowsUpserted: { type: 'integer' }, rowsRemoved: { type: 'integer' },
      },
      required: ['items', 'named'],
    }),
  },
};

export function retrievalServing(ctx: ServingContext<RetrievalModelConfig>): ServingPlugin {
  const cfg = ctx.settings;
  const D = cfg.dim;
  const E = D + 1;
  // The count features (count-features.ts), computed as the worker's model does: popularity
  // as a last column of each item's vector (the query's is its weight), a user's own counts
  // into the bonus of their recent items.
  const counts = new CountFeatures(cfg);
  const P = counts.popularity ? 1 : 0;
  const names = new Map<number, ItemName>();
  const history = new UserHistory(cfg.history, cfg.maxUsers, true);
  const interactions = new Set<string>(cfg.interactions);
  // Decayed counts as count * growth: adding `growth` (which doubles every half-life) instead of
  // 1 decays every other count without touching it.
  const popularity = new Map<number, number>();
  let growth = 1;
  const index = new VectorIndex(E + P);
  let indexedFrom: WeightSource | undefined;
  const dirty = new Set<number>();
  /** Item rows the PS evicted (tombstones): out of the index at the next query. */
  const gone = new Set<number>();
  const stats = { eventsFollowed: 0, indexRebuilds: 0, rowsUpserted: 0, rowsRemoved: 0 };

  const follow = (ev: FlywheelEvent) => {
    if (!interactions.has(ev.type)) return;
    if (cfg.minValue !== undefined && !((ev.value ?? NaN) >= cfg.minValue)) return;
    stats.eventsFollowed++;
    const row = hashRow(ev.itemId, cfg.itemBuckets);
    names.set(row, ev.categoryId ? { itemId: ev.itemId, categoryId: ev.categoryId } : { itemId: ev.itemId });
    history.add(ev.userId, [row]);
    growth *= 2 ** (1 / POPULARITY_HALF_LIFE);
    popularity.set(row, (popularity.get(row) ?? 0) + growth);
    if (growth > 1e30) {
      for (const [r, c] of popularity) popularity.set(r, c / growth);
      growth = 1;
    }
  };

  /** The index as of the weights served now: rebuilt when they are another object (a new
   *  checkpoint), else brought up to date with the rows deltas changed. */
  const current = (): { w: WeightSource; index: VectorIndex } => {
    const w = ctx.weights();
    if (!w.heldRows) throw new HttpError(500, 'these weights cannot list their rows');
    if (w !== indexedFrom) {
      index.clear();
      const rows = w.heldRows(TABLES.item);
      const all = itemVectors(w, rows);
      for (let s = 0; s < rows.length; s++) index.upsert(rows[s], all, s * (E + P));
      indexedFrom = w;
      dirty.clear();
      gone.clear();
      stats.indexRebuilds++;
    } else if (dirty.size || gone.size) {
      for (const row of gone) index.remove(row);
      stats.rowsRemoved += gone.size;
      gone.clear();
      // A row only the popularity counter touched may not be in the catalogue (yet).
      const held = P ? new Set(w.heldRows(TABLES.item)) : undefined;
      const rows = Int32Array.from([...dirty].filter((r) => !held || index.has(r) || held.has(r)));
      const all = itemVectors(w, rows);
      for (let s = 0; s < rows.length; s++) index.upsert(rows[s], all, s * (E + P));
      stats.rowsUpserted += rows.length;
      dirty.clear();
    }
    return { w, index };
  };

  /** [v, bias] of each row, and its popularity feature when that is on. */
  const itemVectors = (w: WeightSource, rows: Int32Array): Float32Array => {
    const v = new Float32Array(rows.length * E);
    w.readRows(TABLES.item, rows, v);
    if (!P) return v;
    const pop = new Float32Array(rows.length);
    counts.popularityOf(w, rows, pop);
    const out = new Float32Array(rows.length * (E + 1));
    for (let s = 0; s < rows.length; s++) { out.set(v.subarray(s * E, (s + 1) * E), s * (E + 1)); out[s * (E + 1) + E] = pop[s]; }
    return out;
  };

  const userQuery = (w: WeightSource, user: string): { q: Float32Array; recent: Int32Array; own: Float32Array } => {
    const recent = new Int32Array(cfg.history);
    history.writeRecent(user, recent, 0);
    const own = new Float32Array(cfg.history);
    counts.userOwn(w, hashRow(user, cfg.userBuckets), recent, own);
    const q = new Float32Array(E + P);
    w.readRows(TABLES.user, Int32Array.of(hashRow(user, cfg.userBuckets)), q);
    const held = recent.filter((r) => r >= 0);
    if (held.length) {
      const h = new Float32Array(held.length * D);
      w.readRows(TABLES.history, held, h);
      for (let k = 0; k < held.length; k++) for (let d = 0; d < D; d++) q[d] += h[k * D + d] / held.length;
    }
    q[D] = 1;
    if (P) q[E] = counts.weights(w)[1];
    return { q, recent: held, own };
  };

  const parseRequest = (o: Record<string, unknown>) => {
    if ((typeof o.userId !== 'string' || o.userId.length === 0 || o.userId.length > 128) && typeof o.userId !== 'number') {
      throw new HttpError(400, 'userId is required: a string of 1..128 characters or a number');
    }
    const k = o.k === undefined ? 10 : o.k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 1000) throw new HttpError(400, 'k must be an integer (a JSON number) in 1..1000');
    if (o.excludeSeen !== undefined && typeof o.excludeSeen !== 'boolean') throw new HttpError(400, 'excludeSeen must be true or false');
    let filter: { categories?: Set<string>; itemIds?: Set<string> } | undefined;
    if (o.filter !== undefined) {
      const f = o.filter as Record<string, unknown>;
      if (f === null || typeof f !== 'object' || Array.isArray(f)) throw new HttpError(400, 'filter must be { categoryId?: id | [ids], itemIds?: [ids] }');
      const ids = (x: unknown, what: string): Set<string> => {
        const l = Array.isArray(x) ? x : [x];
        if (l.length === 0 || l.length > 10_000 || !l.every((s) => typeof s === 'string' || typeof s === 'number')) throw new HttpError(400, `filter.${what} must be an id or a list of 1..10000 ids`);
        return new Set(l.map(String));
      };
      for (const key of Object.keys(f)) if (key !== 'categoryId' && key !== 'itemIds') throw new HttpError(400, `filter.${key} is not a filter (categoryId, itemIds)`);
      filter = {
        ...(f.categoryId !== undefined ? { categories: ids(f.categoryId, 'categoryId') } : {}),
        ...(f.itemIds !== undefined ? { itemIds: ids(f.itemIds, 'itemIds') } : {}),
      };
    }
    if (o.candidates !== undefined && (!Array.isArray(o.candidates) || o.candidates.length === 0 || o.candidates.length > ctx.maxBatch)) {
      throw new HttpError(400, `candidates must be a list of 1..${ctx.maxBatch} item ids`);
    }
    return { user: String(o.userId), k, excludeSeen: o.excludeSeen === true, filter, candidates: o.candidates as unknown[] | undefined };
  };

  const passes = (row: number, f: { categories?: Set<string>; itemIds?: Set<string> } | undefined): boolean => {
    const n = names.get(row);
    if (!n) return false; // a row no event named here cannot be answered with an id
    if (f?.itemIds && !f.itemIds.has(n.itemId)) return false;
    if (f?.categories && !(n.categoryId !== undefined && f.categories.has(n.categoryId))) return false;
    return true;
  };

  const recommend = (o: Record<string, unknown>) => {
    const r = parseRequest(o);
    const { w, index: ix } = current();
    const seen = r.excludeSeen ? (row: number) => history.hasSeen(r.user, row) : () => false;
    // A user none of whose events reached this node: the recently popular items, said so.
    if (!history.has(r.user) && !r.candidates) {
      const ranked = [...popularity].filter(([row]) => passes(row, r.filter) && ix.has(row)).sort((a, b) => b[1] - a[1]).slice(0, r.k);
      return {
        source: 'popularity', reason: 'no history for this user here: recency-decayed popularity',
        items: ranked.map(([row, c]) => ({ itemId: names.get(row)!.itemId, score: c / growth })), ...ctx.versionInfo(),
      };
    }
    const { q, recent, own } = userQuery(w, r.user);
    const beta = cfg.repeatTerm ? w.dense(REPEAT) : new Float32Array(cfg.history);
    const wOwn = counts.weights(w)[0];
    const bonus = new Map<number, number>();
    // The held recent rows are the first of the history positions (pads come last).
    recent.forEach((row, k) => { const s = ix.slotOf(row); if (s >= 0) bonus.set(s, beta[k] + wOwn * own[k]); });
    if (r.candidates) {
      // Today's re-ranking: the caller's list, in the retrieval score's order; an item not in
      // the catalogue has no vector yet and comes last.
      const scored = [...new Set(r.candidates.map(String))].map((itemId) => {
        const row = hashRow(itemId, cfg.itemBuckets);
        if (!ix.has(row)) return { itemId, score: null as number | null };
        const vec = itemVectors(w, Int32Array.of(row));
        let s = bonus.get(ix.slotOf(row)) ?? 0;
        for (let d = 0; d < E + P; d++) s += q[d] * vec[d];
        return { itemId, score: s };
      });
      scored.sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
      return { source: 'model', items: scored.slice(0, r.k), ...ctx.versionInfo() };
    }
    let allow: Set<number> | undefined;
    if (r.filter) {
      allow = new Set();
      if (r.filter.itemIds) {
        for (const id of r.filter.itemIds) { const row = hashRow(id, cfg.itemBuckets); const s = ix.slotOf(row); if (s >= 0 && passes(row, r.filter)) allow.add(s); }
      } else for (let s = 0; s < ix.size; s++) if (passes(ix.rowAt(s), r.filter)) allow.add(s);
    }
    let exclude: Set<number> | undefined;
    if (r.excludeSeen) {
      exclude = new Set();
      for (let s = 0; s < ix.size; s++) if (seen(ix.rowAt(s))) exclude.add(s);
    }
    // Rows without a known id are dropped after the search: ask for a few more.
    let hits: Hit[] = [];
    for (let want = r.k + 8; ; want *= 4) {
      hits = ix.search(q, want, { bonus, exclude, allow }).filter((h) => names.has(h.row));
      if (hits.length >= r.k || want >= ix.size) break;
    }
    return {
      source: 'model',
      items: hits.slice(0, r.k).map((h) => ({ itemId: names.get(h.row)!.itemId, score: h.score })),
      ...ctx.versionInfo(),
    };
  };

  return {
    docs: retrievalRouteDocs,
    onEvents: (events) => { for (const ev of events) follow(ev); },
    forgetUser: (userId: string) => { history.delete(userId); },
    onDelta: (d: WeightDelta) => {
      for (const s of d.sparse) {
        // A changed popularity counter changes its item's vector here.
        if (s.table === COUNT_TABLES.item && P) { for (const row of s.rows) dirty.add(row); continue; }
        if (s.table !== TABLES.item) continue;
        // In a delta the tombstones come before the rows (a row evicted and taken again is in both).
        if (s.removed) for (const row of s.removed) { dirty.delete(row); gone.add(row); }
        for (const row of s.rows) dirty.add(row);
      }
    },
    routes: {
      'POST /v1/recommend': (_req, body) => recommend(parseJsonObject(body)),
      'GET /v1/catalogue': () => {
        const { index: ix } = current();
        return { items: ix.size, named: names.size, usersWithHistory: history.size, ...stats, ...ctx.versionInfo() };
      },
    },
  };
}
