// Every Redis key of Flywheel is built here. A shard's keys share the hash tag {model:shard}
// so they sit in one Redis Cluster slot and its MULTI/EXEC works on a cluster too.
import { createHash } from 'node:crypto';

export function shardKeys(model: string, shard: number) {
  const tag = `fw:{${model}:${shard}}`;
  return {
    meta: `${tag}:meta`,
    epoch: `${tag}:epoch`,
    dense: `${tag}:dense`,
    denseSlots: `${tag}:dense-slots`,
    rows: (table: string) => `${tag}:rows:${table}`,
    slots: (table: string) => `${tag}:slots:${table}`,
  };
}

export function modelKeys(model: string) {
  return {
    /** The version set that inference serves (moved by the validation gate). */
    servingPointer: `fw:{${model}}:serving`,
    checkpoint: (id: number) => `fw:{${model}}:ckpt:${id}`,
    checkpointSeq: `fw:{${model}}:ckpt-seq`,
    /** Checkpoint ids that were served, newest first (what rollback walks back through). */
    servingHistory: `fw:{${model}}:serving-history`,
    /** Admin actions (forgotten users), a list of JSON records: kept, not trimmed. */
    audit: `fw:{${model}}:audit`,
  };
}

/** Every idempotency record of a stream starts with this (no hash tag: each record is used
 *  alone, so on a cluster they spread over every slot instead of filling one). */
export const idempotencyPrefix = (stream: string) => `fw:${stream}:idem:`;

/**
 * Ingest's record of an Idempotency-Key, per event stream and client scope. The client's key
 * (up to 255 printable characters) is hashed, so every record key has the same short shape.
 */
export function idempotencyKey(stream: string, scope: string, key: string): string {
  return `${idempotencyPrefix(stream)}${scope}:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** SCAN pattern of a stream's idempotency records (stream names have no glob characters). */
export const idempotencyKeyPattern = (stream: string) => `${idempotencyPrefix(stream)}*`;
