// Every kind's tensor-free part, by name: what config validation, PS shards and ingest need.
// A new kind registers here and in registry.ts.
import { ConfigError } from '../errors.ts';
import { ctrKindSpec } from './ctr/kind-spec.ts';
import { valueKindSpec } from './value/kind-spec.ts';
import { demandKindSpec } from './demand/kind-spec.ts';
import { riskKindSpec } from './risk/kind-spec.ts';
import { retrievalKindSpec } from './retrieval/kind-spec.ts';
import type { ModelKindSpec } from './types.ts';

const SPECS: Record<string, ModelKindSpec<any>> = {
  [ctrKindSpec.kind]: ctrKindSpec,
  [valueKindSpec.kind]: valueKindSpec,
  [demandKindSpec.kind]: demandKindSpec,
  [riskKindSpec.kind]: riskKindSpec,
  [retrievalKindSpec.kind]: retrievalKindSpec,
};

export const KIND_NAMES: readonly string[] = Object.keys(SPECS);

export function kindSpec(kind: string): ModelKindSpec<unknown> {
  const s = SPECS[kind];
  if (!s) throw new ConfigError('kind', `unknown model kind "${kind}" (known: ${KIND_NAMES.join(', ')})`);
  return s;
}
