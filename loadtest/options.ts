// The options of `flywheel loadtest`: one defaults object, parsed from --name value flags and
// validated once, failing fast with the flag's name.
import type { CommandSpec } from '../shared/index.ts';
import { DATASETS, type DatasetName } from './sources.ts';

export interface LoadtestOptions {
  /** --data: which real traffic to replay. Default retail (the demo's Online Retail data). */
  data: DatasetName;
  /** --rate: events/s sent to ingest. Default 5000 (the freshness target's load); ignored with --speedup. */
  ratePerSec: number;
  /** --speedup: replay at X times the events' own pace instead of a fixed rate. Default: off. */
  speedup?: number;
  /**
   * --capacity-fraction: find the training capacity first (a phase of --saturate seconds sent
   * faster than the cluster trains), then load at this fraction of it instead of --rate. Default: off.
   */
  capacityFraction?: number;
  /** --saturate: at most this many seconds for the capacity phase's ramp. Default 60. */
  saturateSec: number;
  /** --duration: seconds of load. Default 60 (20 with --ingest-only); with --events alone, up to 3600. */
  durationSec: number;
  /** --events: stop after this many events. Default: no bound. */
  maxEvents?: number;
  /** --predict-rate: inference requests/s, open loop. Default 50; 0 for none. */
  predictRatePerSec: number;
  /** --ps-shards. Default 2. */
  psShards: number;
  /** --workers. Default 2. */
  workers: number;
  /** --batch: events per POST. Default 500 (1000 with --ingest-only). */
  batchEvents: number;
  /** --concurrency: POSTs in flight. Default 4 (16 with --ingest-only). */
  concurrency: number;
  /** --drain: after the load, seconds to wait for training to catch up. Default 10. */
  drainSec: number;
  /** --sample-interval: ms between samples of the system. Default 1000. */
  sampleIntervalMs: number;
  /** --progress-every: seconds between progress lines. Default 5. */
  progressEverySec: number;
  /** --ingest-only: no workers, PS or inference; ingest pushed as hard as it goes. Default false. */
  ingestOnly: boolean;
  /** --pool: events cycled through in the ingest-only mode. Default 200000. */
  poolEvents: number;
  /** --config: a Flywheel config file under the load test's own settings. Default: none. */
  config?: string;
  /** --out: report directory. Default reports/loadtest-<timestamp>. */
  outDir?: string;
}

export class LoadtestOptionError extends Error {
  override name = 'LoadtestOptionError';
  constructor(readonly option: string, message: string) {
    super(`--${option} ${message}`);
  }
}

/** The flags of `flywheel loadtest` (types and help; ranges and the defaults that depend on --ingest-only are checked below). */
export const loadtestSpec: CommandSpec = {
  name: 'loadtest',
  summary: 'replay traffic through a local cluster and measure throughput, backlog, freshness and inference latency',
  options: {
    data: { type: 'string', choices: DATASETS, help: 'which real traffic to replay', default: 'retail' },
    rate: { type: 'number', value: 'EVENTS/S', help: 'events/s sent to ingest (ignored with --speedup)', defaultText: '5000' },
    speedup: { type: 'number', value: 'X', help: 'replay at X times the events\' own pace instead of a fixed rate' },
    'capacity-fraction': { type: 'number', value: 'F', help: 'measure the training capacity first, then load at F (0-1] of it instead of --rate' },
    saturate: { type: 'number', value: 'S', help: 'at most this many seconds for the capacity phase of --capacity-fraction (a rising rate until training saturates)', defaultText: '60' },
    duration: { type: 'number', value: 'S', help: 'seconds of load', defaultText: '60; 20 with --ingest-only; 3600 with --events alone' },
    events: { type: 'integer', value: 'N', help: 'stop after N events' },
    'predict-rate': { type: 'number', value: 'REQ/S', help: 'inference requests/s, open loop; 0 for none', defaultText: '50' },
    'ps-shards': { type: 'integer', help: 'PS shards', defaultText: '2' },
    workers: { type: 'integer', help: 'workers', defaultText: '2' },
    batch: { type: 'integer', help: 'events per POST', defaultText: '500; 1000 with --ingest-only' },
    concurrency: { type: 'integer', help: 'POSTs in flight', defaultText: '4; 16 with --ingest-only' },
    drain: { type: 'number', value: 'S', help: 'after the load, seconds to wait for training to catch up', defaultText: '10' },
    'sample-interval': { type: 'integer', value: 'MS', help: 'ms between samples of the system', defaultText: '1000' },
    'progress-every': { type: 'number', value: 'S', help: 'seconds between progress lines', defaultText: '5' },
    'ingest-only': { type: 'boolean', help: 'ingest alone, pushed as hard as it goes' },
    pool: { type: 'integer', help: 'events cycled through with --ingest-only', defaultText: '200000' },
    config: { type: 'string', value: 'FILE', help: 'Flywheel config under the load test\'s own settings' },
    out: { type: 'string', value: 'DIR', help: 'report directory', defaultText: 'reports/loadtest-<time>' },
  },
};

const KNOWN = new Set(Object.keys(loadtestSpec.options));

