// The app's services, built once a user is known: store, session, schema, briefcase, sync
// client, photo queue, duplicate lookup. Screens read them from `app`.
import * as Y from "yjs";
import { Api } from "./api";
import { afterPaint, Briefcase } from "./briefcase";
import { Duplicates } from "./dup";
import { useDuties, type Duties } from "./duties";
import { PhotoQueue } from "./photos";
import { CloseCode } from "./protocol";
import { loadSchema, type Schema } from "./schema";
import { Store } from "./store";
import { SyncClient } from "./sync/client";
import { noteMerge } from "./ui/merged";
import { loadTodaySnapshot } from "./ui/today";

export interface App {
  store: Store;
  api: Api;
  schema: Schema;
  briefcase: Briefcase;
  sync: SyncClient;
  photos: PhotoQueue;
  dups: Duplicates;
  /** navigator.storage.persist(): true granted, false refused, null unknown. */
  persisted: boolean | null;
  loginReason: "expired" | "revoked" | null;
}

export let app: App | null = null;

/** Where the app is served from (/app/), for the precached schema copy. */
export const BASE = new URL(".", location.href).pathname;

const listeners = new Set<() => void>();
export function onAppChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function appChanged(): void {
  for (const fn of listeners) fn();
}

export async function openStore(): Promise<{ store: Store; api: Api }> {
  const store = await Store.open();
  const api = new Api(store);
  await api.load();
  return { store, api };
}

export async function start(store: Store, api: Api): Promise<App> {
  let schema = await loadSchema(store, BASE);
  // A schema cached by an older build lacks the duties (and the task kind) this code reads:
  // the build's own precached copy is at least as new as the code.
  if (!(schema as { duties?: Duties }).duties) schema = (await buildSchema()) ?? schema;
  useDuties((schema as { duties?: Duties }).duties);
  // The briefcase and Today's saved rows are read together: the first paint shows those rows.
  // A big briefcase's records are read once the app has started and painted (below).
  let started: () => void = () => {};
  const begin = new Promise<void>((r) => (started = r)).then(() => afterPaint());
  const [briefcase] = await Promise.all([Briefcase.open(store, begin), loadTodaySnapshot(store)]);
  const photos = new PhotoQueue(store, api, {
    // A photo's bytes may leave the device only once its record is on the server too.
    settled: (doc) => briefcase.has(doc) && !briefcase.outbox.some((e) => e.doc === doc),
  });
  await photos.load();
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/sync`;
  const sync = new SyncClient(briefcase, {
    url: wsUrl,
    deviceId: await api.deviceId(),
    token: () => api.session?.token || null,
  });
  const dups = new Duplicates(store, api);
  const a: App = { store, api, schema, briefcase, sync, photos, dups, persisted: null, loginReason: null };
  app = a;
  sync.onLoginRequired = (code) => {
    a.loginReason = code === CloseCode.DEVICE_REVOKED ? "revoked" : "expired";
    void (async () => {
      if (code === CloseCode.DEVICE_REVOKED) await api.renewDeviceId();
      await api.expire();
      appChanged();
    })();
  };
  sync.onRedirect = (from, to) => {
    // The rep is told what happened to their card (before the device drops it), and the
    // screen showing a merged card follows to the survivor.
    noteMerge(a, from, to);
    if (location.hash.includes(from)) location.hash = location.hash.replace(from, to);
  };
  sync.subscribe((s) => {
    if (s.state === "live") {
      photos.kick();
      void dups.refresh();
    }
  });
  addEventListener("online", () => photos.kick());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") photos.kick();
  });
  // For tests and debugging in the console: the services and the Yjs module they use.
  (globalThis as unknown as { waiqin: App & { Y: typeof Y } }).waiqin = Object.assign(a, { Y });
  void askPersist(a);
  sync.kick();
  photos.kick();
  started(); // the caller draws the app right after this returns; the read waits for its paint
  return a;
}

async function buildSchema(): Promise<Schema | null> {
  try {
    const r = await fetch(`${BASE}schema.json`);
    return r.ok ? ((await r.json()) as Schema) : null;
  } catch {
    return null;
  }
}

async function askPersist(a: App): Promise<void> {
  try {
    if (!navigator.storage?.persist) return;
    a.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    a.persisted = false;
  }
  appChanged();
}
