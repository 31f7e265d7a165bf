// Reading a dataset by its schema: files (csv/tsv/ndjson, gzip, latin1), date formats, lookups,
// filters and features, into batches of FlywheelEvent. The schema's types and checks are in schema.ts.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { validateEvent, type EventType, type FlywheelEvent } from '../events.ts';
import { columnIndex, countDrop, newLoadStats, readCsvBatches, type LoadStats } from './csv.ts';
import { ROW_NUMBER, isObj, type ColumnRef, type DatasetSchema, type FilterSpec, type LookupSpec, type SchemaEventsOptions, type SourceSpec, type TimestampSpec, type DatePartsSpec } from './schema-types.ts';

const DATE_TOKENS: Record<string, { re: string; part: 'Y' | 'M' | 'D' | 'h' | 'm' | 's' | 'ms' }> = {
  YYYY: { re: '(\\d{4})', part: 'Y' }, MM: { re: '(\\d\\d)', part: 'M' }, DD: { re: '(\\d\\d)', part: 'D' },
  HH: { re: '(\\d\\d)', part: 'h' }, mm: { re: '(\\d\\d)', part: 'm' }, ss: { re: '(\\d\\d)', part: 's' },
  SSS: { re: '(\\d{3})', part: 'ms' },
};

/**
 * A parser for a date format of the tokens YYYY MM DD HH mm ss SSS and literal characters
 * (e.g. 'YYYY-MM-DD HH:mm:ss', 'DD/MM/YYYY HH:mm'), or 'iso' for ISO 8601. Dates without a zone
 * are read as UTC, so a replay does not depend on the machine's TZ. The parser returns NaN
 * for a string that does not match or a date that does not exist (2011-02-30).
 */
export function parseDateFormat(format: string): (s: string) => number {
  if (format === 'iso') return (s) => (/^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) || s.length <= 10 ? s : `${s}Z`) : NaN);
  const parts: string[] = [];
  let re = '^';
  for (let i = 0; i < format.length;) {
    const tok = ['YYYY', 'SSS', 'MM', 'DD', 'HH', 'mm', 'ss'].find((t) => format.startsWith(t, i));
    if (tok) { re += DATE_TOKENS[tok].re; parts.push(DATE_TOKENS[tok].part); i += tok.length; }
    else { re += format[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); i++; }
  }
  for (const need of ['Y', 'M', 'D']) if (!parts.includes(need)) throw new Error(`date format "${format}" has no ${need === 'Y' ? 'YYYY' : need === 'M' ? 'MM' : 'DD'}`);
  const rx = new RegExp(`${re}$`);
  return (s) => {
    const m = rx.exec(s);
    if (m === null) return NaN;
    const v: Record<string, number> = { Y: 0, M: 1, D: 1, h: 0, m: 0, s: 0, ms: 0 };
    parts.forEach((p, i) => { v[p] = +m[i + 1]; });
    if (v.h > 23 || v.m > 59 || v.s > 59) return NaN;
    const ms = Date.UTC(v.Y, v.M - 1, v.D, v.h, v.m, v.s, v.ms);
    // Date.UTC rolls 2011-02-30 over to March; a rolled date means a corrupt row.
    return new Date(ms).getUTCDate() === v.D && new Date(ms).getUTCMonth() === v.M - 1 ? ms : NaN;
  };
}

/**
 * One line on what reading a dataset kept and dropped, and why; and a warning when a file not
 * in time order was read without sortByTimestamp (a prequential replay would go back in time).
 */
