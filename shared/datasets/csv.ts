// A small streaming CSV reader for the dataset loaders. Hand-written rather than a dependency
// because the loaders need only RFC 4180 plus gzip and two encodings, and it must be fast:
// whole public datasets are replayed through it (the Online Retail file is 541,909 rows).
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

export interface CsvOptions {
  /** One character; default ','. */
  delimiter?: string;
  /** If true, the first record is not yielded but handed to onHeader. */
  header?: boolean;
  onHeader?: (columns: string[]) => void;
  /** Default: true when the source is a path ending in .gz. */
  gzip?: boolean;
  /** 'latin1' is ISO-8859-1 (every byte is one code point), not windows-1252. Default 'utf8'. */
  encoding?: 'utf8' | 'latin1';
  /** Lines with no characters at all are skipped (default true); a quoted "" is never skipped. */
  skipEmptyLines?: boolean;
}

/** A path, or bytes (tests, in-memory data), or any stream of byte chunks. */
export type CsvSource = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Counters every loader fills, so a caller can see what a dataset's filters threw away. */
export interface LoadStats {
  rowsRead: number;
  kept: number;
  dropped: Record<string, number>;
  /** Kept rows earlier than a kept row before them (a file not in time order), when not sorted. */
  outOfOrder?: number;
}

export function newLoadStats(): LoadStats {
  return { rowsRead: 0, kept: 0, dropped: {} };
}

export function countDrop(stats: LoadStats, reason: string): void {
  stats.dropped[reason] = (stats.dropped[reason] ?? 0) + 1;
}

// Text is decoded and parsed in pieces of at most this many bytes. Measured: 64 KiB pieces
// parse 3-5x faster than 256 KiB ones, since V8 puts strings over ~128 KiB in its large-object
// space, a fresh mapping (and page faults) for each one.
const PIECE = 1 << 16;

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Incremental parser over decoded text. A record that is cut by the end of a chunk is kept
 * and parsed again from its start once more text arrives: records are short, so re-parsing a
 * fragment is cheaper than carrying a resumable state machine through the hot loop.
 */
export class CsvParser {
  private rest = '';
  private records = 0;
  private readonly delim: number;
  private readonly skipEmpty: boolean;

