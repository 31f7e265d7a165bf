// The HTTP bad-input cases for POST /v1/events. Every case is refused as a whole: expected
// status, code (the error code in the body and the rejection metric's label), a substring of
// the reason, and for per-event refusals a substring of the first event's reason.
import type { HttpInput } from './values.ts';

export interface HttpCase {
  name: string;
  input: HttpInput;
  expect: { status: number; code: string; reason: string; eventReason?: string };
}

export const HTTP_CONFIG = { maxBodyBytes: 65536, maxEventsPerRequest: 50 };
const JSON_T = 'application/json';
const ND = 'application/x-ndjson';
/** A valid event; cases change one thing about it. */
const EV = { userId: 'u1', itemId: 'i1', type: 'view', ts: 1700000000000 };
const TS_2200 = Date.UTC(2200, 0, 1);

export function httpCases(): HttpCase[] {
  const out: HttpCase[] = [];
  const add = (name: string, input: HttpInput, status: number, code: string, reason: string, eventReason?: string) =>
    out.push({ name, input: { contentType: JSON_T, ...input }, expect: { status, code, reason, ...(eventReason ? { eventReason } : {}) } });
  /** One event with `patch` applied (undefined deletes a field), refused for eventReason. */
  const bad = (name: string, patch: Record<string, unknown>, eventReason: string) => {
    const ev: Record<string, unknown> = { ...EV };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete ev[k];
      else Object.defineProperty(ev, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    add(`event: ${name}`, { json: [ev] }, 400, 'invalid_event', '1 of 1 events are invalid', eventReason);
  };

  // Content type: 415 before the body is looked at.
  for (const [n, ct] of [['text/plain', 'text/plain'], ['xml', 'application/xml'], ['form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'], ['json-patch', 'application/json-patch+json'], ['octet-stream', 'application/octet-stream'],
    ['msgpack', 'application/msgpack'], ['json with typo', 'application/jsn']]) {
    add(`content type ${n}`, { contentType: ct, json: [EV] }, 415, 'unsupported_media_type', 'unsupported content type');
  }
  add('content type missing', { contentType: '', json: [EV] }, 415, 'unsupported_media_type', 'content type is missing');
  add('charset latin1', { contentType: 'application/json; charset=latin1', json: [EV] }, 415, 'unsupported_media_type', 'charset "latin1" is not supported');
  add('charset utf-16', { contentType: 'application/json; charset="utf-16"', json: [EV] }, 415, 'unsupported_media_type', 'charset "utf-16"');

  // The body as a whole.
  const mb = (name: string, input: HttpInput, reason: string) => add(name, input, 400, 'malformed_body', reason);
  mb('empty body', { body: '' }, 'body is empty');
  mb('empty NDJSON body', { contentType: ND, body: '' }, 'body is empty');
  mb('whitespace only', { body: ' \n\t\r\n ' }, 'body is empty');
  mb('NDJSON of blank lines', { contentType: ND, body: '\n\n\r\n' }, 'body is empty');
  mb('truncated object', { body: '{' }, 'malformed JSON');
  mb('truncated array', { body: '[{"userId":' }, 'malformed JSON');
  mb('trailing comma', { body: '[{"userId":"u1","itemId":"i1","type":"view","ts":1700000000000},]' }, 'malformed JSON');
  mb('single quotes', { body: "[{'userId':'u1'}]" }, 'malformed JSON');
  mb('NaN literal', { body: '[{"userId":"u1","itemId":"i1","type":"view","ts":NaN}]' }, 'malformed JSON');
  mb('Infinity literal', { body: '[{"userId":"u1","itemId":"i1","type":"view","ts":Infinity}]' }, 'malformed JSON');
  mb('comment', { body: '// events\n[]' }, 'malformed JSON');
  mb('two arrays', { body: '[][]' }, 'malformed JSON');
  mb('unquoted keys', { body: '[{userId:"u1"}]' }, 'malformed JSON');
  mb('raw control character in a string', { body: '[{"userId":"u\u0001","itemId":"i1","type":"view","ts":1700000000000}]' }, 'malformed JSON');
  mb('raw newline in a string', { body: '[{"userId":"u\n1"}]' }, 'malformed JSON');
  mb('bad escape', { body: '[{"userId":"\\x41"}]' }, 'malformed JSON');
  mb('short unicode escape', { body: '[{"userId":"\\u12"}]' }, 'malformed JSON');
  mb('body is an object', { json: EV }, 'body must be a JSON array');
  mb('body is a string', { json: 'events' }, 'body must be a JSON array');
  mb('body is a number', { body: '42' }, 'body must be a JSON array');
  mb('body is null', { body: 'null' }, 'body must be a JSON array');
  mb('body is true', { body: 'true' }, 'body must be a JSON array');
  mb('empty array', { json: [] }, 'no events in the body');
  mb('invalid UTF-8 byte 0xff', { bodyHex: Buffer.from('[{"userId":"u').toString('hex') + 'ff' + Buffer.from('"}]').toString('hex') }, 'not valid UTF-8');
  mb('overlong UTF-8 for "/"', { bodyHex: '5b22c0af225d' }, 'not valid UTF-8');
  mb('truncated multi-byte sequence', { bodyHex: '5b22e282225d' }, 'not valid UTF-8');
  mb('lone continuation byte', { bodyHex: '5b2280225d' }, 'not valid UTF-8');
  mb('UTF-8 encoded surrogate (CESU-8)', { bodyHex: '5b22eda080225d' }, 'not valid UTF-8');
  mb('UTF-16LE body with BOM', { bodyHex: 'fffe5b005d00' }, 'not valid UTF-8');
  mb('code point above U+10FFFF', { bodyHex: '5b22f4908080225d' }, 'not valid UTF-8');
  mb('NDJSON: bad second line', { contentType: ND, body: `${JSON.stringify(EV)}\n{"userId":\n` }, 'malformed JSON on line 2');
  mb('NDJSON: two objects on a line', { contentType: ND, body: `${JSON.stringify(EV)}${JSON.stringify(EV)}\n` }, 'malformed JSON on line 1');
  mb('NDJSON: truncated last line', { contentType: ND, body: `${JSON.stringify(EV)}\n${JSON.stringify(EV).slice(0, 20)}` }, 'malformed JSON on line 2');
  mb('NDJSON: a JSON array sent as NDJSON over lines', { contentType: ND, body: `[\n${JSON.stringify(EV)}\n]` }, 'malformed JSON on line 1');
  mb('NDJSON: invalid UTF-8', { contentType: ND, bodyHex: '7b7d0aff0a' }, 'not valid UTF-8');

  // Counts and sizes.
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ ...EV, userId: `u${i}` }));
  add('51 events (limit 50)', { json: many(51) }, 400, 'too_many_events', 'more than 50 events');
  add('51 NDJSON events', { contentType: ND, body: many(51).map((e) => JSON.stringify(e)).join('\n') }, 400, 'too_many_events', 'more than 50 events');
  add('5000 tiny NDJSON lines', { contentType: ND, bodyRepeat: { unit: '{}\n', times: 5000 } }, 400, 'too_many_events', 'more than 50 events');
  add('body one byte over the limit', { bodyRepeat: { prefix: '[', unit: ' ', times: 65535, suffix: ']' } }, 413, 'payload_too_large', 'exceeds the limit of 65536 bytes');
  add('1 MiB body', { bodyRepeat: { prefix: '[', unit: `${JSON.stringify(EV)},`, times: 16000, suffix: '{}]' } }, 413, 'payload_too_large', 'limit of 65536 bytes');
  add('chunked body over the limit (no Content-Length)', { chunked: true, bodyRepeat: { prefix: '[', unit: ' ', times: 200000, suffix: ']' } }, 413, 'payload_too_large', 'exceeds the limit of 65536 bytes');
  add('huge userId over the body limit', { json: [{ ...EV, userId: { $repeat: ['x', 70000] } }] }, 413, 'payload_too_large', 'limit of 65536 bytes');
  bad('huge userId within the body limit', { userId: { $repeat: ['x', 60000] } }, 'userId is longer than 128 characters');
  // The shape of the body, checked on its bytes before it is parsed (services/ingest/json-shape.ts).
  add('deeply nested arrays', { bodyRepeat: { prefix: '['.repeat(5000), unit: ']', times: 5000 } }, 400, 'too_deep', 'JSON nested deeper than 8 levels');
  add('9 levels of arrays (limit 8)', { body: `${'['.repeat(9)}${']'.repeat(9)}` }, 400, 'too_deep', 'deeper than 8 levels');
  add('deeply nested objects in an event', { body: `[{"userId":"u1","itemId":"i1","type":"view","ts":1700000000000,"context":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}]` }, 400, 'too_deep', 'deeper than 8 levels');
  add('NDJSON: a deeply nested line', { contentType: ND, body: `${JSON.stringify(EV)}\n${'['.repeat(20)}${']'.repeat(20)}\n` }, 400, 'too_deep', 'deeper than 8 levels');
  // Brackets inside strings (after an escaped backslash, around an escaped quote) are no nesting: the event gets its own reason.
  add('brackets in strings are not nesting', { json: [{ ...EV, userId: `${'['.repeat(10)}\\`, itemId: `${'{'.repeat(10)}"${'['.repeat(10)}`, type: 'nope' }] }, 400, 'invalid_event', '1 of 1', 'type is unknown');
  add('51 numbers (limit 50 events), refused before parsing', { bodyRepeat: { prefix: '[', unit: '1,', times: 50, suffix: '1]' } }, 400, 'too_many_events', 'more than 50 events');
  add('an event with 200 fields', { json: [{ ...EV, ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, 1])) }] }, 400, 'too_wide', 'more than 128 members');
  add('a field holding an array of 1000 numbers', { json: [{ ...EV, value: { $array: [1000, 1] } }] }, 400, 'too_wide', 'more than 128 members');
  add('NDJSON: a line of an object with 500 keys', { contentType: ND, body: `${JSON.stringify(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 0])))}\n` }, 400, 'too_wide', 'more than 128 members');

  add('50 invalid events', { json: Array.from({ length: 50 }, () => ({ ...EV, ts: 'x' })) }, 400, 'invalid_event', '50 of 50 events are invalid', 'ts must be a number');
  add('one bad event among valid ones', { json: [EV, EV, { ...EV, type: 'nope' }] }, 400, 'invalid_event', '1 of 3 events are invalid', 'type is unknown');
  add('NDJSON: a line holding an array', { contentType: ND, body: `[${JSON.stringify(EV)}]\n` }, 400, 'invalid_event', '1 of 1', 'event must be an object, got array');

  // Idempotency-Key: bounded printable ASCII (the key's other rules are in test/unit/ingest-idempotency.test.ts).
  const key = (name: string, k: string, reason: string) => add(`Idempotency-Key ${name}`, { json: [EV], headers: { 'idempotency-key': k } }, 400, 'invalid_idempotency_key', reason);
  key('of 256 characters', 'k'.repeat(256), 'longer than 255 characters');
  key('empty', '', 'is empty');
  key('with a non-ASCII character', 'cl\u00e9', 'printable ASCII');
  key('with a tab', 'a\tb', 'printable ASCII');

  // Routing.
  add('GET /v1/events', { method: 'GET' }, 405, 'method_not_allowed', 'method GET not allowed on /v1/events');
  add('PUT /v1/events', { method: 'PUT', json: [EV] }, 405, 'method_not_allowed', 'not allowed');
  add('DELETE /v1/events', { method: 'DELETE' }, 405, 'method_not_allowed', 'not allowed');
  add('POST /v1/event', { path: '/v1/event', json: [EV] }, 404, 'not_found', 'no route /v1/event');
  add('POST /v1/events/ (trailing slash)', { path: '/v1/events/', json: [EV] }, 404, 'not_found', 'no route');
  add('a 4000-character path', { path: `/${'a'.repeat(4000)}`, json: [EV] }, 404, 'not_found', 'no route /aaaa');

  httpEventCases(bad, add);
  return out;
}

