// The figures of one way of training (or one baseline), from its prequential predictions: the
// kind's metric per window of the stream and overall (the evaluated tail), per segment of the
// kind's evalExtras, and the figures of its probe sets. Nothing here knows a kind.
import type { MetricAccumulator, MetricDef } from '../../shared/index.ts';
import { DelayedScores } from '../../shared/models/delayed-scores.ts';
import { firstEvalWindow, windowStart, type EvalOptions } from './protocol.ts';
import type { EvalStream } from './stream.ts';

/** A row of figures: the metric's (headline first) and the probes', plus the examples counted. */
export type Figures = Record<string, number>;

export interface WindowRow extends Figures {
  window: number;
  fromMs: number;
  toMs: number;
}

export interface WayFigures {
  overall: Figures;
  windows: WindowRow[];
  /** Per segmentation, per group: the metric over the evaluated part. */
  segments: Record<string, Record<string, Figures>>;
}

/**
 * The metric's figures with the headline first, after the counts they rest on (examples, and
 * the metric's own counts such as positives). A window in stream order passes the window
 * before it (`{ previous: undefined }` for the first) and also gets the metric's figuresAfter.
 */
export function figuresOf(metric: MetricDef, acc: MetricAccumulator, order?: { previous: MetricAccumulator | undefined }): Figures {
  const f = acc.figures();
  const after = order && acc.figuresAfter ? acc.figuresAfter(order.previous) : {};
  return { examples: acc.count, ...acc.counts?.(), [metric.headline]: f[metric.headline], ...f, ...after };
}

/** Names of the counts (not figures) in a row of figuresOf: shown as integers, not charted. */
export function countNames(metric: MetricDef): string[] {
  return ['examples', ...Object.keys(metric.create().counts?.() ?? {})];
}

/** Merges accumulators (by their states) into a new one. */
export function mergeAll(metric: MetricDef, accs: readonly MetricAccumulator[]): MetricAccumulator {
  const out = metric.create();
  for (const a of accs) out.merge(a.state());
  return out;
}

/**
 * Every figure of one way from its predictions of the stream (predictionWidth per example,
 * same order) and, when the kind has probe sets, its predictions of them.
 */
export function wayFigures(s: EvalStream, metric: MetricDef, scores: Float32Array, o: EvalOptions, probeScores?: Float32Array): WayFigures {
  const W = o.windows;
  // Examples with delayed targets count with the score they got when first emitted (their
  // first copy has NaN targets, which the metric skips).
  const predictions = s.examples.refs ? new DelayedScores(scores.length / s.size).pair(s.examples, scores).predictions : scores;
  const first = firstEvalWindow(o);
  const windowOf = scoredWindows(s);
  const perWindow = Array.from({ length: W }, () => metric.create());
  forRuns(s.size, (i) => windowOf[i], (w, i, j) => perWindow[w].add(predictions, s.examples, i, j));
  const segments: WayFigures['segments'] = {};
  for (const seg of s.extras.segments) {
    const accs = seg.groups.map(() => metric.create());
    // Over the evaluated part only: examples before it are keyed -1.
    forRuns(s.size, (i) => (windowOf[i] >= first ? seg.groupOf[i] : -1), (g, i, j) => { if (g >= 0) accs[g].add(predictions, s.examples, i, j); });
    segments[seg.name] = Object.fromEntries(seg.groups.map((g, k) => [g, figuresOf(metric, accs[k])]));
  }
  const probes = s.extras.probes;
  const probeFigures = (keep: (w: number) => boolean): Figures => (probes && probeScores
    ? probes.figures(probeScores, (set) => keep(s.window[probes.anchor[set]])) : {});
  const windows: WindowRow[] = perWindow.map((acc, w) => {
    const [fromMs, toMs] = windowSpan(s, w);
    return { window: w, fromMs, toMs, ...figuresOf(metric, acc, { previous: perWindow[w - 1] }), ...probeFigures((x) => x === w) };
  });
  const overall = { ...figuresOf(metric, mergeAll(metric, perWindow.slice(first))), ...probeFigures((x) => x >= first) };
  return { overall, windows, segments };
}

/** Calls add(key, from, to) for each run [from, to) of consecutive examples with the same key (one metric call per run). */
export function forRuns(n: number, keyOf: (i: number) => number, add: (key: number, from: number, to: number) => void): void {
  for (let i = 0; i < n;) {
    const k = keyOf(i);
    let j = i + 1;
    while (j < n && keyOf(j) === k) j++;
    add(k, i, j);
    i = j;
  }
}

/**
 * The window each example is counted in: its own, or, for one whose targets came later (a
 * ref), the window of its first copy, where its score was made. Labels that come back at
 * different delays (a conversion in seconds, a non-conversion when its window ends) are then
 * compared with scores made at the same time, not with scores made half an hour apart.
 */
export function scoredWindows(s: EvalStream): Uint16Array {
  const out = s.window.slice();
  const refs = s.examples.refs;
  if (!refs) return out;
  const T = s.examples.targetWidth;
  const firstAt = new Map<number, number>();
  for (let i = 0; i < s.size; i++) {
    const r = refs[i];
    if (r < 0) continue;
    if (Number.isNaN(s.examples.targets[i * T])) { if (!firstAt.has(r)) firstAt.set(r, i); continue; }
    const f = firstAt.get(r);
    if (f !== undefined) { out[i] = s.window[f]; firstAt.delete(r); }
  }
  return out;
}

/** Event time of the first and last example of window w. */
export function windowSpan(s: EvalStream, w: number): [number, number] {
  const a = windowStart(w, s.size, s.windows);
  const b = windowStart(w + 1, s.size, s.windows);
  return b > a ? [s.examples.eventTs[a], s.examples.eventTs[b - 1]] : [NaN, NaN];
}

/**
 * Window of each bucket of event time (key = floor(ts / bucketMs)): the window holding most
 * of the bucket's examples. The workers report metric states per bucket; this is how their
 * figures are cut into the same windows of example count as the in-process ways.
 */
export function bucketWindows(s: EvalStream, bucketMs: number, windows: number): Map<number, number> {
  const counts = new Map<number, Int32Array>();
  for (let i = 0; i < s.size; i++) {
    const k = Math.floor(s.examples.eventTs[i] / bucketMs);
    let c = counts.get(k);
    if (!c) counts.set(k, (c = new Int32Array(windows)));
    c[s.window[i]]++;
  }
  const out = new Map<number, number>();
  for (const [k, c] of counts) {
    let best = 0;
    for (let w = 1; w < windows; w++) if (c[w] > c[best]) best = w;
    out.set(k, best);
  }
  return out;
}
