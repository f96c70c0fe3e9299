// The briefcase: every record doc this device holds, the outbox of local updates not yet
// acknowledged, and the cursor. The page holds each record's fields as JSON (for lists and
// search); its compacted state stays in IndexedDB, where the keeper (keeper.ts, in a Web
// Worker) merges server updates into it. A Y doc is built only when a record is edited, and
// the page owns that record from then on. Every change is written in batched transactions.
import * as Y from "yjs";
import { KeeperLink, type Summary } from "./keeper";
import type { ErrorDetail } from "./protocol";
import { docKind } from "./protocol";
import { isListSnapshot } from "./roster";
import { StorageError, type OutboxEntry, type Store, type StoredDoc } from "./store";

/** The keeper's worker, built beside app.js (build.mjs) and found from app.js's address. */
const WORKER_URL =
  typeof document !== "undefined" && document.currentScript instanceof HTMLScriptElement
    ? new URL("briefcase-worker.js", document.currentScript.src).href
    : null;

/** Transaction origin of updates that came from the server: stored, never re-queued. */
export const REMOTE = Symbol("remote");

export interface DocInfo {
  id: string;
  kind: string;
  record: Record<string, unknown>;
  updatedAt: number;
  /** Only on the list's stand-ins read from its snapshot (roster.ts) while a big briefcase
   *  loads: what a row shows that the stand-in's few fields cannot tell. */
  snap?: { comp: [number, number]; last: number | null; cadence: number | null };
}

/** Up to this many records are read before the app shows; a bigger briefcase is read in
 *  the background, the list showing meanwhile from its snapshot. */
const EAGER_DOCS = 5000;
/** Records per read while loading in the background: each read, and what is done with it,
 *  is one short main-thread task (a few ms), and the reads yield to the main thread between
 *  them, so a keystroke or a frame never waits behind the briefcase being read. */
const LOAD_CHUNK = 250;

/** Let the main thread run what waits (input, rendering, other tasks) before going on. */
export function yieldToMain(): Promise<void> {
  const s = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof s?.yield === "function") return s.yield();
  return new Promise((r) => setTimeout(r, 0));
}

/** Resolves once the page has painted (the next frame, then a task after it); a hidden page
 *  paints no frames, so at most `ms` later in any case. */
export function afterPaint(ms = 250): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(go, ms);
    if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => setTimeout(go, 0));
  });
}

interface Batch {
  docs: Set<string>;
  outboxPut: Map<number, OutboxEntry>;
  outboxDel: Set<number>;
  meta: Map<string, unknown>;
  promise?: Promise<void>;
  /** Starts the write (once the previous batch is written and the wait is over). */
  wake?: () => void;
  due?: boolean;
  timer?: ReturnType<typeof setTimeout>;
  urgent?: boolean;
}

function newBatch(): Batch {
  return { docs: new Set(), outboxPut: new Map(), outboxDel: new Set(), meta: new Map() };
}

/**
 * How long remote-only changes wait to share one IndexedDB transaction: a catch-up of
 * 50,000 records then costs a few hundred transactions instead of one per record. Local
 * changes are written at once (the outbox waits for them).
 */
const REMOTE_BATCH_MS = 150;
const REMOTE_NOTIFY_MS = 200;

export class Briefcase {
  readonly infos = new Map<string, DocInfo>();
  private ydocs = new Map<string, Y.Doc>();
  /** Records being taken over from the keeper (an edit began): server updates that arrive
   *  meanwhile wait here for their Y doc. */
  private opening = new Map<string, { doc: Promise<Y.Doc>; updates: Uint8Array[] }>();
  /** The keeper request that dropped a record: its older answers for it are stale. */
  private dropped = new Map<string, number>();
  /** Records the page owned (a Y doc) and dropped. */
  private ownedDropped = new Set<string>();
  readonly keeper: KeeperLink;
  outbox: OutboxEntry[] = [];
  clock = 0;
  /**
   * Entries up to this clock are in IndexedDB. Only those may be sent: the server takes a
   * clock it has seen for a resend, so a clock handed out again after a crash that lost an
   * unstored entry would make it drop the new change.
   */
  storedClock = 0;
  cursor = 0;
  redirects: Record<string, string> = {};
  /** The customer list's snapshot as last saved (roster.ts), while a big briefcase loads. */
  listRows: unknown;
  /** Every stored record is read (at once for a small briefcase, else in the background):
   *  until then `infos` lacks some, and nothing may be synced. */
  isLoaded = false;
  loaded: Promise<void> = Promise.resolve();
  private pageError: StorageError | null = null;
  private keeperError: StorageError | null = null;
  private listeners = new Set<() => void>();
  private docListeners = new Set<(id: string) => void>();
  /** Counts every change to the records (a cheap "has anything changed" for the screens). */
  version = 0;
  /** Counts changes to records other than customer cards (visits, service sheets, deals…). */
  childVersion = 0;
  private notifyTimer: ReturnType<typeof setTimeout> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private batch: Batch | null = null;

