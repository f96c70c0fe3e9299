// The device side of `/sync`: hello with the cursor, catch-up, the outbox sent in clock
// order after CAUGHT_UP and kept until acked, refusals kept and shown, scope changes and
// merge redirects applied, reconnect with capped backoff. Rules follow sync/client.py.
import type { Briefcase } from "../briefcase";
import { CloseCode, decodeAll, encode, PROTOCOL_VERSION, ProtocolError, SyncType, type Frame } from "../protocol";
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";

export type SyncState =
  | "offline" // the browser says there is no network
  | "waiting" // between attempts
  | "connecting"
  | "catching_up"
  | "live" // caught up; local changes go out as they are made
  | "login" // the token was refused or the device revoked: log in again
  | "stopped"; // an incompatible server (version), or stop() was called

export interface SyncStatus {
  state: SyncState;
  progress: { done: number; total: number } | null;
  lastSync: number | null;
  closeCode: number | null;
  closeReason: string;
  retryAt: number | null;
}

export interface SyncOptions {
  /** Websocket URL of `/sync` without the token, e.g. wss://host/sync. */
  url: string;
  deviceId: string;
  /** The bearer token; null stops the client until login. */
  token: () => string | null;
  backoff?: Partial<BackoffOptions>;
  /** Close and retry when the server does not answer the hello within this time. */
  connectTimeoutMs?: number;
  /** React to `online` / `offline` / `visibilitychange` (off in tests that drive it). */
  watchBrowser?: boolean;
  WebSocket?: typeof WebSocket;
}

const DEFAULTS = { connectTimeoutMs: 15_000, watchBrowser: true };
const PROGRESS_EVERY_MS = 250;

export class SyncClient {
  status: SyncStatus = {
    state: "waiting",
    progress: null,
    lastSync: null,
    closeCode: null,
    closeReason: "",
    retryAt: null,
  };
  readonly opts: SyncOptions & typeof DEFAULTS;
  private ws: WebSocket | null = null;
  private backoff: Backoff;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private caughtUp = false;
  private sentUpto = 0;
  private resetPending: Set<string> | null = null;
  private progressAt = 0;
  private listeners = new Set<(s: SyncStatus) => void>();
  /** A doc was merged into another: the UI follows (from, to). */
  onRedirect: ((from: string, to: string) => void) | null = null;
  /** The server refused the token or revoked the device (close code given). */
  onLoginRequired: ((code: number) => void) | null = null;

