// The CSV reader on hand-made edge cases, then each loader against the figures published in
// its dataset's PROVENANCE.md, so a loader bug shows up as a count that disagrees with the source.
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { validateEvent, type FlywheelEvent } from '../../shared/events.ts';
import { newLoadStats, readCsv, readCsvBatches, type CsvOptions, type CsvSource } from '../../shared/datasets/csv.ts';
import { DEMO_DATA_PATH, ONLINE_RETAIL_DROP_REASONS, onlineRetailEventBatches, onlineRetailEvents, parseInvoiceDate } from '../../shared/datasets/online-retail.ts';
import { TAOBAO_SLICE_PATH, taobaoEventBatches, taobaoEvents } from '../../shared/datasets/taobao.ts';
import { MOVIELENS_DIR, SHARED_DATA_DIR, movieLensEventBatches, movieLensEvents } from '../../shared/datasets/movie-ratings.ts';

async function rows(src: CsvSource, opts?: CsvOptions): Promise<string[][]> {
  const out: string[][] = [];
  for await (const r of readCsv(src, opts)) out.push(r);
  return out;
}

// Whole datasets go through the batch APIs: tap's async hooks make each await costly, and the
// per-item generators are thin loops over these, checked against them below.
async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The same bytes cut into pieces of `size`, to hit every chunk boundary (mid-quote, mid-CRLF, mid-UTF-8). */
function pieces(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const CASES: [string, string, string[][], CsvOptions?][] = [
  ['plain', 'a,b,c\n1,2,3\n', [['a', 'b', 'c'], ['1', '2', '3']]],
  ['quoted comma', '"a,b",c\n', [['a,b', 'c']]],
  ['escaped quotes', '"say ""hi""",""""\n', [['say "hi"', '"']]],
  ['newline in quotes', '"line1\nline2",z\n"x\r\ny",w\n', [['line1\nline2', 'z'], ['x\r\ny', 'w']]],
  ['CRLF', 'a,b\r\n1,2\r\n', [['a', 'b'], ['1', '2']]],
  ['lone CR ends a record', 'a\rb\r', [['a'], ['b']]],
  ['no trailing newline', 'a,b\n1,2', [['a', 'b'], ['1', '2']]],
  ['no trailing newline after quote', 'a,"b"', [['a', 'b']]],
  ['empty fields', ',,\n"",x,\n', [['', '', ''], ['', 'x', '']]],
  ['trailing delimiter at end', 'a,', [['a', '']]],
  ['blank lines skipped', 'a\n\n\r\nb\n', [['a'], ['b']]],
  ['blank lines kept', 'a\n\nb\n', [['a'], [''], ['b']], { skipEmptyLines: false }],
  ['quoted empty line is a record', '""\n', [['']]],
  ['quote inside unquoted field is literal', 'a"b,c\n', [['a"b', 'c']]],
  ['text after closing quote is kept', '"ab"c,d\n', [['abc', 'd']]],
  ['utf-8 and BOM', '\uFEFFcafé,日本,€\n', [['café', '日本', '€']]],
  ['tab delimiter', 'a\t"b\tc"\t,\n', [['a', 'b\tc', ',']], { delimiter: '\t' }],
  ['semicolon delimiter', 'x;"y;z"\n', [['x', 'y;z']], { delimiter: ';' }],
];

t.test('csv reader: edge cases, whole and cut at every boundary', async (t) => {
  for (const [name, text, want, opts] of CASES) {
    const buf = Buffer.from(text, 'utf8');
    t.same(await rows(buf, opts), want, name);
    for (const size of [1, 2, 3]) t.same(await rows(pieces(buf, size), opts), want, `${name}, ${size}-byte chunks`);
  }
});

t.test('csv reader: header, latin1, gzip, errors', async (t) => {
  let header: string[] = [];
  t.same(await rows(Buffer.from('h1,h2\nv1,v2\n'), { header: true, onHeader: (h) => (header = h) }), [['v1', 'v2']]);
  t.same(header, ['h1', 'h2'], 'header handed over, not yielded');

  // "café,£5" then 0x80: ISO-8859-1 maps every byte to the same code point (windows-1252 would give €).
  const latin = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2c, 0xa3, 0x35, 0x0a, 0x80, 0x0a]);
  t.same(await rows(latin, { encoding: 'latin1' }), [['café', '£5'], ['\u0080']], 'latin1');
  t.same((await rows(latin))[0][0], 'caf\uFFFD', 'the same bytes read as utf8 are not café');

  const text = 'id,name\n1,"a, b"\n2,"c ""d"""\n';
  const want = [['id', 'name'], ['1', 'a, b'], ['2', 'c "d"']];
  t.same(await rows(gzipSync(text), { gzip: true }), want, 'gzip option on bytes');
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-csv-'));
  writeFileSync(join(dir, 'x.csv.gz'), gzipSync(text));
  writeFileSync(join(dir, 'x.csv'), text);
  t.same(await rows(join(dir, 'x.csv.gz')), want, 'gzip by .gz extension');
  t.same(await rows(join(dir, 'x.csv')), want, 'plain file');

  await t.rejects(rows(Buffer.from('a,"never closed\n')), /never closed/, 'unterminated quote');
  await t.rejects(rows(Buffer.from('a'), { delimiter: '"' }), /delimiter/, 'bad delimiter');
  await t.rejects(rows(join(dir, 'missing.csv')), { code: 'ENOENT' }, 'missing file');

  // Many rows across the reader's 64 KiB pieces, with quotes and newlines to be cut in two.
  const big: string[] = [];
  for (let i = 0; i < 50_000; i++) big.push(`${i},"q, ""${i}""\nx",é${i}\r\n`);
  const got = await rows(Buffer.from(big.join('')));
  t.equal(got.length, 50_000, 'big input: row count');
  t.ok(got.every((r, i) => r.length === 3 && r[0] === String(i) && r[1] === `q, "${i}"\nx` && r[2] === `é${i}`), 'big input: every row intact');
});