  private constructor(
    readonly store: Store,
    workerUrl: string | null,
  ) {
    this.keeper = new KeeperLink(store, workerUrl);
    this.keeper.onMerged = (seq, rows) => this.merged(seq, rows);
    this.keeper.onStorage = (e) => {
      this.keeperError = e;
      this.changed();
    };
  }

  /** A write that failed and is being retried (shown to the user), or null. */
  get storageError(): StorageError | null {
    return this.pageError ?? this.keeperError;
  }

  /**
   * Open the stored briefcase. A big one is read in the background once `begin` resolves
   * (the app passes "started and painted": reads begun earlier would hold up the start's
   * own IndexedDB requests and its first paint).
   */
  static async open(store: Store, begin: Promise<void> = afterPaint(), workerUrl = WORKER_URL): Promise<Briefcase> {
    const b = new Briefcase(store, workerUrl);
    const [outbox, count, rows] = await Promise.all([
      store.all<OutboxEntry>("outbox"),
      store.count("docs"),
      store.meta<unknown>("listRows"),
    ]);
    b.outbox = outbox.sort((x, y) => x.clock - y.clock);
    b.clock = Math.max((await store.meta<number>("clock")) ?? 0, ...b.outbox.map((e) => e.clock));
    b.storedClock = b.clock;
    b.cursor = (await store.meta<number>("cursor")) ?? 0;
    b.redirects = (await store.meta<Record<string, string>>("redirects")) ?? {};
    if (count <= EAGER_DOCS || !isListSnapshot(rows)) {
      b.take(await store.all<StoredDoc>("docs"), false);
      b.isLoaded = true;
    } else {
      // The app paints from the saved snapshots (list rows, Today's rows and counts) first;
      // the records are read after that, a chunk at a time.
      b.listRows = rows;
      b.loaded = begin.then(() => b.loadInBackground());
    }
    return b;
  }

  private take(docs: (StoredDoc | Summary)[], tell: boolean): void {
    for (const d of docs) {
      // A record made on this device since opening is newer than anything stored.
      if (this.ydocs.has(d.id) || this.infos.has(d.id)) continue;
      this.infos.set(d.id, { id: d.id, kind: d.kind, record: d.summary, updatedAt: d.updatedAt });
      if (tell) this.changed(d.id, true);
    }
  }

  private async loadInBackground(): Promise<void> {
    // The keeper reads them (the states stay in its worker: the page never holds them all);
    // the next read is asked for before this one is handled, so it is fetched meanwhile.
    let next = this.keeper.page(undefined, LOAD_CHUNK);
    for (;;) {
      const docs = await next;
      const more = docs.length === LOAD_CHUNK;
      if (more) next = this.keeper.page(docs[docs.length - 1].id, LOAD_CHUNK);
      this.take(docs, true);
      if (!more) break;
      await yieldToMain();
    }
    this.isLoaded = true;
    this.listRows = undefined;
    this.changed();
  }

  // -- events -----------------------------------------------------------------------------

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called with the id of each record that changed, appeared or was dropped. */
  subscribeDocs(fn: (id: string) => void): () => void {
    this.docListeners.add(fn);
    return () => this.docListeners.delete(fn);
  }

  /**
   * Tell the listeners. Changes from the server are told at most every REMOTE_NOTIFY_MS:
   * during a catch-up of 50,000 records the screens then redraw a few times a second
   * instead of once a frame (each redraw costs style and layout work the download needs).
   */
  private changed(id?: string, remote = false): void {
    if (id !== undefined) {
      this.version += 1;
      if (docKind(id) !== "customer") this.childVersion += 1;
      for (const fn of this.docListeners) fn(id);
    }
    if (remote) {
      this.notifyTimer ??= setTimeout(() => {
        this.notifyTimer = null;
        for (const fn of this.listeners) fn();
      }, REMOTE_NOTIFY_MS);
      return;
    }
    for (const fn of this.listeners) fn();
  }

  // -- docs -------------------------------------------------------------------------------

  has(id: string): boolean {
    return this.infos.has(id) || this.ydocs.has(id);
  }

  /** The Y doc of a record, created empty when the device has never seen it. The page takes
   *  the record over from the keeper: from now on its Y doc is the live copy. */
  private doc(id: string): Y.Doc | Promise<Y.Doc> {
    const doc = this.ydocs.get(id);
    if (doc) return doc;
    let o = this.opening.get(id);
    if (!o) {
      const updates: Uint8Array[] = [];
      const opened = this.keeper.take(id).then((state) => {
        const doc = this.makeDoc(id, state);
        this.opening.delete(id);
        // Server updates that came while the state was fetched: stored by the page now.
        for (const u of updates) Y.applyUpdate(doc, u, REMOTE);
        return doc;
      });
      o = { doc: opened, updates };
      this.opening.set(id, o);
    }
    return o.doc;
  }

