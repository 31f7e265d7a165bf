// Datasets by schema: each shipped schema yields exactly the events of the dataset's own
// loader (and so the PROVENANCE.md figures the loader tests check), bad schemas fail naming
// the field, and a new dataset works from a schema alone (tsv, latin1, no header, gzip, ndjson).
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig, type FlywheelEvent } from '../../shared/index.ts';
import { newLoadStats, type LoadStats } from '../../shared/datasets/csv.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { MOVIELENS_DIR, movieLensEventBatches } from '../../shared/datasets/movie-ratings.ts';
import { SHARED_DATA_DIR, TAOBAO_SLICE_PATH, taobaoEventBatches } from '../../shared/datasets/taobao.ts';
import {
  SchemaError, loadSchema, log2Bucket, parseDateFormat, schemaConfig, schemaEvents, validateSchema, type DatasetSchema,
} from '../../shared/datasets/schema.ts';

const DATASETS = join(import.meta.dirname, '../../datasets');

async function all(gen: AsyncIterable<FlywheelEvent[]>): Promise<FlywheelEvent[]> {
  const out: FlywheelEvent[] = [];
  for await (const b of gen) for (const e of b) out.push(e);
  return out;
}

const cases: { name: string; path: string; loader: (stats: LoadStats) => AsyncIterable<FlywheelEvent[]>; kept: number; rows: number }[] = [
  // PROVENANCE.md: 541,909 rows; 397,884 purchases remain after the loader's documented drops.
  { name: 'online-retail', path: DEMO_DATA_PATH, loader: (stats) => onlineRetailEventBatches(DEMO_DATA_PATH, { stats }), kept: 397_884, rows: 541_909 },
  // PROVENANCE.md: 110,300 rows, all kept.
  { name: 'taobao', path: TAOBAO_SLICE_PATH, loader: (stats) => taobaoEventBatches(TAOBAO_SLICE_PATH, { stats }), kept: 110_300, rows: 110_300 },
  // PROVENANCE.md: 100,836 ratings, all kept.
  { name: 'movie-ratings', path: join(MOVIELENS_DIR, 'ratings.csv'), loader: (stats) => movieLensEventBatches(MOVIELENS_DIR, { stats }), kept: 100_836, rows: 100_836 },
];

for (const c of cases) {
  const skip = existsSync(c.path) ? false : `no ${c.name} data at ${c.path} (shared data dir ${SHARED_DATA_DIR}; set FLYWHEEL_DATA_DIR)`;
  t.test(`datasets/${c.name}.json yields exactly the loader's events`, { skip }, async (t) => {
    const schema = loadSchema(join(DATASETS, `${c.name}.json`));
    const s1 = newLoadStats(), s2 = newLoadStats();
    const bySchema = await all(schemaEvents(schema, { stats: s1 }));
    const byLoader = await all(c.loader(s2));
    t.equal(bySchema.length, c.kept, 'event count as in PROVENANCE.md');
    t.equal(s1.rowsRead, c.rows, 'rows read');
    t.ok(bySchema.every((e, i) => JSON.stringify(e) === JSON.stringify(byLoader[i])), 'same events, same order');
    t.same(s1, s2, 'same drop counts');
    const few = await all(schemaEvents(schema, { limit: 1234 }));
    t.same(few, byLoader.slice(0, 1234), 'limit');
    t.ok(schemaConfig(schema).settings, 'config overrides');
    t.ok(loadConfig({ overrides: schemaConfig(schema), env: {} }), 'the overrides pass config validation');
  });
}

t.test('movielens schema: threshold label and first genre', { skip: existsSync(join(MOVIELENS_DIR, 'ratings.csv')) ? false : 'no MovieLens data' }, async (t) => {
  const schema = loadSchema(join(DATASETS, 'movie-ratings.json'));
  t.same((schemaConfig(schema).settings as { labels: unknown }).labels, { kind: 'threshold', min: 4 });
  const evs = await all(schemaEvents(schema));
  // PROVENANCE.md: 48,580 ratings >= 4.0.
  t.equal(evs.filter((e) => e.value! >= 4).length, 48_580);
});

const GOOD: DatasetSchema = {
  name: 'tiny',
  source: { files: ['x.csv'], format: 'csv' },
  fields: { user: 'u', item: 'i', timestamp: { column: 't', unit: 's' }, type: { constant: 'buy' } },
  labels: { kind: 'implicit', negatives: 2 },
  model: { fields: ['user', 'item'] },
};

