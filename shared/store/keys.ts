// Every Redis key of Flywheel is built here. A shard's keys share the hash tag {model:shard}
// so they sit in one Redis Cluster slot and its MULTI/EXEC works on a cluster too.

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
  };
}
