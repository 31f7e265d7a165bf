// Taobao UserBehavior (Alibaba, Tianchi dataset 649) as events. The data has no licence, so it
// never enters this repo: it is read from the sibling shared data folder, when there is one.
import { join, resolve } from 'node:path';
import { validateEvent, type EventType, type FlywheelEvent } from '../events.ts';
import { countDrop, newLoadStats, readCsvBatches, type LoadStats } from './csv.ts';
import { readEnv } from '../env.ts';
import { REPO_ROOT } from './online-retail.ts';

/** Datasets kept outside the repo: `../shared/data` beside it, or $FLYWHEEL_DATA_DIR. */
export const SHARED_DATA_DIR = readEnv().dataDir
  ? resolve(readEnv().dataDir!)
  : resolve(REPO_ROOT, '../shared/data');

export const TAOBAO_SLICE_PATH = join(SHARED_DATA_DIR, 'taobao-userbehavior', 'stream_slice_2017-11-26.csv');

/** pv is an item page view, which is what the event model calls a view. A Map, not an object
 * literal, so a behaviour cell reading "constructor" cannot find Object.prototype. */
const BEHAVIOR = new Map<string, EventType>([
  ['pv', 'view'],
  ['cart', 'cart'],
  ['fav', 'fav'],
  ['buy', 'buy'],
]);

export interface TaobaoOptions {
  limit?: number;
  /** Filled as the file is read; drop reasons: malformed, unknownBehavior, invalid. */
  stats?: LoadStats;
}

/**
 * Rows `user,item,category,behavior,unix seconds`, no header, yielded in file order. The
 * published file is already time-ordered, and a replay should see exactly what the shop saw.
 */
export async function* taobaoEvents(
  path: string = TAOBAO_SLICE_PATH,
  opts: TaobaoOptions = {},
): AsyncGenerator<FlywheelEvent> {
  for await (const batch of taobaoEventBatches(path, opts)) for (const ev of batch) yield ev;
}

/** The same events in arrays, in order: one await per batch rather than per event. */
export async function* taobaoEventBatches(
  path: string = TAOBAO_SLICE_PATH,
  opts: TaobaoOptions = {},
): AsyncGenerator<FlywheelEvent[]> {
  const stats = opts.stats ?? newLoadStats();
  const limit = opts.limit ?? Infinity;
  if (limit <= 0) return;
  const nowMs = Date.now();
  let yielded = 0;
  for await (const rows of readCsvBatches(path)) {
    const out: FlywheelEvent[] = [];
    for (const r of rows) {
      stats.rowsRead++;
      // Whole-number seconds only: a fractional or empty stamp means a damaged row.
      const sec = r.length === 5 && /^\d+$/.test(r[4]) ? Number(r[4]) : NaN;
      if (Number.isNaN(sec)) {
        countDrop(stats, 'malformed');
        continue;
      }
      const type = BEHAVIOR.get(r[3]);
      if (type === undefined) {
        countDrop(stats, 'unknownBehavior');
        continue;
      }
      let ev: FlywheelEvent;
      try {
        ev = validateEvent({ userId: r[0], itemId: r[1], categoryId: r[2], type, ts: sec * 1000 }, nowMs);
      } catch {
        countDrop(stats, 'invalid');
        continue;
      }
      stats.kept++;
      out.push(ev);
      if (++yielded >= limit) break;
    }
    if (out.length > 0) yield out;
    if (yielded >= limit) return;
  }
}
