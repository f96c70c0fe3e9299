// Task reminders on the phone: at a task's `remind_at` a notification through the service
// worker (permission asked once), and an in-app banner, both with snooze and done. No server
// push: it works while the app is open or installed. What fired and what is snoozed is kept
// per user on the device (localStorage), so a reload does not ring again.
import type { App } from "./state";

/** How long "snooze" puts a reminder off. */
export const SNOOZE_MS = 10 * 60_000;
/** Reminders older than this when the app first sees them are not rung (Today lists the task). */
const STALE_MS = 24 * 3600_000;
/** The longest the timer sleeps: a change of the clock or a new task is seen by then. */
const MAX_SLEEP_MS = 60_000;
const ASKED_KEY = "waiqin.notify.asked";

interface Kept {
  /** task id -> the alert time that has rung */
  rung: Record<string, number>;
  /** task id -> snoozed until */
  snoozed: Record<string, number>;
}

export interface Ringing {
  id: string;
  subject: string;
  at: number;
}

/** Ask for notification permission once on this device (after the first reminder is set). */
export async function askPermissionOnce(): Promise<NotificationPermission | "unsupported"> {
  if (typeof Notification === "undefined") return "unsupported";
  if (Notification.permission !== "default" || localStorage.getItem(ASKED_KEY)) return Notification.permission;
  localStorage.setItem(ASKED_KEY, "1");
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

export class Reminders {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  private kept: Kept;
  /** What rang and is not yet snoozed or done (the banner's rows). */
  ringing: Ringing[] = [];
  /** Notifications shown, for the banner to tell the rep where to look (and for tests). */
  shown = 0;

  constructor(
    private readonly app: App,
    private readonly complete: (taskId: string) => Promise<void>,
  ) {
    this.kept = this.load();
  }

  private key(): string {
    return `waiqin.reminders.${this.app.api.session?.user.id ?? ""}`;
  }

  private load(): Kept {
    try {
      const v = JSON.parse(localStorage.getItem(this.key()) ?? "null") as Kept | null;
      if (v && typeof v.rung === "object" && typeof v.snoozed === "object") return v;
    } catch {
      // a damaged copy: start afresh (at worst a reminder rings again)
    }
    return { rung: {}, snoozed: {} };
  }

  private save(): void {
    localStorage.setItem(this.key(), JSON.stringify(this.kept));
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private tell(): void {
    for (const fn of this.listeners) fn();
  }

  start(): void {
    this.app.briefcase.subscribe(() => this.check());
    navigator.serviceWorker?.addEventListener("message", (e: MessageEvent) => {
      const m = e.data as { type?: string; action?: string; id?: string } | null;
      if (m?.type === "waiqin-reminder" && typeof m.id === "string") void this.act(m.id, m.action ?? "");
    });
    this.check();
  }

  /** The open tasks of mine with a reminder, and when each should ring. */
  private alerts(): Array<{ id: string; at: number; subject: string }> {
    const me = this.app.api.session?.user.id;
    const out: Array<{ id: string; at: number; subject: string }> = [];
    for (const info of this.app.briefcase.infos.values()) {
      if (info.kind !== "task") continue;
      const r = info.record;
      if (r.status !== "open" || r.assignee !== me || typeof r.remind_at !== "number") continue;
      out.push({ id: info.id, at: this.kept.snoozed[info.id] ?? r.remind_at, subject: typeof r.subject === "string" ? r.subject : "" });
    }
    return out;
  }

  /** Ring what is due, refresh the banner, and sleep until the next one. */
  check(): void {
    const now = Date.now();
    let next = Infinity;
    const ringing: Ringing[] = [];
    let changed = false;
    const alerts = this.alerts();
    // Tasks done, cancelled or gone are forgotten, so the kept lists stay small (once every
    // record is read: a task not read yet is not gone).
    const live = new Set(alerts.map((a) => a.id));
    for (const m of this.app.briefcase.isLoaded ? [this.kept.rung, this.kept.snoozed] : []) {
      for (const id of Object.keys(m)) {
        if (!live.has(id)) {
          delete m[id];
          changed = true;
        }
      }
    }
    for (const a of alerts) {
      if (a.at > now) {
        next = Math.min(next, a.at);
        continue;
      }
      if (this.kept.rung[a.id] !== a.at) {
        this.kept.rung[a.id] = a.at;
        changed = true;
        if (now - a.at > STALE_MS) continue;
        void this.notify(a.id, a.subject, a.at);
      }
      if (now - a.at <= STALE_MS) ringing.push({ id: a.id, subject: a.subject, at: a.at });
    }
    if (changed) this.save();
    const before = this.ringing.map((r) => r.id).join();
    this.ringing = ringing.sort((x, y) => x.at - y.at);
    if (this.ringing.map((r) => r.id).join() !== before) this.tell();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), Math.max(250, Math.min(MAX_SLEEP_MS, next - now)));
  }

  private async notify(id: string, subject: string, at: number): Promise<void> {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const reg = await navigator.serviceWorker?.getRegistration();
    if (!reg) return;
    const zh = (localStorage.getItem("waiqin.lang") ?? "zh") === "zh";
    const when = new Date(at).toLocaleTimeString(zh ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
    // `actions` is in the spec and in Chromium, not yet in TypeScript's DOM types.
    const options: NotificationOptions & { actions: Array<{ action: string; title: string }> } = {
      body: `${zh ? "日程提醒" : "Reminder"} · ${when}`,
      tag: id,
      data: { id },
      requireInteraction: true,
      actions: [
        { action: "snooze", title: zh ? "稍后提醒" : "Snooze" },
        { action: "done", title: zh ? "完成" : "Done" },
      ],
    };
    await reg.showNotification(subject || (zh ? "日程提醒" : "Reminder"), options);
    this.shown++;
    this.tell();
  }

  private async closeNotification(id: string): Promise<void> {
    const reg = await navigator.serviceWorker?.getRegistration();
    for (const n of (await reg?.getNotifications({ tag: id })) ?? []) n.close();
  }

  /** Snooze (put off SNOOZE_MS), done (complete the task) or "" (just seen). */
  async act(id: string, action: string): Promise<void> {
    if (action === "snooze") {
      this.kept.snoozed[id] = Date.now() + SNOOZE_MS;
      this.save();
    } else if (action === "done") {
      await this.complete(id);
    } else return;
    await this.closeNotification(id);
    this.check();
  }
}
