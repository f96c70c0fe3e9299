// The keeper of the records' stored states: it merges server updates into the state each
// record has in IndexedDB, reads the fields for the lists, writes both, and reads the
// briefcase back without the states. It runs in a Web Worker (worker.ts), off the page's
// main thread; where there is no worker it runs in the page, with the same messages.
import * as Y from "yjs";
import { docKind } from "./protocol";
import { StorageError, Store, type StoredDoc } from "./store";

/** A record as the page holds it: everything stored but its state. */
export interface Summary {
  id: string;
  kind: string;
  summary: Record<string, unknown>;
  updatedAt: number;
}

/** Page to keeper; handled strictly in the order sent. */
export type KeeperRequest =
  | { t: "remote"; seq: number; items: [string, Uint8Array][] }
  | { t: "drop"; seq: number; id: string }
  /** The page takes the record over (it opens a Y doc): its state, after every earlier
   *  request is stored; the keeper is sent nothing more for it. */
  | { t: "take"; seq: number; id: string }
  /** Answered once every earlier request is stored. */
  | { t: "settle"; seq: number }
  | { t: "page"; seq: number; after: string | undefined; count: number };

/** Keeper to page. */
export type KeeperReply =
  | { t: "merged"; seq: number; rows: Summary[] }
  | { t: "done"; seq: number; state?: Uint8Array | null; rows?: Summary[] }
  | { t: "storage"; error: { message: string; quota: boolean } | null }
  /** The worker could not open the database: the page keeps the records itself. */
  | { t: "failed"; message: string };

/** Records of remote requests merged into one IndexedDB transaction (about). */
const MAX_REMOTE_PER_WRITE = 1000;
/** Writes of remote requests under way at once: the next batch is merged while the last
 *  one is committed (IndexedDB runs transactions on one store in the order they were made). */
const MAX_WRITES = 2;
const RETRY_MS = 5000;

/** The state and fields of a record after `updates` are applied to `prev`. */
export function merge(id: string, prev: Uint8Array | undefined, updates: Uint8Array[]): { state: Uint8Array; record: Record<string, unknown> } {
  const tmp = new Y.Doc({ gc: true, guid: id }); // a guid given: no random uuid per record
  if (prev) Y.applyUpdate(tmp, prev);
  for (const u of updates) Y.applyUpdate(tmp, u);
  // A first state is stored as it came (already compacted by the server).
  const state = !prev && updates.length === 1 ? updates[0] : Y.encodeStateAsUpdate(tmp);
  // Not destroyed: nothing listens to it, it is garbage as it is, and destroy() (events
  // emitted, observers cleared) was a third of a card's merge (20 of 67 µs in Node).
  return { state, record: tmp.getMap("record").toJSON() as Record<string, unknown> };
}