t.test('validation errors name the field', async (t) => {
  const bad = (patch: (s: any) => void, field: RegExp, why: string) => {
    const s = structuredClone(GOOD) as any;
    patch(s);
    let err: unknown;
    try { validateSchema(s); } catch (e) { err = e; }
    t.ok(err instanceof SchemaError && field.test(err.field), `${why}: ${(err as Error | undefined)?.message ?? 'no error'}`);
  };
  t.ok(validateSchema(structuredClone(GOOD)), 'the base schema is valid');
  bad((s) => { delete s.fields.user; }, /^fields\.user$/, 'user is required');
  bad((s) => { s.fields.timestamp.unit = 'h'; }, /^fields\.timestamp\.unit$/, 'unit');
  bad((s) => { s.fields.timestamp = { column: 't', unit: 's', format: 'YYYY' }; }, /^fields\.timestamp$/, 'unit and format');
  bad((s) => { s.fields.timestamp = { column: 't', format: 'HH:mm' }; }, /^fields\.timestamp\.format$/, 'format without a date');
  bad((s) => { s.fields.type = { column: 'b', map: { pv: 'look' } }; }, /^fields\.type\.map\.pv$/, 'unknown event type');
  bad((s) => { s.fields.userr = 'x'; }, /^fields\.userr$/, 'typo in a key');
  bad((s) => { s.source.format = 'xlsx'; }, /^source\.format$/, 'format');
  bad((s) => { s.source.header = false; }, /^source\.columns$/, 'no header and no column names');
  bad((s) => { s.source.files = []; }, /^source\.files$/, 'no files');
  bad((s) => { s.labels = { kind: 'threshold', min: 4 }; }, /^labels\.column$/, 'threshold without a column');
  bad((s) => { s.labels = { kind: 'types', positive: ['purchase'] }; }, /^labels\.positive$/, 'bad positive type');
  bad((s) => { s.labels = { kind: 'implicit', negatives: 0 }; }, /^labels\.negatives$/, 'negatives');
  bad((s) => { s.model.fields = ['user', 'price']; }, /^model\.fields$/, 'unknown model field');
  bad((s) => { s.model.fields = ['user', 'category']; }, /^model\.fields$/, 'category without fields.category');
  bad((s) => { s.filters = [{ column: 'q', atMost: 0, startsWith: 'C' }]; }, /^filters\[0\]$/, 'two conditions in one filter');
  bad((s) => { s.fields.context = { 'bad key': 'c' }; }, /^fields\.context\.bad key$/, 'context key');
  bad((s) => { s.name = 'a b'; }, /^name$/, 'name');
  const dir = mkdtempSync(join(tmpdir(), 'fw-schema-'));
  writeFileSync(join(dir, 's.json'), JSON.stringify({ ...GOOD, fields: { ...GOOD.fields, user: 7 } }));
  t.throws(() => loadSchema(join(dir, 's.json')), /s\.json: fields\.user/, 'loadSchema names the file and the field');
  writeFileSync(join(dir, 'broken.json'), '{ "name": ');
  t.throws(() => loadSchema(join(dir, 'broken.json')), /cannot read/, 'unparseable JSON');
});

t.test('dates, log2 buckets', async (t) => {
  const p = parseDateFormat('DD/MM/YYYY HH:mm');
  t.equal(p('02/01/2011 08:26'), Date.UTC(2011, 0, 2, 8, 26));
  t.ok(Number.isNaN(p('30/02/2011 08:26')), 'a date that does not exist');
  t.ok(Number.isNaN(p('2011-01-02 08:26')), 'another format');
  t.equal(parseDateFormat('YYYY-MM-DD HH:mm:ss')('2010-12-01 08:26:00'), Date.UTC(2010, 11, 1, 8, 26));
  t.equal(parseDateFormat('iso')('2010-12-01T08:26:00'), Date.UTC(2010, 11, 1, 8, 26), 'iso without a zone is UTC');
  // 2^1 <= 3 < 2^2; 2^-2 <= 0.3 < 2^-1
  t.same([log2Bucket(3), log2Bucket(1), log2Bucket(0.3), log2Bucket(0), log2Bucket(-5), log2Bucket(NaN)], ['2^1', '2^0', '2^-2', '0', '-2^2', '']);
});

