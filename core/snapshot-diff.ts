// What a snapshot changed against what was known: the one diff behind the tracker (after a reconnect) and the
// resume record (after downtime). What "known" holds and when two states are the same is the caller's.
import { elementId } from './protocol';
import type { Element, Method } from './types';

export interface Change {
  method: Method;
  data: Element;
  previous?: Element;
  /** fingerprint(data), when the tracker computed it already: the holders' resume records reuse it. */
  fingerprint?: string;
}

export interface SnapshotComparison<Known> {
  /** What is known of the element with this id, if anything. */
  known(id: string): Known | undefined;
  /** Whether the element is unchanged from what is known of it. */
  same(known: Known, element: Element): boolean;
  /** The `previous` of an UPDATE, when what is known is the element itself. */
  previous?(known: Known): Element | undefined;
  /** Called once per element with an id, after it was compared (the tracker remembers it there, in order). */
  compared?(id: string, element: Element): void;
}

/**
 * New elements become CREATE, changed ones UPDATE; unchanged ones and elements without an id nothing. `present`
 * holds the ids in the snapshot, so the caller can tell what left it.
 */
export function diffSnapshot<Known>(
  elements: readonly Element[],
  comparison: SnapshotComparison<Known>,
): { changes: Change[]; present: Set<string> } {
  const changes: Change[] = [];
  const present = new Set<string>();
  for (const element of elements) {
    const id = elementId(element);
    if (id === undefined) continue;
    present.add(id);
    const known = comparison.known(id);
    if (known === undefined) changes.push({ method: 'CREATE', data: element });
    else if (!comparison.same(known, element)) {
      const previous = comparison.previous?.(known);
      changes.push(
        previous === undefined ? { method: 'UPDATE', data: element } : { method: 'UPDATE', data: element, previous },
      );
    }
    comparison.compared?.(id, element);
  }
  return { changes, present };
}