  record(id: string): Record<string, unknown> {
    return this.infos.get(id)?.record ?? {};
  }

  private makeDoc(id: string, state: Uint8Array | null): Y.Doc {
    const doc = new Y.Doc({ gc: true });
    if (state) Y.applyUpdate(doc, state, REMOTE);
    doc.on("update", (update: Uint8Array, origin: unknown) => this.onUpdate(id, update, origin));
    this.ydocs.set(id, doc);
    return doc;
  }

  /** Change a record locally in one Y transaction; resolves once it is stored. The first
   *  edit of a record fetches its state from the keeper first. */
  async edit(id: string, fn: (record: Y.Map<unknown>, doc: Y.Doc) => void): Promise<void> {
    const doc = await this.doc(id);
    doc.transact(() => fn(doc.getMap("record"), doc));
    return this.batch?.promise ?? this.chain;
  }

  /**
   * Apply an update from the server; it is stored but never queued for sending. A record
   * nobody edits is not kept as a Y doc in the page: the keeper merges the update into the
   * stored state, reads the fields and stores both, off the main thread, and the page hears
   * of the fields (`merged`). A briefcase of 50,000 records then holds 50,000 summaries in
   * the page and no states.
   */
  applyRemote(id: string, update: Uint8Array): void {
    // A record the page owned and dropped stays the page's (its deletion is the page's write).
    const doc = this.ydocs.get(id) ?? (this.ownedDropped.has(id) ? this.makeDoc(id, null) : undefined);
    if (doc) Y.applyUpdate(doc, update, REMOTE);
    else if (this.opening.has(id)) this.opening.get(id)!.updates.push(update);
    else this.keeper.remote(id, update);
  }

  private merged(seq: number, rows: Summary[]): void {
    for (const r of rows) {
      // Dropped after this update was sent, or taken over by the page meanwhile.
      if ((this.dropped.get(r.id) ?? -1) > seq || this.ydocs.has(r.id)) continue;
      this.infos.set(r.id, { id: r.id, kind: r.kind, record: r.summary, updatedAt: r.updatedAt });
      this.changed(r.id, true);
    }
  }

  private onUpdate(id: string, update: Uint8Array, origin: unknown): void {
    const doc = this.ydocs.get(id)!;
    const kind = docKind(id) ?? "unknown";
    this.infos.set(id, {
      id,
      kind,
      record: doc.getMap("record").toJSON() as Record<string, unknown>,
      updatedAt: Date.now(),
    });
    void this.persist((b) => b.docs.add(id), origin !== REMOTE);
    if (origin !== REMOTE) this.enqueue(id, update);
    this.changed(id);
  }

  private enqueue(id: string, update: Uint8Array): void {
    const refused = this.outbox.filter((e) => e.doc === id && e.refused);
    if (refused.length) {
      // A fix travels with what it fixes, so the server validates the whole.
      update = Y.mergeUpdates([...refused.map((e) => e.update), update]);
      this.outbox = this.outbox.filter((e) => !(e.doc === id && e.refused));
      void this.persist((b) => refused.forEach((e) => b.outboxDel.add(e.clock)));
    }
    this.clock += 1;
    const entry: OutboxEntry = { clock: this.clock, doc: id, update, createdAt: Date.now() };
    this.outbox.push(entry);
    const clock = this.clock;
    void this.persist((b) => {
      b.outboxPut.set(entry.clock, entry);
      b.meta.set("clock", clock);
    });
  }

  /** Called once local changes are queued and stored (the sync client flushes). */
  onEnqueue: (() => void) | null = null;

  /** Forget a doc that left this device's scope (its unsent updates stay in the outbox). */
  drop(id: string): void {
    const opening = this.opening.get(id);
    if (opening) {
      void opening.doc.then(() => this.drop(id));
      return;
    }
    const doc = this.ydocs.get(id);
    if (doc) {
      doc.destroy();
      this.ydocs.delete(id);
      this.ownedDropped.add(id);
      void this.persist((b) => b.docs.add(id));
    } else {
      // The keeper stores it: deleted there, after the updates sent to it before.
      this.dropped.set(id, this.keeper.drop(id));
    }
    this.infos.delete(id);
    this.changed(id);
  }

  setRedirect(from: string, to: string): void {
    this.redirects = { ...this.redirects, [from]: to };
    void this.persist((b) => b.meta.set("redirects", this.redirects));
  }