function num(args: Record<string, string>, name: string, dflt: number, check: (n: number) => boolean, what: string): number {
  if (args[name] === undefined) return dflt;
  const n = Number(args[name]);
  if (args[name].trim() === '' || !check(n)) throw new LoadtestOptionError(name, `must be ${what}, got ${JSON.stringify(args[name])}`);
  return n;
}

const positive = (n: number) => Number.isFinite(n) && n > 0;
const posInt = (n: number) => Number.isInteger(n) && n > 0;
const nonNegative = (n: number) => Number.isFinite(n) && n >= 0;
const intIn = (lo: number, hi: number) => (n: number) => Number.isInteger(n) && n >= lo && n <= hi;

export function parseLoadtestOptions(args: Record<string, string>): LoadtestOptions {
  for (const k of Object.keys(args)) if (!KNOWN.has(k)) throw new LoadtestOptionError(k, 'is not an option of loadtest');
  const data = (args.data ?? 'retail') as DatasetName;
  if (!DATASETS.includes(data)) throw new LoadtestOptionError('data', `must be one of ${DATASETS.join(', ')}`);
  const ingestOnly = args['ingest-only'] === 'true';
  if (args['ingest-only'] !== undefined && !['true', 'false'].includes(args['ingest-only'])) {
    throw new LoadtestOptionError('ingest-only', 'takes no value');
  }
  const maxEvents = args.events === undefined ? undefined : num(args, 'events', 0, posInt, 'a positive integer');
  // --events alone bounds the run by count; a time bound still stops a run that cannot finish.
  const dfltDuration = maxEvents !== undefined && args.duration === undefined ? 3600 : ingestOnly ? 20 : 60;
  const o: LoadtestOptions = {
    data,
    ratePerSec: num(args, 'rate', 5000, positive, 'events/s > 0'),
    speedup: args.speedup === undefined ? undefined : num(args, 'speedup', 1, positive, 'a factor > 0'),
    capacityFraction: args['capacity-fraction'] === undefined ? undefined
      : num(args, 'capacity-fraction', 0.6, (n) => n > 0 && n <= 1, 'a fraction in (0, 1]'),
    saturateSec: num(args, 'saturate', 60, (n) => n >= 8 && n <= 600, 'seconds in [8, 600]'),
    durationSec: num(args, 'duration', dfltDuration, (n) => positive(n) && n <= 86_400, 'seconds in (0, 86400]'),
    maxEvents,
    predictRatePerSec: num(args, 'predict-rate', ingestOnly ? 0 : 50, (n) => nonNegative(n) && n <= 20_000, 'requests/s in [0, 20000]'),
    psShards: num(args, 'ps-shards', 2, intIn(1, 64), 'an integer in 1..64'),
    workers: num(args, 'workers', 2, intIn(1, 64), 'an integer in 1..64'),
    batchEvents: num(args, 'batch', ingestOnly ? 1000 : 500, intIn(1, 10_000), 'an integer in 1..10000'),
    concurrency: num(args, 'concurrency', ingestOnly ? 16 : 4, intIn(1, 1024), 'an integer in 1..1024'),
    drainSec: num(args, 'drain', 10, (n) => nonNegative(n) && n <= 3600, 'seconds in [0, 3600]'),
    sampleIntervalMs: num(args, 'sample-interval', 1000, intIn(100, 60_000), 'ms in 100..60000'),
    progressEverySec: num(args, 'progress-every', 5, positive, 'seconds > 0'),
    ingestOnly,
    poolEvents: num(args, 'pool', 200_000, intIn(1000, 5_000_000), 'an integer in 1000..5000000'),
    config: args.config,
    outDir: args.out,
  };
  if (ingestOnly && (args.rate !== undefined || args.speedup !== undefined)) {
    throw new LoadtestOptionError('ingest-only', 'sends as fast as ingest answers: it takes no --rate or --speedup');
  }
  if (o.capacityFraction !== undefined && (ingestOnly || args.rate !== undefined || args.speedup !== undefined)) {
    throw new LoadtestOptionError('capacity-fraction', 'sets the rate from the measured capacity: it takes no --rate, --speedup or --ingest-only');
  }
  if (args.saturate !== undefined && o.capacityFraction === undefined) throw new LoadtestOptionError('saturate', 'is the capacity phase of --capacity-fraction');
  if (ingestOnly && o.predictRatePerSec > 0) throw new LoadtestOptionError('predict-rate', 'needs an inference node: not with --ingest-only');
  return o;
}

/** The settings as reported (the JSON line and report.json). */
export function settingsOf(o: LoadtestOptions, model: string, eventShards: number): Record<string, unknown> {
  return {
    mode: o.ingestOnly ? 'ingest-only' : 'full', data: o.data, model,
    ratePerSec: o.ingestOnly || o.speedup ? null : o.ratePerSec, speedup: o.speedup ?? null,
    capacityFraction: o.capacityFraction ?? null,
    durationSec: o.durationSec, maxEvents: o.maxEvents ?? null, predictRatePerSec: o.predictRatePerSec,
    psShards: o.ingestOnly ? 0 : o.psShards, workers: o.ingestOnly ? 0 : o.workers, eventShards,
    batchEvents: o.batchEvents, concurrency: o.concurrency,
  };
}
