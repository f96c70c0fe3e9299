// The service worker: precaches the app shell (one cache per build, named by its content
// hash) so the app opens and navigates with no network. API calls and /sync pass through.
// It also answers taps on reminder notifications.
/// <reference lib="webworker" />
export {};
declare const self: ServiceWorkerGlobalScope;
declare const __VERSION__: string;
declare const __PRECACHE__: string[];

const CACHE = `waiqin-app-${__VERSION__}`;
const SHELL = "index.html";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // cache: "reload" so a stale HTTP cache never ends up in a new version's shell.
      await cache.addAll(__PRECACHE__.map((u) => new Request(u, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("waiqin-app-") && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope).pathname;
  if (!url.pathname.startsWith(scope)) return; // /api, /sync, /healthz: the network's
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      if (req.mode === "navigate") {
        const shell = await cache.match(new URL(SHELL, self.registration.scope).href);
        if (shell) return shell;
        return fetch(req);
      }
      const hit = await cache.match(req, { ignoreSearch: true });
      return hit ?? fetch(req);
    })(),
  );
});

// A reminder's notification (reminders.ts): its buttons act in an open window of the app
// (snooze, done); a tap opens the task. With no window open, one is opened to do it.
self.addEventListener("notificationclick", (event) => {
  const id = (event.notification.data as { id?: string } | null)?.id;
  event.notification.close();
  if (!id) return;
  const action = event.action;
  event.waitUntil(
    (async () => {
      const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const win = wins[0];
      if (win) {
        win.postMessage({ type: "waiqin-reminder", action, id });
        if (!action) win.postMessage({ type: "waiqin-open", hash: `#/edit/${id}` });
        await win.focus().catch(() => undefined);
        return;
      }
      const hash = action ? `#/reminder/${encodeURIComponent(id)}/${action}` : `#/edit/${id}`;
      await self.clients.openWindow(new URL(hash, self.registration.scope).href);
    })(),
  );
});
