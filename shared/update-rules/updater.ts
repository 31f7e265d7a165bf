// The one updater: the parameters a process updates (dense tensors and sparse arenas with their
// rules' slots) and the application of one push to them: global-norm clip of the non-counter
// gradients, the caller's learning-rate scale, then each parameter's rule. The PS shards
// (services/ps/shard-state.ts) and the in-process training (shared/model/local-params.ts) both
// apply through it, so the two cannot drift (test/unit/updater-parity.test.ts).
import { ConfigError } from '../errors.ts';
import type { PsConfig } from '../config.ts';
import { denseSize, initDense, type ParamSpec, type TableSpec } from '../param-spec.ts';
import type { DenseGrad, SparseGrad } from '../protocol.ts';
import { SparseArena } from '../sparse-arena.ts';
import { resolveRule, slotNames, type RuleChoice, type ResolvedRule } from './registry.ts';
import type { RuleHp, UpdateRule } from './types.ts';
import { sumSquares } from './vec.ts';
import { SIMD_MIN_FLOATS } from '../kernels/momentum-simd.ts';
import { residentTensors, type ResidentTensor } from '../kernels/resident-dense.ts';
import { CHUNK_ROWS } from '../kernels/resident-rows.ts';
import { RowBounds, isBounded, type RowBoundsConfig } from '../row-bounds.ts';

export interface DenseParam {
  readonly name: string;
  readonly weights: Float32Array;
  /** The rule's slots: slot k at [k*size, (k+1)*size). */
  readonly slot: Float32Array;
  readonly rule: UpdateRule;
  readonly hp: RuleHp;
  /** Changed since the last publish (the PS shard clears it). */
  dirty: boolean;
  /** Set when weights and slot live in WebAssembly memory, updated in place by the rule's kernel. */
  readonly resident?: ResidentTensor;
}

export interface TableParam {
  readonly name: string;
  readonly arena: SparseArena;
  readonly rule: UpdateRule;
  readonly hp: RuleHp;
}

/** A push as the updater needs it: GradientPush satisfies it. */
export interface UpdateGrads {
  dense: readonly DenseGrad[];
  sparse: readonly SparseGrad[];
  /** Newest event time in the batch (ms), for the counter's decay; absent = no decay. */
  eventTimeMs?: number;
}

/** The PS settings the updater reads: rates, momentum, dense rule, clip. */
export type UpdaterConfig = Pick<PsConfig, 'learningRate' | 'momentum' | 'nesterov' | 'clipNorm'> & { denseOptimizer?: RuleChoice; rows?: RowBoundsConfig };

/** The dense tensors' rule: ps.denseOptimizer, where momentum with ps.nesterov means Nesterov. */
export function denseRuleChoice(ps: UpdaterConfig): RuleChoice {
  const c = ps.denseOptimizer ?? 'momentum';
  return c === 'momentum' && ps.nesterov ? 'nesterov' : c;
}

/** The PS settings a rule's resolution reads. */
export type RuleRates = Pick<UpdaterConfig, 'learningRate' | 'momentum'>;

/** A table's rule and hyperparameters: the PS rate x the table's lrScale. */
export function resolveTableRule(t: TableSpec, ps: RuleRates): ResolvedRule {
  return resolveRule(t.optimizer, { lr: ps.learningRate * (t.lrScale ?? 1), mu: ps.momentum }, `tables.${t.name}.optimizer`);
}

/** The dense tensors' rule and hyperparameters. */
export function resolveDenseRule(ps: UpdaterConfig): ResolvedRule {
  return resolveRule(denseRuleChoice(ps), { lr: ps.learningRate, mu: ps.momentum }, 'ps.denseOptimizer');
}

/**
 * Resident slots for the dense tensors that take the rule's kernel (from SIMD_MIN_FLOATS on,
 * the size where the kernel beats the loop), by index in `sizes`; null when none does.
 */
function residentDense(dr: ResolvedRule, sizes: number[]): (ResidentTensor | null)[] | null {
  const kernel = dr.rule.kernel;
  if (!kernel || !dr.rule.kernelArgs || dr.hp.slotCount !== 1) return null;
  const big = sizes.map((n, i) => (n >= SIMD_MIN_FLOATS ? i : -1)).filter((i) => i >= 0);
  const set = residentTensors(kernel, big.map((i) => sizes[i]));
  if (!set) return null;
  const out: (ResidentTensor | null)[] = sizes.map(() => null);
  big.forEach((i, k) => { out[i] = set[k]; });
  return out;
}

