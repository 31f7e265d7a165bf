// Risk data by schema: a date given in parts (year, month name, week of month, weekday), an
// outcome that arrives later as its own event, and the claims file checked against the figures
// of its PROVENANCE.md (rows, frauds per year, replay order).
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlywheelEvent } from '../../shared/index.ts';
import { newLoadStats } from '../../shared/datasets/csv.ts';
import { SHARED_DATA_DIR } from '../../shared/datasets/movie-ratings.ts';
import { SchemaError, datePartsToMs, loadSchema, loadSummary, schemaEvents, validateSchema } from '../../shared/datasets/schema.ts';

const CLAIMS = join(SHARED_DATA_DIR, 'risk-claims', 'vehicle_claims_fraud_oracle.csv');
const SCHEMA = join(import.meta.dirname, '../../datasets/risk-claims.json');

async function all(gen: AsyncIterable<FlywheelEvent[]>): Promise<FlywheelEvent[]> {
  const out: FlywheelEvent[] = [];
  for await (const b of gen) for (const e of b) out.push(e);
  return out;
}

t.test('a date in parts', async (t) => {
  t.equal(datePartsToMs('1994', 'Mar', '12', undefined, undefined), Date.UTC(1994, 2, 12), 'year, month name, day');
  t.equal(datePartsToMs('1994', '3', '12', undefined, undefined), Date.UTC(1994, 2, 12), 'a month number');
  // week 1 Monday is the 1st; week 5 Sunday ((4*7 + 6) / 35 of January's 31 days) the 31st
  t.equal(datePartsToMs('1995', 'January', undefined, '1', 'Monday'), Date.UTC(1995, 0, 1));
  t.equal(datePartsToMs('1995', 'Jan', undefined, '5', 'Sunday'), Date.UTC(1995, 0, 31));
  t.equal(datePartsToMs('1995', 'Feb', undefined, '5', 'Sunday'), Date.UTC(1995, 1, 28), 'stays in a short month');
  // order within a month is (week, weekday) order
  const days: number[] = [];
  for (let w = 1; w <= 5; w++) for (const d of ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']) days.push(datePartsToMs('1996', 'Feb', undefined, String(w), d));
  t.ok(days.every((x, i) => i === 0 || x >= days[i - 1]), 'week and weekday never go back in time');
  t.ok(Number.isNaN(datePartsToMs('1995', 'Foo', '1', undefined, undefined)), 'an unknown month');
  t.ok(Number.isNaN(datePartsToMs('1995', 'Feb', '30', undefined, undefined)), 'a day the month has not');
  t.ok(Number.isNaN(datePartsToMs('1995', 'Feb', undefined, '7', 'Mon')), 'week 7');
  t.ok(Number.isNaN(datePartsToMs('95', 'Feb', '1', undefined, undefined)), 'a two-digit year');
});

t.test('an outcome becomes its own event, later; schemas without sortByTimestamp are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-risk-schema-'));
  const file = join(dir, 'c.csv');
  writeFileSync(file, 'id,Year,Month,Week,Day,colour,bad\n2,1994,Feb,1,Monday,red,1\n1,1994,Jan,2,Friday,blue,0\n3,1994,Feb,1,Monday,red,x\n4,1994,Feb,1,Monday,red,yes\n');
  const base = {
    name: 'claims-fixture', source: { files: [file], format: 'csv' }, sortByTimestamp: true,
    fields: {
      user: 'id', item: 'id', type: { constant: 'transaction' },
      timestamp: { parts: { year: 'Year', month: 'Month', weekOfMonth: 'Week', dayOfWeek: 'Day' } },
      context: { colour: 'colour' }, outcome: { column: 'bad', delayDays: 10 },
    },
    model: { kind: 'risk' },
  };
  const stats = newLoadStats();
  const evs = await all(schemaEvents(validateSchema(base), { stats }));
  t.same(stats.dropped, { malformed: 2 }, "'x' and 'yes' are not a number: the rows are dropped, not guessed");
  t.same(evs.map((e) => [e.type, e.itemId, e.value ?? null, new Date(e.ts).toISOString().slice(0, 10)]), [
    ['transaction', '1', null, '1994-01-10'],
    ['outcome', '1', 0, '1994-01-20'],
    ['transaction', '2', null, '1994-02-01'],
    ['outcome', '2', 1, '1994-02-11'],
  ], 'rows in time order, each outcome delayDays after its row, the label only on the outcome');
  t.notOk('bad' in (evs[0].context ?? {}), 'the outcome column is not a feature');
  const positive = validateSchema({ ...base, fields: { ...base.fields, outcome: { column: 'bad', delayDays: 0, positive: ['1', 'yes'] } } });
  const onTime = await all(schemaEvents(positive, { outcomeDelayDays: 0 }));
  t.same(onTime.map((e) => [e.type, e.itemId, e.value ?? null]), [
    ['transaction', '1', null], ['outcome', '1', 0], ['transaction', '2', null], ['outcome', '2', 1],
    ['transaction', '3', null], ['outcome', '3', 0], ['transaction', '4', null], ['outcome', '4', 1],
  ], 'delay 0: each outcome right after its row; `positive` lists the values that mean 1');
  let refused: unknown;
  try { validateSchema({ ...base, sortByTimestamp: false }); } catch (err) { refused = err; }
  t.ok(refused instanceof SchemaError && refused.field === 'sortByTimestamp', 'an outcome needs sortByTimestamp (it names the field)');
  t.throws(() => validateSchema({ ...base, fields: { ...base.fields, outcome: { column: 'bad', delayDays: -1 } } }), /delayDays/);
  t.throws(() => validateSchema({ ...base, fields: { ...base.fields, timestamp: { parts: { year: 'Year', month: 'Month' } } } }), /exactly one of day or weekOfMonth/);
});

