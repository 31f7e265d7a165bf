// One wrapping for a store's Redis calls: whatever ioredis throws (connection lost, script
// error) becomes UnavailableError, which the services answer as 503 and retry on.
import { UnavailableError } from '../errors.ts';

/** Runs `f`; a failure is an UnavailableError saying "Redis <what> failed: <cause>". */
export async function redisCall<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw new UnavailableError(`Redis ${what} failed: ${(err as Error).message}`, err);
  }
}