t.test('online retail: raw rows through the csv reader match PROVENANCE.md', async (t) => {
  t.ok(existsSync(DEMO_DATA_PATH), 'the demo data ships in the repo');
  let n = 0, badWidth = 0, noCustomer = 0, noDescription = 0, negQty = 0, nonPosPrice = 0, cancelRows = 0, uk = 0;
  let revenue = 0;
  const invoices = new Set<string>(), cancelInvoices = new Set<string>(), items = new Set<string>();
  const users = new Set<string>(), countries = new Set<string>(), seen = new Set<string>();
  let duplicates = 0;
  const expectUsers = new Set<string>(), expectItems = new Set<string>();
  let expectKept = 0;
  for await (const batch of readCsvBatches(DEMO_DATA_PATH, { header: true })) for (const r of batch) {
    n++;
    if (r.length !== 8) badWidth++;
    const [inv, code, desc, qtyS, , priceS, cust, country] = r;
    const qty = Number(qtyS), price = Number(priceS);
    invoices.add(inv);
    items.add(code);
    countries.add(country);
    if (cust === '') noCustomer++;
    else users.add(cust);
    if (desc === '') noDescription++;
    if (qty < 0) negQty++;
    if (price <= 0) nonPosPrice++;
    if (country === 'United Kingdom') uk++;
    if (inv.startsWith('C')) (cancelRows++, cancelInvoices.add(inv));
    revenue += qty * price;
    const key = r.join('\u0001');
    if (seen.has(key)) duplicates++;
    else seen.add(key);
    // The loader's rule, written out again independently.
    if (!inv.startsWith('C') && cust !== '' && qty > 0 && price > 0) (expectKept++, expectUsers.add(cust), expectItems.add(code));
  }
  t.equal(n, 541_909, 'rows');
  t.equal(badWidth, 0, 'every row has 8 fields');
  t.equal(invoices.size, 25_900, 'invoices');
  t.equal(cancelInvoices.size, 3_836, 'cancellation invoices');
  t.equal(cancelRows, 9_288, 'cancellation rows');
  t.equal(items.size, 4_070, 'stock codes');
  t.equal(users.size, 4_372, 'customers');
  t.equal(countries.size, 38, 'countries');
  t.equal(uk, 495_478, 'United Kingdom rows');
  t.equal(noCustomer, 135_080, 'missing CustomerID');
  t.equal(noDescription, 1_454, 'missing Description');
  t.equal(negQty, 10_624, 'Quantity < 0');
  t.equal(nonPosPrice, 2_517, 'UnitPrice <= 0');
  t.equal(duplicates, 5_268, 'exact duplicate rows');
  t.ok(Math.abs(revenue - 9_747_747.93) < 0.01, `net revenue ${revenue.toFixed(2)}`);

  const stats = newLoadStats();
  const keptUsers = new Set<string>(), keptItems = new Set<string>(), keptCountries = new Set<string>();
  let kept = 0, invalid = 0, unordered = 0, prevTs = 0, minTs = Infinity, maxTs = -Infinity;
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { stats })) for (const e of batch) {
    kept++;
    keptUsers.add(e.userId);
    keptItems.add(e.itemId);
    keptCountries.add(e.context!.country);
    try {
      validateEvent(e);
    } catch {
      invalid++;
    }
    if (e.type !== 'buy' || !(e.value! > 0) || e.ts < prevTs) unordered++;
    prevTs = e.ts;
    minTs = Math.min(minTs, e.ts);
    maxTs = Math.max(maxTs, e.ts);
  }
  t.equal(invalid, 0, 'every event passes validateEvent');
  t.equal(unordered, 0, 'all buys with positive quantity, in time order');
  t.equal(kept, expectKept, 'kept = rows passing the filter, recomputed here');
  t.equal(kept, 397_884, 'events kept');
  t.equal(keptUsers.size, 4_338, 'users after filtering');
  t.equal(keptItems.size, 3_665, 'items after filtering');
  t.equal(keptCountries.size, 37, 'countries after filtering');
  t.same([...keptUsers].sort(), [...expectUsers].sort(), 'same users as the filter recomputed here');
  t.same([...keptItems].sort(), [...expectItems].sort(), 'same items as the filter recomputed here');
  t.ok([...keptUsers].every((u) => users.has(u)) && [...keptItems].every((i) => items.has(i)), 'filtered ⊆ raw');
  t.ok([...keptCountries].every((c) => countries.has(c)), 'countries ⊆ raw');
  t.equal(minTs, Date.UTC(2010, 11, 1, 8, 26), 'first event 2010-12-01 08:26 UTC');
  t.equal(maxTs, Date.UTC(2011, 11, 9, 12, 50), 'last event 2011-12-09 12:50 UTC');
  t.equal(stats.rowsRead, 541_909);
  t.equal(stats.kept, kept);
  t.same(stats.dropped, { cancellation: 9_288, noCustomer: 134_697, nonPositivePrice: 40 }, 'drops by first reason');
  t.ok(Object.keys(stats.dropped).every((k) => (ONLINE_RETAIL_DROP_REASONS as readonly string[]).includes(k)), 'reasons are documented');
});

