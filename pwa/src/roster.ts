// The customer list's order: every live customer card sorted by name (zh-CN pinyin), then
// id, kept up to date incrementally as records arrive, so that a briefcase of 50,000 cards
// is never sorted again on a re-render. Pure data; the screen is in ui/customers.tsx.
import type { Briefcase, DocInfo } from "./briefcase";
import { prepareSearch } from "./search";

const collator = new Intl.Collator("zh-CN");

function nameOf(info: DocInfo): string {
  const n = info.record.name;
  return typeof n === "string" ? n : n === undefined || n === null ? "" : String(n);
}

/** The list's order: name by the zh-CN collation, then doc id (a stable tie-break). */
export function compareCustomers(a: DocInfo, b: DocInfo): number {
  return collator.compare(nameOf(a), nameOf(b)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function listed(info: DocInfo | undefined): info is DocInfo {
  return info !== undefined && info.kind === "customer" && !info.record.merged_into;
}

export class Roster {
  private order: DocInfo[] = [];
  /** The DocInfo each listed id is sorted by (its record may since have changed). */
  private placed = new Map<string, DocInfo>();
  private dirty = new Set<string>();
  private built = false;
  /** Bumped whenever the order changes. */
  version = 0;

  constructor(readonly briefcase: Briefcase) {
    briefcase.subscribeDocs((id) => this.dirty.add(id));
  }

  /** Every listed customer, in order. The array is replaced, never changed in place. */
  list(): readonly DocInfo[] {
    if (!this.built) this.build();
    else if (this.dirty.size) this.apply();
    return this.order;
  }

  /** Where `id` is in the list now, or -1. */
  indexOf(id: string): number {
    this.list();
    const info = this.placed.get(id);
    return info ? this.find(this.order, info) : -1;
  }

  /** The index of `info` in `order` (sorted by it), or -1. */
  private find(order: readonly DocInfo[], info: DocInfo): number {
    const k = this.lowerBound(order, info);
    return order[k]?.id === info.id ? k : -1;
  }

  private lowerBound(order: readonly DocInfo[], x: DocInfo): number {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareCustomers(order[mid], x) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private build(): void {
    this.dirty.clear();
    const all: DocInfo[] = [];
    for (const info of this.briefcase.infos.values()) if (listed(info)) all.push(info);
    all.sort(compareCustomers);
    this.order = all;
    this.placed = new Map(all.map((i) => [i.id, i]));
    this.built = true;
    this.version += 1;
  }

  /**
   * Fold the changed records in: drop their old places, sort the k changed ones, and merge
   * them into the n others in one pass (O(n + k log k) with k log n comparisons: each
   * newcomer finds its place by binary search; the merge itself compares nothing).
   */
  private apply(): void {
    const b = this.briefcase;
    const removed = new Set<string>();
    const added: DocInfo[] = [];
    let order = this.order;
    let copied = false;
    for (const id of this.dirty) {
      const now = b.infos.get(id);
      const was = this.placed.get(id);
      if (was && listed(now) && now.record === was.record) continue;
      if (was && listed(now) && nameOf(now) === nameOf(was)) {
        // Same place: only the card's content changed.
        const k = this.find(order, was);
        if (k >= 0) {
          if (!copied) order = order.slice();
          copied = true;
          (order as DocInfo[])[k] = now;
          this.placed.set(id, now);
          continue;
        }
      }
      if (was) removed.add(id);
      if (listed(now)) added.push(now);
    }
    this.dirty.clear();
    if (!removed.size && !added.length) {
      if (copied) {
        this.order = order;
        this.version += 1;
      }
      return;
    }
    added.sort(compareCustomers);
    prepareSearch(added);
    const old = removed.size ? order.filter((i) => !removed.has(i.id)) : order;
    // For each newcomer, how many of the old entries sort before it.
    const at = added.map((x) => this.lowerBound(old, x));
    const out = new Array<DocInfo>(old.length + added.length);
    let i = 0;
    let j = 0;
    for (let k = 0; k < out.length; k++) {
      if (j < added.length && at[j] <= i) out[k] = added[j++];
      else out[k] = old[i++];
    }
    for (const id of removed) this.placed.delete(id);
    for (const x of added) this.placed.set(x.id, x);
    this.order = out;
    this.version += 1;
  }
}
