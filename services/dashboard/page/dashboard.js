// The dashboard page: one EventSource on /v1/dashboard/stream, a snapshot a second, drawn with
// uPlot. Models, kinds, metrics and baselines all come from the snapshot: a new model kind
// shows up here without any change to this file. The newest snapshot and each chart's data
// are kept on window.flywheel for whoever inspects the page (the browser test reads them).
'use strict';

const COLOURS = ['#1d3557', '#e76f51', '#2a9d8f', '#e9c46a', '#8d5fd3', '#f4a261', '#6c757d', '#43aa8b'];
const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–'
  : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const fmtMetric = (x) => (x === null || x === undefined ? '–' : Number(x).toFixed(4));
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

const state = { snapshot: null, charts: {}, frames: 0 };
window.flywheel = state;

/** A chart that is rebuilt when its series change (a baseline appearing) and updated in place otherwise. */
class Chart {
  constructor(container, title, yLabel) {
    this.box = el('div', { class: 'chart' });
    this.box.append(el('h4', {}, title));
    this.plotBox = el('div');
    this.empty = el('div', { class: 'empty' }, 'waiting for the first figures…');
    this.box.append(this.plotBox, this.empty);
    container.append(this.box);
    this.yLabel = yLabel;
    this.key = '';
    this.plot = null;
    this.data = null;
  }

  /** names: series labels; data: [x[], ...ys[]]. */
  set(xLabel, names, data) {
    this.data = data;
    const hasPoints = data[0].length > 0 && data.slice(1).some((ys) => ys.some((y) => y !== null));
    this.empty.style.display = hasPoints ? 'none' : '';
    const key = `${xLabel}|${names.join('|')}`;
    if (!this.plot || key !== this.key) {
      if (this.plot) this.plot.destroy();
      this.key = key;
      const width = Math.max(420, this.box.clientWidth - 8);
      this.plot = new uPlot({
        width, height: 220,
        scales: { x: { time: false } },
        axes: [{ label: xLabel }, { label: this.yLabel, size: 60 }],
        series: [{ label: xLabel }, ...names.map((n, i) => ({
          label: n, stroke: COLOURS[i % COLOURS.length], width: i === 0 ? 2.5 : 1.5, spanGaps: true,
          points: { show: data[0].length < 40 },
        }))],
      }, data, this.plotBox);
    } else {
      this.plot.setData(data);
    }
  }
}

function modelSection(m) {
  const sec = el('section', { class: 'model', id: `model-${m.name}`, 'data-model': m.name });
  sec.append(el('h2', {}, `${m.name} — ${m.kind} (${m.metric.headline}, ${m.metric.higherIsBetter ? 'higher' : 'lower'} is better)`));
  const tiles = el('div', { class: 'tiles' });
  const tile = (id, label) => {
    const t = el('div', { class: 'tile' });
    t.append(el('div', { class: 'label' }, label), el('div', { class: 'value', 'data-testid': `${id}-${m.name}` }, '–'));
    tiles.append(t);
  };
  tile('headline', `${m.metric.headline}, latest window`);
  tile('best-baseline', 'best baseline, same window');
  tile('trained', 'events trained');
  tile('trained-rate', 'events/s trained');
  tile('freshness', 'freshness p50 / p99 (ms)');
  tile('lag', 'consumer lag (messages)');
  sec.append(tiles);
  const charts = el('div', { class: 'charts' });
  sec.append(charts);
  const c = {
    headline: new Chart(charts, `prequential ${m.metric.headline} by window (event time), with its baselines`, m.metric.headline),
    rates: new Chart(charts, 'events/s: ingested and trained', 'events/s'),
    lag: new Chart(charts, 'consumer lag per event shard, summed (messages)', 'messages'),
    freshness: new Chart(charts, 'freshness at inference: event accepted → its weights applied (ms)', 'ms'),
  };
  const row = el('div', { class: 'row' });
  const ps = el('div');
  ps.append(el('h3', {}, 'PS shards'));
  const psTable = el('table', { 'data-testid': `ps-${m.name}` });
  psTable.innerHTML = '<thead><tr><th>shard</th><th>version</th><th>persisted</th><th>epoch</th><th>lr factor</th><th>served</th></tr></thead><tbody></tbody>';
  ps.append(psTable);
  const gate = el('div');
  gate.append(el('h3', {}, 'Gate decisions and rollbacks'));
  const gateSummary = el('div', { 'data-testid': `gate-${m.name}` }, 'no validator reporting (gate off)');
  const gateTable = el('table');
  gateTable.innerHTML = '<thead><tr><th>at</th><th>decision</th><th>candidate</th><th>serving</th><th>reason</th></tr></thead><tbody></tbody>';
  gate.append(gateSummary, gateTable);
  row.append(ps, gate);
  sec.append(row);
  document.getElementById('models').append(sec);
  return { sec, c, psTable, gateSummary, gateTable };
}

const sections = {};

function setText(testid, text, cls) {
  const e = document.querySelector(`[data-testid="${testid}"]`);
  if (!e) return;
  e.textContent = text;
  if (cls !== undefined) e.className = `value ${cls}`;
}

