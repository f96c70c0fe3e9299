// Entry point: register the service worker, open the device's store, then either the
// login screen (first use) or the app, which works offline from here on.
import { render } from "preact";
import { getLang, setLang, t } from "./i18n";
import { appChanged, openStore, start } from "./state";
import { Shell } from "./ui/app";
import { Login } from "./ui/login";

declare const __APP_VERSION__: string;

async function registerServiceWorker(): Promise<void> {
  if (!("serviceWorker" in navigator)) return;
  try {
    const reg = await navigator.serviceWorker.register("sw.js", { scope: "./" });
    reg.addEventListener("updatefound", () => {
      const w = reg.installing;
      w?.addEventListener("statechange", () => {
        if (w.state === "installed" && navigator.serviceWorker.controller) {
          document.body.dataset.update = "ready";
          appChanged();
        }
      });
    });
  } catch (e) {
    console.warn("service worker not registered", e);
  }
}

/**
 * One tab at a time owns the briefcase: two tabs would each count outbox clocks, and the
 * server takes a repeated clock for a resend. The lock is held until the tab closes.
 */
function holdAppLock(): Promise<void> {
  if (!navigator.locks) return Promise.resolve();
  return new Promise((resolve) => {
    // A reload briefly overlaps the old document's lock; only a real second tab waits long.
    const notice = setTimeout(() => {
      document.getElementById("app")!.innerHTML = `<p class="boot">${t("other_tab")}</p>`;
    }, 1500);
    void navigator.locks.request("waiqin-briefcase", () => {
      clearTimeout(notice);
      resolve();
      return new Promise<void>(() => {});
    });
  });
}

async function main(): Promise<void> {
  setLang(getLang());
  await holdAppLock();
  document.documentElement.dataset.version = __APP_VERSION__;
  void registerServiceWorker();
  const root = document.getElementById("app")!;
  let opened;
  try {
    opened = await openStore();
  } catch (e) {
    root.textContent = `${t("storage_error", { e: String(e) })}`;
    return;
  }
  const { store, api } = opened;
  root.textContent = ""; // the static "loading" line (or the other-tab notice); Preact owns the container from here
  const boot = async () => {
    try {
      await start(store, api);
      render(<Shell />, root);
      document.body.dataset.ready = "1";
      document.body.dataset.readyMs = String(Math.round(performance.now()));
    } catch (e) {
      root.textContent = String(e);
    }
  };
  if (api.session) {
    await boot();
  } else {
    render(<Login api={api} store={store} onDone={() => void boot()} />, root);
    document.body.dataset.ready = "login";
  }
}

void main();
