// Integration-test support: a config with its own model name (so subjects, the stream and
// Redis keys are the test's own), the real NATS and Redis, and cleanup in teardown.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, waitFor, type FlywheelConfig, type FlywheelEvent, type ReportAggregator } from '../../shared/index.ts';
import { resetModel, assignPorts } from '../../cluster/local-cluster.ts';

export function uniqueModel(name: string): string {
  return `t_${name}_${randomBytes(3).toString('hex')}`;
}

export async function integrationConfig(name: string, overrides: Record<string, unknown> = {}): Promise<{ cfg: FlywheelConfig; file: string; dir: string }> {
  // The machine's Redis may keep nothing on disk: tests say they accept that.
  const ps = { volatileStore: 'allow', ...((overrides.ps as object | undefined) ?? {}) };
  const cfg = await assignPorts(loadConfig({ overrides: { model: uniqueModel(name), ...overrides, ps } }));
  const dir = mkdtempSync(join(tmpdir(), `fw-${name}-`));
  const file = join(dir, 'flywheel.json');
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return { cfg, file, dir };
}

/** Posts events to ingest in requests of `per`, asserting each is accepted (one tap assertion per request, no diagnostics). */
export async function postEvents(t: { equal: (a: unknown, b: unknown, msg: string, extra: object) => unknown }, ingestUrl: string, events: readonly FlywheelEvent[], per = 500): Promise<void> {
  for (let i = 0; i < events.length; i += per) {
    const res = await fetch(`${ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + per)) });
    t.equal(res.status, 200, 'ingest accepts', { diagnostic: false });
  }
}

/** Resolves once the workers have reported `n` events trained; rejects if a service of the cluster died first. */
export function trainedEvents(agg: ReportAggregator, failed: Promise<never>, n: number, timeoutMs = 240_000): Promise<unknown> {
  return Promise.race([waitFor(() => agg.total('eventsTrained') >= n, timeoutMs, `${n} events trained`, 100), failed]);
}

/** Deletes the test model's stream and keys. */
export async function cleanupModel(cfg: FlywheelConfig): Promise<void> {
  await resetModel(cfg).catch(() => undefined);
}
