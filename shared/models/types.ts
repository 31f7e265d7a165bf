// The learning boundary: everything that knows a model — its parameters, how events become
// examples, the loss, the prequential metric, the baselines it must beat, what inference
// serves — sits behind ModelKind, one folder per kind under shared/models/. Worker, inference,
// validator, evaluation and config know only these interfaces; the parameter plane (ParamSpec,
// PS shards, protocol, replica) knows no model at all.
//
// A kind comes in two parts so that processes that only move parameters (PS shards, ingest)
// never load TensorFlow.js: ModelKindSpec (config, parameters, shard key) and ModelKind, which
// adds the model, the example source, the metric and serving.
import type { z } from 'zod';
import type { FlywheelEvent } from '../events.ts';
import type { ParamSpec } from '../param-spec.ts';
import type { WeightDelta } from '../protocol.ts';
import type { Batch, BatchShape } from './batch.ts';

/** Where a model reads its current weights: a Replica, a checkpoint, local parameters. */
export interface WeightSource {
  /** The dense tensor `name`, row-major in its spec shape. Read, never modified. */
  dense(name: string): Float32Array;
  /** Writes rows `rowIds` of `table` into out[0 .. rowIds.length * dim), row after row. */
  readRows(table: string, rowIds: Int32Array, out: Float32Array): void;
  /** Slot `slot` of rows of a table whose slots this source keeps (a reader keeps the
   *  readable ones: the counter's lastTsHi / lastTsLo), written like readRows. */
  readSlots?(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void;
  /** Rows of a counter table decayed to `nowMs` (event time, ms), written like readRows. */
  readAt?(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void;
  /** The rows of `table` this source holds (trained at least once), in the order they came;
   *  a view, valid until the source changes. A retrieval catalogue is read from it. */
  heldRows?(table: string): Int32Array;
}

export interface TableGrad {
  /** The unique rows the batch touched. */
  rows: Int32Array;
  /** rows.length x dim gradients, row after row. */
  grads: Float32Array;
}

export interface StepResult {
  /** predictionWidth values per example, from the weights BEFORE this step (the prequential test). */
  predictions: Float32Array;
  /** Mean loss of the batch. */
  loss: number;
  /** Gradient of every dense tensor the model has, row-major in its spec shape. */
  dense: Map<string, Float32Array>;
  /** Per table: gradients of the rows this batch touched. */
  sparse: Map<string, TableGrad>;
}

/** The model itself; tfjs (or plain loops) stays behind it. */
export interface TrainableModel {
  /** Values predicted per example (1 for a probability or a regression). */
  readonly predictionWidth: number;
  /**
   * Predicts with the current weights, then returns the gradients of the batch's loss. With
   * `scores: false` the caller drops the predictions (a retrain's pass over the past): a kind
   * whose predictions cost more than the step (ranking a catalogue) may leave them NaN.
   */
  trainStep(b: Batch, w: WeightSource, opts?: { scores?: boolean }): StepResult;
  /** Predictions with the given weights; targets are not read. */
  predict(b: Batch, w: WeightSource): Float32Array;
}

/**
 * Turns events into examples. It may keep state (popularity for negatives, per-item day
 * totals) and may emit examples later than the events that made them (a day's aggregate when
 * the day closes, a label that arrives later): push() returns whatever is ready now.
 */
export interface ExampleSource {
  readonly shape: BatchShape;
  /** Examples one event makes on average at most: the worker batches events by it. */
  readonly examplesPerEvent: number;
  push(events: readonly FlywheelEvent[]): Batch;
  /** Examples still held back (end of a replay); none by default. */
  flush?(): Batch;
  /**
   * The source's state follows the event shard (a demand source's item days, which close on
   * the first event of the next day in the shard's own order): the worker keeps one source per
   * event shard it reads, rebuilds it from the log when it takes the shard (after a crash, or
   * from the previous owner), drops it when it gives the shard up, and never pushes a
   * redelivered message it already holds.
   */
  readonly stateByShard?: boolean;
  /**
   * What the source has seen so far, as counts (bad labels, outcomes joined, pending examples,
   * examples dropped at a cap...): the worker exports them, summed over its shards' sources.
   */
  counters?(): Record<string, number>;
  /** Drops what the source holds of a forgotten user (their history, examples waiting for a label). */
  forgetUser?(userId: string): void;
}

/** Plain data (msgpack-able), so a metric's state travels in worker reports and merges. */
export type MetricState = Record<string, unknown>;

/** A prequential figure over examples scored before they were trained on. */
export interface MetricAccumulator {
  /** Examples [from, to) of the batch with their predictions (predictionWidth each, same indices). */
  add(predictions: Float32Array, b: Batch, from: number, to: number): void;
  /** Merging the states of several accumulators gives the accumulator of all their examples. */
  state(): MetricState;
  merge(s: MetricState): void;
  readonly count: number;
  /** Every figure, the headline among them (NaN where undefined, e.g. AUC of one class). */
  figures(): Record<string, number>;
  /** Counts beside `count` that say how much a figure rests on, e.g. positives of a 0/1 target. */
  counts?(): Record<string, number>;
  /**
   * Figures of a window that take something from the window before it in stream order (e.g.
   * F1 at the threshold chosen on the previous window: chosen before, applied after, as a
   * deployment would); `previous` is undefined for the first window. Kinds without such
   * figures leave it out. Always the same keys, NaN where undefined.
   */
  figuresAfter?(previous: MetricAccumulator | undefined): Record<string, number>;
}

export interface MetricDef {
  /** The figure the gate compares and reports lead with, e.g. 'auc' or 'wape'. */
  headline: string;
  /** AUC: true; WAPE, RMSE, logloss: false. */
  higherIsBetter: boolean;
  create(): MetricAccumulator;
}

/**
 * A simple yardstick (counting, popularity, a running mean...) that learns online from the
 * same examples and is scored by the same metric in the same run: a kind must beat it.
 */
export interface Baseline {
  readonly name: string;
  /** Predictions for the batch before learning from it (predictionWidth each). */
  predict(b: Batch): Float32Array;
  learn(b: Batch): void;
}

/**
 * Examples of the evaluation stream grouped one way (new vs returning users, item popularity):
 * `flywheel eval` scores each group with the kind's own metric.
 */
export interface EvalSegmentation {
  name: string;
  groups: readonly string[];
  /** Index into groups of each example of the stream. */
  groupOf: Uint8Array;
}

/**
 * Extra examples scored beside the stream, in sets (a positive and sampled candidates to rank
 * it against): set s is scored by a way's weights as they are when they score stream example
 * anchor[s], i.e. before that example is trained on, and the sets are summed up by figures().
 */
export interface EvalProbes {
  /** A name for the report, e.g. 'ranking'. */
  name: string;
  count: number;
  /** Examples per set. */
  size: number;
  /** Stream example of each set, increasing. */
  anchor: Int32Array;
  /** count x size examples, set after set (targets are not read). */
  batch: Batch;
  /** Figures over the sets that pass keep, from every set's predictions (size x predictionWidth each, set after set). */
  figures(predictions: Float32Array, keep: (set: number) => boolean): Record<string, number>;
  /** Per figure: true when higher is better. */
  higherIsBetter: Record<string, boolean>;
}

/** What `flywheel eval` hands a kind's evalExtras. */
export interface EvalExtrasInput {
  /** The events in stream order. */
  events: readonly FlywheelEvent[];
  /** The kind's examples of them: exampleSource(settings, seed).push in order, then flush(). */
  stream: Batch;
  /** Window of each example. */
  windowOf: Uint16Array;
  windows: number;
  /** Probe sets: how many per window at most, candidates per set, the cut-off K, the sampling seed. */
  probes: { perWindow: number; candidates: number; k: number; seed: number };
}

export interface EvalExtras {
  segments: EvalSegmentation[];
  probes?: EvalProbes;
  /** Lines for the report saying how the segments and probes were made. */
  notes: string[];
}

/** An HTTP route handler of the inference node: returns the JSON body; HttpError for 4xx. */
export type RouteHandler = (req: import('node:http').IncomingMessage, body: Buffer) => unknown | Promise<unknown>;

export interface ServingContext<C> {
  model: string;
  settings: C;
  spec: ParamSpec;
  predictor: TrainableModel;
  /** Largest number of examples one request may score (inference.maxBatch). */
  maxBatch: number;
  /** The weights to serve now: the serving pointer's checkpoint or the live replica. */
  weights(): WeightSource;
  /** Versions (and checkpoint) behind weights(), to put in every response. */
  versionInfo(): Record<string, unknown>;
}

/** What a kind adds to an inference node: routes, and state that follows the weight deltas. */
export interface ServingPlugin {
  /**
   * Queries only: a serving route computes an answer from the weights and changes no state, so
   * the inference node treats its POSTs as reads (http.authRoutes, shared/http-auth.ts); a kind
   * that needs a route that writes must not add it here.
   */
  routes: Record<string, RouteHandler>;
  /** How each of `routes` is called and answers, by the same keys: the node's /openapi.json. */
  docs?: import('../openapi.ts').RouteDocs;
  /** Called after every delta the live replica applied. */
  onDelta?(d: WeightDelta): void;
  /**
   * Events of every event shard, merged in event-time order, for a kind whose answers need the
   * recent history itself (demand: the items' days so far). The inference node reads the
   * event log (from the retained start, then live) only when a plugin has this.
   */
  onEvents?(events: readonly FlywheelEvent[]): void;
  /** Drops what the plugin keeps of a forgotten user (their recent items). */
  forgetUser?(userId: string): void;
  stop?(): void;
}

/** The event field whose hash picks the event shard: a user's (or an item's) events stay in order on one shard. */
export type ShardKey = 'user' | 'item';

/** The part of a kind that the parameter plane and config need: no tensors. */
export interface ModelKindSpec<C = unknown> {
  kind: string;
  /** One line for `--help` and docs. */
  description: string;
  /** The kind's settings with their defaults; errors name the option. */
  configSchema: z.ZodType<C>;
  paramSpec(model: string, seed: number, settings: C): ParamSpec;
  /** Default 'user'. */
  shardKey?: ShardKey;
  /** What the validation gate holds out of training: single events (default) or whole items. */
  holdout?: import('../events.ts').HoldoutUnit;
  /**
   * Forgetting a user (DELETE /v1/users/{id}): the rows keyed by the user, its id alone or
   * crossed with another field. `events` are the user's events still in the stream; `held`
   * lists a table's rows held now (e.g. every category row, for user x category crosses).
   * Rows every user shares (items, totals, dense tensors) keep the user's part of the
   * aggregate. Absent: the kind keeps no rows keyed by a user.
   */
  userRows?(settings: C, userId: string, events: readonly FlywheelEvent[], held: (table: string) => Promise<Int32Array>): UserRows[] | Promise<UserRows[]>;
}

/** Rows of one table that hold what one user taught the model. */
export interface UserRows { table: string; rows: number[] }

export interface ModelKind<C = unknown> extends ModelKindSpec<C> {
  exampleSource(settings: C, seed: number): ExampleSource;
  create(spec: ParamSpec, settings: C): TrainableModel;
  metric: MetricDef;
  baselines?(settings: C): Baseline[];
  /** What `flywheel eval` reports beyond the metric and baselines: segments, probe sets. */
  evalExtras?(settings: C, input: EvalExtrasInput): EvalExtras;
  serving?(ctx: ServingContext<C>): ServingPlugin;
}
