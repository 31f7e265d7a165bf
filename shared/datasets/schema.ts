// Datasets described by data, not code: a small JSON schema names the file(s), the format,
// which columns are user, item, category and time, the filters, extra features and the label
// rule, and schemaEvents() turns any such file into FlywheelEvents. A new dataset of the same
// kind is one JSON file (datasets/*.json); the per-dataset loaders stay as the reference the
// schemas are tested against.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { EVENT_TYPES } from '../events.ts';
import type { FlywheelConfig, LabelRule } from '../config.ts';
import { REPO_ROOT } from './online-retail.ts';
import { SHARED_DATA_DIR } from './taobao.ts';
import { parseDateFormat } from './schema-events.ts';
import { isObj, type ColumnRef, type DatasetSchema } from './schema-types.ts';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

/** A bad schema: `field` is its path in the JSON (e.g. fields.timestamp.unit). */
export class SchemaError extends ConfigError {
  constructor(readonly field: string, readonly detail: string, file?: string) {
    super(file ? `${file}: ${field}` : field, detail);
  }
}

function fail(field: string, msg: string): never {
  throw new SchemaError(field, msg);
}

function checkKeys(o: Record<string, unknown>, allowed: string[], at: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(at ? `${at}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') fail(at, 'must be a non-empty string');
  return v;
}

function checkSource(s: unknown, at: string, single: boolean): void {
  if (!isObj(s)) fail(at, 'must be an object');
  const extra = single ? ['file', 'key', 'value', 'split', 'index', 'ignore'] : ['files'];
  checkKeys(s, ['format', 'delimiter', 'header', 'columns', 'encoding', 'gzip', ...extra], at);
  if (single) str(s.file, `${at}.file`);
  else if (!Array.isArray(s.files) || s.files.length === 0) fail(`${at}.files`, 'must list at least one file');
  else s.files.forEach((f, i) => str(f, `${at}.files[${i}]`));
  const format = s.format ?? (single ? 'csv' : undefined);
  if (!['csv', 'tsv', 'ndjson'].includes(format as string)) fail(`${at}.format`, 'must be csv, tsv or ndjson');
  if (s.delimiter !== undefined && (typeof s.delimiter !== 'string' || s.delimiter.length !== 1 || '"\r\n'.includes(s.delimiter))) {
    fail(`${at}.delimiter`, 'must be one character other than a quote or newline');
  }
  if (s.header !== undefined && typeof s.header !== 'boolean') fail(`${at}.header`, 'must be true or false');
  if (s.columns !== undefined && (!Array.isArray(s.columns) || !s.columns.every((c) => typeof c === 'string'))) fail(`${at}.columns`, 'must list column names');
  if (format !== 'ndjson' && s.header === false && s.columns === undefined) fail(`${at}.columns`, 'a file without a header needs its column names');
  if (s.encoding !== undefined && !['utf8', 'latin1'].includes(s.encoding as string)) fail(`${at}.encoding`, 'must be utf8 or latin1');
  if (s.gzip !== undefined && typeof s.gzip !== 'boolean') fail(`${at}.gzip`, 'must be true or false');
  if (single) {
    str(s.key, `${at}.key`);
    str(s.value, `${at}.value`);
    if (s.split !== undefined) str(s.split, `${at}.split`);
    if (s.index !== undefined && !(Number.isInteger(s.index) && (s.index as number) >= 0)) fail(`${at}.index`, 'must be an integer >= 0');
    if (s.ignore !== undefined && (!Array.isArray(s.ignore) || !s.ignore.every((x) => typeof x === 'string'))) fail(`${at}.ignore`, 'must list strings');
  }
}

function checkRef(v: unknown, at: string): void {
  if (typeof v === 'string') return void str(v, at);
  if (!isObj(v)) fail(at, 'must be a column name, { column, lookup } or { flags }');
  if (v.flags !== undefined) {
    checkKeys(v, ['flags', 'take'], at);
    if (!Array.isArray(v.flags) || v.flags.length === 0 || !v.flags.every((c) => typeof c === 'string' && c !== '')) fail(`${at}.flags`, 'must list the 0/1 flag columns');
    if (v.take !== undefined && v.take !== 'first' && v.take !== 'all') fail(`${at}.take`, 'must be first or all');
    return;
  }
  checkKeys(v, ['column', 'lookup'], at);
  str(v.column, `${at}.column`);
  checkSource(v.lookup, `${at}.lookup`, true);
}

const FILTER_OPS = ['startsWith', 'empty', 'equals', 'atMost', 'below', 'atLeast', 'above'];

/** Checks a parsed schema and returns it typed; a ConfigError names the first bad field. */
export function validateSchema(raw: unknown): DatasetSchema {
  if (!isObj(raw)) fail('schema', 'must be a JSON object');
  checkKeys(raw, ['name', 'description', 'source', 'sortByTimestamp', 'fields', 'filters', 'labels', 'model', '$comment'], '');
  const name = str(raw.name, 'name');
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(name)) fail('name', 'must match [A-Za-z0-9_-]{1,40} (it names the model and the report)');
  checkSource(raw.source, 'source', false);
  if (raw.sortByTimestamp !== undefined && typeof raw.sortByTimestamp !== 'boolean') fail('sortByTimestamp', 'must be true or false');
  const f = raw.fields;
  if (!isObj(f)) fail('fields', 'must be an object');
  checkKeys(f, ['user', 'item', 'category', 'timestamp', 'type', 'value', 'context', 'numeric', 'outcome'], 'fields');
  if (f.user === undefined) fail('fields.user', 'is required');
  checkRef(f.user, 'fields.user');
  if (f.item === undefined) fail('fields.item', 'is required');
  checkRef(f.item, 'fields.item');
  if (f.category !== undefined) checkRef(f.category, 'fields.category');
  const ts = f.timestamp;
  if (!isObj(ts)) fail('fields.timestamp', 'must be { column, unit: "s" | "ms" }, { column, format } or { parts }');
  if (ts.parts !== undefined) {
    checkKeys(ts, ['parts'], 'fields.timestamp');
    const p = ts.parts;
    if (!isObj(p)) fail('fields.timestamp.parts', 'must name columns: { year, month, day } or { year, month, weekOfMonth, dayOfWeek }');
    checkKeys(p, ['year', 'month', 'day', 'weekOfMonth', 'dayOfWeek'], 'fields.timestamp.parts');
    for (const k of ['year', 'month'] as const) str(p[k], `fields.timestamp.parts.${k}`);
    for (const k of ['day', 'weekOfMonth', 'dayOfWeek'] as const) if (p[k] !== undefined) str(p[k], `fields.timestamp.parts.${k}`);
    if ((p.day === undefined) === (p.weekOfMonth === undefined)) fail('fields.timestamp.parts', 'needs exactly one of day or weekOfMonth');
    if (p.day !== undefined && p.dayOfWeek !== undefined) fail('fields.timestamp.parts.dayOfWeek', 'goes with weekOfMonth, not with day');
  } else {
    checkKeys(ts, ['column', 'unit', 'format', 'origin'], 'fields.timestamp');
    if (ts.origin !== undefined) {
      if (ts.unit === undefined) fail('fields.timestamp.origin', 'goes with unit (a count of seconds or ms since that date)');
      if (!/^\d{4}-\d\d-\d\d$/.test(String(ts.origin)) || Number.isNaN(Date.parse(String(ts.origin)))) fail('fields.timestamp.origin', 'must be a date YYYY-MM-DD (UTC)');
    }
    str(ts.column, 'fields.timestamp.column');
    if ((ts.unit === undefined) === (ts.format === undefined)) fail('fields.timestamp', 'needs exactly one of unit or format');
    if (ts.unit !== undefined && !['s', 'ms'].includes(ts.unit as string)) fail('fields.timestamp.unit', 'must be s or ms');
    if (ts.format !== undefined) {
      try { parseDateFormat(str(ts.format, 'fields.timestamp.format')); } catch (err) { fail('fields.timestamp.format', (err as Error).message); }
    }
  }
  const ty = f.type;
  if (!isObj(ty)) fail('fields.type', 'must be { column, map }, { column, prefix, otherwise } or { constant }');
  if (ty.constant !== undefined) {
    checkKeys(ty, ['constant'], 'fields.type');
    if (!(EVENT_TYPES as readonly unknown[]).includes(ty.constant)) fail('fields.type.constant', `must be one of ${EVENT_TYPES.join(', ')}`);
  } else if (ty.prefix !== undefined) {
    checkKeys(ty, ['column', 'prefix', 'otherwise'], 'fields.type');
    str(ty.column, 'fields.type.column');
    if (!isObj(ty.prefix) || Object.keys(ty.prefix).length === 0) fail('fields.type.prefix', 'must map value prefixes to event types');
    for (const [k, v] of Object.entries(ty.prefix)) {
      if (k === '') fail('fields.type.prefix', 'a prefix must not be empty (use otherwise)');
      if (!(EVENT_TYPES as readonly unknown[]).includes(v)) fail(`fields.type.prefix.${k}`, `must be one of ${EVENT_TYPES.join(', ')}`);
    }
    if (!(EVENT_TYPES as readonly unknown[]).includes(ty.otherwise)) fail('fields.type.otherwise', `must be one of ${EVENT_TYPES.join(', ')}`);
  } else {
    checkKeys(ty, ['column', 'map'], 'fields.type');
    str(ty.column, 'fields.type.column');
    if (!isObj(ty.map) || Object.keys(ty.map).length === 0) fail('fields.type.map', 'must map column values to event types');
    for (const [k, v] of Object.entries(ty.map)) {
      if (!(EVENT_TYPES as readonly unknown[]).includes(v)) fail(`fields.type.map.${k}`, `must be one of ${EVENT_TYPES.join(', ')}`);
    }
  }
  if (f.value !== undefined) str(f.value, 'fields.value');
  if (f.context !== undefined) {
    if (!isObj(f.context)) fail('fields.context', 'must map context keys to columns');
    for (const [k, v] of Object.entries(f.context)) {
      if (!KEY_RE.test(k)) fail(`fields.context.${k}`, `key must match ${KEY_RE.source}`);
      checkRef(v, `fields.context.${k}`);
    }
  }
  if (f.numeric !== undefined) {
    if (!Array.isArray(f.numeric)) fail('fields.numeric', 'must list { name, column }');
    f.numeric.forEach((n, i) => {
      if (!isObj(n)) fail(`fields.numeric[${i}]`, 'must be { name, column }');
      checkKeys(n, ['name', 'column'], `fields.numeric[${i}]`);
      if (typeof n.name !== 'string' || !KEY_RE.test(n.name)) fail(`fields.numeric[${i}].name`, `must match ${KEY_RE.source}`);
      str(n.column, `fields.numeric[${i}].column`);
    });
  }
  if (f.outcome !== undefined) {
    const o = f.outcome;
    if (!isObj(o)) fail('fields.outcome', 'must be { column, delayDays, positive? }');
    checkKeys(o, ['column', 'delayDays', 'positive'], 'fields.outcome');
    str(o.column, 'fields.outcome.column');
    if (!(typeof o.delayDays === 'number' && o.delayDays >= 0 && o.delayDays <= 3650)) fail('fields.outcome.delayDays', 'must be a number of days in 0..3650');
    if (o.positive !== undefined && !(Array.isArray(o.positive) && o.positive.length > 0 && o.positive.every((x) => typeof x === 'string'))) {
      fail('fields.outcome.positive', 'must list the column values that mean 1');
    }
    // An outcome comes after its row: in a file in row order, the stream would go back in time.
    if (raw.sortByTimestamp !== true) fail('sortByTimestamp', 'must be true with fields.outcome (outcome events come later than their rows)');
  }
  if (raw.filters !== undefined) {
    if (!Array.isArray(raw.filters)) fail('filters', 'must be a list');
    raw.filters.forEach((x, i) => {
      const at = `filters[${i}]`;
      if (!isObj(x)) fail(at, 'must be an object');
      checkKeys(x, ['column', 'reason', ...FILTER_OPS], at);
      str(x.column, `${at}.column`);
      const ops = FILTER_OPS.filter((o) => x[o] !== undefined);
      if (ops.length !== 1) fail(at, `needs exactly one of ${FILTER_OPS.join(', ')}`);
      const op = ops[0];
      if (op === 'startsWith') str(x[op], `${at}.startsWith`);
      else if (op === 'empty' && x[op] !== true) fail(`${at}.empty`, 'must be true');
      else if (op === 'equals' && !(typeof x[op] === 'string' || (Array.isArray(x[op]) && (x[op] as unknown[]).every((s) => typeof s === 'string')))) fail(`${at}.equals`, 'must be a string or a list of strings');
      else if (['atMost', 'below', 'atLeast', 'above'].includes(op) && !(typeof x[op] === 'number' && Number.isFinite(x[op]))) fail(`${at}.${op}`, 'must be a number');
      if (x.reason !== undefined) str(x.reason, `${at}.reason`);
    });
  }
  const l = raw.labels;
  if (l === undefined) {
    // Kinds that learn no 0/1 label (demand) need none; the CTR kind then uses its default rule.
  } else if (!isObj(l)) fail('labels', 'must be { kind: types | implicit | threshold | window, ... }');
  else if (l.kind === 'types') {
    checkKeys(l, ['kind', 'positive'], 'labels');
    if (!Array.isArray(l.positive) || l.positive.length === 0 || !l.positive.every((p) => (EVENT_TYPES as readonly unknown[]).includes(p))) {
      fail('labels.positive', `must list event types (${EVENT_TYPES.join(', ')})`);
    }
  } else if (l.kind === 'implicit') {
    checkKeys(l, ['kind', 'negatives', 'window'], 'labels');
    if (!(Number.isInteger(l.negatives) && (l.negatives as number) >= 1 && (l.negatives as number) <= 100)) fail('labels.negatives', 'must be an integer in 1..100');
    if (l.window !== undefined && !(Number.isInteger(l.window) && (l.window as number) >= 1)) fail('labels.window', 'must be a positive integer (past positives)');
  } else if (l.kind === 'window') {
    checkKeys(l, ['kind', 'positive', 'windowMinutes', 'maxPending', 'release'], 'labels');
    if (!Array.isArray(l.positive) || l.positive.length === 0 || !l.positive.every((p) => (EVENT_TYPES as readonly unknown[]).includes(p))) {
      fail('labels.positive', `must list event types (${EVENT_TYPES.join(', ')})`);
    }
    if (!(typeof l.windowMinutes === 'number' && l.windowMinutes > 0)) fail('labels.windowMinutes', 'must be a positive number of minutes');
  } else if (l.kind === 'threshold') {
    checkKeys(l, ['kind', 'min', 'column'], 'labels');
    if (typeof l.min !== 'number' || !Number.isFinite(l.min)) fail('labels.min', 'must be a number');
    if (l.column !== undefined) {
      str(l.column, 'labels.column');
      if (f.value !== undefined && f.value !== l.column) fail('labels.column', `is "${l.column}" but fields.value is "${f.value as string}"`);
    } else if (f.value === undefined) fail('labels.column', 'a threshold needs a column (labels.column or fields.value)');
  } else fail('labels.kind', 'must be types, implicit, threshold or window');
  const m = raw.model;
  if (!isObj(m)) fail('model', 'must be { fields: [...] }');
  checkKeys(m, ['kind', 'fields', 'config'], 'model');
  if (m.kind !== undefined && typeof m.kind !== 'string') fail('model.kind', 'must be the name of a model kind');
  const fieldsRequired = m.kind === undefined || m.kind === 'ctr' || m.kind === 'value';
  if (m.fields === undefined && !fieldsRequired) return raw as unknown as DatasetSchema;
  if (!Array.isArray(m.fields) || m.fields.length === 0 || !m.fields.every((x) => typeof x === 'string' && KEY_RE.test(x))) {
    fail('model.fields', 'must list feature fields (user, item, category, hour, weekday or a context key)');
  }
  const known = new Set(['user', 'item', 'category', 'hour', 'weekday', ...Object.keys(f.context ?? {}),
    ...((f.numeric as { name: string }[] | undefined) ?? []).map((n) => n.name)]);
  for (const x of m.fields as string[]) if (!known.has(x)) fail('model.fields', `"${x}" is neither a built-in field nor a context or numeric feature`);
  if (m.fields.includes('category') && f.category === undefined) fail('model.fields', '"category" needs fields.category');
  if (m.config !== undefined && !isObj(m.config)) fail('model.config', 'must be an object of config overrides');
  return raw as unknown as DatasetSchema;
}

/** `${SHARED_DATA_DIR}` and `${REPO}` expand; other relative paths are relative to `baseDir`. */
export function resolveSchemaPath(p: string, baseDir: string): string {
  const x = p.replaceAll('${SHARED_DATA_DIR}', SHARED_DATA_DIR).replaceAll('${REPO}', REPO_ROOT.replace(/\/$/, ''));
  return isAbsolute(x) ? x : resolve(baseDir, x);
}

/** Reads, validates and resolves a schema file; errors name the file and the field. */
export function loadSchema(file: string): DatasetSchema {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SchemaError('schema', `cannot read ${file}: ${(err as Error).message}`);
  }
  let s: DatasetSchema;
  try {
    s = validateSchema(raw);
  } catch (err) {
    if (err instanceof SchemaError) throw new SchemaError(err.field, err.detail, file);
    throw err;
  }
  return resolveSchemaFiles(s, dirname(resolve(file)));
}

/** The schema with every path made absolute against `baseDir`. */
export function resolveSchemaFiles(s: DatasetSchema, baseDir: string): DatasetSchema {
  const out = structuredClone(s);
  out.source.files = out.source.files.map((p) => resolveSchemaPath(p, baseDir));
  const refs: ColumnRef[] = [out.fields.user, out.fields.item, ...(out.fields.category ? [out.fields.category] : []), ...Object.values(out.fields.context ?? {})];
  for (const r of refs) if (typeof r !== 'string' && 'lookup' in r) r.lookup.file = resolveSchemaPath(r.lookup.file, baseDir);
  return out;
}

/** The config overrides a dataset implies: model name, label rule, feature fields. */
export function schemaConfig(s: DatasetSchema): Partial<FlywheelConfig> & Record<string, unknown> {
  const labels: LabelRule | undefined = s.labels?.kind === 'threshold' ? { kind: 'threshold', min: s.labels.min } : s.labels;
  const { settings, ...extra } = structuredClone(s.model.config ?? {}) as Record<string, unknown>;
  return {
    model: s.name.replace(/[^A-Za-z0-9_-]/g, '_'), ...extra, kind: s.model.kind ?? 'ctr',
    settings: {
      ...((settings as object | undefined) ?? {}), ...(s.model.fields ? { fields: [...s.model.fields] } : {}), ...(labels ? { labels } : {}),
    },
  } as Partial<FlywheelConfig> & Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------
// Times

export * from './schema-types.ts';
export * from './schema-events.ts';
