// The evaluation protocol in one place: what the three ways train on, how the stream is cut
// into windows, and which part of it the overall figures cover. Every number here is an
// option with a default taken from the protocol, validated once, failing with its name.
import { ConfigError, type OptionSpec } from '../../shared/index.ts';

export interface EvalOptions {
  /** Windows of equal example count the stream is cut into. Default 10. */
  windows: number;
  /** Frozen way: trained on this leading fraction of the examples, then never updated. Default 0.3. */
  frozenFraction: number;
  /** Overall figures cover the examples from this fraction on (the last 70%). Default 0.3. */
  evalFromFraction: number;
  /** Passes over the data of each offline (re)training. Default 2. */
  epochs: number;
  /** Examples per training step, in time order. Default 256 (the worker's batchSize). */
  batchSize: number;
  /** Ranking: positives per window scored against sampled candidates. Default 300. */
  rankPositivesPerWindow: number;
  /** Ranking: sampled candidate items per positive (uniform over items seen earlier). Default 99. */
  rankCandidates: number;
  /** Ranking cut-off K of HR@K and NDCG@K. Default 10. */
  rankK: number;
  /** Read at most this many events (after the schema's filters). Default: all. */
  maxEvents: number;
  /** Skip the run through the real services (in-process ways only). Default false. */
  skipServices: boolean;
  /** Seed of the ranking candidates' sampling. Default 12345. */
  rankSeed: number;
}

/** Flags every command that trains a kind's twin over a schema takes alike (eval, label-delays). */
export const TWIN_OPTIONS: Record<'config' | 'batch-size', OptionSpec> = {
  config: { type: 'string', value: 'FILE', help: 'JSON config over the schema\'s settings' },
  'batch-size': { type: 'integer', help: 'examples per training step', defaultText: 'worker.batchSize' },
};

export const EVAL_DEFAULTS: EvalOptions = {
  windows: 10, frozenFraction: 0.3, evalFromFraction: 0.3, epochs: 2, batchSize: 256,
  rankPositivesPerWindow: 300, rankCandidates: 99, rankK: 10, maxEvents: Infinity, skipServices: false, rankSeed: 12345,
};

const FLAGS: Record<string, keyof EvalOptions> = {
  windows: 'windows', 'frozen-fraction': 'frozenFraction', 'eval-from': 'evalFromFraction', epochs: 'epochs',
  'batch-size': 'batchSize', 'rank-positives': 'rankPositivesPerWindow', 'rank-candidates': 'rankCandidates',
  'rank-k': 'rankK', 'max-events': 'maxEvents', 'skip-services': 'skipServices', 'rank-seed': 'rankSeed',
};

/** Options from CLI flags (--max-events 20000 ...) over the defaults, checked. */
export function evalOptions(args: Record<string, string>): EvalOptions {
  const o: EvalOptions = { ...EVAL_DEFAULTS };
  for (const [flag, key] of Object.entries(FLAGS)) {
    const v = args[flag];
    if (v === undefined) continue;
    if (key === 'skipServices') o.skipServices = v === 'true';
    else (o as unknown as Record<string, number>)[key] = Number(v);
  }
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!int(o.windows, 2)) throw new ConfigError('--windows', 'must be an integer >= 2');
  if (!(o.frozenFraction > 0 && o.frozenFraction < 1)) throw new ConfigError('--frozen-fraction', 'must be in (0, 1)');
  if (!(o.evalFromFraction >= 0 && o.evalFromFraction < 1)) throw new ConfigError('--eval-from', 'must be in [0, 1)');
  if (!int(o.epochs, 1)) throw new ConfigError('--epochs', 'must be an integer >= 1');
  if (!int(o.batchSize, 1)) throw new ConfigError('--batch-size', 'must be an integer >= 1');
  if (!int(o.rankPositivesPerWindow, 0)) throw new ConfigError('--rank-positives', 'must be an integer >= 0');
  if (!int(o.rankCandidates, 1)) throw new ConfigError('--rank-candidates', 'must be an integer >= 1');
  if (!int(o.rankK, 1)) throw new ConfigError('--rank-k', 'must be an integer >= 1');
  if (!(o.maxEvents === Infinity || int(o.maxEvents, 1))) throw new ConfigError('--max-events', 'must be a positive integer');
  if (!int(o.rankSeed, 0)) throw new ConfigError('--rank-seed', 'must be an integer >= 0');
  return o;
}

/** Window of example i among n, for W windows of equal count: floor(i * W / n). */
export function windowOfExample(i: number, n: number, windows: number): number {
  return Math.floor((i * windows) / n);
}

/** First example index of window w: the smallest i with floor(i * W / n) >= w. */
export function windowStart(w: number, n: number, windows: number): number {
  return Math.ceil((w * n) / windows);
}

/** First window whose examples count in the overall figures (window 3 of 10 for 0.3). */
export function firstEvalWindow(o: Pick<EvalOptions, 'windows' | 'evalFromFraction'>): number {
  return Math.round(o.evalFromFraction * o.windows);
}

const BUCKET_CHOICES_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000,
  3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000, 7 * 86_400_000];

/**
 * The finest evalBucketMs for the workers' prequential histograms that keeps the number of
 * non-empty buckets at most `maxBuckets`: a histogram is 8 KiB, and the report assigns whole
 * buckets to windows, so finer buckets cut the windows closer to their exact example counts.
 */
export function chooseBucketMs(eventTs: Float64Array, maxBuckets = 4000): number {
  for (const ms of BUCKET_CHOICES_MS) {
    let n = 0;
    let last = NaN;
    const seen = new Set<number>();
    for (let i = 0; i < eventTs.length && n <= maxBuckets; i++) {
      const k = Math.floor(eventTs[i] / ms);
      if (k !== last && !seen.has(k)) { seen.add(k); n++; }
      last = k;
    }
    if (n <= maxBuckets) return ms;
  }
  return BUCKET_CHOICES_MS[BUCKET_CHOICES_MS.length - 1];
}
