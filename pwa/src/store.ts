// The one IndexedDB database of the device: docs (each compacted to one merged update),
// the outbox of unacked updates, queued photos, settings and the duplicate index.
// Layout and upgrade rules are in docs/pwa.md ("Storage").

export const DB_NAME = "waiqin";
export const DB_VERSION = 1;

export interface StoredDoc {
  id: string;
  kind: string;
  /** Y.encodeStateAsUpdate of the whole doc: the compacted form of every update applied. */
  state: Uint8Array;
  /** The record map as JSON, for lists and search without loading Y docs. */
  summary: Record<string, unknown>;
  updatedAt: number;
}

export interface OutboxEntry {
  clock: number;
  doc: string;
  update: Uint8Array;
  createdAt: number;
  /** The server's ERROR detail while the change stays refused. */
  refused?: import("./protocol").ErrorDetail;
}

/** "rejected": the server refused these bytes for good (a 4xx); retried only by "sync now". */
export type PhotoState = "queued" | "uploading" | "uploaded" | "failed" | "waiting_server" | "rejected";

export interface StoredPhoto {
  sha256: string;
  doc: string;
  /** The compressed bytes; absent once evicted (the server has them, `thumb` stays). */
  blob?: Blob;
  mediaType: string;
  size: number;
  state: PhotoState;
  attempts: number;
  nextAt: number;
  error?: string;
  createdAt: number;
  /** The tus upload in progress (its path) and the offset the server last reported. */
  upload?: string;
  offset?: number;
  /** When the server confirmed it holds these bytes (hash checked there). */
  confirmedAt?: number;
  /** The attachment's GPS fix came from the photo's own EXIF (shown with a pin). */
  gpsFromExif?: boolean;
  /** A small JPEG kept after the full bytes were evicted. */
  thumb?: Blob;
  evictedAt?: number;
}

export interface IndexEntry {
  key: string;
  code?: string;
  owner_name?: string;
  kind?: string;
}

export type StoreName = "meta" | "docs" | "outbox" | "photos" | "dupindex";

/** A storage failure the user must see (quota, private mode); nothing is dropped silently. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly quota: boolean,
  ) {
    super(message);
  }
}

function wrap<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(toStorageError(tx.error));
    tx.onerror = () => reject(toStorageError(tx.error));
  });
}

function toStorageError(e: DOMException | null): StorageError {
  const quota = e?.name === "QuotaExceededError";
  return new StorageError(e ? `${e.name}: ${e.message}` : "transaction aborted", quota);
}

export class Store {
  private constructor(readonly db: IDBDatabase) {}

  static open(name = DB_NAME): Promise<Store> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        db.createObjectStore("meta");
        const docs = db.createObjectStore("docs", { keyPath: "id" });
        docs.createIndex("kind", "kind");
        const outbox = db.createObjectStore("outbox", { keyPath: "clock" });
        outbox.createIndex("doc", "doc");
        const photos = db.createObjectStore("photos", { keyPath: "sha256" });
        photos.createIndex("doc", "doc");
        db.createObjectStore("dupindex", { keyPath: "key" }).createIndex("code", "code");
      };
      req.onsuccess = () => resolve(new Store(req.result));
      req.onerror = () => reject(toStorageError(req.error));
      req.onblocked = () => reject(new StorageError("the database is held by an older tab", false));
    });
  }

  async get<T>(store: StoreName, key: IDBValidKey): Promise<T | undefined> {
    const tx = this.db.transaction(store, "readonly");
    return (await wrap(tx.objectStore(store).get(key))) as T | undefined;
  }

  async all<T>(store: StoreName): Promise<T[]> {
    const tx = this.db.transaction(store, "readonly");
    return (await wrap(tx.objectStore(store).getAll())) as T[];
  }

  async keys(store: StoreName): Promise<IDBValidKey[]> {
    const tx = this.db.transaction(store, "readonly");
    return wrap(tx.objectStore(store).getAllKeys());
  }

  async count(store: StoreName): Promise<number> {
    const tx = this.db.transaction(store, "readonly");
    return wrap(tx.objectStore(store).count());
  }

  /** Up to `count` rows with keys after `after` (from the first without it), in key order. */
  async page<T>(store: StoreName, after: IDBValidKey | undefined, count: number): Promise<T[]> {
    const tx = this.db.transaction(store, "readonly");
    const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true);
    return (await wrap(tx.objectStore(store).getAll(range, count))) as T[];
  }

  async meta<T>(key: string): Promise<T | undefined> {
    return this.get<T>("meta", key);
  }

  /** Several writes in one transaction: all land or none. */
  async write(
    stores: StoreName[],
    fn: (s: (name: StoreName) => IDBObjectStore) => void,
  ): Promise<void> {
    let tx: IDBTransaction;
    try {
      tx = this.db.transaction(stores, "readwrite");
    } catch (e) {
      throw toStorageError(e as DOMException);
    }
    const finished = done(tx);
    try {
      fn((name) => tx.objectStore(name));
    } catch (e) {
      tx.abort();
      throw e;
    }
    await finished;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.write(["meta"], (s) => s("meta").put(value, key));
  }

  /** Forget the briefcase (another user logs in on this device). Settings stay. */
  clearBriefcase(): Promise<void> {
    return this.write(["docs", "outbox", "photos", "dupindex", "meta"], (s) => {
      s("docs").clear();
      s("outbox").clear();
      s("photos").clear();
      s("dupindex").clear();
      for (const k of ["cursor", "redirects", "dupCursor", "dupSecret", "lastSync", "listRows"]) s("meta").delete(k);
    });
  }
}
