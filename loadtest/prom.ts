// Reading the services' /metrics (Prometheus text format) from the outside: counter values
// and histogram quantiles. The load test scrapes rather than asks the services for figures,
// so it measures what an operator's dashboard would show.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE_RE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) labels[l[1]] = l[2];
    // Prometheus writes +Inf / -Inf / NaN, which Number() reads except for +Inf.
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** Sum of a counter (or gauge) over all its label sets; 0 when absent. */
export function metricSum(samples: Sample[], name: string): number {
  let s = 0;
  for (const x of samples) if (x.name === name) s += x.value;
  return s;
}

/** Cumulative bucket counts by upper bound, summed over label sets (and scrapes of several processes). */
export type Buckets = Map<number, number>;

export function histogramBuckets(samples: Sample[], name: string, into: Buckets = new Map()): Buckets {
  for (const x of samples) {
    if (x.name !== `${name}_bucket` || x.labels.le === undefined) continue;
    const le = x.labels.le === '+Inf' ? Infinity : Number(x.labels.le);
    into.set(le, (into.get(le) ?? 0) + x.value);
  }
  return into;
}

/** later - earlier, bucket by bucket: the observations made between two scrapes. */
export function bucketsDelta(later: Buckets, earlier: Buckets | undefined): Buckets {
  const out: Buckets = new Map();
  for (const [le, c] of later) out.set(le, c - (earlier?.get(le) ?? 0));
  return out;
}

export function bucketsCount(b: Buckets): number {
  return b.get(Infinity) ?? 0;
}

/**
 * The q-quantile as Prometheus' histogram_quantile computes it: linear within the bucket that
 * holds the rank, the bucket's lower bound being the previous upper bound (0 for the first).
 * A rank in the +Inf bucket answers the highest finite bound: the histogram cannot say more,
 * so such a figure is a floor and is reported with that caveat. null when there is no sample.
 */
export function histogramQuantile(b: Buckets, q: number): number | null {
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const total = bucketsCount(b);
  if (total <= 0) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const c = b.get(le)!;
    if (c >= rank) {
      if (le === Infinity) return prevBound;
      const inBucket = c - prevCount;
      return inBucket > 0 ? prevBound + ((le - prevBound) * (rank - prevCount)) / inBucket : le;
    }
    prevBound = le;
    prevCount = c;
  }
  return prevBound;
}

/** Fetches and parses one /metrics page; undefined if the service does not answer. */
export async function scrape(url: string, timeoutMs = 2000): Promise<Sample[] | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? parseMetrics(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}
