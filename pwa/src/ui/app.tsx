// The shell: header with the language switch, the sync indicator, the routed screen and
// the bottom navigation. Routes live in the hash so every screen opens offline.
import { useEffect, useState } from "preact/hooks";
import { getLang, setLang, t } from "../i18n";
import { docKind } from "../protocol";
import { app, appChanged, onAppChange } from "../state";
import { CustomerCard, CustomerList, DealView } from "./customers";
import { Editor } from "./editor";
import { icons } from "./icons";
import { Login } from "./login";
import { MergedNotice } from "./merged";
import { noteOpened } from "./picker";
import { p as poolString, PoolScreen } from "./pool";
import { Banners, SyncBar, SyncPage } from "./syncbar";
import { Reminders } from "../reminders";
import { completeTask, ReminderBanner } from "./tasks";
import { computeToday, Today, todayCount } from "./today";
import { Toast } from "./toast";
import { Work } from "./work";
import { w } from "../workstrings";

let reminders: Reminders | null = null;

/** The reminders of the signed-in user, started once (and on the console as waiqin.reminders). */
function useReminders(): Reminders {
  const a = app!;
  if (!reminders) {
    reminders = new Reminders(a, (id) => completeTask(id, null));
    // For tests, benches and the console, beside the services (state.ts).
    Object.assign((globalThis as unknown as { waiqin: object }).waiqin, { reminders, computeToday });
  }
  const r = reminders;
  useEffect(() => {
    const off = r.subscribe(appChanged);
    r.start();
    const onMsg = (e: MessageEvent) => {
      const m = e.data as { type?: string; hash?: string } | null;
      if (m?.type === "waiqin-open" && typeof m.hash === "string") location.hash = m.hash;
    };
    navigator.serviceWorker?.addEventListener("message", onMsg);
    return () => {
      off();
      navigator.serviceWorker?.removeEventListener("message", onMsg);
    };
  }, []);
  return r;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => {
      setHash(location.hash);
      scrollTo(0, 0);
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

/** Re-render on any change of docs, sync state or photos, at most once a frame. */
function useLive(): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const a = app!;
    let queued = false;
    const bump = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        setTick((n) => n + 1);
      });
    };
    const offs = [a.briefcase.subscribe(bump), a.sync.subscribe(bump), a.photos.subscribe(bump), onAppChange(bump)];
    addEventListener("online", bump);
    addEventListener("offline", bump);
    const timer = setInterval(bump, 30_000); // "last sync 3 min ago" stays true
    bump(); // what changed between start() and this subscription (the stored last sync)
    return () => {
      offs.forEach((off) => off());
      removeEventListener("online", bump);
      removeEventListener("offline", bump);
      clearInterval(timer);
    };
  }, []);
}

function Screen({ hash }: { hash: string }) {
  const a = app!;
  const [path, qs] = hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(qs ?? "");
  const parts = path.split("/").filter(Boolean);
  const follow = (id: string) => a.briefcase.resolve(id);
  if (parts[0] === "c" && parts[1]) {
    const id = follow(parts[1]);
    if (id !== parts[1]) location.replace(`#/c/${id}`);
    if (a.briefcase.has(id)) noteOpened(id); // the pickers offer it first
    return (
      <>
        <MergedNotice id={id} />
        <CustomerCard id={id} />
      </>
    );
  }
  if (parts[0] === "d" && parts[1]) return <DealView id={follow(parts[1])} />;
  if (parts[0] === "edit" && parts[1]) {
    const id = follow(parts[1]);
    const kind = docKind(id);
    if (!kind || !a.briefcase.has(id)) return <div class="page"><p class="muted">{t("not_found")}</p></div>;
    return <Editor key={id} docId={id} kindName={kind} query={query} />;
  }
  if (parts[0] === "new" && parts[1]) return <Editor key={hash} docId={null} kindName={parts[1]} query={query} />;
  if (parts[0] === "sync") return <SyncPage />;
  if (parts[0] === "work" || parts[0] === "approvals") return <Work parts={parts} query={query} />;
  if (parts[0] === "customers") return <CustomerList />;
  if (parts[0] === "pool") return <PoolScreen />;
  if (parts[0] === "reminder" && parts[1] && parts[2]) {
    // A notification's button tapped with no window open (sw.ts): do it, then show Today.
    void reminders?.act(decodeURIComponent(parts[1]), parts[2]).then(() => location.replace("#/"));
    return <Today />;
  }
  return <Today />;
}

