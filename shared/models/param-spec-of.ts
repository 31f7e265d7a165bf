// The ParamSpec of a model of the config, from its kind's tensor-free part (PS shards use it).
import { modelDecl, type FlywheelConfig } from '../config.ts';
import type { ParamSpec } from '../param-spec.ts';
import { kindSpec } from './kind-specs.ts';

export function paramSpecOf(cfg: FlywheelConfig, name: string = cfg.model): ParamSpec {
  const d = modelDecl(cfg, name);
  return kindSpec(d.kind).paramSpec(d.name, cfg.seed, d.settings);
}

/** The event field that shards model `name`'s events. */
export function shardKeyOf(cfg: FlywheelConfig, name: string = cfg.model): 'user' | 'item' {
  return kindSpec(modelDecl(cfg, name).kind).shardKey ?? 'user';
}
