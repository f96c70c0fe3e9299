// Photos: read the original's EXIF, compress, hash (SHA-256), keep in IndexedDB, reference from
// the record at once, upload in the background (tus, resumable) with backoff until the server
// has them, and later keep only a thumbnail of the ones the server holds.
import type { Api } from "./api";
import { ApiError } from "./api";
import { readExifFile, type PhotoExif } from "./exif";
import { Backoff, type BackoffOptions } from "./sync/backoff";
import type { PhotoState, Store, StoredPhoto } from "./store";
import { appendChunk, createUpload, uploadOffset } from "./tus";

export interface PhotoOptions {
  /** Longest edge after compression, in pixels. */
  longEdge: number;
  /** JPEG quality 0..1. */
  quality: number;
  /**
   * Accuracy (m) written with a fix from EXIF that does not state its own
   * (GPSHPositioningError): the schema wants latitude, longitude and accuracy together.
   */
  exifAccuracyM: number;
}

export const DEFAULT_PHOTO_OPTIONS: PhotoOptions = { longEdge: 2048, quality: 0.8, exifAccuracyM: 50 };

export interface QueueOptions {
  /** PATCH size of a resumable upload; a photo no larger goes as one PUT. */
  chunkBytes: number;
  /** Keep a photo's full bytes this long after the server confirmed it holds them. */
  keepMs: number;
  /** Above this many bytes of full photos, confirmed ones are evicted oldest first. */
  budgetBytes: number;
  /** Long edge of the thumbnail kept in place of an evicted photo. */
  thumbEdge: number;
  backoff: BackoffOptions;
  /**
   * True once the record a photo belongs to has reached the server (nothing of it unsent):
   * until then the server may collect an unreferenced blob, so the bytes stay.
   */
  settled: (doc: string) => boolean;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  chunkBytes: 256 * 1024,
  keepMs: 7 * 24 * 3600_000,
  budgetBytes: 200 * 1024 * 1024,
  thumbEdge: 256,
  backoff: { initialMs: 2_000, maxMs: 5 * 60_000, factor: 2, jitter: 0.5 },
  settled: () => false,
};

export interface Compressed {
  blob: Blob;
  width: number;
  height: number;
  sha256: string;
}

/** A picked file made ready for a record: the compressed bytes and what its EXIF said. */
export interface Prepared extends Compressed {
  exif: PhotoExif;
}

export interface GpsFix {
  gps_lat: number;
  gps_lon: number;
  gps_accuracy: number;
}

export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Draw an image upright onto a canvas no longer than `longEdge` and encode it as JPEG. */
async function drawJpeg(source: Blob, longEdge: number, quality: number): Promise<Omit<Compressed, "sha256">> {
  const bitmap = await createImageBitmap(source, { imageOrientation: "from-image" });
  try {
    const scale = Math.min(1, longEdge / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d")!;
    ctx.fillStyle = "#fff"; // transparent PNGs become white, not black, as JPEG
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0, width, height);
    const blob = await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode JPEG"))), "image/jpeg", quality),
    );
    return { blob, width, height };
  } finally {
    bitmap.close();
  }
}

export async function compress(file: Blob, opts: PhotoOptions = DEFAULT_PHOTO_OPTIONS): Promise<Compressed> {
  const c = await drawJpeg(file, opts.longEdge, opts.quality);
  return { ...c, sha256: await sha256Hex(c.blob) };
}

/** Read the EXIF first: the canvas drops it. Bad or absent EXIF gives `{}`, never an error. */
export async function prepare(file: Blob, opts: PhotoOptions = DEFAULT_PHOTO_OPTIONS): Promise<Prepared> {
  const exif = await readExifFile(file);
  return { ...(await compress(file, opts)), exif };
}

/**
 * The record's attachment entry. The photo's own EXIF fix and capture time win; without
 * them the visit's check-in fix and the file's time stand in.
 */
export function attachmentEntry(
  p: Prepared,
  { category, fileTime, visitFix, opts = DEFAULT_PHOTO_OPTIONS }: { category?: string; fileTime: number; visitFix?: GpsFix; opts?: PhotoOptions },
): Record<string, unknown> {
  const { exif } = p;
  const fix: GpsFix | undefined =
    exif.lat !== undefined && exif.lon !== undefined
      ? { gps_lat: exif.lat, gps_lon: exif.lon, gps_accuracy: exif.accuracy ?? opts.exifAccuracyM }
      : visitFix;
  return {
    sha256: p.sha256,
    media_type: "image/jpeg",
    size: p.blob.size,
    width: p.width,
    height: p.height,
    captured_at: exif.capturedAt ?? (fileTime || Date.now()),
    category,
    ...fix,
  };
}