t.test('online retail: limit, dates, malformed rows', async (t) => {
  const first = await all(onlineRetailEvents(DEMO_DATA_PATH, { limit: 1000 }));
  t.same(first, (await all(onlineRetailEventBatches(DEMO_DATA_PATH, { limit: 1000 }))).flat(), 'one by one = batches');
  t.same(first[0], { userId: '17850', itemId: '85123A', type: 'buy', ts: Date.UTC(2010, 11, 1, 8, 26), value: 6, context: { country: 'United Kingdom', price: '2.55' } });
  t.equal(first.length, 1000, 'limit');
  t.equal((await all(onlineRetailEventBatches(DEMO_DATA_PATH, { limit: 5 }))).flat().length, 5, 'limit on batches');
  t.ok(Number.isNaN(parseInvoiceDate('2011-02-30 10:00:00')), 'impossible date');
  t.ok(Number.isNaN(parseInvoiceDate('2011-02-28T10:00:00')), 'other format');
  const head = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n';
  const body = ['1,A,d,2,2011-01-02 03:04:05,1.5,12345,France', '2,A,d,,2011-01-02 03:04:05,1.5,12345,France', '3,A,d,2,bad,1.5,12345,France',
    '4,A,d,2', 'C5,A,d,-2,2011-01-02 03:04:05,1.5,12345,France', '6,A,d,0,2011-01-02 03:04:05,1.5,12345,France', `7,${'x'.repeat(200)},d,2,2011-01-02 03:04:05,1.5,12345,France`];
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-or-'));
  writeFileSync(join(dir, 'or.csv'), head + body.join('\n'));
  const stats = newLoadStats();
  const got: FlywheelEvent[] = [];
  for await (const e of onlineRetailEvents(join(dir, 'or.csv'), { stats })) got.push(e);
  t.same(got.map((e) => [e.userId, e.ts, e.value, e.context]), [['12345', Date.UTC(2011, 0, 2, 3, 4, 5), 2, { country: 'France', price: '1.5' }]]);
  t.same(stats, { rowsRead: 7, kept: 1, dropped: { malformed: 3, cancellation: 1, nonPositiveQuantity: 1, invalid: 1 } });
  // With returns, the cancellation is a 'return' of its units (positive), not a drop.
  const withReturns: FlywheelEvent[] = [];
  const rs = newLoadStats();
  for await (const e of onlineRetailEvents(join(dir, 'or.csv'), { stats: rs, returns: true })) withReturns.push(e);
  t.same(withReturns.map((e) => [e.type, e.value]), [['buy', 2], ['return', 2]], 'a cancellation row is a return of 2 units');
  t.same(rs.dropped, { malformed: 3, nonPositiveQuantity: 1, invalid: 1 }, 'nothing dropped as a cancellation');
});

