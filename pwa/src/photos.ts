// Photos: compressed on the device, hashed (SHA-256), kept in IndexedDB, referenced from the
// record at once, and uploaded in the background with backoff until the server has them.
import type { Api } from "./api";
import { ApiError } from "./api";
import { Backoff } from "./sync/backoff";
import type { PhotoState, Store, StoredPhoto } from "./store";

export interface PhotoOptions {
  /** Longest edge after compression, in pixels. */
  longEdge: number;
  /** JPEG quality 0..1. */
  quality: number;
}

export const DEFAULT_PHOTO_OPTIONS: PhotoOptions = { longEdge: 2048, quality: 0.8 };

export interface Compressed {
  blob: Blob;
  width: number;
  height: number;
  sha256: string;
}

export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function compress(file: Blob, opts: PhotoOptions = DEFAULT_PHOTO_OPTIONS): Promise<Compressed> {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, opts.longEdge / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#fff"; // transparent PNGs become white, not black, as JPEG
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode JPEG"))), "image/jpeg", opts.quality),
  );
  return { blob, width, height, sha256: await sha256Hex(blob) };
}

export class PhotoQueue {
  photos = new Map<string, StoredPhoto>();
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private backoff = new Backoff({ initialMs: 2_000, maxMs: 5 * 60_000, factor: 2, jitter: 0.5 });
  private listeners = new Set<() => void>();
  private urls = new Map<string, string>();

  constructor(
    readonly store: Store,
    readonly api: Api,
  ) {}

  async load(): Promise<void> {
    for (const p of await this.store.all<StoredPhoto>("photos")) {
      if (p.state === "uploading") p.state = "queued";
      this.photos.set(p.sha256, p);
    }
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  pending(): StoredPhoto[] {
    return [...this.photos.values()].filter((p) => p.state !== "uploaded");
  }

  private remote = new Map<string, string | null>();

  /** A local photo's object URL, or a thumbnail fetched from the server (photos taken elsewhere). */
  url(sha256: string): string | null {
    const p = this.photos.get(sha256);
    if (!p) return this.remoteThumb(sha256);
    let u = this.urls.get(sha256);
    if (!u) {
      u = URL.createObjectURL(p.blob);
      this.urls.set(sha256, u);
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

  /** Keep a compressed photo for a record (stored before the record references it). */
  async add(doc: string, c: Compressed, mediaType = "image/jpeg"): Promise<void> {
    const existing = this.photos.get(c.sha256);
    if (existing) return;
    const p: StoredPhoto = {
      sha256: c.sha256,
      doc,
      blob: c.blob,
      mediaType,
      size: c.blob.size,
      state: "queued",
      attempts: 0,
      nextAt: 0,
      createdAt: Date.now(),
    };
    await this.store.write(["photos"], (s) => s("photos").put(p));
    this.photos.set(p.sha256, p);
    this.changed();
    this.kick();
  }

  /** Try now (network back, app visible, a new photo). */
  kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const p of this.photos.values()) if (p.state !== "uploaded") p.nextAt = 0;
    void this.run();
  }

  private async setState(p: StoredPhoto, state: PhotoState, error?: string): Promise<void> {
    p.state = state;
    p.error = error;
    this.changed();
    await this.store.write(["photos"], (s) => s("photos").put(p));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (navigator.onLine && this.api.session?.token) {
        const now = Date.now();
        const next = this.pending().filter((p) => p.nextAt <= now).sort((a, b) => a.createdAt - b.createdAt)[0];
        if (!next) break;
        await this.upload(next);
      }
    } finally {
      this.running = false;
    }
    const waiting = this.pending();
    if (waiting.length && navigator.onLine) {
      const at = Math.min(...waiting.map((p) => p.nextAt));
      this.timer = setTimeout(() => void this.run(), Math.max(1000, at - Date.now()));
    }
  }

  private async upload(p: StoredPhoto): Promise<void> {
    p.attempts += 1;
    await this.setState(p, "uploading");
    try {
      await this.api.request("PUT", `/api/blobs/${p.sha256}`, p.blob, true, { "Content-Type": p.mediaType });
      this.backoff.reset();
      await this.setState(p, "uploaded");
    } catch (e) {
      const delay = this.backoff.next();
      p.nextAt = Date.now() + delay;
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        await this.setState(p, "waiting_server", e.message);
      } else {
        await this.setState(p, "failed", e instanceof Error ? e.message : String(e));
      }
    }
  }
}
