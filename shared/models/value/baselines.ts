// The yardsticks of the value kind, scored on the same examples: the running mean of every
// target so far, and the running mean per item (falling back to the global mean).
import type { Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';

export class RunningMean implements Baseline {
  readonly name = 'mean';
  private sum = 0;
  private n = 0;

  predict(b: Batch): Float32Array {
    return new Float32Array(b.size).fill(this.n ? this.sum / this.n : 0);
  }

  learn(b: Batch): void {
    for (let i = 0; i < b.size; i++) { this.sum += b.targets[i * b.targetWidth]; this.n++; }
  }
}

/** Per value of id column `field` (the hashed item row), its running mean. */
export class RunningMeanById implements Baseline {
  readonly name: string;
  private readonly sums = new Map<number, { sum: number; n: number }>();
  private readonly global = new RunningMean();

  constructor(private readonly field: number, fieldName: string) {
    this.name = `mean-by-${fieldName}`;
  }

  predict(b: Batch): Float32Array {
    const out = this.global.predict(b);
    for (let i = 0; i < b.size; i++) {
      const s = this.sums.get(b.ids[i * b.idWidth + this.field]);
      if (s) out[i] = s.sum / s.n;
    }
    return out;
  }

  learn(b: Batch): void {
    this.global.learn(b);
    for (let i = 0; i < b.size; i++) {
      const id = b.ids[i * b.idWidth + this.field];
      let s = this.sums.get(id);
      if (!s) this.sums.set(id, (s = { sum: 0, n: 0 }));
      s.sum += b.targets[i * b.targetWidth];
      s.n++;
    }
  }
}