export function loadSummary(schema: DatasetSchema, stats: LoadStats): string[] {
  const dropped = Object.entries(stats.dropped).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n.toLocaleString('en-US')} ${k}`);
  const lines = [`${schema.name}: read ${stats.rowsRead.toLocaleString('en-US')} rows, kept ${stats.kept.toLocaleString('en-US')}${dropped.length ? `; dropped ${dropped.join(', ')}` : ''}`];
  if ((stats.outOfOrder ?? 0) > 0 && schema.sortByTimestamp !== true) {
    lines.push(`warning: ${stats.outOfOrder!.toLocaleString('en-US')} rows are earlier than a row before them: the file is not in time order; set "sortByTimestamp": true in the schema`);
  }
  return lines;
}

/** The epoch-ms parser of a one-column timestamp spec: whole numbers for units, else the date format. */
export function timestampParser(t: Exclude<TimestampSpec, { parts: DatePartsSpec }>): (s: string) => number {
  if ('unit' in t) {
    const k = t.unit === 's' ? 1000 : 1;
    // A count since a given date (a card file's "seconds since the first transaction").
    const origin = t.origin ? Date.parse(`${t.origin}T00:00:00Z`) : 0;
    return (s) => (/^\d+$/.test(s) ? origin + Number(s) * k : NaN);
  }
  return parseDateFormat(t.format);
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** 1..12 from '3', 'Mar' or 'March'; NaN otherwise. */
function monthOf(s: string): number {
  if (/^\d{1,2}$/.test(s)) return +s >= 1 && +s <= 12 ? +s : NaN;
  const k = MONTH_NAMES.indexOf(s.slice(0, 3).toLowerCase());
  return k >= 0 && MONTH_NAMES[k].length <= s.length ? k + 1 : NaN;
}

/** 0 (Monday) .. 6 from 'Monday', 'Mon' or '1'..'7' (ISO); NaN otherwise. */
function weekdayOf(s: string): number {
  if (/^[1-7]$/.test(s)) return +s - 1;
  const k = WEEKDAY_NAMES.indexOf(s.slice(0, 3).toLowerCase());
  return k >= 0 ? k : NaN;
}

/** Epoch ms (UTC midnight) of a date given in parts (DatePartsSpec); NaN for a part that does not parse. */
export function datePartsToMs(year: string, month: string, day: string | undefined, week: string | undefined, weekday: string | undefined): number {
  const Y = /^\d{4}$/.test(year) ? +year : NaN;
  const M = monthOf(month);
  if (Number.isNaN(Y) || Number.isNaN(M)) return NaN;
  const daysInMonth = new Date(Date.UTC(Y, M, 0)).getUTCDate();
  let D: number;
  if (day !== undefined) {
    D = /^\d{1,2}$/.test(day) ? +day : NaN;
    if (!(D >= 1 && D <= daysInMonth)) return NaN;
  } else {
    const w = /^[1-6]$/.test(week ?? '') ? +week! : NaN;
    const d = weekday === undefined ? 0 : weekdayOf(weekday);
    if (Number.isNaN(w) || Number.isNaN(d)) return NaN;
    D = 1 + Math.min(daysInMonth - 1, Math.floor((((w - 1) * 7 + d) * daysInMonth) / 35));
  }
  return Date.UTC(Y, M - 1, D);
}

/** Columns a timestamp spec reads. */
export function timestampColumns(t: TimestampSpec): string[] {
  if (!('parts' in t)) return [t.column];
  const p = t.parts;
  return [p.year, p.month, ...(p.day ? [p.day] : []), ...(p.weekOfMonth ? [p.weekOfMonth] : []), ...(p.dayOfWeek ? [p.dayOfWeek] : [])];
}

/** The epoch ms of a row by a timestamp spec; consecutive rows of the same time parse once. */
function timestampReader(t: TimestampSpec): (r: string[], col: Record<string, number>) => number {
  let lastKey: string | undefined;
  let last = NaN;
  if (!('parts' in t)) {
    const parse = timestampParser(t);
    return (r, col) => {
      const s = r[col[t.column]];
      if (s !== lastKey) { lastKey = s; last = parse(s); }
      return last;
    };
  }
  const p = t.parts;
  return (r, col) => {
    const get = (c: string | undefined) => (c === undefined ? undefined : (r[col[c]] ?? '').trim());
    const parts = [get(p.year)!, get(p.month)!, get(p.day), get(p.weekOfMonth), get(p.dayOfWeek)] as const;
    const key = parts.join('\u0000');
    if (key !== lastKey) { lastKey = key; last = datePartsToMs(...parts); }
    return last;
  };
}

/** A number as a categorical value: its log2 bucket ('2^k'), '0' for 0 and '-' for negatives. */
export function log2Bucket(v: number): string {
  if (Number.isNaN(v)) return '';
  if (v === 0) return '0';
  if (v < 0) return `-2^${Math.floor(Math.log2(-v))}`;
  return `2^${Math.floor(Math.log2(v))}`;
}

// ---------------------------------------------------------------------------------------
// Rows

interface RowBatch { rows: (string[] | null)[]; col: Record<string, number>; width: number }

/** Number() reads '' and ' ' as 0; an empty cell is missing, not zero. */
const num = (s: string | undefined): number => (s === undefined || s.trim() === '' ? NaN : Number(s));

/**
 * The rows of one file as string arrays. csv/tsv rows are the records as parsed (width is
 * the header's or the declared columns' count); ndjson objects are projected onto `needed`,
 * and a line that is not a JSON object becomes null (a malformed row).
 */
async function* readRows(src: Omit<SourceSpec, 'files'>, path: string, needed: string[]): AsyncGenerator<RowBatch> {
  const gzip = src.gzip ?? path.endsWith('.gz');
  if (src.format === 'ndjson') {
    const col = Object.fromEntries(needed.map((c, i) => [c, i]));
    let input: NodeJS.ReadableStream = createReadStream(path);
    if (gzip) input = input.pipe(createGunzip());
    (input as NodeJS.ReadableStream & { setEncoding(e: string): void }).setEncoding(src.encoding ?? 'utf8');
    let rows: (string[] | null)[] = [];
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      let o: unknown;
      try { o = JSON.parse(line); } catch { o = null; }
      rows.push(isObj(o) ? needed.map((c) => cell(o as Record<string, unknown>, c)) : null);
      if (rows.length >= 1000) { yield { rows, col, width: 0 }; rows = []; }
    }
    if (rows.length) yield { rows, col, width: 0 };
    return;
  }
  let col: Record<string, number> | undefined;
  let width = 0;
  if (src.header === false) {
    col = columnIndex(src.columns!, needed, path);
    width = src.columns!.length;
  }
  const onHeader = (h: string[]): void => { col = columnIndex(h, needed, path); width = h.length; };
  const delimiter = src.delimiter ?? (src.format === 'tsv' ? '\t' : ',');
  for await (const rows of readCsvBatches(path, { delimiter, header: src.header !== false, onHeader, gzip, encoding: src.encoding })) {
    yield { rows, col: col!, width };
  }
}

/** A JSON value as a cell: strings as they are, numbers and booleans printed, null as ''. Dotted names reach into objects. */
function cell(o: Record<string, unknown>, name: string): string {
  let v: unknown = o[name];
  if (v === undefined && name.includes('.')) {
    v = o;
    for (const k of name.split('.')) v = isObj(v) ? v[k] : undefined;
  }
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

async function loadLookup(l: LookupSpec): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const ignore = new Set(l.ignore ?? []);
  for await (const b of readRows({ ...l, format: l.format ?? 'csv' }, l.file, [l.key, l.value])) {
    const ki = b.col[l.key], vi = b.col[l.value];
    for (const r of b.rows) {
      if (r === null) continue;
      let v = r[vi] ?? '';
      if (l.split !== undefined) v = v.split(l.split)[l.index ?? 0] ?? '';
      if (v !== '' && !ignore.has(v)) map.set(r[ki], v);
    }
  }
  return map;
}

/** A field's value in row r (its number `row`, 1 = the first data row, for `$row`). */
type Getter = (r: string[], col: Record<string, number>, row: number) => string | undefined;

async function getter(ref: ColumnRef, lookups: Map<string, Promise<Map<string, string>>>): Promise<Getter> {
  if (ref === ROW_NUMBER) return (_r, _col, row) => String(row);
  if (typeof ref === 'string') return (r, col) => r[col[ref]];
  if ('flags' in ref) {
    const all = ref.take === 'all';
    return (r, col) => {
      let out = '';
      for (const f of ref.flags) {
        const v = (r[col[f]] ?? '').trim();
        if (v === '' || v === '0' || v.toLowerCase() === 'false') continue;
        if (!all) return f;
        out = out ? `${out}|${f}` : f;
      }
      return out;
    };
  }
  const key = JSON.stringify(ref.lookup);
  if (!lookups.has(key)) lookups.set(key, loadLookup(ref.lookup));
  const map = await lookups.get(key)!;
  return (r, col) => map.get(r[col[ref.column]]);
}

const refColumns = (ref: ColumnRef): string[] => (ref === ROW_NUMBER ? [] : typeof ref === 'string' ? [ref] : 'flags' in ref ? ref.flags : [ref.column]);

function filterMatches(f: FilterSpec, s: string, v: number): boolean {
  if ('startsWith' in f) return s.startsWith(f.startsWith);
  if ('empty' in f) return s.trim() === '';
  if ('equals' in f) return Array.isArray(f.equals) ? f.equals.includes(s) : s === f.equals;
  if ('atMost' in f) return v <= f.atMost;
  if ('below' in f) return v < f.below;
  if ('atLeast' in f) return v >= f.atLeast;
  return v > (f as { above: number }).above;
}

const isNumericFilter = (f: FilterSpec): boolean => 'atMost' in f || 'below' in f || 'atLeast' in f || 'above' in f;

/**
 * The dataset as arrays of events, in file order (or time order with sortByTimestamp). A row
 * is dropped under the first reason that applies: malformed (wrong width, unparseable time,
 * value or numeric-filter cell), then the filters in order (their reason, default
 * `filter:<column>`), then unknownType, then invalid (validateEvent refused it).
 */
export async function* schemaEvents(schema: DatasetSchema, opts: SchemaEventsOptions = {}): AsyncGenerator<FlywheelEvent[]> {
  const stats = opts.stats ?? newLoadStats();
  const limit = opts.limit ?? Infinity;
  const per = opts.batchEvents ?? 1000;
  if (limit <= 0) return;
  const f = schema.fields;
  const lookups = new Map<string, Promise<Map<string, string>>>();
  const user = await getter(f.user, lookups);
  const item = await getter(f.item, lookups);
  const category = f.category !== undefined ? await getter(f.category, lookups) : undefined;
  const context = await Promise.all(Object.entries(f.context ?? {}).map(async ([k, ref]) => [k, await getter(ref, lookups)] as const));
  const numeric = f.numeric ?? [];
  const filters = schema.filters ?? [];
  const typeMap = 'map' in f.type ? new Map(Object.entries(f.type.map)) : undefined;
  const typePrefix = 'prefix' in f.type ? { prefixes: Object.entries(f.type.prefix), otherwise: f.type.otherwise } : undefined;
  const typeConst = 'constant' in f.type ? f.type.constant : undefined;
  const typeOf = (v: string): EventType | undefined => {
    if (typeMap) return typeMap.get(v);
    for (const [p, t] of typePrefix!.prefixes) if (v.startsWith(p)) return t;
    return typePrefix!.otherwise;
  };
  const readTs = timestampReader(f.timestamp);
  const outcome = f.outcome;
  const outcomeDelayMs = (opts.outcomeDelayDays ?? outcome?.delayDays ?? 0) * 86_400_000;
  const outcomePositive = outcome?.positive ? new Set(outcome.positive) : undefined;
  const valueCol = f.value ?? (schema.labels?.kind === 'threshold' ? schema.labels.column : undefined);
  const needed = [...new Set([...refColumns(f.user), ...refColumns(f.item), ...(f.category ? refColumns(f.category) : []), ...timestampColumns(f.timestamp),
    ...(outcome ? [outcome.column] : []),
    ...('column' in f.type ? [f.type.column] : []), ...(valueCol ? [valueCol] : []),
    ...Object.values(f.context ?? {}).flatMap(refColumns), ...numeric.map((n) => n.column), ...filters.map((x) => x.column)])];
  let row = 0;
  let newestTs = -Infinity;
  const nowMs = Date.now();
  const sorted = schema.sortByTimestamp === true;
  const all: FlywheelEvent[] = [];
  let yielded = 0;
  for (const path of schema.source.files) {
    for await (const b of readRows(schema.source, path, needed)) {
      const c = b.col;
      const vi = valueCol ? c[valueCol] : -1, tyi = 'column' in f.type ? c[f.type.column] : -1;
      const out: FlywheelEvent[] = [];
      for (const r of b.rows) {
        stats.rowsRead++;
        row++;
        if (r === null || (b.width > 0 && r.length !== b.width)) { countDrop(stats, 'malformed'); continue; }
        const ts = readTs(r, c);
        const value = vi >= 0 ? num(r[vi]) : NaN;
        if (Number.isNaN(ts) || (vi >= 0 && Number.isNaN(value))) { countDrop(stats, 'malformed'); continue; }
        let outcomeValue = NaN;
        if (outcome) {
          const s = (r[c[outcome.column]] ?? '').trim();
          outcomeValue = outcomePositive ? (outcomePositive.has(s) ? 1 : 0) : num(s);
          if (Number.isNaN(outcomeValue)) { countDrop(stats, 'malformed'); continue; }
        }
        let reason: string | undefined;
        let bad = false;
        for (const x of filters) {
          const s = r[c[x.column]] ?? '';
          const v = isNumericFilter(x) ? num(s) : NaN;
          if (isNumericFilter(x) && Number.isNaN(v)) { bad = true; break; }
          if (reason === undefined && filterMatches(x, s, v)) reason = x.reason ?? `filter:${x.column}`;
        }
        if (bad) { countDrop(stats, 'malformed'); continue; }
        if (reason !== undefined) { countDrop(stats, reason); continue; }
        const type = typeConst ?? typeOf(r[tyi]);
        if (type === undefined) { countDrop(stats, 'unknownType'); continue; }
        const raw: Record<string, unknown> = { userId: user(r, c, row), itemId: item(r, c, row), type, ts };
        const cat = category?.(r, c, row);
        if (cat !== undefined && cat !== '') raw.categoryId = cat;
        if (vi >= 0) raw.value = value;
        if (context.length || numeric.length) {
          const ctx: Record<string, string> = {};
          for (const [k, g] of context) { const v = g(r, c, row); if (v !== undefined) ctx[k] = v; }
          for (const n of numeric) ctx[n.name] = log2Bucket(num(r[c[n.column]]));
          raw.context = ctx;
        }
        let ev: FlywheelEvent;
        // The reason names the rule the row broke (e.g. "context has more than 64 keys"), not just "invalid".
        try { ev = validateEvent(raw, nowMs); } catch (err) { countDrop(stats, `invalid: ${(err as Error).message.slice(0, 80)}`); continue; }
        if (outcome) {
          // Validated with the row: both or neither (sortByTimestamp is required with an outcome).
          all.push(ev, { userId: ev.userId, itemId: ev.itemId, type: 'outcome', ts: ev.ts + outcomeDelayMs, value: outcomeValue });
          continue;
        }
        if (sorted) { all.push(ev); continue; }
        if (ev.ts < newestTs) stats.outOfOrder = (stats.outOfOrder ?? 0) + 1;
        else newestTs = ev.ts;
        stats.kept++;
        out.push(ev);
        if (++yielded >= limit) break;
        if (out.length >= per) { yield out.splice(0); }
      }
      if (out.length > 0) yield out;
      if (yielded >= limit) return;
    }
  }
  if (!sorted) return;
  all.sort((a, b) => a.ts - b.ts); // stable: ties keep file order
  const n = Math.min(limit, all.length);
  for (let i = 0; i < n; i += per) {
    const batch = all.slice(i, Math.min(n, i + per));
    stats.kept += batch.length;
    yield batch;
  }
}
