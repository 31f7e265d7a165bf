// The yardsticks the risk kind must beat, learning online from the same rows it does:
//  - the running rate of bad outcomes (no features: what a rule "flag at the base rate" knows);
//  - an online logistic regression on the same hashed features (Adagrad, one example at a
//    time, the labels the model trains on): what a shop would build first.
import type { Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';

export class RunningRate implements Baseline {
  readonly name = 'running rate';
  private pos = 1;
  private n = 20; // a prior of 5% over 20 pseudo-outcomes

  predict(b: Batch): Float32Array {
    return new Float32Array(b.size).fill(this.pos / this.n);
  }

  learn(b: Batch): void {
    for (let i = 0; i < b.size; i++) {
      const y = b.targets[i * b.targetWidth];
      if (Number.isNaN(y)) continue;
      this.pos += y;
      this.n++;
    }
  }
}

export class OnlineLogisticRegression implements Baseline {
  readonly name = 'online LR';
  private readonly w: Float32Array;
  private readonly g2: Float32Array;
  private bias = 0;
  private biasG2 = 0;

  constructor(private readonly buckets: number, private readonly lr = 0.1) {
    this.w = new Float32Array(buckets);
    this.g2 = new Float32Array(buckets);
  }

  private score(b: Batch, i: number): number {
    let z = this.bias;
    for (let f = 0; f < b.idWidth; f++) z += this.w[b.ids[i * b.idWidth + f]];
    return 1 / (1 + Math.exp(-Math.max(-30, Math.min(30, z))));
  }

  predict(b: Batch): Float32Array {
    const out = new Float32Array(b.size);
    for (let i = 0; i < b.size; i++) out[i] = this.score(b, i);
    return out;
  }

  learn(b: Batch): void {
    for (let i = 0; i < b.size; i++) {
      const y = b.targets[i * b.targetWidth + 1];
      if (Number.isNaN(y)) continue;
      const g = this.score(b, i) - y;
      for (let f = 0; f < b.idWidth; f++) {
        const r = b.ids[i * b.idWidth + f];
        this.g2[r] += g * g;
        this.w[r] -= (this.lr * g) / Math.sqrt(this.g2[r] + 1e-8);
      }
      this.biasG2 += g * g;
      this.bias -= (this.lr * g) / Math.sqrt(this.biasG2 + 1e-8);
    }
  }
}
