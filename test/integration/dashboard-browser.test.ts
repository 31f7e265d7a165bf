// The live dashboard in a real browser during a short real replay: ingest, a PS shard, two
// workers, inference and the dashboard as processes over NATS and Redis, Online Retail events
// sent in two halves while headless Chromium has the page open. The page's figures must move
// between the halves and, once training is quiet, equal what the services themselves say:
// inference's /v1/model (served versions), the workers' /metrics (events trained) and the
// dashboard's own gauges. A screenshot is left in reports/.
import t from 'tap';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, type FlywheelEvent } from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';
import { integrationConfig, postEvents, uniqueModel } from '../helpers/integration.ts';
import { chromiumMissing, launchChromium } from '../helpers/chromium.ts';

const N_EVENTS = 16_000;

interface PageFigures {
  frames: number;
  trained: number;
  trainedText: string;
  headlineText: string;
  windows: (number | null)[];
  timeline: number;
  maxRate: number;
  servedVersions: (number | null)[] | null;
  processesAlive: number;
}

/** What the page shows of model m: its snapshot and its charts' data (window.flywheel), and the texts on screen. */
const READ_PAGE = `function (m) {
  const s = window.flywheel;
  const snap = s.snapshot;
  const mm = snap && snap.models.find((x) => x.name === m);
  const text = (id) => (document.querySelector('[data-testid="' + id + '-' + m + '"]') || {}).textContent || '';
  const charts = s.charts[m] || {};
  return {
    frames: s.frames, trained: mm ? mm.eventsTrained : 0, trainedText: text('trained'), headlineText: text('headline'),
    windows: charts.headline ? charts.headline[1] : [], timeline: charts.rates ? charts.rates[0].length : 0,
    maxRate: Math.max(0, ...(charts.rates ? charts.rates[1] : []).filter((x) => x !== null)),
    servedVersions: mm ? mm.servedVersions : null, processesAlive: snap ? snap.processes.filter((p) => p.alive).length : 0,
  };
}`;