type Bad = (name: string, patch: Record<string, unknown>, eventReason: string) => void;
type Add = (name: string, input: HttpInput, status: number, code: string, reason: string, eventReason?: string) => void;

/** One field of one event wrong at a time. */
function httpEventCases(bad: Bad, add: Add): void {
  for (const [n, v] of [['null', null], ['a number', 1], ['a string', 's'], ['an array', []], ['true', true]] as [string, unknown][]) {
    add(`event is ${n}`, { json: [v] }, 400, 'invalid_event', '1 of 1', 'event must be an object');
  }
  for (const f of ['userId', 'itemId', 'type', 'ts']) bad(`${f} missing`, { [f]: undefined }, `${f} is missing`);
  for (const f of ['userId', 'itemId', 'categoryId']) {
    bad(`${f} empty`, { [f]: '' }, `${f} is empty`);
    bad(`${f} of 129 chars`, { [f]: 'x'.repeat(129) }, `${f} is longer than 128 characters`);
    bad(`${f} a fraction`, { [f]: 1.5 }, `${f} must be a string or a safe integer, got number`);
    bad(`${f} 1e300`, { [f]: 1e300 }, `${f} must be a string or a safe integer, got number`);
    bad(`${f} 2^53 (unsafe integer)`, { [f]: 2 ** 53 }, 'got number');
    bad(`${f} true`, { [f]: true }, 'got boolean');
    bad(`${f} null`, { [f]: null }, 'got null');
    bad(`${f} an object`, { [f]: { id: 'x' } }, 'got object');
    bad(`${f} an array`, { [f]: ['x'] }, 'got array');
    bad(`${f} lone high surrogate`, { [f]: '\ud800' }, `${f} is not valid unicode (lone surrogate)`);
    bad(`${f} lone low surrogate`, { [f]: 'a\udc00b' }, 'lone surrogate');
    bad(`${f} reversed surrogate pair`, { [f]: '\udc00\ud800' }, 'lone surrogate');
    // Identifier rules (shared/events.ts cleanIdString): trimmed, visible characters only.
    for (const [n, v] of [['a space', ' '], ['spaces', '   '], ['NBSP and ideographic space', '\u00a0\u3000'], ['a line separator', '\u2028']] as [string, string][]) {
      bad(`${f} only ${n}`, { [f]: v }, `${f} is empty after trimming whitespace`);
    }
    for (const [n, v, r] of [['NUL', 'a\u0000b', 'a control character (U+0000 at index 1)'], ['a trailing NUL', 'u1\u0000', 'a control character (U+0000'],
      ['a tab', 'a\tb', 'a control character (U+0009'], ['a newline', 'u1\n', 'a control character (U+000A'], ['DEL', 'a\u007f', 'a control character (U+007F'],
      ['C1 NEL', 'a\u0085', 'a control character (U+0085'], ['C1 U+009F', '\u009fa', 'a control character (U+009F at index 0)']] as [string, string, string][]) {
      bad(`${f} with ${n}`, { [f]: v }, `${f} contains ${r}`);
    }
    for (const c of [0x200b, 0x200c, 0x200d, 0x2060, 0xfeff]) bad(`${f} with zero-width U+${c.toString(16).toUpperCase()}`, { [f]: `u${String.fromCharCode(c)}1` }, `${f} contains a zero-width character`);
    for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c]) {
      bad(`${f} with bidi control U+${c.toString(16).toUpperCase().padStart(4, '0')}`, { [f]: `${String.fromCharCode(c)}u1` }, `${f} contains a bidirectional control character`);
    }
    bad(`${f} of 129 chars after NFC`, { [f]: 'e\u0301'.repeat(129) }, `${f} is longer than 128 characters`);
  }
  for (const [n, v] of [['upper case', 'VIEW'], ['unknown', 'purchase'], ['empty', ''], ['a number', 1], ['null', null],
    ['an array', ['view']], ['trailing space', 'view '], ['__proto__', '__proto__'], ['constructor', 'constructor']] as [string, unknown][]) {
    bad(`type ${n}`, { type: v }, 'type is unknown: must be one of view, click');
  }
  const tooOld = 'before 1990-01-01';
  for (const [n, v, r] of [['a date string', '2024-01-01', 'ts must be a number'], ['a numeric string', '1700000000000', 'ts must be a number'],
    ['in seconds', 1700000000, tooOld], ['zero', 0, tooOld], ['negative', -1, tooOld], ['1989-12-31', Date.UTC(1989, 11, 31), tooOld],
    ['year 2200', TS_2200, 'more than a day in the future'], ['1e300', 1e300, 'more than a day in the future'],
    ['2^53 + 2', 2 ** 53 + 2, 'more than a day in the future'], ['null', null, 'ts must be a number'], ['true', true, 'ts must be a number'],
    ['an object', { ms: 1 }, 'ts must be a number'], ['an array', [1700000000000], 'ts must be a number']] as [string, unknown, string][]) {
    bad(`ts ${n}`, { ts: v }, r);
  }
  for (const [n, v] of [['a string', '5'], ['null', null], ['true', true], ['an object', {}], ['an array', [5]]] as [string, unknown][]) {
    bad(`value ${n}`, { value: v }, 'value must be a finite number');
  }
  const ctx = (n: string, c: unknown, r: string) => bad(`context ${n}`, { context: c }, r);
  for (const [n, v] of [['null', null], ['an array', ['a']], ['a string', 'a=b'], ['a number', 1]] as [string, unknown][]) ctx(n, v, 'context must be an object of strings');
  ctx('nested object', { country: { name: 'France' } }, 'context.country must be a string');
  ctx('number value', { qty: 1 }, 'context.qty must be a string');
  ctx('null value', { k: null }, 'context.k must be a string');
  ctx('boolean value', { k: true }, 'context.k must be a string');
  ctx('key with a dash', { 'bad-key': 'v' }, 'context key "bad-key" must match');
  ctx('key starting with a digit', { '1abc': 'v' }, 'must match');
  ctx('empty key', { '': 'v' }, 'context key "" must match');
  ctx('key of 33 chars', { ['k'.repeat(33)]: 'v' }, 'must match');
  ctx('key with a lone surrogate', { ['k\ud800']: 'v' }, 'must match');
  ctx('65 keys', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])), 'context has more than 64 keys');
  ctx('value of 129 chars', { k: 'v'.repeat(129) }, 'context.k is too long');
  ctx('value with a lone surrogate', { k: 'v\udfff' }, 'context.k is not valid unicode');
  ctx('value with NUL', { k: 'a\u0000' }, 'context.k contains a control character (U+0000');
  ctx('value with a zero-width space', { country: 'Fr\u200bance' }, 'context.country contains a zero-width character (U+200B at index 2)');
  ctx('value with a right-to-left override', { k: '\u202egpj.exe' }, 'context.k contains a bidirectional control character (U+202E at index 0)');
  ctx('__proto__ key (prototype pollution)', JSON.parse('{"__proto__":"x"}'), 'context key "__proto__" is not allowed');
  ctx('__proto__ object (prototype pollution)', JSON.parse('{"__proto__":{"polluted":"yes"}}'), 'context key "__proto__" is not allowed');
  for (const k of ['user_id', 'USERID', 'extra', 'constructor', 'prototype', 'toString', 'items', '\ud800']) bad(`unknown field ${JSON.stringify(k)}`, { [k]: 'x' }, 'unknown field');
  add('event: __proto__ field (prototype pollution)', { body: `[{"__proto__":{"userId":"u1","itemId":"i1","type":"view","ts":1700000000000}}]` }, 400, 'invalid_event', '1 of 1', 'unknown field "__proto__"');
  add('event: __proto__ next to valid fields', { body: `[{"userId":"u1","itemId":"i1","type":"view","ts":1700000000000,"__proto__":{"isAdmin":true}}]` }, 400, 'invalid_event', '1 of 1', 'unknown field "__proto__"');
}