t.test('the claims file by datasets/risk-claims.json matches PROVENANCE.md', { skip: existsSync(CLAIMS) ? false : `no claims data at ${CLAIMS} (set FLYWHEEL_DATA_DIR)` }, async (t) => {
  const stats = newLoadStats();
  const evs = await all(schemaEvents(loadSchema(SCHEMA), { stats, outcomeDelayDays: 0 }));
  const claims = evs.filter((e) => e.type === 'transaction');
  const outcomes = evs.filter((e) => e.type === 'outcome');
  t.equal(stats.rowsRead, 15_420, '15,420 rows');
  t.same(stats.dropped, {}, 'none dropped');
  t.equal(claims.length, 15_420);
  t.equal(outcomes.length, 15_420);
  t.equal(outcomes.filter((e) => e.value === 1).length, 923, '923 frauds');
  const byYear = (y: number) => {
    const ids = new Set(claims.filter((e) => new Date(e.ts).getUTCFullYear() === y).map((e) => e.itemId));
    return [ids.size, outcomes.filter((e) => ids.has(e.itemId) && e.value === 1).length];
  };
  t.same(byYear(1994), [6142, 409], '1994: 6,142 claims, 409 frauds');
  t.same(byYear(1995), [5195, 301], '1995: 5,195 claims, 301 frauds');
  t.same(byYear(1996), [4083, 213], '1996: 4,083 claims, 213 frauds');
  t.ok(evs.every((e, i) => i === 0 || e.ts >= evs[i - 1].ts), 'in time order');
  t.equal(Object.keys(claims[0].context ?? {}).length, 31, 'every column but the label and the policy number is a feature');
  // The first claims in replay order: 1994 January, week 1, Sunday... then by policy number.
  t.equal(new Date(claims[0].ts).toISOString().slice(0, 7), '1994-01');
  const firstDay = claims.filter((e) => e.ts === claims[0].ts).map((e) => Number(e.itemId));
  t.ok(firstDay.every((x, i) => i === 0 || x > firstDay[i - 1]), 'ties in policy-number (file) order');
  const late = await all(schemaEvents(loadSchema(SCHEMA), {}));
  const claimTs = new Map(late.filter((e) => e.type === 'transaction').map((e) => [e.itemId, e.ts]));
  t.ok(late.filter((e) => e.type === 'outcome').every((e) => e.ts - claimTs.get(e.itemId)! === 28 * 86_400_000), "the schema's default: outcomes 28 days after their claim");
});