function render(s) {
  state.snapshot = s;
  state.frames++;
  const alive = s.processes.filter((p) => p.alive).length;
  setText('ingest-rate', fmt(s.ingest.eventsPerSec));
  setText('ingest-total', fmt(s.ingest.eventsAccepted));
  setText('alive', `${alive} of ${s.processes.length}`);
  document.getElementById('uptime').textContent = `${fmt((s.atMs - s.startedAtMs) / 1000)} s`;
  for (const m of s.models) {
    const v = sections[m.name] ?? (sections[m.name] = modelSection(m));
    const better = (a, b) => (m.metric.higherIsBetter ? a > b : a < b);
    const baselines = Object.entries(m.latest?.baselines ?? {}).map(([n, f]) => [n, f[m.metric.headline]]).filter(([, x]) => x !== null);
    const best = baselines.reduce((acc, cur) => (acc === null || better(cur[1], acc[1]) ? cur : acc), null);
    const h = m.latest?.model ?? null;
    setText(`headline-${m.name}`, fmtMetric(h), h !== null && best ? (better(h, best[1]) ? 'better' : 'worse') : '');
    setText(`best-baseline-${m.name}`, best ? `${fmtMetric(best[1])} (${best[0]})` : '–');
    setText(`trained-${m.name}`, fmt(m.eventsTrained));
    setText(`trained-rate-${m.name}`, fmt(m.eventsPerSecTrained));
    setText(`freshness-${m.name}`, `${fmt(m.freshness.p50Ms)} / ${fmt(m.freshness.p99Ms)}`);
    setText(`lag-${m.name}`, m.lagByShard.every((x) => x === null) ? '–' : `${fmt(m.lagByShard.reduce((a, x) => a + (x ?? 0), 0))} (${m.lagByShard.map((x) => fmt(x)).join(' / ')})`);

    const names = Object.keys(m.windows.baselines);
    const xs = m.windows.model.map((_, i) => i + 1);
    v.c.headline.set('window', ['model', ...names], [xs, m.windows.model, ...names.map((n) => m.windows.baselines[n])]);
    v.c.rates.set('s since start', ['trained', 'ingested'], [s.timeline.t, m.series.trainedPerSec, s.timeline.ingestPerSec]);
    v.c.lag.set('s since start', ['lag'], [s.timeline.t, m.series.lag]);
    v.c.freshness.set('s since start', ['p50', 'p99'], [s.timeline.t, m.series.freshnessP50Ms, m.series.freshnessP99Ms]);
    state.charts[m.name] = Object.fromEntries(Object.entries(v.c).map(([k, c]) => [k, c.data]));

    v.psTable.tBodies[0].replaceChildren(...m.psShards.map((p) => {
      const tr = el('tr');
      for (const x of [p.shard, p.alive ? fmt(p.version) : 'down', fmt(p.persistedVersion), fmt(p.epoch), p.lrFactor === null ? '–' : p.lrFactor.toPrecision(3), m.servedVersions ? fmt(m.servedVersions[p.shard]) : '–']) tr.append(el('td', {}, String(x)));
      return tr;
    }));
    if (m.gate) {
      v.gateSummary.textContent = `${m.gate.accepted} accepted, ${m.gate.rejected} rejected, ${m.gate.rollbacks} rollbacks`;
      v.gateTable.tBodies[0].replaceChildren(...m.gate.decisions.slice(-8).reverse().map((d) => {
        const tr = el('tr');
        for (const x of [new Date(d.at).toLocaleTimeString(), d.accepted ? 'accepted' : 'rejected', fmtMetric(d.candidate), fmtMetric(d.serving), d.reason]) tr.append(el('td', {}, String(x)));
        return tr;
      }));
    }
  }
  document.querySelector('#processes tbody').replaceChildren(...s.processes.map((p) => {
    const tr = el('tr');
    const st = !p.alive ? ['gone', `gone (${fmt(p.lastSeenMsAgo / 1000)} s)`] : p.ready ? ['alive', 'ready'] : ['notready', `not ready: ${p.notReady}`];
    const figures = Object.entries(p.stats).filter(([k]) => !k.startsWith('servedVersion')).map(([k, x]) => `${k} ${x === null ? '–' : fmt(x, Number.isInteger(x) ? 0 : 3)}`).join(', ');
    for (const [x, cls] of [[p.model], [p.service], [p.instance], [st[1], st[0]], [`${fmt(p.upMs / 1000)} s`], [figures]]) tr.append(el('td', cls ? { class: cls } : {}, String(x)));
    return tr;
  }));
  const status = document.getElementById('status');
  status.textContent = `live · snapshot ${new Date(s.atMs).toLocaleTimeString()}`;
  status.className = 'ok';
}

function connect() {
  const es = new EventSource('/v1/dashboard/stream');
  let last = Date.now();
  es.onmessage = (e) => { last = Date.now(); render(JSON.parse(e.data)); };
  // EventSource reconnects by itself; say so when the snapshots stop.
  setInterval(() => {
    if (Date.now() - last > 5000) {
      const status = document.getElementById('status');
      status.textContent = `no snapshot for ${Math.round((Date.now() - last) / 1000)} s (is the system running?)`;
      status.className = 'stale';
    }
  }, 1000);
}
connect();
