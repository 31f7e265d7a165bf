// The shape of a dataset schema (see schema.ts, which validates one, and schema-events.ts,
// which reads events by one): types only, plus the one object test both use, so that neither
// of those two modules has to import the other for them.
import type { LabelRule } from '../config.ts';
import type { EventType } from '../events.ts';
import type { LoadStats } from './csv.ts';

/** Where rows come from: one or more files of one format, read in the order listed. */
export interface SourceSpec {
  /** Paths, relative to the schema file or with ${SHARED_DATA_DIR} / ${REPO}. */
  files: string[];
  format: 'csv' | 'tsv' | 'ndjson';
  /** One character; default ',' for csv and a tab for tsv. */
  delimiter?: string;
  /** csv/tsv: the first record names the columns. Default true. */
  header?: boolean;
  /** csv/tsv without a header: the column names, in order (also the row width checked). */
  columns?: string[];
  /** Default utf8. */
  encoding?: 'utf8' | 'latin1';
  /** Default: true when a path ends in .gz. */
  gzip?: boolean;
}

/** Unix time in whole seconds or milliseconds, or a date string read as UTC. */
export type TimestampSpec = { column: string; unit: 's' | 'ms'; origin?: string } | { column: string; format: string } | { parts: DatePartsSpec };

/**
 * A date spread over several columns, as insurance and survey extracts give it: a year, a
 * month (1..12 or a name, Jan / January), and either a day of the month or a week of the month
 * (1..5) with a day of the week (Monday / Mon). A week and weekday are placed in the month in
 * order (week w, weekday d -> day 1 + floor(((w-1)*7 + d) * daysInMonth / 35)), so that time
 * order is (year, month, week, weekday) order; the day itself is approximate.
 */
export interface DatePartsSpec { year: string; month: string; day?: string; weekOfMonth?: string; dayOfWeek?: string }

/**
 * A 0/1 outcome that becomes known later than its row (a fraud investigation's finding): each
 * kept row also makes an `outcome` event for the same user and item, `delayDays` after the
 * row's time, whose value is the outcome (1 when the column's value is in `positive`, or the
 * column's number otherwise). The row's own event does not carry it.
 */
export interface OutcomeSpec { column: string; delayDays: number; positive?: string[] }

/** A second file read whole into a map key -> value, e.g. MovieLens movieId -> first genre. */
export interface LookupSpec extends Omit<SourceSpec, 'files'> {
  file: string;
  key: string;
  value: string;
  /** Split the value on this string and take part `index` (default 0). */
  split?: string;
  index?: number;
  /** Values that mean "none" (e.g. "(no genres listed)"); '' is always none. */
  ignore?: string[];
}

/**
 * A column, a column whose value is looked up in a second file, or a set of 0/1 flag columns
 * (one per genre, say). A field holds one value, so flags give the first column set (`first`,
 * the default) or every column set, joined by '|' (`all`: the combination, e.g. "Action|Comedy").
 * The name `$row` is the row's number in the source (1 = the first data row): a reference for
 * files without an id.
 */
export type ColumnRef = string | { column: string; lookup: LookupSpec } | FlagsSpec;

export interface FlagsSpec { flags: string[]; take?: 'first' | 'all' }

/** The pseudo-column of a row's number. */
export const ROW_NUMBER = '$row';

export type FilterSpec = { column: string; reason?: string } & (
  | { startsWith: string } | { empty: true } | { equals: string | string[] }
  | { atMost: number } | { below: number } | { atLeast: number } | { above: number });

/** A numeric column as a categorical context feature: log2 buckets of the value. */
export interface NumericFeatureSpec { name: string; column: string }

/** The label rule (shared/config.ts LabelRule); a threshold may name its column (= fields.value). */
export type SchemaLabelRule = Exclude<LabelRule, { kind: 'threshold' }> | { kind: 'threshold'; min: number; column?: string };

export interface DatasetSchema {
  name: string;
  description?: string;
  source: SourceSpec;
  /** Read the whole file and stable-sort it by time (files not in time order). Default false. */
  sortByTimestamp?: boolean;
  fields: {
    user: ColumnRef;
    item: ColumnRef;
    category?: ColumnRef;
    timestamp: TimestampSpec;
    /** The event type: a column mapped through `map`; a column whose prefix picks the type
     *  (`prefix`, e.g. { "C": "return" } for cancelled invoices, else `otherwise`); or one constant type. */
    type: { column: string; map: Record<string, EventType> }
      | { column: string; prefix: Record<string, EventType>; otherwise: EventType }
      | { constant: EventType };
    /** A number the label rule may read (rating, quantity); unparseable = malformed row. */
    value?: string;
    /** Extra categorical features: context key -> column. */
    context?: Record<string, ColumnRef>;
    numeric?: NumericFeatureSpec[];
    outcome?: OutcomeSpec;
  };
  /** Rows to drop, checked in order; the first that matches names the drop reason. */
  filters?: FilterSpec[];
  /** How an event becomes a 0/1 label (kinds that learn one: ctr). */
  labels?: SchemaLabelRule;
  /** The model: its kind (default ctr), feature fields and any other config overrides
   *  (e.g. { settings: { embLrScale: 20 }, ps: { learningRate: 0.02 } }). */
  model: { kind?: string; fields?: string[]; config?: Record<string, unknown> };
}

export interface SchemaEventsOptions {
  limit?: number;
  stats?: LoadStats;
  /** Events per yielded array. Default 1000. */
  batchEvents?: number;
  /** Days from a row to its outcome event, over fields.outcome.delayDays. */
  outcomeDelayDays?: number;
}

export const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
