// When a worker is ready: it consumes every event shard it was assigned. With leases it takes
// whichever shards are free as their leases come; holding none then is a standby, not a fault.

/** true, or which assigned shards are not consumed yet. `assigned` null: shards come by lease. */
export function workerReadiness(consuming: readonly number[], assigned: readonly number[] | null): true | string {
  if (assigned === null) return true;
  const missing = assigned.filter((s) => !consuming.includes(s));
  return missing.length ? `not consuming event shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} yet` : true;
}