t.test('a new dataset by schema alone: tsv, latin1, no header, gzip; and ndjson', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-tiny-'));
  // latin1 bytes: "Zürich" has ü = 0xFC, one byte. Rows out of time order; one cancellation,
  // one without a user, one unknown behaviour, one bad date, one row too short.
  const tsv = [
    'u1\ti1\tcatA\tclick\t02/01/2011 08:26\tZ\u00fcrich\t3.5',
    'u2\ti2\tcatB\tview\t01/01/2011 10:00\tBern\t0',
    'Cu3\ti3\tcatB\tclick\t01/01/2011 11:00\tBern\t1',
    '\ti4\tcatB\tclick\t01/01/2011 11:00\tBern\t1',
    'u5\ti5\tcatB\tsmell\t01/01/2011 11:00\tBern\t1',
    'u6\ti6\tcatB\tclick\t31/02/2011 11:00\tBern\t1',
    'u7\ti7\tcatB',
  ].join('\n');
  writeFileSync(join(dir, 'tiny.tsv.gz'), gzipSync(Buffer.from(tsv, 'latin1')));
  writeFileSync(join(dir, 'cats.csv'), 'cat,name\ncatA,Alpha|x\ncatB,Beta\n');
  const schema = {
    name: 'tiny',
    source: { files: ['tiny.tsv.gz'], format: 'tsv', header: false, encoding: 'latin1', columns: ['user', 'item', 'cat', 'what', 'when', 'city', 'price'] },
    sortByTimestamp: true,
    fields: {
      user: 'user', item: 'item',
      category: { column: 'cat', lookup: { file: 'cats.csv', key: 'cat', value: 'name', split: '|' } },
      timestamp: { column: 'when', format: 'DD/MM/YYYY HH:mm' },
      type: { column: 'what', map: { click: 'click', view: 'view' } },
      context: { city: 'city' },
      numeric: [{ name: 'price', column: 'price' }],
    },
    filters: [{ column: 'user', startsWith: 'C', reason: 'cancellation' }, { column: 'user', empty: true }],
    labels: { kind: 'types', positive: ['click'] },
    model: { fields: ['user', 'item', 'category', 'city', 'price', 'hour'] },
  };
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(schema));
  const stats = newLoadStats();
  const evs = await all(schemaEvents(loadSchema(join(dir, 'tiny.json')), { stats }));
  t.same(evs, [
    { userId: 'u2', itemId: 'i2', type: 'view', ts: Date.UTC(2011, 0, 1, 10), categoryId: 'Beta', context: { city: 'Bern', price: '0' } },
    { userId: 'u1', itemId: 'i1', type: 'click', ts: Date.UTC(2011, 0, 2, 8, 26), categoryId: 'Alpha', context: { city: 'Z\u00fcrich', price: '2^1' } },
  ], 'sorted by time, lookup joined, latin1 decoded, price bucketized');
  t.same(stats, { rowsRead: 7, kept: 2, dropped: { cancellation: 1, 'filter:user': 1, unknownType: 1, malformed: 2 } });
  t.same((schemaConfig(loadSchema(join(dir, 'tiny.json'))).settings as { labels: unknown }).labels, { kind: 'types', positive: ['click'] });

  const nd = [
    JSON.stringify({ uid: 17, item: { id: 'a' }, ts: 1_600_000_000_000, stars: 5, shop: 'x' }),
    'not json',
    JSON.stringify({ uid: 18, item: { id: 'b' }, ts: 1_600_000_001_000, stars: 2, shop: 'y' }),
    JSON.stringify({ uid: 19, item: { id: 'c' }, ts: 1_600_000_002_000, stars: null, shop: 'y' }),
  ].join('\n');
  writeFileSync(join(dir, 'r.ndjson'), nd);
  writeFileSync(join(dir, 'nd.json'), JSON.stringify({
    name: 'nd', source: { files: ['r.ndjson'], format: 'ndjson' },
    fields: { user: 'uid', item: 'item.id', timestamp: { column: 'ts', unit: 'ms' }, type: { constant: 'rating' }, context: { shop: 'shop' } },
    labels: { kind: 'threshold', column: 'stars', min: 4 },
    model: { fields: ['user', 'item', 'shop'] },
  }));
  const s2 = newLoadStats();
  const nds = await all(schemaEvents(loadSchema(join(dir, 'nd.json')), { stats: s2 }));
  t.same(nds, [
    { userId: '17', itemId: 'a', type: 'rating', ts: 1_600_000_000_000, value: 5, context: { shop: 'x' } },
    { userId: '18', itemId: 'b', type: 'rating', ts: 1_600_000_001_000, value: 2, context: { shop: 'y' } },
  ], 'ndjson: numbers as ids, dotted paths, threshold column as value');
  t.same(s2.dropped, { malformed: 2 }, 'a line that is not JSON and a missing value are malformed');
});
