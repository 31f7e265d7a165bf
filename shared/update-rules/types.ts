// The contract every update rule meets. A rule is a name, the names of its optimizer slots, a
// hyperparameter check, and one tight loop over typed arrays. The loop allocates nothing and
// makes no calls per float (a few rules call Math.exp / Math.pow / Math.sqrt): it is the hot
// path of every PS shard.
//
// Slot layout: a rule with S slots keeps them in ONE Float32Array next to the weights. A call
// covers a block of n floats at w[off .. off+n) (a whole dense tensor, or one sparse row) whose
// slots are S planes of n floats from slots[off*S]: slot k of float i is at off*S + k*n + i.
// For a dense tensor (off 0, n = size) slot k is at k*size; for row r of a table with dim d
// (off = r*d, n = d) the row's slots are slots[r*d*S .. (r+1)*d*S), slot k at +k*d. So a row's
// slots stay together (the store writes them as one blob per row) and no format changed.

import type { KernelRule } from '../kernels/momentum-kernels.ts';
import type { KernelArgs } from '../kernels/resident-rows.ts';

/** Resolved hyperparameters of one tensor or table: one flat shape for every rule, so the
 *  apply loops see one hidden class. Fields a rule does not use are 0. */
export interface RuleHp {
  /** Slots this configuration keeps per float (the counter without decay keeps none). */
  slotCount: number;
  /** Learning rate: PS learningRate x the table's lrScale (momentum, nesterov, adagrad, adam). */
  lr: number;
  /** Momentum coefficient (momentum, nesterov). */
  mu: number;
  /** Added to the denominator (adagrad, adam). */
  eps: number;
  /** Adam's decay rates of the first and second moment. */
  beta1: number;
  beta2: number;
  /** FTRL-Proximal (McMahan et al. 2013): per-coordinate rate alpha / (beta + sqrt(n)), L1, L2. */
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
  /** Counter: decay time constant halfLifeMs / ln 2 (ms); 0 = no decay. */
  tauMs: number;
  /** Counter: event time (ms) of the push being applied, set by the Updater per push; -1 = absent. */
  nowMs: number;
}

/** Per-table options as a ParamSpec writes them (TableSpec.optimizer). Unset fields take the
 *  rule's defaults; see each rule module. */
export interface RuleOptions {
  rule: string;
  mu?: number;
  eps?: number;
  beta1?: number;
  beta2?: number;
  alpha?: number;
  beta?: number;
  l1?: number;
  l2?: number;
  /** Counter only: half-life of the exponential decay by event time (ms); 0 or unset = none. */
  halfLifeMs?: number;
}

/** What the PS configuration supplies to every rule. */
export interface RuleBase { lr: number; mu: number }

export interface UpdateRule {
  readonly name: string;
  /** Slot names, in storage order, with every option on. */
  readonly slots: readonly string[];
  /** False for the counter: no clipping, no learning rate, no staleness damping. */
  readonly scaled: boolean;
  /** True when a reader needs the slots to interpret the weights (the counter's last-update
   *  time, to decay a count to now): weight deltas then carry them. Other rules' slots are
   *  training state only, kept by the PS, its store and checkpoints. */
  readonly readableSlots: boolean;
  /** Checks `opts` and fills defaults; throws ConfigError naming `option`.<field>. */
  resolve(opts: RuleOptions, base: RuleBase, option: string): RuleHp;
  /** Slot names this configuration keeps (hp.slotCount of them). */
  slotsOf(hp: RuleHp): readonly string[];
  /**
   * One step over n floats: w[off..off+n), slots at off*S (layout above), g[gOff..gOff+n).
   * `gScale` multiplies the gradient (global-norm clipping); `lrScale` the step (the gate's
   * learning-rate factor x staleness damping). Momentum and Nesterov fold both into g, which
   * scales their step exactly as the rate would; adaptive rules scale their rate, since they
   * would cancel a scale of g.
   */
  apply(w: Float32Array, slots: Float32Array, off: number, g: Float32Array, gOff: number, n: number,
    gScale: number, lrScale: number, hp: RuleHp): void;
  /** Sets the slots of a block whose weights were set from outside (new row, checkpoint,
   *  restored slots that did not fit): zeros, except where the weights derive from the slots. */
  initSlots(w: Float32Array, slots: Float32Array, off: number, n: number, hp: RuleHp): void;
  /** The SIMD kernel of this rule, for tensors and tables kept in WebAssembly memory (shared/
   *  kernels/resident-dense.ts, resident-rows.ts); absent = the rule has none. Only one-slot
   *  configurations use it. */
  readonly kernel?: KernelRule;
  /** The kernel's scalars for a step with these scales: the kernel then gives `apply`'s bits. */
  kernelArgs?(gScale: number, lrScale: number, hp: RuleHp): KernelArgs;
}
