// The evaluation stream: the dataset's events turned into the kind's examples once, exactly as
// a worker builds them (the kind's own ExampleSource with worker 0's seed, fed in chunks, then
// flushed), kept as one Batch in stream order, cut into windows of equal example count.
import { concatBatches, type Batch, type FlywheelConfig, type FlywheelEvent } from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import type { EvalExtras } from '../../shared/models/types.ts';
import { windowOfExample, type EvalOptions } from './protocol.ts';

export interface EvalStream {
  events: number;
  size: number;
  /** Every example, in stream order. */
  examples: Batch;
  /** Windows of equal example count the stream is cut into. */
  windows: number;
  /** Window of each example. */
  window: Uint16Array;
  /** The kind's segments and probe sets, when it has any. */
  extras: EvalExtras;
}

/** Events per push into the example source (the worker pushes its batches the same way). */
const CHUNK = 1000;

/** Builds the examples of `events` (in stream order) with the kind of the config's model. */
export function buildEvalStream(events: readonly FlywheelEvent[], cfg: FlywheelConfig, o: EvalOptions): EvalStream {
  const m = resolveModel(cfg);
  const source = m.kind.exampleSource(m.settings, cfg.seed + 7); // the seed of worker 0
  const parts: Batch[] = [];
  for (let e0 = 0; e0 < events.length; e0 += CHUNK) {
    const b = source.push(events.slice(e0, e0 + CHUNK));
    if (b.size) parts.push(b);
  }
  const rest = source.flush?.();
  if (rest?.size) parts.push(rest);
  const examples = concatBatches(source.shape, parts);
  const n = examples.size;
  if (n === 0) throw new Error(`model ${m.name} (kind ${m.kind.kind}) made no examples of ${events.length} events`);
  const window = new Uint16Array(n);
  for (let i = 0; i < n; i++) window[i] = windowOfExample(i, n, o.windows);
  const extras = m.kind.evalExtras?.(m.settings, {
    events, stream: examples, windowOf: window, windows: o.windows,
    probes: { perWindow: o.rankPositivesPerWindow, candidates: o.rankCandidates, k: o.rankK, seed: o.rankSeed },
  }) ?? { segments: [], notes: [] };
  return { events: events.length, size: n, examples, windows: o.windows, window, extras };
}