const haveTaobao = existsSync(TAOBAO_SLICE_PATH);
t.test('taobao slice matches PROVENANCE.md', { skip: haveTaobao ? false : `no Taobao data at ${TAOBAO_SLICE_PATH} (set FLYWHEEL_DATA_DIR)` }, async (t) => {
  t.equal((await all(readCsvBatches(TAOBAO_SLICE_PATH))).flat().length, 110_300, 'raw rows through the csv reader');
  const stats = newLoadStats();
  const users = new Map<string, number>(), items = new Set<string>(), cats = new Set<string>();
  const mix: Record<string, number> = {};
  let bad = 0, prev = 0, min = Infinity, max = -Infinity;
  for await (const batch of taobaoEventBatches(TAOBAO_SLICE_PATH, { stats })) for (const e of batch) {
    users.set(e.userId, (users.get(e.userId) ?? 0) + 1);
    items.add(e.itemId);
    cats.add(e.categoryId!);
    mix[e.type] = (mix[e.type] ?? 0) + 1;
    if (e.ts < prev) bad++;
    prev = e.ts;
    min = Math.min(min, e.ts);
    max = Math.max(max, e.ts);
    try { validateEvent(e); } catch { bad++; }
  }
  t.same(stats, { rowsRead: 110_300, kept: 110_300, dropped: {} });
  t.equal(bad, 0, 'all valid, time-ordered');
  t.equal(users.size, 66_454, 'users');
  t.equal(items.size, 84_793, 'items');
  t.equal(cats.size, 3_913, 'categories');
  t.same(mix, { view: 98_361, cart: 6_063, fav: 3_383, buy: 2_493 }, 'behaviour mix');
  t.equal(min, 1_511_658_000_000, 'first ts');
  t.equal(max, 1_511_665_811_000, 'last ts');
  t.same(await all(taobaoEvents(TAOBAO_SLICE_PATH, { limit: 500 })), (await all(taobaoEventBatches(TAOBAO_SLICE_PATH, { limit: 500 }))).flat(), 'one by one = batches, limit');
  const perUser = [...users.values()];
  t.equal(Math.max(...perUser), 20, 'max events per user');
  t.equal(perUser.filter((k) => k >= 5).length, 2_325, 'users with >= 5 events');
});

const haveMovieLens = existsSync(join(MOVIELENS_DIR, 'ratings.csv'));
t.test('movielens matches PROVENANCE.md', { skip: haveMovieLens ? false : `no MovieLens data under ${SHARED_DATA_DIR} (set FLYWHEEL_DATA_DIR)` }, async (t) => {
  const movies = await rows(join(MOVIELENS_DIR, 'movies.csv'), { header: true });
  t.equal(movies.length, 9_742, 'movies.csv rows through the csv reader');
  t.ok(movies.every((r) => r.length === 3), 'quoted titles with commas stay one field');
  const firstGenre = new Map(movies.map((r) => [r[0], r[2].split('|')[0]]));
  const stats = newLoadStats();
  const users = new Set<string>(), items = new Set<string>(), dist: Record<string, number> = {};
  let bad = 0, prev: FlywheelEvent | undefined, noCategory = 0;
  for await (const batch of movieLensEventBatches(MOVIELENS_DIR, { stats })) for (const e of batch) {
    users.add(e.userId);
    items.add(e.itemId);
    dist[e.value!.toFixed(1)] = (dist[e.value!.toFixed(1)] ?? 0) + 1;
    if (e.categoryId === undefined) noCategory += firstGenre.get(e.itemId) === '(no genres listed)' ? 1 : 1000;
    else if (e.categoryId !== firstGenre.get(e.itemId)) bad++;
    // Ties on ts keep file order, which is by userId and then movieId.
    if (prev && (e.ts < prev.ts || (e.ts === prev.ts && (+e.userId < +prev.userId || (e.userId === prev.userId && +e.itemId <= +prev.itemId))))) bad++;
    if (prev === undefined) t.equal(e.ts, 828_124_615_000, 'first ts');
    prev = e;
    try { validateEvent(e); } catch { bad++; }
  }
  t.equal(prev?.ts, 1_537_799_250_000, 'last ts');
  t.same(stats, { rowsRead: 100_836, kept: 100_836, dropped: {} });
  t.equal(bad, 0, 'valid, first genre as category, time-ordered with stable ties');
  t.ok(noCategory < 1000, `only "(no genres listed)" movies lack a category (${noCategory} ratings)`);
  t.equal(users.size, 610, 'users');
  t.equal(items.size, 9_724, 'rated movies');
  t.same(dist, { '0.5': 1_370, '1.0': 2_811, '1.5': 1_791, '2.0': 7_551, '2.5': 5_550, '3.0': 20_047, '3.5': 13_136, '4.0': 26_818, '4.5': 8_551, '5.0': 13_211 });
  const few = await all(movieLensEvents(MOVIELENS_DIR, { limit: 1500 }));
  t.same(few, (await all(movieLensEventBatches(MOVIELENS_DIR, { limit: 1500 }))).flat(), 'one by one = batches, limit');
  t.equal(few.length, 1500, 'limit');
});