  constructor(delimiter = ',', skipEmptyLines = true) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw new Error(`CSV delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
    }
    this.delim = delimiter.charCodeAt(0);
    this.skipEmpty = skipEmptyLines;
  }

  /** Parses what it can of the text so far into `out`; `final` says no more text will come. */
  feed(chunk: string, final: boolean, out: string[][]): void {
    const s = this.rest.length > 0 ? this.rest + chunk : chunk;
    const n = s.length;
    const delim = this.delim;
    let i = 0; // start of the record being parsed
    records: while (i < n) {
      let c = s.charCodeAt(i);
      if (c === LF || c === CR) {
        if (!this.skipEmpty) out.push(['']);
        // A CR that ends the text might be the first half of a CRLF still to come.
        if (c === CR && i + 1 === n && !final) break;
        i += c === CR && s.charCodeAt(i + 1) === LF ? 2 : 1;
        continue;
      }
      const row: string[] = [];
      let p = i;
      for (;;) {
        let val: string;
        if (p < n && s.charCodeAt(p) === QUOTE) {
          val = '';
          let q = p + 1;
          for (;;) {
            const e = s.indexOf('"', q);
            if (e < 0 || (e + 1 === n && !final)) {
              if (!final) break records;
              throw new Error(`CSV record ${this.records + 1}: quoted field is never closed`);
            }
            if (s.charCodeAt(e + 1) === QUOTE) {
              val += s.slice(q, e + 1);
              q = e + 2;
              continue;
            }
            val += s.slice(q, e);
            p = e + 1;
            break;
          }
          // Text between a closing quote and the delimiter is kept, as Python's csv does,
          // rather than failing a whole replay on one sloppy row.
          if (p < n && (c = s.charCodeAt(p)) !== delim && c !== LF && c !== CR) {
            let q = p;
            while (q < n && (c = s.charCodeAt(q)) !== delim && c !== LF && c !== CR) q++;
            val += s.slice(p, q);
            p = q;
          }
        } else {
          let q = p;
          while (q < n && (c = s.charCodeAt(q)) !== delim && c !== LF && c !== CR) q++;
          val = s.slice(p, q);
          p = q;
        }
        row.push(val);
        if (p >= n) {
          if (!final) break records;
          out.push(row);
          this.records++;
          i = n;
          break;
        }
        c = s.charCodeAt(p);
        if (c === delim) {
          p++;
          continue;
        }
        if (c === CR) {
          if (p + 1 === n && !final) break records;
          p += s.charCodeAt(p + 1) === LF ? 2 : 1;
        } else {
          p++;
        }
        out.push(row);
        this.records++;
        i = p;
        break;
      }
    }
    this.rest = i < n ? s.slice(i) : '';
  }
}

function byteStream(source: CsvSource, gzip: boolean): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  let raw: Readable;
  if (typeof source === 'string') raw = createReadStream(source, { highWaterMark: PIECE });
  else if (source instanceof Uint8Array) raw = Readable.from([source], { objectMode: false });
  else if (!gzip) return source;
  else raw = Readable.from(source, { objectMode: false });
  if (!gzip) return raw;
  const gunzip = createGunzip({ chunkSize: PIECE });
  // pipeline closes the file if gunzip fails (or the consumer stops early), and the reverse.
  pipeline(raw, gunzip, (err) => {
    if (err && !gunzip.destroyed) gunzip.destroy(err);
  });
  return gunzip;
}

/**
 * Yields the records of a CSV source in batches, one batch per decoded chunk. The loaders'
 * hot paths use this: one await per batch instead of one per row.
 */
export async function* readCsvBatches(source: CsvSource, opts: CsvOptions = {}): AsyncGenerator<string[][]> {
  const gzip = opts.gzip ?? (typeof source === 'string' && source.endsWith('.gz'));
  const parser = new CsvParser(opts.delimiter ?? ',', opts.skipEmptyLines ?? true);
  const latin1 = opts.encoding === 'latin1';
  // TextDecoder with stream:true holds back a multi-byte character split across chunks.
  const decoder = latin1 ? null : new TextDecoder('utf-8');
  let needHeader = opts.header === true;
  const emit = (rows: string[][]): string[][] => {
    if (needHeader && rows.length > 0) {
      needHeader = false;
      const head = rows.shift() as string[];
      opts.onHeader?.(head);
    }
    return rows;
  };
  for await (const chunk of byteStream(source, gzip)) {
    for (let off = 0; off < chunk.byteLength; off += PIECE) {
      const piece = chunk.subarray(off, off + PIECE);
      const text = decoder
        ? decoder.decode(piece, { stream: true })
        : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).toString('latin1');
      const rows: string[][] = [];
      parser.feed(text, false, rows);
      if (emit(rows).length > 0) yield rows;
    }
  }
  const rows: string[][] = [];
  parser.feed(decoder ? decoder.decode() : '', true, rows);
  if (emit(rows).length > 0) yield rows;
}

/** Yields each record as an array of field strings. */
export async function* readCsv(source: CsvSource, opts: CsvOptions = {}): AsyncGenerator<string[]> {
  for await (const batch of readCsvBatches(source, opts)) for (const row of batch) yield row;
}

/** Index of each wanted column in a header, failing loudly if the file is not the expected one. */
export function columnIndex<K extends string>(header: string[], wanted: readonly K[], file: string): Record<K, number> {
  const idx = {} as Record<K, number>;
  for (const name of wanted) {
    const k = header.indexOf(name);
    if (k < 0) throw new Error(`${file}: no column "${name}" in header ${JSON.stringify(header)}`);
    idx[name] = k;
  }
  return idx;
}
