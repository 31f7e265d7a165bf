// A PS shard that starts and finds its store behind its ledger lost updates of events the
// workers acked long ago: the stream's consumers have moved past them. Once the shard has
// restored what it could, and before it takes a push or publishes anything of its new epoch
// (so nothing can be acked against it yet), this reads where each event shard's consumer is
// acked up to, and asks for every acked message since the state it restored to be trained
// again into it alone: a rewind record beside the ledger, which the workers holding the event
// shards carry out (services/worker/rewind.ts).
import {
  Counter, decodeCheckpoint, type EventPositions, type LedgerEntry, type Registry, type RewindStore, type ServingStore, type ShardLedger,
} from '../../shared/index.ts';

export interface RewindDeps {
  model: string;
  shard: number;
  eventShards: number;
  ledger: ShardLedger;
  rewinds: RewindStore;
  positions: EventPositions;
  serving?: ServingStore;
  registry: Registry;
  hasSnapshot: () => Promise<boolean>;
  /** The ack floors are read until two reads this far apart agree, at most settleRounds times (default 300 ms, 10). */
  settleMs: number;
  settleRounds: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
}

/** What was true before the shard started. */
export interface BeforeStart {
  ledger: LedgerEntry | null;
  hadSnapshot: boolean;
}

export class StoreLossRewind {
  private readonly counted: Counter<'outcome'>;

  constructor(private readonly d: RewindDeps) {
    this.counted = new Counter({
      name: 'fw_ps_rewinds_total', labelNames: ['outcome'], registers: [d.registry],
      help: 'Store losses by what was asked of the workers: requested (the acked range the store lost, trained again into this shard), impossible (where the restored state ends in the stream is not known: not re-trained)',
    });
    for (const outcome of ['requested', 'impossible']) this.counted.inc({ outcome }, 0);
  }

  async before(): Promise<BeforeStart> {
    const { ledger, model, shard } = this.d;
    const entry = await ledger.read(model, shard).catch(() => null);
    const hadSnapshot = await this.d.hasSnapshot().catch(() => true);
    return { ledger: entry, hadSnapshot };
  }

  /**
   * Each event shard's ack floor, once it stopped moving: messages whose update to this shard
   * the old incarnation had persisted may still be acked while the workers hear from the other
   * shards; nothing newer can be (it needs this shard's new epoch). Null when unknown.
   */
  private async settledFloors(): Promise<number[] | null> {
    const read = () => Promise.all(Array.from({ length: this.d.eventShards }, (_, s) => this.d.positions.ackFloor(s)));
    try {
      let floors = await read();
      for (let i = 0; i < this.d.settleRounds; i++) {
        await new Promise((r) => setTimeout(r, this.d.settleMs));
        const again = await read();
        if (again.every((f, s) => f === floors[s])) break;
        floors = again;
      }
      return floors;
    } catch (err) {
      this.d.log('warn', 'cannot read the event consumers\' ack floors', { err: (err as Error).message });
      return null;
    }
  }

  /**
   * After the shard's start: a shard that had published something and now restored no
   * snapshot of its own (restoredEpoch 0) lost its store. The range to train again starts
   * where the state it restored ends: the checkpoint's ack floors, or the stream's start when
   * it starts from initial values. A stale snapshot of the store, kept with no checkpoint,
   * says nothing of where it ends: then nothing is asked for, loudly.
   */
  async after(b: BeforeStart, started: { epoch: number; restoredEpoch: number; restoredCheckpoint: boolean }): Promise<void> {
    if (!b.ledger || b.ledger.version === 0 || started.restoredEpoch !== 0) return;
    const { model, shard } = this.d;
    let from: number[] | null = null;
    let origin: string;
    if (started.restoredCheckpoint) {
      const f = await this.checkpointFloors();
      from = f.floors;
      origin = f.floors ? `checkpoint ${f.id}` : `checkpoint ${f.id ?? '?'}, which records no stream positions`;
    } else if (!b.hadSnapshot) {
      from = Array.from({ length: this.d.eventShards }, () => 0);
      origin = 'initial values';
    } else origin = 'a stale snapshot of the store, which records no stream positions';
    const floors = from && await this.settledFloors();
    if (!from || !floors) {
      this.counted.inc({ outcome: 'impossible' });
      this.d.log('error', 'THE LOST UPDATES CANNOT BE TRAINED AGAIN: where the restored state ends in the stream is not known', {
        restoredFrom: origin, floorsKnown: floors !== null,
      });
      return;
    }
    const ranges = floors.map((to, s) => ({ from: Math.min(from![s] ?? 0, to), to, done: Math.min(from![s] ?? 0, to) }));
    const messages = ranges.reduce((n, r) => n + (r.to - r.from), 0);
    try {
      await this.d.rewinds.write(model, shard, { epoch: started.epoch, createdAtMs: Date.now(), ranges });
    } catch (err) {
      this.counted.inc({ outcome: 'impossible' });
      this.d.log('error', 'THE LOST UPDATES CANNOT BE TRAINED AGAIN: writing the rewind record failed', { err: (err as Error).message });
      return;
    }
    this.counted.inc({ outcome: 'requested' });
    this.d.log('error', 'asking the workers to train the acked events the store lost again, into this shard only', {
      restoredFrom: origin, epoch: started.epoch, ranges: ranges.map((r, s) => ({ eventShard: s, fromSeq: r.from, toSeq: r.to })),
      streamSeqsSpanned: messages,
    });
  }

  private async checkpointFloors(): Promise<{ id: number | null; floors: number[] | null }> {
    const serving = this.d.serving;
    try {
      const p = serving && await serving.getPointer(this.d.model);
      const bytes = p && await serving.loadCheckpoint(this.d.model, p.checkpointId);
      if (!p || !bytes) return { id: null, floors: null };
      const floors = decodeCheckpoint(bytes).eventFloors;
      return { id: p.checkpointId, floors: floors && floors.length === this.d.eventShards ? floors : null };
    } catch {
      return { id: null, floors: null };
    }
  }
}