t.test('the dashboard shows the run live and agrees with the services', { skip: chromiumMissing() }, async (t) => {
  const id = uniqueModel('dash');
  const { cfg: assigned, dir } = await integrationConfig('dash', {
    model: undefined, stream: id,
    models: [{ name: `${id}_ctr`, kind: 'ctr', settings: { labels: { kind: 'implicit', negatives: 2 }, fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4 } }],
    psShards: 1, workers: 2, eventShards: 2,
    ps: { publishIntervalMs: 50 },
    worker: { leaseTtlMs: 0, metricsIntervalMs: 200, evalBucketMs: 86_400_000 },
  });
  const cluster = await startLocalCluster(assigned, { embedded: false, logDir: dir, dashboard: true });
  const browser = await launchChromium();
  t.teardown(async () => {
    await browser.close();
    await cluster.stop();
    await resetModel(assigned).catch(() => undefined);
  });
  const model = cluster.models[0].name;
  t.ok(cluster.dashboardUrl, `dashboard at ${cluster.dashboardUrl}`);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(cluster.dashboardUrl!);

  // Page code goes in as text: the test runner's compiler would wrap a function in helpers
  // that exist only on this side.
  const read = () => page.evaluate(`(${READ_PAGE})(${JSON.stringify(model)})`) as Promise<PageFigures>;
  const pageShows = (what: string, ok: (f: PageFigures) => boolean, ms = 120_000) =>
    Promise.race([waitFor(async () => ok(await read()), ms, `the page to show ${what}`, 100), cluster.failed]);
  await page.waitForFunction('window.flywheel && window.flywheel.frames > 0', undefined, { timeout: 30_000 });

  const events: FlywheelEvent[] = [];
  for await (const b of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: N_EVENTS })) events.push(...b);
  const half = Math.floor(events.length / 2);
  await postEvents(t, cluster.ingestUrl, events.slice(0, half));
  await pageShows(`${half} events trained`, (f) => f.trained >= half);
  const a = await read();
  await postEvents(t, cluster.ingestUrl, events.slice(half));
  // The counters go out before every ack, the bucket states every metricsIntervalMs: wait for
  // both, or the charts can be read a report short of the count.
  await pageShows(`${events.length} events trained and a window of AUC`, (f) => f.trained >= events.length && f.windows.some((x) => x !== null));
  const b = await read();
  t.equal(b.trained, events.length, `the page counts every event trained (${b.trained}), once`);
  t.ok(b.frames > a.frames && b.timeline > a.timeline, `new snapshots kept coming (${a.frames} -> ${b.frames} frames, ${a.timeline} -> ${b.timeline} samples)`);
  t.ok(b.trainedText !== a.trainedText, `the events trained shown moved: ${a.trainedText} -> ${b.trainedText}`);
  t.ok(b.maxRate > 0, `the events/s chart drew a training rate (peak ${Math.round(b.maxRate)}/s)`);
  const auc = b.windows.filter((x): x is number => x !== null);
  t.ok(auc.length >= 1 && auc.every((x) => x > 0 && x < 1), `the AUC chart has ${auc.length} windows in (0, 1): ${auc.map((x) => x.toFixed(3)).join(' ')}`);
  t.ok(b.processesAlive >= 6, `${b.processesAlive} processes alive (PS shard, 2 workers, inference, ingest, dashboard)`);

  // Quiet now: the page must converge to exactly what the services say.
  const modelInfo = async () => (await (await fetch(`${cluster.models[0].inferenceUrl}/v1/model`)).json()) as { versions: number[] };
  await Promise.race([waitFor(async () => JSON.stringify((await read()).servedVersions) === JSON.stringify((await modelInfo()).versions), 30_000, 'the page to show the versions inference serves', 100), cluster.failed]);
  const served = await read();
  t.same(served.servedVersions, (await modelInfo()).versions, `served versions ${JSON.stringify(served.servedVersions)}, as /v1/model says`);
  t.ok(served.servedVersions!.every((v) => v !== null && v > 0), 'inference serves trained weights');

  const workerTrained = async () => {
    let n = 0;
    for (let i = 0; i < 2; i++) {
      const text = await (await fetch(`http://127.0.0.1:${cluster.cfg.workerMetricsBasePort + i}/metrics`)).text();
      n += Number(/^fw_worker_events_trained_total\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? NaN);
    }
    return n;
  };
  t.equal(await workerTrained(), served.trained, `the workers' /metrics count ${served.trained} events trained, as the page does`);

  // The figures are merged again every 5 s after the last report: wait for page and gauge to settle.
  const gaugesText = async () => (await fetch(`${cluster.dashboardUrl}metrics`)).text();
  const headlineOf = (text: string) => Number(new RegExp(`^fw_model_headline\\{[^}]*model="${model}"[^}]*scorer="model"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  await waitFor(async () => Math.abs(headlineOf(await gaugesText()) - Number((await read()).headlineText)) < 5e-5, 20_000, 'the page and the gauge to show one AUC', 200).catch(() => undefined);
  const gauges = await gaugesText();
  const headlineGauge = headlineOf(gauges);
  const shownHeadline = Number((await read()).headlineText);
  t.ok(Number.isFinite(headlineGauge) && Math.abs(headlineGauge - shownHeadline) < 5e-5, `the page's latest-window AUC ${shownHeadline} is the dashboard's gauge ${headlineGauge}`);
  t.match(gauges, new RegExp(`fw_eventlog_consumer_lag\\{[^}]*model="${model}"[^}]*shard="1"[^}]*\\} 0`), 'the lag gauge of shard 1 reads 0 once all is trained');
  t.match(gauges, /fw_dashboard_process_up\{[^}]*service="inference"[^}]*\} 1/, 'inference is up');

  mkdirSync(join(REPO_ROOT, 'reports'), { recursive: true });
  const shot = join(REPO_ROOT, 'reports', 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.comment(`screenshot: ${shot}`);
  t.same(pageErrors, [], 'no script error on the page');
});

// The load-test report is static HTML with inline SVG charts; with few samples its freshness
// chart used to render empty although the JSON had values. Rendered by the browser here.
t.test('the load-test report\'s charts render their samples in the browser', { skip: chromiumMissing() }, async (t) => {
  const { writeReport } = await import('../../loadtest/report.ts');
  const dir = mkdtempSync(join(tmpdir(), 'fw-report-'));
  const point = (tSec: number, p50: number | null, p99: number | null) => ({
    tSec, acceptedClient: 100 * tSec, acceptedServer: 100 * tSec, trained: 90 * tSec, acceptedClientPerSec: 100, acceptedServerPerSec: 100, trainedPerSec: 90,
    backlogMessages: [1, 2], backlogEvents: 10, versions: [tSec], modelAgeMs: 300, freshnessP50Ms: p50, freshnessP99Ms: p99,
    inferenceCount: 10, inferenceP50Ms: 2, inferenceP99Ms: 5, inferenceP999Ms: 9, pushRttP50Ms: 4, pushRttP99Ms: 12, errors: 0, loadAvg1m: 0,
  });
  const { html } = writeReport(dir, { mode: 'full' }, [point(1, null, null), point(2, 310, 900), point(3, 320, null)], []);
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`file://${html}`);
  // Each chart: its title and how many drawn marks (lines and markers) have a visible size.
  const charts = await page.evaluate(`[...document.querySelectorAll('svg')].map((svg) => ({
    title: svg.textContent,
    drawn: [...svg.querySelectorAll('path, circle')].filter((e) => { const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length,
  }))`) as { title: string; drawn: number }[];
  const freshness = charts.find((c) => c.title.includes('Freshness: event accepted'));
  t.ok(freshness, `the report has a freshness chart (charts: ${charts.length})`);
  t.ok(freshness!.drawn >= 3, `the freshness chart draws its samples: ${freshness!.drawn} visible marks (p50 line + 2 markers, p99 marker)`);
  t.ok(charts.every((c) => c.drawn > 0), `every chart, each with samples, draws something (${charts.map((c) => c.drawn).join(', ')})`);
});
