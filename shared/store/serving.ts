// Where validated model versions live: checkpoints (whole-model blobs) and the serving
// pointer that inference nodes follow. The validation gate moves the pointer forward;
// `flywheel rollback` moves it back through the history.
import type { RedisClient } from './redis.ts';
import { redisCall } from './redis-call.ts';
import { modelKeys } from './keys.ts';

export interface ServingPointer {
  checkpointId: number;
  versions: number[];
  atMs: number;
  /** Why the pointer moved: 'gate' or 'rollback'. */
  by: string;
}

export interface ServingStore {
  saveCheckpoint(model: string, blob: Uint8Array): Promise<number>;
  loadCheckpoint(model: string, id: number): Promise<Uint8Array | null>;
  setPointer(model: string, p: ServingPointer, pushHistory: boolean): Promise<void>;
  getPointer(model: string): Promise<ServingPointer | null>;
  /** Served checkpoint ids, newest first. */
  history(model: string): Promise<number[]>;
  /** Ids of every checkpoint stored (at most CHECKPOINTS_KEPT), oldest first. */
  checkpointIds(model: string): Promise<number[]>;
  /** Overwrites a stored checkpoint (forgetting a user rewrites them); false when it is not stored. */
  replaceCheckpoint(model: string, id: number, blob: Uint8Array): Promise<boolean>;
  /** Appends a record to the model's audit trail (admin actions: forgotten users); kept, never trimmed. */
  appendAudit(model: string, record: object): Promise<void>;
  /** The audit trail, oldest first. */
  audit(model: string): Promise<object[]>;
  deleteModel(model: string): Promise<void>;
}

/** Checkpoints kept per model; older ones are deleted as new ones are saved. */
export const CHECKPOINTS_KEPT = 20;

export class RedisServingStore implements ServingStore {
  constructor(private readonly redis: RedisClient) {}

  private run<T>(what: string, f: () => Promise<T>): Promise<T> {
    return redisCall(what, f);
  }

  saveCheckpoint(model: string, blob: Uint8Array): Promise<number> {
    const k = modelKeys(model);
    return this.run('checkpoint save', async () => {
      const id = await this.redis.incr(k.checkpointSeq);
      await this.redis.multi().set(k.checkpoint(id), Buffer.from(blob)).del(k.checkpoint(id - CHECKPOINTS_KEPT)).exec();
      return id;
    });
  }

  loadCheckpoint(model: string, id: number): Promise<Uint8Array | null> {
    return this.run('checkpoint load', async () => {
      const b = await this.redis.getBuffer(modelKeys(model).checkpoint(id));
      return b ? new Uint8Array(b) : null;
    });
  }

  setPointer(model: string, p: ServingPointer, pushHistory: boolean): Promise<void> {
    const k = modelKeys(model);
    return this.run('pointer write', async () => {
      const m = this.redis.multi().set(k.servingPointer, JSON.stringify(p));
      if (pushHistory) m.lpush(k.servingHistory, String(p.checkpointId)).ltrim(k.servingHistory, 0, CHECKPOINTS_KEPT - 1);
      await m.exec();
    });
  }

  getPointer(model: string): Promise<ServingPointer | null> {
    return this.run('pointer read', async () => {
      const s = await this.redis.get(modelKeys(model).servingPointer);
      return s ? (JSON.parse(s) as ServingPointer) : null;
    });
  }

  history(model: string): Promise<number[]> {
    return this.run('history read', async () => (await this.redis.lrange(modelKeys(model).servingHistory, 0, -1)).map(Number));
  }

  checkpointIds(model: string): Promise<number[]> {
    const k = modelKeys(model);
    return this.run('checkpoint list', async () => {
      const seq = Number(await this.redis.get(k.checkpointSeq) ?? 0);
      const ids: number[] = [];
      for (let id = Math.max(1, seq - CHECKPOINTS_KEPT + 1); id <= seq; id++) if (await this.redis.exists(k.checkpoint(id))) ids.push(id);
      return ids;
    });
  }

  replaceCheckpoint(model: string, id: number, blob: Uint8Array): Promise<boolean> {
    return this.run('checkpoint replace', async () => (await this.redis.set(modelKeys(model).checkpoint(id), Buffer.from(blob), 'XX')) === 'OK');
  }

  appendAudit(model: string, record: object): Promise<void> {
    return this.run('audit append', async () => { await this.redis.rpush(modelKeys(model).audit, JSON.stringify(record)); });
  }

  audit(model: string): Promise<object[]> {
    return this.run('audit read', async () => (await this.redis.lrange(modelKeys(model).audit, 0, -1)).map((s) => JSON.parse(s) as object));
  }

  deleteModel(model: string): Promise<void> {
    const k = modelKeys(model);
    return this.run('delete', async () => {
      const seq = Number(await this.redis.get(k.checkpointSeq) ?? 0);
      const keys = [k.servingPointer, k.checkpointSeq, k.servingHistory];
      for (let id = Math.max(1, seq - CHECKPOINTS_KEPT); id <= seq; id++) keys.push(k.checkpoint(id));
      await this.redis.del(...keys);
    });
  }
}

export class MemoryServingStore implements ServingStore {
  private ckpts = new Map<string, Uint8Array>();
  private seq = new Map<string, number>();
  private pointers = new Map<string, ServingPointer>();
  private hist = new Map<string, number[]>();
  private audits = new Map<string, object[]>();

  async saveCheckpoint(model: string, blob: Uint8Array): Promise<number> {
    const id = (this.seq.get(model) ?? 0) + 1;
    this.seq.set(model, id);
    this.ckpts.set(`${model}:${id}`, blob.slice());
    this.ckpts.delete(`${model}:${id - CHECKPOINTS_KEPT}`);
    return id;
  }
  async loadCheckpoint(model: string, id: number): Promise<Uint8Array | null> {
    return this.ckpts.get(`${model}:${id}`)?.slice() ?? null;
  }
  async setPointer(model: string, p: ServingPointer, pushHistory: boolean): Promise<void> {
    this.pointers.set(model, { ...p });
    if (pushHistory) this.hist.set(model, [p.checkpointId, ...(this.hist.get(model) ?? [])].slice(0, CHECKPOINTS_KEPT));
  }
  async getPointer(model: string): Promise<ServingPointer | null> {
    return this.pointers.get(model) ?? null;
  }
  async history(model: string): Promise<number[]> {
    return [...(this.hist.get(model) ?? [])];
  }
  async checkpointIds(model: string): Promise<number[]> {
    const seq = this.seq.get(model) ?? 0;
    const ids: number[] = [];
    for (let id = Math.max(1, seq - CHECKPOINTS_KEPT + 1); id <= seq; id++) if (this.ckpts.has(`${model}:${id}`)) ids.push(id);
    return ids;
  }
  async replaceCheckpoint(model: string, id: number, blob: Uint8Array): Promise<boolean> {
    if (!this.ckpts.has(`${model}:${id}`)) return false;
    this.ckpts.set(`${model}:${id}`, blob.slice());
    return true;
  }
  async appendAudit(model: string, record: object): Promise<void> {
    this.audits.set(model, [...(this.audits.get(model) ?? []), structuredClone(record)]);
  }
  async audit(model: string): Promise<object[]> {
    return structuredClone(this.audits.get(model) ?? []);
  }
  async deleteModel(model: string): Promise<void> {
    this.pointers.delete(model);
    this.hist.delete(model);
    this.seq.delete(model);
  }
}
