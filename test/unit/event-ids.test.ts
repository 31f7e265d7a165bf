// Identifier rules (shared/events.ts): ids and context values are NFC-normalised and trimmed,
// so strings that look the same are one id; invisible characters are refused with a reason.
// The refusals over HTTP, one per character class and field, are in the corpus
// (test/corpus/generate-http.ts); here what is accepted, and to what.
import t from 'tap';
import { BadEventError, cleanIdString, validateEvent } from '../../shared/index.ts';
import { parseEventsBody } from '../../services/ingest/parse-events.ts';

const TS = Date.UTC(2024, 0, 1);
const ev = (p: Record<string, unknown>) => validateEvent({ userId: 'u1', itemId: 'i1', type: 'view', ts: TS, ...p }, TS);
const reason = (f: () => unknown) => { try { f(); } catch (err) { return err instanceof BadEventError ? err.message : `not a BadEventError: ${err}`; } return 'accepted'; };

t.test('forms that differ only by Unicode normalisation are one id (NFC)', async (t) => {
  const nfd = 'Jose\u0301', nfc = 'Jos\u00e9';
  t.not(nfd, nfc, 'the two strings differ');
  t.equal(ev({ userId: nfd }).userId, nfc, 'e + combining acute becomes the precomposed é');
  t.equal(ev({ itemId: 'A\u030a' }).itemId, '\u00c5', 'A + ring above: Å');
  t.equal(ev({ categoryId: '\u1100\u1161' }).categoryId, '\uac00', 'Hangul jamo compose');
  t.equal(ev({ context: { city: 'Mu\u0308nchen' } }).context?.city, 'M\u00fcnchen', 'context values too');
  t.equal(ev({ userId: '\u212b' }).userId, '\u00c5', 'the Angstrom sign is canonically Å');
  t.equal(ev({ userId: '\uff21' }).userId, '\uff21', 'compatibility forms are left as they are (NFC, not NFKC)');
});

t.test('ids are trimmed; inner spaces and plain ids stay as they are', async (t) => {
  t.equal(ev({ userId: '  u42 ' }).userId, 'u42');
  t.equal(ev({ itemId: '\u00a0i7\u3000' }).itemId, 'i7', 'Unicode spaces too');
  t.equal(ev({ itemId: 'Jane Doe' }).itemId, 'Jane Doe', 'a space inside is part of the id');
  t.equal(ev({ userId: 17850 }).userId, '17850', 'a safe integer is its decimal string');
  t.equal(ev({ userId: '85123A' }).userId, '85123A');
  t.equal(ev({ userId: `${'x'.repeat(128)}  ` }).userId, 'x'.repeat(128), 'the limit applies to the trimmed id');
  t.equal(ev({ context: { note: '' } }).context?.note, '', 'a context value may be empty');
  t.equal(ev({ context: { note: ' a ' } }).context?.note, 'a', 'and is trimmed');
  t.equal(ev({ userId: 'caf\u00e9 \ud83d\ude00' }).userId, 'caf\u00e9 \ud83d\ude00', 'visible non-ASCII is fine');
});

t.test('refusals name the field, the character and where it is', async (t) => {
  t.equal(reason(() => ev({ userId: '' })), 'userId is empty');
  t.equal(reason(() => ev({ userId: ' \t' })), 'userId contains a control character (U+0009 at index 1)', 'a tab is a control character, not whitespace to trim');
  t.equal(reason(() => ev({ itemId: '\u3000 ' })), 'itemId is empty after trimming whitespace');
  t.equal(reason(() => ev({ userId: 'ab\u0000' })), 'userId contains a control character (U+0000 at index 2)');
  t.equal(reason(() => ev({ itemId: 'i\u200d1' })), 'itemId contains a zero-width character (U+200D at index 1)');
  t.equal(reason(() => ev({ categoryId: '\ufeffc' })), 'categoryId contains a zero-width character (U+FEFF at index 0)');
  t.equal(reason(() => ev({ userId: 'u\u2067' })), 'userId contains a bidirectional control character (U+2067 at index 1)');
  t.equal(reason(() => ev({ context: { k: '\u061c' } })), 'context.k contains a bidirectional control character (U+061C at index 0)');
  t.equal(reason(() => ev({ userId: 'e\u0301'.repeat(129) })), 'userId is longer than 128 characters', 'after NFC: 129 characters');
  t.equal(reason(() => ev({ userId: 'x'.repeat(100_000) })), 'userId is longer than 128 characters', 'a huge id is refused before any work on it');
  t.equal(cleanIdString('a', 'f', 128), 'a');
});

t.test('in a request: both spellings land on one id, and a bad one gets its per-event reason', async (t) => {
  const body = [{ userId: 'Jose\u0301', itemId: 'i1', type: 'view', ts: TS }, { userId: ' Jos\u00e9', itemId: 'i1', type: 'view', ts: TS }];
  const ok = parseEventsBody(Buffer.from(JSON.stringify(body)), 'application/json', 10, TS);
  t.ok(ok.ok);
  if (ok.ok) t.same(new Set(ok.events.map((e) => e.userId)), new Set(['Jos\u00e9']), 'one user');
  const bad = parseEventsBody(Buffer.from(JSON.stringify([...body, { ...body[0], userId: 'u\u202e1' }])), 'application/json', 10, TS);
  t.same(bad, {
    ok: false, code: 'invalid_event', reason: '1 of 3 events are invalid; nothing was accepted',
    rejections: [{ index: 2, reason: 'userId contains a bidirectional control character (U+202E at index 1)' }],
  });
});