const CARDS = join(SHARED_DATA_DIR, 'risk-claims', 'ulb_creditcard_first5000.csv');
t.test('the card fixture by datasets/risk-cards.json: 29 numeric columns, a row number for a reference', { skip: existsSync(CARDS) ? false : `no card fixture at ${CARDS}` }, async (t) => {
  const stats = newLoadStats();
  const evs = await all(schemaEvents(loadSchema(join(import.meta.dirname, '../../datasets/risk-cards.json')), { stats, outcomeDelayDays: 0 }));
  const payments = evs.filter((e) => e.type === 'transaction');
  t.equal(stats.rowsRead, 5000);
  t.same(stats.dropped, {});
  t.equal(payments.length, 5000);
  // PROVENANCE.md: Class 1 on rows 541, 623 and 4,920 (counted from 0; $row counts from 1); Time 0 .. 4,563 s.
  t.same(evs.filter((e) => e.type === 'outcome' && e.value === 1).map((e) => Number(e.itemId)).sort((a, b) => a - b), [542, 624, 4921], 'the three frauds, by row number');
  t.equal(payments[0].ts, Date.UTC(2013, 8, 1));
  t.equal(payments[payments.length - 1].ts, Date.UTC(2013, 8, 1) + 4563_000);
  t.equal(Object.keys(payments[0].context ?? {}).length, 29, 'V1..V28 and Amount');
  t.ok(Object.values(payments[0].context ?? {}).every((v) => Number.isFinite(Number(v))), 'every feature a number');
  // Through the risk kind's source: standardised, so no feature dominates by its scale.
  const { riskConfigSchema } = await import('../../shared/models/risk/config.ts');
  const { RiskExampleSource } = await import('../../shared/models/risk/examples.ts');
  const schema = loadSchema(join(import.meta.dirname, '../../datasets/risk-cards.json'));
  const src = new RiskExampleSource(riskConfigSchema.parse((schema.model.config as { settings: unknown }).settings));
  const b = src.push(evs);
  t.equal(b.size, 10_000, 'each payment scored, then trained with its outcome');
  t.equal(b.denseWidth, 29);
  let maxAbs = 0;
  for (let i = 5000; i < b.dense.length; i++) maxAbs = Math.max(maxAbs, Math.abs(b.dense[i]));
  t.ok(maxAbs <= 5 && maxAbs > 1, `standardised values within the clip (max |z| ${maxAbs.toFixed(2)})`);
});

t.test('schemas for data nobody here has seen: flag columns, drop reasons, a file out of time order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-flags-'));
  const file = join(dir, 'm.psv');
  // latin-1, '|'-separated, no header, genres as 0/1 flag columns (MovieLens 100k's u.item layout)
  writeFileSync(file, Buffer.from('1|Caf\xe9 Noir|0|1|1|1000000100\n2|Heat|1|0|0|1000000050\n3|Nothing|0|0|0|1000000070\n', 'latin1'));
  const schema = validateSchema({
    name: 'flags', source: { files: [file], format: 'csv', delimiter: '|', header: false, encoding: 'latin1', columns: ['id', 'title', 'Action', 'Comedy', 'Drama', 't'] },
    fields: {
      user: 'title', item: 'id', category: { flags: ['Action', 'Comedy', 'Drama'] }, timestamp: { column: 't', unit: 's' }, type: { constant: 'view' },
      context: { genres: { flags: ['Action', 'Comedy', 'Drama'], take: 'all' } },
    },
    model: { fields: ['user', 'item', 'category', 'genres'] },
  });
  const stats = newLoadStats();
  const evs = await all(schemaEvents(schema, { stats }));
  t.same(evs.map((e) => [e.userId, e.categoryId ?? null, e.context?.genres]), [['Café Noir', 'Comedy', 'Comedy|Drama'], ['Heat', 'Action', 'Action'], ['Nothing', null, '']],
    'the first flag set as the category, every flag set as the combination; latin-1 read as such');
  t.equal(stats.outOfOrder, 2, 'two rows earlier than one before them');
  const summary = loadSummary(schema, stats);
  t.match(summary[1], /2 rows are earlier than a row before them.*sortByTimestamp/, `warns: ${summary[1]}`);
  t.equal(loadSummary({ ...schema, sortByTimestamp: true }, { ...stats }).length, 1, 'no warning when the schema sorts');
  // A row the event rules refuse is dropped with the rule it broke.
  const wide = join(dir, 'wide.csv');
  writeFileSync(wide, `u,i,t,${Array.from({ length: 65 }, (_, k) => `c${k}`).join(',')}\nu1,i1,1000000000,${Array.from({ length: 65 }, () => 'x').join(',')}\n`);
  const s2 = newLoadStats();
  await all(schemaEvents(validateSchema({
    name: 'wide', source: { files: [wide], format: 'csv' },
    fields: { user: 'u', item: 'i', timestamp: { column: 't', unit: 's' }, type: { constant: 'view' }, context: Object.fromEntries(Array.from({ length: 65 }, (_, k) => [`c${k}`, `c${k}`])) },
    model: { fields: ['user', 'item'] },
  }), { stats: s2 }));
  t.same(s2.dropped, { 'invalid: context has more than 64 keys': 1 }, 'the reason names the rule');
  t.throws(() => validateSchema({ ...schema, fields: { ...schema.fields, category: { flags: [] } } }), /flag columns/);
});
