// The kind's baselines over the evaluation stream, prequentially like the ways: per training
// batch (in time order, the ways' batch size) each baseline predicts the batch, then learns it.
import { sliceBatch, type Baseline } from '../../shared/index.ts';
import type { EvalStream } from './stream.ts';

export interface BaselineScores {
  name: string;
  /** The baseline's predictions of every stream example, made before it learned that example. */
  scores: Float32Array;
}

export function runBaselines(s: EvalStream, baselines: readonly Baseline[], batchSize: number, width: number): BaselineScores[] {
  return baselines.map((x) => {
    const scores = new Float32Array(s.size * width);
    for (let from = 0; from < s.size; from += batchSize) {
      const b = sliceBatch(s.examples, from, Math.min(s.size, from + batchSize));
      const p = x.predict(b);
      if (p.length !== b.size * width) throw new Error(`baseline ${x.name} predicted ${p.length} values for ${b.size} examples of width ${width}`);
      scores.set(p, from * width);
      x.learn(b);
    }
    return { name: x.name, scores };
  });
}
