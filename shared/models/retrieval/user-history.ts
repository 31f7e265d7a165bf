// Each user's most recent distinct items (row ids, most recent first) and, for a new-items
// protocol, every item they have taken: what the user tower pools and what a ranking skips.
// Bounded: past maxUsers the least recently active user is forgotten (counted).

export class UserHistory {
  /** user -> recent rows (most recent first, distinct), and every row when `keepSeen`. */
  private readonly users = new Map<string, { recent: number[]; seen?: Set<number> }>();
  forgotten = 0;

  constructor(readonly length: number, readonly maxUsers: number, readonly keepSeen: boolean) {}

  get size(): number {
    return this.users.size;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /** The user's recent rows into out[at .. at + length), -1 padded. */
  writeRecent(user: string, out: Int32Array, at: number): void {
    const h = this.users.get(user);
    const n = h ? h.recent.length : 0;
    for (let k = 0; k < this.length; k++) out[at + k] = k < n ? h!.recent[k] : -1;
  }

  /** Whether the user took this row before (needs keepSeen; otherwise: among the recent ones). */
  hasSeen(user: string, row: number): boolean {
    const h = this.users.get(user);
    if (!h) return false;
    return h.seen ? h.seen.has(row) : h.recent.includes(row);
  }

  /** Forgets a user's history (a forgotten user; not counted as an eviction). */
  delete(user: string): boolean {
    return this.users.delete(user);
  }

  /** The user took `rows` (in order, the last most recent). */
  add(user: string, rows: readonly number[]): void {
    let h = this.users.get(user);
    if (h) this.users.delete(user); // re-insert: Map order is recency of activity
    else {
      h = { recent: [], ...(this.keepSeen ? { seen: new Set<number>() } : {}) };
      if (this.users.size >= this.maxUsers) {
        this.users.delete(this.users.keys().next().value as string);
        this.forgotten++;
      }
    }
    this.users.set(user, h);
    for (const r of rows) {
      const i = h.recent.indexOf(r);
      if (i >= 0) h.recent.splice(i, 1);
      h.recent.unshift(r);
      h.seen?.add(r);
    }
    if (h.recent.length > this.length) h.recent.length = this.length;
  }
}