export class Keeper {
  private queue: KeeperRequest[] = [];
  private running = false;
  private failing = false;
  /** Every id stored (or more): a record not in it has no state to merge with, and is
   *  written without being read first (a first download reads nothing). */
  private known: Promise<Set<string>> | null = null;
  private writes = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly post: (reply: KeeperReply) => void,
  ) {}

  receive(req: KeeperRequest): void {
    this.queue.push(req);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        if (this.queue[0].t === "remote") {
          if (this.writes.size >= MAX_WRITES) await Promise.race(this.writes);
          const reqs = this.queue.splice(0, this.remoteRun()) as Extract<KeeperRequest, { t: "remote" }>[];
          const w: Promise<void> = this.retrying(() => this.writeRemote(reqs)).finally(() => this.writes.delete(w));
          this.writes.add(w);
          continue;
        }
        // Anything else is answered once every write before it has landed.
        await Promise.all(this.writes);
        const head = this.queue[0];
        await this.retrying(() => this.handle(head));
        this.queue.shift();
      }
    } finally {
      this.running = false;
    }
  }

  /** Tried again until it works: the page says so meanwhile, and nothing is dropped. A
   *  write of server updates tried again reads and merges every record it holds, so it never
   *  puts back an older state over a later write's. */
  private async retrying(fn: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await fn();
        if (this.failing) {
          this.failing = false;
          this.post({ t: "storage", error: null });
        }
        return;
      } catch (e) {
        const err = e instanceof StorageError ? e : new StorageError(String(e), false);
        console.error("keeper: storing failed, retrying", err);
        this.failing = true;
        this.post({ t: "storage", error: { message: err.message, quota: err.quota } });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /** How many remote requests at the head of the queue go in one transaction. */
  private remoteRun(): number {
    let n = 0;
    let items = 0;
    while (n < this.queue.length && this.queue[n].t === "remote" && (n === 0 || items < MAX_REMOTE_PER_WRITE)) {
      items += (this.queue[n] as Extract<KeeperRequest, { t: "remote" }>).items.length;
      n += 1;
    }
    return n;
  }

  private async writeRemote(reqs: Extract<KeeperRequest, { t: "remote" }>[]): Promise<void> {
    const updates = new Map<string, Uint8Array[]>();
    for (const r of reqs) {
      for (const [id, u] of r.items) {
        const list = updates.get(id);
        if (list) list.push(u);
        else updates.set(id, [u]);
      }
    }
    this.known ??= this.store.keys("docs").then((keys) => new Set(keys as string[]));
    const known = await this.known;
    const rows: Summary[] = [];
    const now = Date.now();
    let waiting = 0;
    // The page hears of the fields once every record of the write is merged, before the
    // write lands: it holds them in memory, and the cursor waits for the write (settle).
    const tell = () => this.post({ t: "merged", seq: reqs[reqs.length - 1].seq, rows });
    await this.store.write(["docs"], (s) => {
      const docs = s("docs");
      const put = (id: string, prev: StoredDoc | undefined, list: Uint8Array[]) => {
        let merged;
        try {
          merged = merge(id, prev?.state, list);
        } catch (e) {
          // An update Yjs cannot read: the record keeps what it had (as the page did).
          console.error("keeper: a server update could not be applied", id, e);
          return;
        }
        const kind = docKind(id) ?? "unknown";
        docs.put({ id, kind, state: merged.state, summary: merged.record, updatedAt: now } satisfies StoredDoc);
        rows.push({ id, kind, summary: merged.record, updatedAt: now });
      };
      for (const [id, list] of updates) {
        if (!known.has(id)) {
          known.add(id); // from now on it is read first (a retry of this write too)
          put(id, undefined, list);
          continue;
        }
        waiting += 1;
        const got = docs.get(id);
        got.onsuccess = () => {
          put(id, got.result as StoredDoc | undefined, list);
          if (--waiting === 0) tell();
        };
      }
      if (waiting === 0) tell();
    });
  }

  private async handle(req: KeeperRequest): Promise<void> {
    switch (req.t) {
      case "drop":
        await this.store.write(["docs"], (s) => s("docs").delete(req.id));
        (await this.known)?.delete(req.id);
        this.post({ t: "done", seq: req.seq });
        return;
      case "take": {
        const row = await this.store.get<StoredDoc>("docs", req.id);
        this.post({ t: "done", seq: req.seq, state: row?.state ?? null });
        return;
      }
      case "settle":
        this.post({ t: "done", seq: req.seq });
        return;
      case "page": {
        const docs = await this.store.page<StoredDoc>("docs", req.after, req.count);
        const rows = docs.map((d) => ({ id: d.id, kind: d.kind, summary: d.summary, updatedAt: d.updatedAt }));
        this.post({ t: "done", seq: req.seq, rows });
        return;
      }
      case "remote":
        return;
    }
  }
}

type Done = Extract<KeeperReply, { t: "done" }>;

/**
 * The page's line to its keeper: a Web Worker when `url` is given and one starts, else a
 * Keeper in the page. Every request is kept until answered; if the worker fails, the ones
 * not answered go to a keeper in the page, in their order (applying an update twice is
 * harmless in Yjs), so nothing sent is lost.
 */