function Nav({ hash }: { hash: string }) {
  const on = (p: string) => (hash === p || (p === "#/" && (hash === "" || hash === "#")) ? "on" : "");
  const count = todayCount();
  return (
    <nav class="bottom">
      <a href="#/" class={on("#/")} id="nav-today">
        <span>
          {icons.today}
          {count > 0 && (
            <b class="count" id="today-count" data-count={count}>
              {count > 99 ? "99+" : count}
            </b>
          )}
        </span>
        {t("today")}
      </a>
      <a href="#/customers" class={on("#/customers")} id="nav-customers">
        <span>{icons.people}</span>
        {t("customers")}
      </a>
      <a href="#/new/visit" class={on("#/new/visit")} id="nav-visit">
        <span>{icons.visit}</span>
        {t("new_visit")}
      </a>
      <a href="#/new/service" class={on("#/new/service")} id="nav-service">
        <span>{icons.service}</span>
        {t("new_service")}
      </a>
      <a href="#/sync" class={on("#/sync")} id="nav-sync">
        <span>{icons.sync}</span>
        {t("sync_status")}
      </a>
    </nav>
  );
}

export function Shell() {
  useLive();
  const hash = useHash();
  const rem = useReminders();
  const a = app!;
  const user = a.api.session?.user;
  const needLogin = !a.api.session?.token;
  const [showLogin, setShowLogin] = useState(false);
  return (
    <div class="shell">
      <header class="top">
        <a href="#/" class="brand">
          {t("app")}
        </a>
        <span class="user">{user?.name ?? ""}</span>
        <a href="#/work" class="link" id="nav-work">
          {w("work")}
        </a>
        <a href="#/pool" class="link" id="nav-pool">
          {poolString("pool")}
        </a>
        <button
          class="link"
          id="lang-switch"
          onClick={() => {
            setLang(getLang() === "zh" ? "en" : "zh");
            appChanged();
          }}
        >
          {t("language")}
        </button>
        <button
          class="link"
          id="logout"
          onClick={async () => {
            const n = a.briefcase.outbox.length;
            if (n && !confirm(t("logout_unsent", { n }))) return;
            await a.api.logout();
            a.sync.stop();
            location.reload();
          }}
        >
          {t("logout")}
        </button>
      </header>
      <SyncBar />
      <Banners />
      <ReminderBanner reminders={rem} />
      {needLogin && !showLogin && (
        <div class="banner warn relogin-banner" role="alert">
          {a.loginReason === "revoked" ? t("device_revoked") : t("login_again")}
          <button class="primary" id="relogin" onClick={() => setShowLogin(true)}>
            {t("login")}
          </button>
        </div>
      )}
      {needLogin && showLogin && (
        <div class="relogin">
          <Login
            api={a.api}
            store={a.store}
            reason={a.loginReason === "revoked" ? t("device_revoked") : t("login_again")}
            onDone={async (s) => {
              if (s.user.id !== user?.id) return location.reload();
              a.loginReason = null;
              setShowLogin(false);
              a.sync.opts.deviceId = await a.api.deviceId();
              a.sync.kick();
              a.photos.kick();
              appChanged();
            }}
          />
          <button class="link cancel-login" onClick={() => setShowLogin(false)}>
            {t("cancel")}
          </button>
        </div>
      )}
      <main>
        <Screen hash={hash} />
      </main>
      <Toast />
      <Nav hash={hash} />
    </div>
  );
}
