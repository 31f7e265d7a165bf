// The update rules by name. A ParamSpec names a table's rule (TableSpec.optimizer), the PS
// configuration the dense tensors' (ps.denseOptimizer); both resolve here once, at start-up,
// so an unknown name or a bad hyperparameter fails fast with the option's name.
import { ConfigError } from '../errors.ts';
import { adagrad } from './adagrad.ts';
import { adam } from './adam.ts';
import { counter } from './counter.ts';
import { ftrl } from './ftrl.ts';
import { momentum } from './momentum.ts';
import { nesterov } from './nesterov.ts';
import type { RuleBase, RuleHp, RuleOptions, UpdateRule } from './types.ts';

export const UPDATE_RULE_NAMES = ['momentum', 'nesterov', 'adagrad', 'adam', 'ftrl', 'counter'] as const;
export type UpdateRuleName = (typeof UPDATE_RULE_NAMES)[number];

export const UPDATE_RULES: Readonly<Record<UpdateRuleName, UpdateRule>> = { momentum, nesterov, adagrad, adam, ftrl, counter };

export function isUpdateRuleName(v: unknown): v is UpdateRuleName {
  return typeof v === 'string' && (UPDATE_RULE_NAMES as readonly string[]).includes(v);
}

/** The rule called `name`; a ConfigError naming `option` for anything else. */
export function updateRule(name: unknown, option: string): UpdateRule {
  if (!isUpdateRuleName(name)) throw new ConfigError(option, `unknown update rule ${JSON.stringify(name)}; known: ${UPDATE_RULE_NAMES.join(', ')}`);
  return UPDATE_RULES[name];
}

/** A rule as a spec or config writes it: a name, or a name with hyperparameters. */
export type RuleChoice = UpdateRuleName | (RuleOptions & { rule: UpdateRuleName });

export interface ResolvedRule { rule: UpdateRule; hp: RuleHp }

/** Looks up and checks a rule choice (default momentum). */
export function resolveRule(choice: RuleChoice | undefined, base: RuleBase, option: string): ResolvedRule {
  const opts: RuleOptions = choice === undefined ? { rule: 'momentum' } : typeof choice === 'string' ? { rule: choice } : choice;
  if (opts === null || typeof opts !== 'object') throw new ConfigError(option, 'must be a rule name or { rule, ...hyperparameters }');
  const rule = updateRule(opts.rule, typeof choice === 'object' ? `${option}.rule` : option);
  return { rule, hp: rule.resolve(opts, base, option) };
}

/** The names of a parameter's slots for humans: `<param>/<slot>` (logs, docs, metrics). */
export function slotNames(param: string, r: ResolvedRule): string[] {
  return r.rule.slotsOf(r.hp).map((s) => `${param}/${s}`);
}