export class Updater {
  readonly dense = new Map<string, DenseParam>();
  readonly tables = new Map<string, TableParam>();
  /** Which rows the tables keep (ps.rows); null when every row is kept. */
  readonly bounds: RowBounds | null = null;

  /** `ownsDense`: the dense tensors this process updates (a PS shard owns some); default all. */
  constructor(readonly spec: ParamSpec, readonly ps: UpdaterConfig, ownsDense: (name: string) => boolean = () => true) {
    const dr = resolveDenseRule(ps);
    const owned = spec.dense.filter((d) => ownsDense(d.name));
    const resident = residentDense(dr, owned.map(denseSize));
    for (const [i, d] of owned.entries()) {
      const init = initDense(d, spec.seed);
      const r = resident?.[i] || undefined;
      const weights = r ? r.weights : init;
      if (r) weights.set(init);
      const slot = r ? r.slot : new Float32Array(denseSize(d) * dr.hp.slotCount);
      const p: DenseParam = { name: d.name, weights, slot, rule: dr.rule, hp: { ...dr.hp }, dirty: false, ...(r ? { resident: r } : {}) };
      p.rule.initSlots(p.weights, p.slot, 0, p.weights.length, p.hp);
      this.dense.set(d.name, p);
    }
    for (const t of spec.tables) {
      const r = resolveTableRule(t, ps);
      if (r.rule.name === 'counter' && t.init.kind !== 'zeros') throw new ConfigError(`tables.${t.name}.init`, 'a counter table starts at zeros');
      const kernel = r.rule.kernelArgs && r.hp.slotCount === 1 ? r.rule.kernel : undefined;
      this.tables.set(t.name, { name: t.name, arena: new SparseArena(t, spec.seed, r.hp.slotCount, 1024, kernel), rule: r.rule, hp: r.hp });
    }
    if (isBounded(ps.rows)) {
      this.bounds = new RowBounds(ps.rows, [...this.tables.values()].map((t) => ({ name: t.name, arena: t.arena, exact: t.rule.name === 'counter' })));
    }
  }

  /**
   * The factor clipping the push to ps.clipNorm by the global L2 norm of its non-counter
   * gradients (counts must add exactly); 1 when within the norm or clipping is off.
   */
  clipFactor(p: UpdateGrads): number {
    const clip = this.ps.clipNorm;
    if (!(clip > 0)) return 1;
    let ss = 0;
    for (const g of p.dense) if (this.dense.get(g.name)!.rule.scaled) ss += sumSquares(g.values);
    for (const g of p.sparse) if (this.tables.get(g.table)!.rule.scaled) ss += sumSquares(g.grads);
    const norm = Math.sqrt(ss);
    return norm > clip ? clip / norm : 1;
  }

  /**
   * Applies a validated push (every name known and owned, shapes right, values finite):
   * clip, then each parameter's rule with `lrScale` (the gate's learning-rate factor x the
   * staleness damping; the caller's policy). Marks what changed dirty. Returns the clip factor.
   */
  apply(p: UpdateGrads, lrScale: number): number {
    const clip = this.clipFactor(p);
    const now = p.eventTimeMs ?? -1;
    this.bounds?.beginPush(p.eventTimeMs);
    for (const g of p.dense) {
      const d = this.dense.get(g.name)!;
      d.hp.nowMs = now;
      if (d.resident) {
        // Decoded into the region already (gradRegion): nothing to copy.
        if (g.values !== d.resident.grad) d.resident.grad.set(g.values);
        d.resident.apply(d.rule.kernelArgs!(clip, lrScale, d.hp));
      } else {
        d.rule.apply(d.weights, d.slot, 0, g.values, 0, g.values.length, clip, lrScale, d.hp);
      }
      d.dirty = true;
    }
    for (const g of p.sparse) this.applyRows(this.tables.get(g.table)!, g.rows, g.grads, clip, lrScale, now);
    this.bounds?.sweep();
    return clip;
  }

  /**
   * Where a push's `floats` gradient values of dense tensor (`dense`) or table (`sparse`) `name`
   * can be decoded to, so that apply() takes them without copying them again: the tensor's
   * gradient region in wasm memory when the floats fill it, the table's when they fit (up to
   * CHUNK_ROWS rows); null otherwise. Valid until the next apply or gradRegion of that name.
   */
  gradRegion(kind: 'dense' | 'sparse', name: string, floats: number): Float32Array | null {
    if (kind === 'dense') {
      const r = this.dense.get(name)?.resident;
      return r && floats === r.grad.length ? r.grad : null;
    }
    return this.tables.get(name)?.arena.resident?.gradView(floats) ?? null;
  }

