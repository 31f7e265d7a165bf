// Hyperparameter checks shared by the rules: every bad value is a ConfigError naming the option.
import { ConfigError } from '../errors.ts';
import type { RuleBase, RuleHp, RuleOptions } from './types.ts';

const KNOWN = new Set(['rule', 'mu', 'eps', 'beta1', 'beta2', 'alpha', 'beta', 'l1', 'l2', 'halfLifeMs']);

/** The all-zero hyperparameters with the PS base rate and momentum filled in. */
export function baseHp(base: RuleBase, slotCount: number): RuleHp {
  return { slotCount, lr: base.lr, mu: base.mu, eps: 0, beta1: 0, beta2: 0, alpha: 0, beta: 0, l1: 0, l2: 0, tauMs: 0, nowMs: -1 };
}

/** Refuses options this rule does not read (a typo would otherwise be ignored silently). */
export function onlyFields(opts: RuleOptions, allowed: readonly string[], option: string): void {
  for (const k of Object.keys(opts)) {
    if (k === 'rule') continue;
    if (!KNOWN.has(k)) throw new ConfigError(`${option}.${k}`, 'is not an update-rule option');
    if (!allowed.includes(k)) throw new ConfigError(`${option}.${k}`, `is not an option of the ${opts.rule} rule`);
  }
}

/** opts[field] if set (checked to lie in [min, max), or (min, max) when `open`), else `dflt`. */
export function num(opts: RuleOptions, field: keyof RuleOptions, dflt: number, option: string,
  min: number, max: number, open = false): number {
  const v = opts[field];
  if (v === undefined) return dflt;
  const ok = typeof v === 'number' && Number.isFinite(v) && (open ? v > min : v >= min) && v < max;
  if (!ok) throw new ConfigError(`${option}.${field}`, `must be a number in ${open ? '(' : '['}${min}, ${max})`);
  return v;
}

export function checkBase(base: RuleBase, option: string): void {
  if (!(base.lr > 0 && Number.isFinite(base.lr))) throw new ConfigError(`${option}.lr`, 'the learning rate must be > 0');
  if (!(base.mu >= 0 && base.mu < 1)) throw new ConfigError(`${option}.mu`, 'momentum must be in [0, 1)');
}

/** Momentum's and Nesterov's hyperparameters: the PS rate and momentum, `mu` overridable. */
export function resolveMomentum(opts: RuleOptions, base: RuleBase, option: string): RuleHp {
  onlyFields(opts, ['mu'], option);
  checkBase(base, option);
  return { ...baseHp(base, 1), mu: num(opts, 'mu', base.mu, option, 0, 1) };
}

/** initSlots of every rule whose slots start at zero (all but FTRL): the block's S planes. */
export function zeroSlots(_w: Float32Array, s: Float32Array, off: number, n: number, hp: RuleHp): void {
  s.fill(0, off * hp.slotCount, (off + n) * hp.slotCount);
}
