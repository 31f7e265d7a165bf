// MovieLens latest-small (GroupLens) as rating events. Its licence allows research use and
// redistribution only under the same terms, so it stays out of this repo and is read from the
// shared data folder beside it.
import { join } from 'node:path';
import { validateEvent, type FlywheelEvent } from '../events.ts';
import { columnIndex, countDrop, newLoadStats, readCsvBatches, type LoadStats } from './csv.ts';
import { SHARED_DATA_DIR } from './taobao.ts';

export { SHARED_DATA_DIR };
export const MOVIELENS_DIR = join(SHARED_DATA_DIR, 'movielens-latest-small');

/** movies.csv writes this instead of leaving genres empty; it is not a category. */
const NO_GENRE = '(no genres listed)';

export interface MovieLensOptions {
  limit?: number;
  /** Filled while ratings.csv is read; drop reasons: malformed, invalid. */
  stats?: LoadStats;
}

/** movieId -> its first listed genre, the movie's category. */
export async function movieGenres(dir: string = MOVIELENS_DIR): Promise<Map<string, string>> {
  const file = join(dir, 'movies.csv');
  let col: Record<'movieId' | 'genres', number> | undefined;
  const onHeader = (h: string[]): void => {
    col = columnIndex(h, ['movieId', 'genres'], file);
  };
  const genres = new Map<string, string>();
  for await (const rows of readCsvBatches(file, { header: true, onHeader })) {
    for (const r of rows) {
      const first = (r[col!.genres] ?? '').split('|')[0];
      if (first !== '' && first !== NO_GENRE) genres.set(r[col!.movieId], first);
    }
  }
  return genres;
}

/**
 * ratings.csv as events in time order. The file is sorted by user, so replaying it as is would
 * show one user's whole history at a time; it is read whole (100,836 rows) and sorted by
 * timestamp. The sort is stable, so ties keep file order and a replay is reproducible.
 */
export async function* movieLensEvents(
  dir: string = MOVIELENS_DIR,
  opts: MovieLensOptions = {},
): AsyncGenerator<FlywheelEvent> {
  for await (const batch of movieLensEventBatches(dir, opts)) for (const ev of batch) yield ev;
}

/** The same events in arrays of up to 1,000, in order: one await per batch rather than per event. */
export async function* movieLensEventBatches(
  dir: string = MOVIELENS_DIR,
  opts: MovieLensOptions = {},
): AsyncGenerator<FlywheelEvent[]> {
  const stats = opts.stats ?? newLoadStats();
  const limit = opts.limit ?? Infinity;
  if (limit <= 0) return;
  const genres = await movieGenres(dir);
  const file = join(dir, 'ratings.csv');
  let col: Record<'userId' | 'movieId' | 'rating' | 'timestamp', number> | undefined;
  let width = 0;
  const onHeader = (h: string[]): void => {
    col = columnIndex(h, ['userId', 'movieId', 'rating', 'timestamp'], file);
    width = h.length;
  };
  const nowMs = Date.now();
  const events: FlywheelEvent[] = [];
  for await (const rows of readCsvBatches(file, { header: true, onHeader })) {
    const c = col!;
    for (const r of rows) {
      stats.rowsRead++;
      const sec = r.length === width && /^\d+$/.test(r[c.timestamp]) ? Number(r[c.timestamp]) : NaN;
      const rating = r.length === width && r[c.rating].trim() !== '' ? Number(r[c.rating]) : NaN;
      if (Number.isNaN(sec) || Number.isNaN(rating)) {
        countDrop(stats, 'malformed');
        continue;
      }
      const raw: FlywheelEvent = { userId: r[c.userId], itemId: r[c.movieId], type: 'rating', ts: sec * 1000, value: rating };
      const genre = genres.get(r[c.movieId]);
      if (genre !== undefined) raw.categoryId = genre;
      try {
        events.push(validateEvent(raw, nowMs));
      } catch {
        countDrop(stats, 'invalid');
      }
    }
  }
  events.sort((a, b) => a.ts - b.ts);
  const n = Math.min(limit, events.length);
  for (let i = 0; i < n; i += 1000) {
    const batch = events.slice(i, Math.min(n, i + 1000));
    stats.kept += batch.length;
    yield batch;
  }
}
