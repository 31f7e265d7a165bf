// The streaming item-frequency estimator of Yi et al. 2019 ("Sampling-bias-corrected neural
// modeling for large corpus item recommendations", Algorithm 2): per hashed item, the step it
// was last seen (A) and a running estimate of the steps between two sightings (B), so
// q(item) ~ 1 / B. It needs no fixed item list and follows popularity as it drifts.
export class FrequencyEstimator {
  private readonly last: Float64Array;
  private readonly gap: Float64Array;
  private step = 0;

  constructor(readonly buckets: number, readonly alpha: number) {
    this.last = new Float64Array(buckets);
    this.gap = new Float64Array(buckets);
  }

  /** log q of a row as known now (before it is seen at this step): an item never seen yet
   *  counts as seen once in the whole stream so far. */
  logQ(row: number): number {
    const g = this.gap[row];
    return -Math.log(g > 0 ? g : Math.max(1, this.step));
  }

  /** One interaction with `row`. */
  see(row: number): void {
    this.step++;
    const a = this.last[row];
    const observed = a > 0 ? this.step - a : Math.max(1, this.step);
    this.gap[row] = this.gap[row] > 0 ? (1 - this.alpha) * this.gap[row] + this.alpha * observed : observed;
    this.last[row] = this.step;
  }

  get steps(): number {
    return this.step;
  }
}
