// Feature extraction by hashing: each field of an event becomes one row id in that field's
// embedding table. Hashing needs no vocabulary, so unseen users and items work from their
// first event on, at the price of rare collisions.
import type { FlywheelEvent } from './events.ts';
import { hashString } from './hash.ts';

/** Built-in fields; any other name is read from event.context. */
export type FieldName = 'user' | 'item' | 'category' | 'hour' | 'weekday' | string;

export function fieldValue(ev: FlywheelEvent, field: FieldName): string {
  switch (field) {
    case 'user': return ev.userId;
    case 'item': return ev.itemId;
    case 'category': return ev.categoryId ?? '';
    case 'hour': return String(new Date(ev.ts).getUTCHours());
    case 'weekday': return String(new Date(ev.ts).getUTCDay());
    default: return ev.context?.[field] ?? '';
  }
}

/** Row id of a value in a table of `rows` buckets. The empty value has its own bucket. */
export function hashRow(value: string, rows: number): number {
  return hashString(value) % rows;
}

/**
 * Writes the row ids of `ev` for every field into out[offset + f] (field-major per example),
 * so a batch of B examples fills a B x F Int32Array without per-example objects.
 */
export function featurizeInto(ev: FlywheelEvent, fields: readonly FieldName[], rows: readonly number[], out: Int32Array, offset: number): void {
  for (let f = 0; f < fields.length; f++) out[offset + f] = hashRow(fieldValue(ev, fields[f]), rows[f]);
}