  /** Whether every float of `view`, what gradRegion(kind, name, ...) gave, is finite (checked in wasm). */
  gradFinite(kind: 'dense' | 'sparse', name: string, view: Float32Array): boolean {
    if (kind === 'dense') return this.dense.get(name)!.resident!.gradFinite();
    return this.tables.get(name)!.arena.resident!.gradFinite(view);
  }

  private applyRows(t: TableParam, rows: Int32Array, grads: Float32Array, clip: number, lrScale: number, now: number): void {
    if (this.bounds) {
      ({ rows, grads } = this.bounds.admit({ name: t.name, arena: t.arena, exact: t.rule.name === 'counter' }, rows, grads));
      if (!rows.length) return;
    }
    const { arena: a, rule, hp } = t;
    const dim = a.dim;
    hp.nowMs = now;
    let from = 0;
    if (a.resident) {
      // In chunks: the ids resolved to slots in wasm, rows met for the first time materialized
      // (which may grow the arena into a new memory) and the chunk resolved again, dirty marks,
      // then one kernel pass over the chunk's rows.
      const args = rule.kernelArgs!(clip, lrScale, hp);
      const n = rows.length;
      while (from < n && a.resident) {
        const m = Math.min(CHUNK_ROWS, n - from);
        let store = a.resident;
        // (the lookup counts the absent rows: a warm table's push has none, and skips this loop)
        const absent = store.resolve(rows, from, m) > 0;
        for (let i = 0; absent && i < m; i++) {
          if (store.slots[i] >= 0) continue;
          const s = a.slotOf(rows[from + i]);
          rule.initSlots(a.weights, a.slot, s * dim, dim, hp);
        }
        if (absent) {
          if (!a.resident) break; // grown past one wasm memory: the heap loop below takes the rest
          store = a.resident;
          store.resolve(rows, from, m);
        }
        // Marked before the update: publishing runs on the same actor, never between the two.
        const slots = store.slots;
        for (let i = 0; i < m; i++) a.markDirty(slots[i]);
        store.applyResolved(m, grads, from, args);
        from += m;
      }
      if (from === n) return;
    }
    for (let i = from; i < rows.length; i++) {
      const before = a.count;
      const s = a.slotOf(rows[i]);
      // A row met for the first time: its slots must agree with its initial weights (FTRL).
      if (a.count !== before) rule.initSlots(a.weights, a.slot, s * dim, dim, hp);
      rule.apply(a.weights, a.slot, s * dim, grads, i * dim, dim, clip, lrScale, hp);
      a.markDirty(s);
    }
  }

  /**
   * Sets a dense tensor from a snapshot or checkpoint. Slots of the wrong length (another
   * rule's) or none are reset to agree with the weights; returns false then, for a warning.
   */
  setDense(name: string, weights: Float32Array, slot?: Float32Array): boolean {
    const d = this.dense.get(name);
    if (!d || weights.length !== d.weights.length) return true;
    d.weights.set(weights);
    const fits = slot !== undefined && slot.length === d.slot.length;
    if (fits) d.slot.set(slot);
    else d.rule.initSlots(d.weights, d.slot, 0, d.weights.length, d.hp);
    d.dirty = true;
    return fits || d.slot.length === 0;
  }

  /** Sets rows of a table from a snapshot; slots that do not fit are reset (returns false). */
  setRows(table: string, rows: Int32Array, weights: Float32Array, slot?: Float32Array): boolean {
    const t = this.tables.get(table);
    if (!t) return true;
    if (t.arena.setRows(rows, weights, slot)) return true;
    for (let i = 0; i < rows.length; i++) this.resetRowSlots(t, t.arena.slotOf(rows[i]));
    return t.arena.slotWidth === 0;
  }

  /** Resets the slots of arena slot `s` to agree with the row's weights (after a restore). */
  resetRowSlots(t: TableParam, s: number): void {
    t.rule.initSlots(t.arena.weights, t.arena.slot, s * t.arena.dim, t.arena.dim, t.hp);
  }

  /** Resets a dense tensor's slots to agree with its weights. */
  resetDenseSlots(d: DenseParam): void {
    d.rule.initSlots(d.weights, d.slot, 0, d.weights.length, d.hp);
  }

  /** Every slot held, named `<param>/<slot>` (dense tensors first, then tables). */
  slotNames(): string[] {
    const out: string[] = [];
    for (const d of this.dense.values()) out.push(...slotNames(d.name, this.resolved(d)));
    for (const t of this.tables.values()) out.push(...slotNames(t.name, this.resolved(t)));
    return out;
  }

  private resolved(p: { rule: UpdateRule; hp: RuleHp }): ResolvedRule {
    return { rule: p.rule, hp: p.hp };
  }
}
