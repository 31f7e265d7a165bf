// Checks a decoded push against the model and this shard before anything is applied: every
// name known, every tensor owned here, every shape right, every value finite, every row id in
// range. A push that fails changes no state.
import {
  BadMessageError, NonFiniteError, NotOwnerError, UnknownParameterError, WrongShapeError,
  allFinite, denseSize, ownerOfDense, ownerOfRow, tableHash,
  type GradientPush, type ParamSpec, type TableSpec,
} from '../../shared/index.ts';
import { DistinctRows } from '../../shared/distinct-rows.ts';

export interface OwnedParams {
  dense: Map<string, number>;
  tables: Map<string, { spec: TableSpec; hash: number }>;
}

export function ownedParams(spec: ParamSpec, shard: number, shards: number): OwnedParams {
  const dense = new Map<string, number>();
  for (const d of spec.dense) if (ownerOfDense(d.name, shards) === shard) dense.set(d.name, denseSize(d));
  const tables = new Map<string, { spec: TableSpec; hash: number }>();
  for (const t of spec.tables) tables.set(t.name, { spec: t, hash: tableHash(t.name) });
  return { dense, tables };
}

// One set reused by every call (a shard validates one push at a time): no allocation per push.
const seenRows = new DistinctRows();

/** `finite`: the NaN/Inf check of a gradient (a PS shard's checks in wasm the arrays it placed there). */
export function validatePush(
  p: GradientPush, owned: OwnedParams, spec: ParamSpec, shard: number, shards: number, finite: (a: Float32Array) => boolean = allFinite,
): void {
  const seen = new Set<string>();
  for (const d of p.dense) {
    const size = owned.dense.get(d.name);
    if (size === undefined) {
      if (spec.dense.some((x) => x.name === d.name)) throw new NotOwnerError(`dense tensor "${d.name}" is not owned by shard ${shard}`);
      throw new UnknownParameterError(d.name);
    }
    if (seen.has(d.name)) throw new WrongShapeError(`dense tensor "${d.name}" appears twice`);
    seen.add(d.name);
    if (d.values.length !== size) throw new WrongShapeError(`dense tensor "${d.name}" has ${d.values.length} values, expected ${size}`);
    if (!finite(d.values)) throw new NonFiniteError(`gradient of ${d.name}`);
  }
  for (const s of p.sparse) {
    const t = owned.tables.get(s.table);
    if (!t) throw new UnknownParameterError(s.table);
    if (seen.has(s.table)) throw new WrongShapeError(`table "${s.table}" appears twice`);
    seen.add(s.table);
    if (s.grads.length !== s.rows.length * t.spec.dim) {
      throw new WrongShapeError(`table "${s.table}": ${s.grads.length} gradient values for ${s.rows.length} rows of dim ${t.spec.dim}`);
    }
    const rowsMax = t.spec.rows;
    const rows = s.rows, n = rows.length;
    seenRows.reset(n);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r < 0 || r >= rowsMax) throw new WrongShapeError(`table "${s.table}": row id ${r} outside 0..${rowsMax - 1}`);
      // (one shard owns every row: no hash to compute)
      if ((shards > 1 ? ownerOfRow(t.hash, r, shards) : 0) !== shard) throw new NotOwnerError(`table "${s.table}" row ${r} is not owned by shard ${shard}`);
      // A row twice in one push would get its update twice; workers send each row once.
      if (!seenRows.add(r)) throw new WrongShapeError(`table "${s.table}": row ${r} appears twice in one push`);
    }
    if (!finite(s.grads)) throw new NonFiniteError(`gradient of ${s.table}`);
  }
  if (p.examples < 1) throw new WrongShapeError('push.examples must be >= 1');
  // Stored in an Int32Array per delta: a larger count would wrap into a negative one.
  if (p.examples > MAX_EXAMPLES) throw new WrongShapeError(`push.examples must be <= ${MAX_EXAMPLES}`);
  checkAcceptTime(p.newestAcceptedAtMs, 'push.newestAcceptedAtMs');
  checkAcceptTime(p.meanAcceptedAtMs, 'push.meanAcceptedAtMs');
  // Counter rows keep the newest event time for good: a forged future one would freeze their decay.
  if (p.eventTimeMs !== undefined) checkAcceptTime(p.eventTimeMs, 'push.eventTimeMs');
}

const MAX_EXAMPLES = 2 ** 31 - 1;
/** Accept times may run ahead of this clock by this much (clock skew between hosts). */
const MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000;

/** The shard keeps the newest accept time for good (store, freshness): a forged one must not land. */
function checkAcceptTime(ms: number, what: string): void {
  if (ms < 0) throw new BadMessageError(`${what} must be >= 0, got ${ms}`);
  if (ms > Date.now() + MAX_CLOCK_SKEW_MS) throw new BadMessageError(`${what} is more than a day in the future`);
}
