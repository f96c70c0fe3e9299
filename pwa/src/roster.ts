// The customer list's order: every live customer card sorted by name (zh-CN pinyin), then
// id, kept up to date incrementally as records arrive, so that a briefcase of 50,000 cards
// is never sorted again on a re-render; and saved, as a snapshot of what each row shows, so
// that a big briefcase reopens to its list before its records are read (stand-ins, each
// replaced by the record as it is read). Pure data; the screen is in ui/customers.tsx.
import type { Briefcase, DocInfo } from "./briefcase";
import { cadenceDays, childrenByCustomer, completeness, lastContact, type Children } from "./records";
import type { Schema } from "./schema";
import { adoptKey, prepareSearch } from "./search";

/** One row of the snapshot: id, name, short name, code, category, tier, status,
 *  completeness (done, total), last contact, follow-up cadence (days), created at. */
type Row = [string, string, string, string, string, string, string, number, number, number | null, number | null, number | null];

const text = (v: unknown): string => (typeof v === "string" ? v : "");
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

function standIn(row: Row): DocInfo {
  const [id, name, short_name, code, category, tier, status, done, total, last, cadence, created_at] = row;
  const record: Record<string, unknown> = { name, short_name, code, category, tier, status };
  if (created_at !== null) record.created_at = created_at;
  return { id, kind: "customer", record, updatedAt: 0, snap: { comp: [done, total], last, cadence } };
}

/**
 * The snapshot as saved: the rows by column, each text column one string of its values
 * joined by SEP, the numbers in one Float64Array (NaN for none), row after row. Splitting
 * seven strings takes a few ms where JSON.parse of 50,000 rows takes 100-400 ms (one long
 * task a keystroke would wait behind). A snapshot whose text holds SEP is saved as JSON
 * rows instead, as older builds saved every snapshot (both are read).
 */
export interface ListSnapshot {
  v: 2;
  n: number;
  text: string[];
  nums: Float64Array;
}

const SEP = "\u001f";
const TEXT_COLS = 7;
const NUM_COLS = 5;

function isColumns(x: unknown): x is ListSnapshot {
  const c = x as ListSnapshot | null;
  return typeof c === "object" && c !== null && c.v === 2 && Array.isArray(c.text) && c.text.length === TEXT_COLS && c.nums instanceof Float64Array && c.nums.length === c.n * NUM_COLS;
}

/** Whether `x` is a snapshot this code can read (stored by this build or an older one). */
export function isListSnapshot(x: unknown): boolean {
  return typeof x === "string" || isColumns(x);
}

/** The stand-ins of a stored snapshot, in its order ([] for a damaged one). */
function readRows(saved: unknown): DocInfo[] {
  if (typeof saved === "string") {
    try {
      return (JSON.parse(saved) as Row[]).map(standIn);
    } catch {
      return []; // a damaged snapshot: the list fills as the records are read
    }
  }
  if (!isColumns(saved)) return [];
  const cols = saved.text.map((c) => c.split(SEP));
  if (cols.some((c) => c.length !== saved.n)) return [];
  const v = saved.nums;
  const out = new Array<DocInfo>(saved.n);
  const opt = (x: number) => (Number.isNaN(x) ? null : x);
  for (let i = 0; i < saved.n; i++) {
    const k = i * NUM_COLS;
    out[i] = standIn([cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i], cols[6][i], v[k], v[k + 1], opt(v[k + 2]), opt(v[k + 3]), opt(v[k + 4])]);
  }
  return out;
}

/** Rows as stored: by columns, or as JSON when a text holds the separator. */
function storeRows(rows: Row[]): ListSnapshot | string {
  const text: string[][] = Array.from({ length: TEXT_COLS }, () => new Array<string>(rows.length));
  const nums = new Float64Array(rows.length * NUM_COLS);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    for (let c = 0; c < TEXT_COLS; c++) {
      const x = r[c] as string;
      if (x.includes(SEP)) return JSON.stringify(rows);
      text[c][i] = x;
    }
    for (let c = 0; c < NUM_COLS; c++) nums[i * NUM_COLS + c] = (r[TEXT_COLS + c] as number | null) ?? NaN;
  }
  return { v: 2, n: rows.length, text: text.map((c) => c.join(SEP)), nums };
}

