// Sends a gradient push to its shard and awaits the reply, retrying the same (worker, seq)
// on timeouts and retryable errors (the shard applies it once), with capped backoff.
import {
  encodePush, parseReply, subjects, type GradientPush, type Transport, type WireError,
} from '../../shared/index.ts';
import { PushBuffers } from '../../shared/push-encode.ts';

export type PushOutcome = { ok: true; epoch: number; version: number; rttMs: number } | { ok: false; error: WireError };

export class GradientPusher {
  retries = 0;
  /** Encode buffers, given back when a push is acknowledged (all its sends are flushed then). */
  private readonly buffers = new PushBuffers();

  constructor(
    private readonly transport: Transport,
    private readonly model: string,
    private readonly timeoutMs: number,
    private readonly isStopping: () => boolean,
  ) {}

  async push(shard: number, p: GradientPush): Promise<PushOutcome> {
    const bytes = encodePush(p, this.buffers);
    const subject = subjects.push(this.model, shard);
    let backoffMs = 50;
    for (;;) {
      const t0 = performance.now();
      let error: WireError;
      // A reply means the shard has read this send, and every earlier one was flushed before it:
      // the bytes may be written again. After a failed send they may still be queued: left.
      let replied = false;
      try {
        const reply = parseReply(await this.transport.request(subject, bytes, this.timeoutMs));
        replied = true;
        if (reply.ok) {
          this.buffers.give(bytes);
          return { ok: true, epoch: reply.epoch, version: reply.version, rttMs: performance.now() - t0 };
        }
        error = reply.error;
      } catch (err) {
        error = { code: 'UNAVAILABLE', message: (err as Error).message, retryable: true };
      }
      if (!error.retryable || this.isStopping()) {
        if (replied) this.buffers.give(bytes);
        return { ok: false, error };
      }
      this.retries++;
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }
}
