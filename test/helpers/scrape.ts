// Reading a test server from the outside: the sum of a metric from its /metrics, and the
// messages waiting in an event log.
import { parseMetrics } from '../../loadtest/prom.ts';
import type { EventLog } from '../../shared/index.ts';

/**
 * A reader of `base`/metrics: the sum of `name`'s samples whose labels include every
 * k="v" of `labels` (e.g. 'reason="overloaded"'); '' takes them all.
 */
export function metricReader(base: string): (name: string, labels?: string) => Promise<number> {
  return async (name, labels = '') => {
    const want = [...labels.matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((m) => [m[1], m[2]] as const);
    const samples = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    let sum = 0;
    for (const s of samples) if (s.name === name && want.every(([k, v]) => s.labels[k] === v)) sum += s.value;
    return sum;
  };
}

/** Messages waiting (published, not yet delivered) over the log's event shards. */
export async function pendingMessages(log: Pick<EventLog, 'backlog'>, eventShards: number): Promise<number> {
  let n = 0;
  for (let s = 0; s < eventShards; s++) n += (await log.backlog(s)).pending;
  return n;
}
