// Acks JetStream messages only once the PS has persisted a version that contains their
// gradient. A group of messages waits for one (epoch, version) per shard it pushed to; a
// delta's persistedVersion satisfies it. A shard that restarted (new epoch) without that
// version in its restored snapshot lost the update: the group is nak'ed and trained again.
import type { EventLogMessage, WeightDelta } from '../../shared/index.ts';

export interface Requirement { epoch: number; version: number }

interface Group {
  msgs: EventLogMessage[];
  events: number;
  need: Map<number, Requirement>;
}

export class AckTracker {
  private groups: Group[] = [];
  acked = 0;
  ackedEvents = 0;
  naked = 0;

  constructor(private readonly onSettled?: (events: number, ok: boolean) => void) {}

  get pendingGroups(): number {
    return this.groups.length;
  }

  get pendingMessages(): number {
    let n = 0;
    for (const g of this.groups) n += g.msgs.length;
    return n;
  }

  /** Registers a trained group; acks at once when it needs nothing persisted. */
  add(msgs: EventLogMessage[], events: number, need: Map<number, Requirement>, persisted: (shard: number) => Requirement & { epochStartVersion: number }): void {
    const g: Group = { msgs, events, need };
    for (const [k, r] of need) if (this.check(r, persisted(k)) === 'ok') need.delete(k);
    if (need.size === 0) this.settle(g, true);
    else this.groups.push(g);
  }

  /** Call for every delta the replica receives. */
  onDelta(d: WeightDelta): void {
    if (this.groups.length === 0) return;
    const keep: Group[] = [];
    for (const g of this.groups) {
      const r = g.need.get(d.shard);
      if (r) {
        const c = this.check(r, { epoch: d.epoch, version: d.persistedVersion, epochStartVersion: d.epochStartVersion });
        if (c === 'lost') { this.settle(g, false); continue; }
        if (c === 'ok') g.need.delete(d.shard);
      }
      if (g.need.size === 0) this.settle(g, true);
      else keep.push(g);
    }
    this.groups = keep;
  }

  private check(r: Requirement, p: Requirement & { epochStartVersion: number }): 'ok' | 'wait' | 'lost' {
    if (p.epoch === r.epoch) return p.version >= r.version ? 'ok' : 'wait';
    if (p.epoch < r.epoch) return 'wait';
    // The next incarnation restored the snapshot its predecessor wrote last.
    return p.epoch === r.epoch + 1 && p.epochStartVersion >= r.version ? 'ok' : 'lost';
  }

  private settle(g: Group, ok: boolean): void {
    for (const m of g.msgs) {
      if (ok) m.ack();
      else m.nak(500);
    }
    if (ok) { this.acked += g.msgs.length; this.ackedEvents += g.events; }
    else this.naked += g.msgs.length;
    this.onSettled?.(g.events, ok);
  }

  /** Nak everything still waiting (shutdown): redelivered to whoever takes the shards. */
  nakAll(): void {
    for (const g of this.groups) this.settle(g, false);
    this.groups = [];
  }
}
