// Prequential scoring of examples whose targets arrive after their features (a forecast, a
// late label): the score that counts is the one made when the example was first emitted (its
// targets NaN), not the one made when it comes back with its targets to be trained on, by
// weights that have since learned from what happened in between. A source tags both with the
// same ref (Batch.refs); this keeps the first score per ref until the second arrives.
import type { Batch } from './batch.ts';

export class DelayedScores {
  private readonly held = new Map<number, Float32Array>();
  /** Examples that came back with targets but whose first score is not here (a restarted worker): trained, not scored. */
  unpaired = 0;

  constructor(private readonly width: number, private readonly maxHeld = 5_000_000) {}

  get size(): number {
    return this.held.size;
  }

  /**
   * Given a batch and the predictions the step made for it (width per example), returns the
   * predictions the metric should see and which examples count: an example with refs and NaN
   * targets is held (not counted); one with refs and targets takes its held score; one without
   * a ref counts with the step's prediction.
   */
  pair(b: Batch, predictions: Float32Array): { predictions: Float32Array; counts: Uint8Array } {
    const W = this.width;
    const T = b.targetWidth;
    const counts = new Uint8Array(b.size);
    if (!b.refs) return { predictions, counts: counts.fill(1) };
    const out = new Float32Array(predictions.subarray(0, b.size * W));
    for (let i = 0; i < b.size; i++) {
      const ref = b.refs[i];
      if (ref < 0) { counts[i] = 1; continue; }
      if (Number.isNaN(b.targets[i * T])) {
        if (this.held.size < this.maxHeld) this.held.set(ref, predictions.slice(i * W, (i + 1) * W));
        continue;
      }
      const p = this.held.get(ref);
      if (!p) { this.unpaired++; continue; }
      this.held.delete(ref);
      out.set(p, i * W);
      counts[i] = 1;
    }
    return { predictions: out, counts };
  }
}