const collator = new Intl.Collator("zh-CN");
/** The saved order is written this long after the last change (a download changes it often). */
const SAVE_AFTER_MS = 1000;
/** Search keys are built this many at a time while the app is idle after opening. */
const KEY_SLICE = 2000;
/** Snapshot rows made per task. */
const SNAPSHOT_SLICE = 5000;

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

  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private changedAt = 0;
  private standIns = new Set<string>();

  constructor(
    readonly briefcase: Briefcase,
    readonly schema: Schema,
  ) {
    briefcase.subscribeDocs((id) => {
      this.dirty.add(id);
      if (this.built) this.saveSoon(); // a visit changes its customer's row too
    });
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
    return info ? this.placeOf(this.order, info) : -1;
  }

  /** Each listed id's index in `order`, made when first asked after the order last moved
   *  (replacing a row in place keeps it): while a reopened briefcase is read, each record
   *  finds its stand-in's row by one lookup, not by a binary search of collator compares. */
  private pos: Map<string, number> | null = null;

  /** The index of `info` in `order` (this.order, or a copy with the same places), or -1. */
  private placeOf(order: readonly DocInfo[], info: DocInfo): number {
    if (!this.pos) {
      const pos = new Map<string, number>();
      this.order.forEach((x, i) => pos.set(x.id, i));
      this.pos = pos;
    }
    const k = this.pos.get(info.id);
    return k !== undefined && order[k]?.id === info.id ? k : this.find(order, info);
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
    const b = this.briefcase;
    let all: DocInfo[] = [];
    let rows: DocInfo[] = [];
    if (!b.isLoaded && b.listRows !== undefined) {
      rows = readRows(b.listRows);
      b.listRows = undefined; // read once: a big value to keep for nothing
    }
    if (rows.length) {
      // The saved order, checked in one pass: a row out of place and every record the
      // snapshot did not know are folded in as changes.
      for (const row of rows) {
        const info = b.infos.get(row.id) ?? row;
        if (!listed(info)) continue;
        if (all.length && compareCustomers(all[all.length - 1], info) >= 0) {
          this.dirty.add(info.id);
          continue;
        }
        all.push(info);
        if (info.snap) this.standIns.add(info.id);
      }
      const have = new Set(all.map((i) => i.id));
      for (const info of b.infos.values()) if (listed(info) && !have.has(info.id)) this.dirty.add(info.id);
      // Once every record is read, a stand-in still here is a card the device no longer has.
      void b.loaded.then(() => {
        for (const id of this.standIns) this.dirty.add(id);
        this.standIns.clear();
      });
    } else {
      for (const info of b.infos.values()) if (listed(info)) all.push(info);
      all.sort(compareCustomers);
      if (all.length) this.saveSoon(); // the next opening starts from it
    }
    this.order = all;
    this.pos = null;
    this.placed = new Map(all.map((i) => [i.id, i]));
    this.built = true;
    this.version += 1;
    if (this.dirty.size) this.apply();
    // Search keys are made per record object, in idle slices: for the stand-ins too while a
    // big briefcase is read (a record read after its stand-in takes over its key), so a
    // search then does not make 50,000 keys in one task; then for whatever is still unkeyed.
    this.keysWhenIdle(all, 0);
    if (!b.isLoaded) void b.loaded.then(() => this.keysWhenIdle(this.list(), 0));
  }

  /** Build the search keys in slices after opening, so the first search finds them made. */
  private keysWhenIdle(all: readonly DocInfo[], from: number): void {
    if (from >= all.length) return;
    setTimeout(() => {
      prepareSearch(all.slice(from, from + KEY_SLICE));
      this.keysWhenIdle(all, from + KEY_SLICE);
    }, 0);
  }

  /** Save the snapshot a little after the last change (one timer, however many changes). */
  private saveSoon(): void {
    this.changedAt = Date.now();
    if (this.saveTimer) return;
    const check = () => {
      const wait = this.changedAt + SAVE_AFTER_MS - Date.now();
      if (wait > 0) {
        this.saveTimer = setTimeout(check, wait);
        return;
      }
      const startedAt = Date.now();
      void this.snapshotInSlices().then((json) => {
        // Changes while the slices were made (a download goes on meanwhile) are not in it:
        // another snapshot follows them.
        this.saveTimer = this.changedAt >= startedAt ? setTimeout(check, SAVE_AFTER_MS) : null;
        return this.briefcase.setMeta("listRows", json);
      });
    };
    this.saveTimer = setTimeout(check, SAVE_AFTER_MS);
  }

  /** The rows as stored: a stand-in as it was read, a record as it is now. */
  snapshot(): ListSnapshot | string {
    return storeRows(this.rowsOf(this.list(), childrenByCustomer(this.briefcase)));
  }

  /** The same, made a slice at a time (the list as it was when asked), so that a search
   *  typed meanwhile is not kept waiting behind 50,000 rows. */
  private async snapshotInSlices(): Promise<ListSnapshot | string> {
    const list = this.list();
    const kids = childrenByCustomer(this.briefcase);
    const rows: Row[] = [];
    for (let i = 0; i < list.length; i += SNAPSHOT_SLICE) {
      for (const row of this.rowsOf(list.slice(i, i + SNAPSHOT_SLICE), kids)) rows.push(row);
      await new Promise((r) => setTimeout(r, 0));
    }
    return storeRows(rows);
  }

  private rowsOf(infos: readonly DocInfo[], kids: Map<string, Children>): Row[] {
    return infos.map((info) => {
      const r = info.record;
      if (info.snap) {
        const { comp, last, cadence } = info.snap;
        return [info.id, text(r.name), text(r.short_name), text(r.code), text(r.category), text(r.tier), text(r.status), comp[0], comp[1], last, cadence, num(r.created_at)];
      }
      const ch = kids.get(info.id);
      const comp = this.completenessOf(r);
      return [info.id, text(r.name), text(r.short_name), text(r.code), text(r.category), text(r.tier), text(r.status), comp[0], comp[1], lastContact(ch), cadenceDays(r, ch), num(r.created_at)];
    });
  }

  // Per record object (a changed record is a new object): the snapshot after a download of
  // 50,000 cards then costs a lookup per card, most of them made while the cards arrived.
  private comps = new WeakMap<object, [number, number]>();

  private completenessOf(r: Record<string, unknown>): [number, number] {
    let c = this.comps.get(r);
    if (!c) {
      const { done, total } = completeness(this.schema, r);
      this.comps.set(r, (c = [done, total]));
    }
    return c;
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
        const k = this.placeOf(order, was);
        if (k >= 0) {
          if (!copied) order = order.slice();
          copied = true;
          (order as DocInfo[])[k] = now;
          adoptKey(was.record, now.record);
          this.placed.set(id, now);
          this.standIns.delete(id);
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
    if (this.built) this.saveSoon();
    added.sort(compareCustomers);
    prepareSearch(added);
    for (const x of added) this.completenessOf(x.record);
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
    for (const id of removed) this.standIns.delete(id);
    this.order = out;
    this.pos = null;
    this.version += 1;
    this.saveSoon();
  }
}
