// Every model kind by name, and what a process needs to run one model of the config: its
// kind, typed settings and ParamSpec. Worker, inference, validator and evaluation go through
// here; none of them names a kind.
import { modelDecl, type FlywheelConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { demandKind } from './demand/index.ts';
import { riskKind } from './risk/index.ts';
import { retrievalKind } from './retrieval/index.ts';
import type { ParamSpec } from '../param-spec.ts';
import { ctrKind } from './ctr/index.ts';
import { valueKind } from './value/index.ts';
import { KIND_NAMES } from './kind-specs.ts';
import type { ModelKind } from './types.ts';

const KINDS: Record<string, ModelKind<any>> = {
  [ctrKind.kind]: ctrKind,
  [valueKind.kind]: valueKind,
  [demandKind.kind]: demandKind,
  [riskKind.kind]: riskKind,
  [retrievalKind.kind]: retrievalKind,
};

for (const k of KIND_NAMES) if (!KINDS[k]) throw new Error(`model kind ${k} has a spec but no kind in shared/models/registry.ts`);

export function modelKind(kind: string): ModelKind<unknown> {
  const k = KINDS[kind];
  if (!k) throw new ConfigError('kind', `unknown model kind "${kind}" (known: ${Object.keys(KINDS).join(', ')})`);
  return k;
}

export interface ResolvedModel<C = unknown> {
  name: string;
  kind: ModelKind<C>;
  settings: C;
  spec: ParamSpec;
}

/** Model `name` of the config (default: the one this process serves), ready to run. */
export function resolveModel(cfg: FlywheelConfig, name: string = cfg.model): ResolvedModel {
  const d = modelDecl(cfg, name);
  const kind = modelKind(d.kind);
  return { name: d.name, kind, settings: d.settings, spec: kind.paramSpec(d.name, cfg.seed, d.settings) };
}