export class KeeperLink {
  private seq = 0;
  private outstanding = new Map<number, { req: KeeperRequest; resolve?: (r: Done) => void }>();
  private outgoing: [string, Uint8Array][] = [];
  private worker: Worker | null = null;
  private local: Keeper | null = null;
  /** Records the keeper stored for server updates, with the last request they answer. */
  onMerged: (seq: number, rows: Summary[]) => void = () => {};
  onStorage: (error: StorageError | null) => void = () => {};

  constructor(
    private readonly store: Store,
    url: string | null,
  ) {
    if (url !== null && typeof Worker === "function") {
      try {
        const w = new Worker(url);
        w.onmessage = (ev: MessageEvent<KeeperReply>) => this.reply(ev.data);
        w.onerror = (ev) => {
          ev.preventDefault();
          this.fallBack(`the worker failed: ${ev.message}`);
        };
        w.postMessage({ t: "open", db: store.db.name });
        this.worker = w;
        return;
      } catch (e) {
        console.warn("keeper: no worker, the page keeps the records", e);
      }
    }
    this.local = this.inPage();
  }

  /** Whether the records are kept by a worker (false: in the page). */
  get inWorker(): boolean {
    return this.worker !== null;
  }

  /** A server update for a record the page has not taken; sent with the others of this task. */
  remote(id: string, update: Uint8Array): void {
    this.outgoing.push([id, update]);
    if (this.outgoing.length === 1) queueMicrotask(() => this.sendRemote());
  }

  /** Returns the request's number: records merged by earlier requests come back before. */
  drop(id: string): number {
    const seq = this.next();
    this.send({ t: "drop", seq, id });
    return seq;
  }

  async take(id: string): Promise<Uint8Array | null> {
    const r = await this.ask((seq) => ({ t: "take", seq, id }));
    return r.state ?? null;
  }

  /** Resolves once everything sent so far is stored. */
  async settle(): Promise<void> {
    await this.ask((seq) => ({ t: "settle", seq }));
  }

  async page(after: string | undefined, count: number): Promise<Summary[]> {
    const r = await this.ask((seq) => ({ t: "page", seq, after, count }));
    return r.rows ?? [];
  }

  private next(): number {
    this.sendRemote(); // requests stay in the order they were made
    return ++this.seq;
  }

  private sendRemote(): void {
    if (!this.outgoing.length) return;
    const items = this.outgoing;
    this.outgoing = [];
    this.send({ t: "remote", seq: ++this.seq, items });
  }

  private ask(make: (seq: number) => KeeperRequest): Promise<Done> {
    const seq = this.next();
    return new Promise((resolve) => this.send(make(seq), resolve));
  }

  private send(req: KeeperRequest, resolve?: (r: Done) => void): void {
    this.outstanding.set(req.seq, { req, resolve });
    this.transmit(req);
  }

  private transmit(req: KeeperRequest): void {
    if (this.worker) this.worker.postMessage(req);
    else this.local!.receive(req);
  }

  private reply(r: KeeperReply): void {
    switch (r.t) {
      case "merged":
        this.outstanding.delete(r.seq);
        // The earlier requests of the same write were answered by it too.
        for (const seq of this.outstanding.keys()) {
          if (seq < r.seq && this.outstanding.get(seq)!.req.t === "remote") this.outstanding.delete(seq);
        }
        this.onMerged(r.seq, r.rows);
        return;
      case "done": {
        const o = this.outstanding.get(r.seq);
        this.outstanding.delete(r.seq);
        o?.resolve?.(r);
        return;
      }
      case "storage":
        this.onStorage(r.error ? new StorageError(r.error.message, r.error.quota) : null);
        return;
      case "failed":
        this.fallBack(r.message);
        return;
    }
  }

  private fallBack(why: string): void {
    if (!this.worker) return;
    console.warn("keeper: the page keeps the records from now on:", why);
    this.worker.terminate();
    this.worker = null;
    this.local = this.inPage();
    for (const seq of [...this.outstanding.keys()].sort((a, b) => a - b)) this.transmit(this.outstanding.get(seq)!.req);
  }

  private inPage(): Keeper {
    // Answers come in a later microtask, as a worker's would come in a later task.
    return new Keeper(this.store, (r) => queueMicrotask(() => this.reply(r)));
  }
}
