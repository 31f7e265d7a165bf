// Sends a gradient push to its shard and awaits the reply, retrying the same (worker, seq)
// on timeouts and retryable errors (the shard applies it once), with capped backoff.
import {
  encodePush, parseReply, subjects, type GradientPush, type Transport, type WireError,
} from '../../shared/index.ts';

export type PushOutcome = { ok: true; epoch: number; version: number; rttMs: number } | { ok: false; error: WireError };

export class GradientPusher {
  retries = 0;

  constructor(
    private readonly transport: Transport,
    private readonly model: string,
    private readonly timeoutMs: number,
    private readonly isStopping: () => boolean,
  ) {}

  async push(shard: number, p: GradientPush): Promise<PushOutcome> {
    const bytes = encodePush(p);
    const subject = subjects.push(this.model, shard);
    let backoffMs = 50;
    for (;;) {
      const t0 = performance.now();
      let error: WireError;
      try {
        const reply = parseReply(await this.transport.request(subject, bytes, this.timeoutMs));
        if (reply.ok) return { ok: true, epoch: reply.epoch, version: reply.version, rttMs: performance.now() - t0 };
        error = reply.error;
      } catch (err) {
        error = { code: 'UNAVAILABLE', message: (err as Error).message, retryable: true };
      }
      if (!error.retryable || this.isStopping()) return { ok: false, error };
      this.retries++;
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }
}
