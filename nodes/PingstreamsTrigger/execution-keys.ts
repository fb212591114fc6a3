// Which execution each event n8n has not reported finished went out in, saved beside the resume record. The record
// counts such events as not delivered, so a restart (a crash, a kill, a shutdown that never closed the trigger)
// emits them again, recovered; under the execution's old deduplication key, n8n runs one that never ran and skips
// one that did. The note is per element: its last execution's key and the state that went out in it.
import { MAX_RESUME_ENTRIES, deliveredState, elementId, evictOldest } from '../../core/portable';
import type { RealtimeEvent } from '../../core/portable';
import type { Delivery } from './execution-emitter';

/** Key in the node's static data, beside the resume record. */
export const EXECUTION_KEYS = 'executionKeys';

/** element id -> [deduplication key, state carried]; JSON as n8n stores it. */
export type StoredExecutionKeys = Record<string, [string, string]>;

/** What an element's note holds: its last execution in flight, and the event and state that went out in it. */
interface Noted {
  key: string;
  event: RealtimeEvent;
  state: string;
}

/**
 * The elements of the executions in flight, each with its last one (only the latest state of an element can still
 * be what the record holds), the most recent MAX_RESUME_ENTRIES of them (as many as the record holds). Kept up to
 * date as executions go out and end, so a save costs what the record costs, not what is in flight.
 */
export class InFlightElements {
  /** Insertion order = the order they went out in. */
  private readonly noted = new Map<string, Noted>();

  add(key: string, deliveries: readonly Delivery[]): void {
    for (const { event } of deliveries) {
      const id = elementId(event.data);
      if (id === undefined) continue;
      this.noted.delete(id);
      this.noted.set(id, { key, event, state: deliveredState(event) });
    }
    evictOldest(this.noted, MAX_RESUME_ENTRIES);
  }

  /** The execution under `key` ended: its elements are no longer in flight, unless a later one carries them. */
  remove(key: string, deliveries: readonly Delivery[]): void {
    for (const { event } of deliveries) {
      const id = elementId(event.data);
      if (id !== undefined && this.noted.get(id)?.key === key) this.noted.delete(id);
    }
  }

  /** The events to count as not delivered in the record, and the state each carried (no fingerprint again). */
  events(): Array<{ event: RealtimeEvent; state: string }> {
    return Array.from(this.noted.values());
  }

  toStored(): StoredExecutionKeys {
    // fromEntries defines own properties: an id such as "__proto__" stays an entry.
    return Object.fromEntries(Array.from(this.noted, ([id, { key, state }]) => [id, [key, state]]));
  }
}

/** The note saved before a restart: each recovered event that carries the noted state takes its key, once. */
export class RestoredExecutionKeys {
  private readonly keys = new Map<string, [string, string]>();

  constructor(stored: unknown) {
    if (stored === null || typeof stored !== 'object') return;
    for (const [id, entry] of Object.entries(stored as Record<string, unknown>)) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string')
        this.keys.set(id, [entry[0], entry[1]]);
      if (this.keys.size >= MAX_RESUME_ENTRIES) break;
    }
  }

  /** The key `event` goes out under again, when it is what went out under it; else undefined (a new change). */
  take(event: RealtimeEvent): string | undefined {
    if (!event.recovered || this.keys.size === 0) return undefined;
    const id = elementId(event.data);
    const entry = id === undefined ? undefined : this.keys.get(id);
    if (entry === undefined) return undefined;
    this.keys.delete(id!);
    return entry[1] === deliveredState(event) ? entry[0] : undefined;
  }
}