  /** Follow merge redirects to the surviving doc. */
  resolve(id: string): string {
    const seen = new Set<string>();
    while (this.redirects[id] && !seen.has(id)) {
      seen.add(id);
      id = this.redirects[id];
    }
    return id;
  }

  // -- outbox and cursor ------------------------------------------------------------------

  ack(clock: number): void {
    const gone = this.outbox.filter((e) => e.clock <= clock && !e.refused);
    if (!gone.length) return;
    this.outbox = this.outbox.filter((e) => e.clock > clock || e.refused);
    void this.persist((b) => gone.forEach((e) => b.outboxDel.add(e.clock)));
    this.changed();
  }

  refuse(doc: string, clock: number, detail: ErrorDetail): void {
    const e = this.outbox.find((x) => x.clock === clock && x.doc === doc);
    if (!e) return;
    e.refused = detail;
    void this.persist((b) => b.outboxPut.set(e.clock, e));
    this.changed();
  }

  private storingCursor = false;

  setCursor(n: number): void {
    if (n <= this.cursor) return;
    this.cursor = n;
    if (!this.storingCursor) this.storeCursor();
  }

  /** The cursor is stored once the keeper has stored the updates it covers (and with or
   *  after the page's own writes of them): never ahead of the docs. */
  private storeCursor(): void {
    const n = this.cursor;
    this.storingCursor = true;
    void this.keeper.settle().then(() => {
      void this.persist((b) => b.meta.set("cursor", n));
      this.storingCursor = false;
      if (this.cursor > n) this.storeCursor();
    });
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.persist((b) => b.meta.set(key, value));
  }

  unsent(): OutboxEntry[] {
    return this.outbox.filter((e) => !e.refused);
  }

  refused(): OutboxEntry[] {
    return this.outbox.filter((e) => e.refused);
  }

  /** Resolves when everything changed so far is in IndexedDB. */
  async flushed(): Promise<void> {
    // After the keeper's writes, the page's: they include a cursor stored once those landed.
    await this.keeper.settle();
    await (this.batch?.promise ?? this.chain);
  }

  // -- persistence ------------------------------------------------------------------------

  private persist(mut: (b: Batch) => void, urgent = true): Promise<void> {
    if (!this.batch) {
      const b = newBatch();
      this.batch = b;
      b.promise = this.chain = this.chain
        .then(() => new Promise<void>((r) => (b.due ? r() : (b.wake = r))))
        .then(() => {
          if (this.batch === b) this.batch = null;
          return this.writeBatch(b);
        });
      b.timer = setTimeout(() => this.due(b), urgent ? 0 : REMOTE_BATCH_MS);
    } else if (urgent && !this.batch.urgent) {
      // A local change joins a waiting remote batch: write it now.
      const b = this.batch;
      clearTimeout(b.timer);
      b.timer = setTimeout(() => this.due(b), 0);
    }
    this.batch.urgent ||= urgent;
    mut(this.batch);
    return this.batch.promise!;
  }

  private due(b: Batch): void {
    b.due = true;
    b.wake?.();
  }

  private async writeBatch(b: Batch): Promise<void> {
    try {
      await this.store.write(["docs", "outbox", "meta"], (s) => {
        const docs = s("docs");
        for (const id of b.docs) {
          // The page writes the records it owns (a Y doc), and deletes those dropped.
          const doc = this.ydocs.get(id);
          const info = this.infos.get(id);
          if (!doc || !info) {
            if (!doc && !info) docs.delete(id);
            continue;
          }
          const row: StoredDoc = { id, kind: info.kind, state: Y.encodeStateAsUpdate(doc), summary: info.record, updatedAt: info.updatedAt };
          docs.put(row);
        }
        const outbox = s("outbox");
        for (const c of b.outboxDel) outbox.delete(c);
        for (const e of b.outboxPut.values()) {
          if (this.outbox.includes(e)) outbox.put(e);
        }
        for (const [k, v] of b.meta) s("meta").put(v, k);
      });
      const clock = b.meta.get("clock") as number | undefined;
      if (clock !== undefined && clock > this.storedClock) {
        this.storedClock = clock;
        this.onEnqueue?.(); // stored: now it may go out
      }
      if (this.pageError) {
        this.pageError = null;
        this.changed();
      }
    } catch (e) {
      // Keep everything in memory and try again; the user is told, nothing is dropped.
      this.pageError = e instanceof StorageError ? e : new StorageError(String(e), false);
      this.changed();
      setTimeout(() => {
        void this.persist((nb) => {
          b.docs.forEach((d) => nb.docs.add(d));
          b.outboxPut.forEach((v, k) => nb.outboxPut.set(k, v));
          b.outboxDel.forEach((c) => nb.outboxDel.add(c));
          b.meta.forEach((v, k) => nb.meta.set(k, v));
        });
      }, 5000);
    }
  }
}