  constructor(
    readonly briefcase: Briefcase,
    opts: SyncOptions,
  ) {
    this.opts = { ...DEFAULTS, ...opts };
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...opts.backoff });
    briefcase.onEnqueue = () => this.flush();
    // The last sync survives a reload: a rep with no signal must not read "never synced".
    void briefcase.store.meta<number>("lastSync").then((at) => {
      if (typeof at === "number" && (this.status.lastSync ?? 0) < at) this.set({ lastSync: at });
    });
    if (this.opts.watchBrowser) {
      addEventListener("online", () => this.kick());
      addEventListener("offline", () => this.goOffline());
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible") this.kick();
      });
    }
  }

  subscribe(fn: (s: SyncStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<SyncStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn(this.status);
  }

  get connected(): boolean {
    return this.ws !== null;
  }

  /** Connect now (app start, network back, app visible again, after login). */
  kick(): void {
    if (this.status.state === "stopped" && this.status.closeCode === CloseCode.BAD_VERSION) return;
    if (this.ws) return;
    if (!this.briefcase.isLoaded) {
      // A big briefcase is still being read: what arrives must meet the stored records.
      void this.briefcase.loaded.then(() => this.kick());
      return;
    }
    if (!navigator.onLine) {
      this.set({ state: "offline", retryAt: null });
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.backoff.reset();
    this.connect();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(CloseCode.NORMAL, "stopped");
    this.set({ state: "stopped", retryAt: null });
  }

  private goOffline(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    this.caughtUp = false;
    ws?.close(CloseCode.NORMAL, "offline");
    this.set({ state: "offline", retryAt: null, progress: null });
  }

  private connect(): void {
    const token = this.opts.token();
    if (!token) {
      this.set({ state: "login" });
      return;
    }
    const WS = this.opts.WebSocket ?? WebSocket;
    const ws = new WS(`${this.opts.url}?token=${encodeURIComponent(token)}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.caughtUp = false;
    this.sentUpto = 0;
    this.resetPending = null;
    this.set({ state: "connecting", progress: null, retryAt: null });
    const timeout = setTimeout(() => {
      if (this.ws === ws && !this.caughtUp && this.status.state === "connecting") ws.close();
    }, this.opts.connectTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.send({
        type: "hello",
        version: PROTOCOL_VERSION,
        device: this.opts.deviceId,
        cursor: this.briefcase.cursor,
        time: Date.now(),
      });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (!(ev.data instanceof ArrayBuffer)) return;
      try {
        // One message may carry many frames (a BATCH, protocol version 2): each is handled
        // as if it had come alone, so the briefcase sees one applyRemote per doc as before.
        for (const f of decodeAll(new Uint8Array(ev.data))) {
          if (this.ws !== ws) return; // a frame before closed the socket
          this.handle(f);
        }
      } catch (e) {
        console.error("sync: bad frame from the server", e);
        if (e instanceof ProtocolError) ws.close(CloseCode.MALFORMED_FRAME, e.message.slice(0, 120));
        else throw e;
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      clearTimeout(timeout);
      if (this.ws !== ws) return;
      this.ws = null;
      this.caughtUp = false;
      this.closed(ev.code, ev.reason);
    };
  }

  private closed(code: number, reason: string): void {
    this.set({ closeCode: code, closeReason: reason, progress: null });
    if (code === CloseCode.BAD_TOKEN || code === CloseCode.DEVICE_REVOKED) {
      // The outbox stays: it goes out after the next login.
      this.set({ state: "login" });
      this.onLoginRequired?.(code);
      return;
    }
    if (code === CloseCode.BAD_VERSION) {
      // The server speaks a newer protocol: this build cannot sync until the new one is
      // installed. Ask the service worker to fetch it now (the bar then says to reopen the
      // app); the outbox waits in IndexedDB for the new version to send it.
      this.set({ state: "stopped" });
      void navigator.serviceWorker
        ?.getRegistration()
        .then((reg) => reg?.update())
        .catch((e) => console.warn("checking for a new version failed", e));
      return;
    }
    if (!navigator.onLine) {
      this.set({ state: "offline" });
      return;
    }
    // The user's tree or role changed: not a failure; reconnect now for the new scope.
    if (code === CloseCode.SCOPE_CHANGED) this.backoff.reset();
    const delay = code === CloseCode.SCOPE_CHANGED ? 0 : this.backoff.next();
    this.set({ state: "waiting", retryAt: Date.now() + delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.ws) this.connect();
    }, delay);
  }

  private send(frame: Frame): void {
    this.ws?.send(encode(frame));
  }

  /** Send unsent outbox entries strictly in clock order, only once caught up. */
  flush(): void {
    if (!this.ws || !this.caughtUp || this.ws.readyState !== WebSocket.OPEN) return;
    for (const e of this.briefcase.outbox) {
      if (e.clock > this.briefcase.storedClock) break; // not in IndexedDB yet
      if (e.refused || e.clock <= this.sentUpto) continue;
      this.send({ type: "sync", doc: e.doc, n: e.clock, kind: SyncType.UPDATE, payload: e.update });
      this.sentUpto = e.clock;
    }
  }

  private handle(f: Frame): void {
    const b = this.briefcase;
    switch (f.type) {
      case "welcome":
        this.set({ state: "catching_up" });
        break;
      case "sync":
        if (f.kind === SyncType.STEP1) return;
        this.resetPending?.delete(f.doc);
        b.applyRemote(f.doc, f.payload);
        if (this.caughtUp) b.setCursor(f.n);
        break;
      case "ack":
        b.ack(f.clock);
        this.markSynced();
        break;
      case "error":
        if (f.detail.code === "stale_clock") this.renumber(f.doc, f.clock, Number(f.detail.last_clock ?? 0));
        else if (f.clock > 0) b.refuse(f.doc, f.clock, f.detail);
        else console.warn("sync: server error", f.doc, f.detail);
        break;
      case "progress": {
        // A catch-up of 50,000 records sends 250 of these: the screens hear of a few a second.
        const now = Date.now();
        if (now - this.progressAt >= PROGRESS_EVERY_MS || f.done >= f.total) {
          this.progressAt = now;
          this.set({ progress: { done: f.done, total: f.total } });
        }
        break;
      }
      case "caught_up":
        if (this.resetPending) {
          for (const id of this.resetPending) {
            if (!b.outbox.some((e) => e.doc === id)) b.drop(id);
          }
          this.resetPending = null;
        }
        b.setCursor(f.cursor);
        this.caughtUp = true;
        this.backoff.reset();
        this.set({ state: "live", progress: null });
        this.markSynced();
        this.flush();
        break;
      case "cursor":
        b.setCursor(f.cursor);
        break;
      case "scope_enter":
        break;
      case "scope_leave":
        if (f.doc === "*") {
          this.resetPending = new Set(b.infos.keys());
          return;
        }
        if (f.redirect) {
          b.setRedirect(f.doc, f.redirect);
          this.onRedirect?.(f.doc, f.redirect);
        }
        b.drop(f.doc);
        break;
      case "bye":
        break;
      default:
        break;
    }
  }

  /**
   * The server had seen this clock from an earlier life of this device id and applied nothing
   * (docs/protocol.md, "Clocks"): number it, and every unsent entry at or below `last`, after
   * `last` in their order, store the new numbers, then send them again. Rules of sync/client.py.
   */
  private renumber(doc: string, clock: number, last: number): void {
    const b = this.briefcase;
    const moved = b.outbox.filter(
      (e) => !e.refused && e.clock <= last && (e.clock > this.sentUpto || (e.clock === clock && e.doc === doc)),
    );
    if (!moved.length) return;
    const old = moved.map((e) => e.clock);
    b.clock = Math.max(b.clock, last);
    for (const e of moved) e.clock = ++b.clock;
    b.outbox = [...b.outbox.filter((e) => !moved.includes(e)), ...moved];
    const upto = b.clock;
    b.store
      .write(["outbox", "meta"], (s) => {
        for (const c of old) s("outbox").delete(c);
        for (const e of moved) s("outbox").put(e);
        s("meta").put(upto, "clock");
      })
      .then(() => {
        b.storedClock = Math.max(b.storedClock, upto);
        this.flush();
      })
      .catch((e: unknown) => console.error("sync: renumbering the outbox failed; kept in memory", e));
  }

  private markSynced(): void {
    const now = Date.now();
    this.set({ lastSync: now });
    void this.briefcase.setMeta("lastSync", now);
  }
}