/** A 4xx the same bytes will get again: shown on the photo, retried only on "sync now". */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 404, 405, 408, 409, 423, 429].includes(status);
}

export class PhotoQueue {
  photos = new Map<string, StoredPhoto>();
  readonly opts: QueueOptions;
  private running = false;
  private evicting = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  /** Object URLs of local bytes (full or thumbnail), by hash. */
  private urls = new Map<string, string>();
  /** Thumbnails fetched from the server for photos taken elsewhere (null while loading). */
  private remote = new Map<string, string | null>();
  /** Originals fetched from the server to look at, the last few kept. */
  private originals = new Map<string, string>();
  /** Photos of a form not saved yet: in memory only, never uploaded (see `hold`). */
  private held = new Set<string>();

  constructor(
    readonly store: Store,
    readonly api: Api,
    opts: Partial<QueueOptions> = {},
  ) {
    this.opts = { ...DEFAULT_QUEUE_OPTIONS, ...opts };
  }

  /** Each photo backs off on its own failures, so one the server refuses holds up no other. */
  private retryDelay(p: StoredPhoto): number {
    const b = new Backoff(this.opts.backoff);
    b.attempt = Math.max(0, p.attempts - 1);
    return b.next();
  }

  async load(): Promise<void> {
    const unconfirmed: StoredPhoto[] = [];
    for (const p of await this.store.all<StoredPhoto>("photos")) {
      if (p.state === "uploading") p.state = "queued";
      if (p.state === "uploaded" && p.confirmedAt === undefined) {
        // Uploaded by a build that did not note when: the keeping period starts now.
        p.confirmedAt = Date.now();
        unconfirmed.push(p);
      }
      this.photos.set(p.sha256, p);
    }
    if (unconfirmed.length) await this.store.write(["photos"], (s) => unconfirmed.forEach((p) => s("photos").put(p)));
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** Photos the server does not have yet (the indicator counts them). */
  pending(): StoredPhoto[] {
    return [...this.photos.values()].filter((p) => p.state !== "uploaded" && !this.held.has(p.sha256));
  }

  /** True while the photo belongs to a form that was not saved yet. */
  isHeld(sha256: string): boolean {
    return this.held.has(sha256);
  }

  /** What to draw in a thumbnail: the local bytes, the kept thumbnail, or one from the server. */
  url(sha256: string): string | null {
    const p = this.photos.get(sha256);
    const local = p?.blob ?? p?.thumb;
    if (!local) return this.remoteThumb(sha256);
    let u = this.urls.get(sha256);
    if (!u) {
      u = URL.createObjectURL(local);
      this.urls.set(sha256, u);
    }
    return u;
  }

  /** True when only a thumbnail of this photo is on the device. */
  evicted(sha256: string): boolean {
    const p = this.photos.get(sha256);
    return !p || !p.blob;
  }

  /**
   * The full photo to look at: the local bytes, or `GET /api/blobs/<sha256>` (with the token)
   * for an evicted photo or one taken elsewhere. Throws when offline or refused.
   */
  async original(sha256: string): Promise<string> {
    if (this.photos.get(sha256)?.blob) return this.url(sha256)!;
    const known = this.originals.get(sha256);
    if (known) return known;
    const r = await this.api.request("GET", `/api/blobs/${sha256}`);
    const u = URL.createObjectURL(await r.blob());
    this.originals.set(sha256, u);
    for (const [k, old] of this.originals) {
      if (this.originals.size <= 4) break;
      URL.revokeObjectURL(old); // memory, not storage: only the last few are kept
      this.originals.delete(k);
    }
    return u;
  }

  private remoteThumb(sha256: string): string | null {
    if (this.remote.has(sha256)) return this.remote.get(sha256) ?? null;
    if (!navigator.onLine || !this.api.session?.token) return null;
    this.remote.set(sha256, null);
    void this.api
      .request("GET", `/api/blobs/${sha256}/thumb?size=256`)
      .then((r) => r.blob())
      .then((b) => {
        this.remote.set(sha256, URL.createObjectURL(b));
        this.changed();
      })
      .catch(() => setTimeout(() => this.remote.delete(sha256), 60_000)); // try again later
    return null;
  }

  /**
   * A photo picked in a form that is not saved yet: shown, but neither stored nor uploaded
   * until `commit` (the form's save); `discard` (the form left unsaved) forgets it, so an
   * abandoned form leaves no upload behind.
   */
  hold(doc: string, c: Compressed | Prepared, mediaType = "image/jpeg"): void {
    if (this.photos.has(c.sha256)) return;
    this.photos.set(c.sha256, this.entry(doc, c, mediaType));
    this.held.add(c.sha256);
    this.changed();
  }

  /** Store and queue the held photos among `shas` (called before their record is written). */
  async commit(shas: Iterable<string>): Promise<void> {
    const ps = [...shas].filter((s) => this.held.has(s)).map((s) => this.photos.get(s)!);
    if (!ps.length) return;
    await this.store.write(["photos"], (st) => ps.forEach((p) => st("photos").put(p)));
    for (const p of ps) this.held.delete(p.sha256);
    this.changed();
    this.kick();
  }

  /** Forget the held photos among `shas` (their form was left without saving). */
  discard(shas: Iterable<string>): void {
    let any = false;
    for (const s of shas) {
      if (!this.held.delete(s)) continue;
      this.photos.delete(s);
      const u = this.urls.get(s);
      if (u) URL.revokeObjectURL(u);
      this.urls.delete(s);
      any = true;
    }
    if (any) this.changed();
  }

  private entry(doc: string, c: Compressed | Prepared, mediaType: string): StoredPhoto {
    return {
      sha256: c.sha256,
      doc,
      blob: c.blob,
      mediaType,
      size: c.blob.size,
      gpsFromExif: "exif" in c && c.exif.lat !== undefined ? true : undefined,
      state: "queued",
      attempts: 0,
      nextAt: 0,
      createdAt: Date.now(),
    };
  }

  /** Keep a compressed photo for a record (stored before the record references it). */
  async add(doc: string, c: Compressed | Prepared, mediaType = "image/jpeg"): Promise<void> {
    if (this.photos.has(c.sha256) && !this.held.has(c.sha256)) return;
    if (this.held.has(c.sha256)) return this.commit([c.sha256]);
    const p = this.entry(doc, c, mediaType);
    await this.store.write(["photos"], (s) => s("photos").put(p));
    this.photos.set(p.sha256, p);
    this.changed();
    this.kick();
  }

  /** Try now (network back, app visible, a new photo); `rejected` also retries refused ones. */
  kick({ rejected = false }: { rejected?: boolean } = {}): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const p of this.pending()) if (rejected || p.state !== "rejected") p.nextAt = 0;
    void this.run();
  }

  private save(p: StoredPhoto): Promise<void> {
    return this.store.write(["photos"], (s) => s("photos").put(p));
  }

  private async setState(p: StoredPhoto, state: PhotoState, error?: string): Promise<void> {
    p.state = state;
    p.error = error;
    this.changed();
    await this.save(p);
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (navigator.onLine && this.api.session?.token) {
        const now = Date.now();
        const next = this.pending()
          .filter((p) => p.nextAt <= now)
          .sort((a, b) => a.createdAt - b.createdAt)[0];
        if (!next) break;
        await this.upload(next);
      }
    } finally {
      this.running = false;
    }
    const waiting = this.pending().filter((p) => p.state !== "rejected");
    if (waiting.length && navigator.onLine) {
      const at = Math.min(...waiting.map((p) => p.nextAt));
      this.timer = setTimeout(() => void this.run(), Math.max(1000, at - Date.now()));
    }
    await this.evict();
  }

  private async upload(p: StoredPhoto): Promise<void> {
    p.attempts += 1;
    await this.setState(p, "uploading");
    try {
      if (!p.blob) throw new Error("the photo's bytes are not on this device");
      if (p.size > this.opts.chunkBytes) await this.sendResumable(p, p.blob);
      else await this.sendWhole(p, p.blob);
      p.confirmedAt = Date.now();
      p.upload = undefined;
      p.offset = p.size;
      await this.setState(p, "uploaded");
    } catch (e) {
      p.nextAt = Date.now() + this.retryDelay(p);
      const status = e instanceof ApiError ? e.status : 0;
      const message = e instanceof Error ? e.message : String(e);
      if (status === 404 || status === 405) {
        await this.setState(p, "waiting_server", message);
      } else if (permanent(status)) {
        p.upload = undefined; // a failed final check ends the upload on the server too
        await this.setState(p, "rejected", message);
      } else {
        await this.setState(p, "failed", message);
      }
    }
  }

  /** One PUT: a photo that fits in a chunk has nothing to resume. */
  private async sendWhole(p: StoredPhoto, blob: Blob): Promise<void> {
    const r = await this.api.request("PUT", `/api/blobs/${p.sha256}`, blob, true, { "Content-Type": p.mediaType });
    const body = (await r.json()) as { sha256?: string };
    if (body.sha256 !== p.sha256) throw new Error(`the server stored ${String(body.sha256)}, not ${p.sha256}`);
  }

  /**
   * tus: POST (a 200 means the server has the bytes: one round trip), then PATCH chunk by
   * chunk. After an interruption, HEAD the upload and go on from the server's offset; if the
   * upload is gone, the blob may be whole (HEAD /api/blobs/<sha256>), else start over.
   */
  private async sendResumable(p: StoredPhoto, blob: Blob): Promise<void> {
    for (let restarts = 0; ; restarts++) {
      let offset = 0;
      try {
        let url = p.upload;
        if (url) {
          offset = await uploadOffset(this.api, url);
        } else {
          const created = await createUpload(this.api, p.sha256, p.mediaType, p.size);
          if (created.url === null) return;
          url = p.upload = created.url;
          await this.save(p); // a reload resumes this upload rather than starting another
        }
        p.offset = offset;
        this.changed();
        for (let steps = 0; offset < p.size; steps++) {
          const chunk = blob.slice(offset, Math.min(p.size, offset + this.opts.chunkBytes));
          const next = await appendChunk(this.api, url, offset, chunk);
          // Going back is the server saying where it really is (409); standing still or
          // wandering would loop, so that waits for the next attempt.
          if (next > p.size || next === offset || steps > 4 * Math.ceil(p.size / this.opts.chunkBytes)) {
            throw new Error(`the upload is stuck at ${next} of ${p.size} bytes`);
          }
          offset = next;
          p.offset = offset;
          this.changed();
        }
        return; // the offset reaches the length only once the server has checked and stored it
      } catch (e) {
        const gone = e instanceof ApiError && e.status === 404 && p.upload !== undefined;
        if (!gone) throw e;
        if (await this.serverHas(p.sha256)) return;
        p.upload = undefined; // collected, or ended by a failed check: a new upload
        await this.save(p);
        if (restarts >= 1) throw e;
      }
    }
  }

  private async serverHas(sha256: string): Promise<boolean> {
    try {
      await this.api.request("HEAD", `/api/blobs/${sha256}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }

  /**
   * Drop the full bytes of photos the server has confirmed and whose record has reached it,
   * once kept `keepMs` since confirmation or, oldest first, while the full photos kept exceed
   * `budgetBytes`. A thumbnail stays. Returns the hashes evicted.
   */
  async evict(now = Date.now()): Promise<string[]> {
    if (this.evicting) return [];
    this.evicting = true;
    try {
      const held = [...this.photos.values()].filter((p) => p.blob);
      let total = held.reduce((n, p) => n + p.size, 0);
      const candidates = held
        .filter((p) => p.state === "uploaded" && p.confirmedAt !== undefined && this.opts.settled(p.doc))
        .sort((a, b) => a.confirmedAt! - b.confirmedAt!);
      const out: string[] = [];
      for (const p of candidates) {
        if (now - p.confirmedAt! < this.opts.keepMs && total <= this.opts.budgetBytes) continue;
        await this.dropBytes(p);
        total -= p.size;
        out.push(p.sha256);
      }
      if (out.length) this.changed();
      return out;
    } finally {
      this.evicting = false;
    }
  }

  private async dropBytes(p: StoredPhoto): Promise<void> {
    const { blob, ...rest } = p;
    let thumb: Blob | undefined;
    try {
      // a PDF (a receipt from the phone's files) has no picture to keep
      if (p.mediaType.startsWith("image/")) thumb = (await drawJpeg(blob!, this.opts.thumbEdge, 0.7)).blob;
    } catch (e) {
      // The server has the photo; without a thumbnail it is shown from there when online.
      console.warn("no thumbnail for photo %s: %s", p.sha256, e);
    }
    const next: StoredPhoto = { ...rest, thumb, evictedAt: Date.now() };
    await this.store.write(["photos"], (s) => s("photos").put(next));
    delete p.blob;
    Object.assign(p, next);
    const u = this.urls.get(p.sha256);
    if (u) URL.revokeObjectURL(u);
    this.urls.delete(p.sha256);
  }
}
