// Today (今日), the app's first screen, computed on the phone from the briefcase: open tasks
// overdue and due today, customers overdue by their contact duty, deals due for follow-up,
// service reminders due and (for engineers) open service sheets. Judged as of the end of
// today in China Standard Time, like the back office's reports (docs/pwa.md "Today").
import { useState } from "preact/hooks";
import type { Briefcase, DocInfo } from "../briefcase";
import { contactTime, customerOverdueDays, daysLate, dealOverdueDays, duties, hasDuties, type Rec } from "../duties";
import { fmtTime, getLang, label, t } from "../i18n";
import { str, todayCST } from "../records";
import { field } from "../schema";
import { app, appChanged } from "../state";
import type { Store } from "../store";
import { startHref } from "./tasks";

export interface TodayItem {
  kind: "task" | "customer" | "deal" | "reminder" | "open_service";
  id: string;
  /** What the row is judged by: the task's due time, the reminder, the last contact... */
  at: number | null;
  /** Whole days late (counted up), or null when due but not late. */
  late: number | null;
  customer?: string;
}

export interface TodayList {
  tasks: TodayItem[];
  customers: TodayItem[];
  deals: TodayItem[];
  reminders: TodayItem[];
  openServices: TodayItem[];
  total: number;
  /** The moment everything is judged at: the end of today (CST). */
  end: number;
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The end of today in China Standard Time (the next CST midnight), as ms. */
export function endOfTodayCST(now: number): number {
  return Date.parse(`${todayCST(now)}T00:00:00+08:00`) + 86_400_000;
}

/** A task's due time: its planned end, or its planned start when it has no end. */
export function taskDue(r: Rec): number | null {
  return num(r.planned_end) ?? num(r.planned_start);
}

/**
 * Everything on Today for user `me` (role `role`), from the briefcase, at `now`. One pass
 * over the records, so a briefcase of tens of thousands opens Today at once.
 */
export function computeToday(b: Briefcase | { infos: Map<string, DocInfo>; resolve(id: string): string }, me: string, role: string, now: number): TodayList {
  const d = duties();
  const end = endOfTodayCST(now);
  const customers: DocInfo[] = [];
  const dealsOf = new Map<string, Rec[]>();
  const contactsOf = new Map<string, Array<[string, Rec]>>();
  const progressOf = new Map<string, Rec[]>();
  const lastServiceOf = new Map<string, number>();
  const deals: DocInfo[] = [];
  const tasks: TodayItem[] = [];
  const reminders: DocInfo[] = [];
  const openServices: TodayItem[] = [];
  const push = <T,>(m: Map<string, T[]>, k: string, v: T) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };
  for (const info of b.infos.values()) {
    const r = info.record;
    const cid = typeof r.customer_id === "string" ? b.resolve(r.customer_id) : undefined;
    switch (info.kind) {
      case "customer":
        // A card's owner is its creator until someone moves it (domain.md).
        if ((r.owner ?? r.created_by) === me && !r.merged_into) customers.push(info);
        break;
      case "visit":
        if (cid) push(contactsOf, cid, ["visit", r]);
        break;
      case "progress":
        if (cid) push(contactsOf, cid, ["progress", r]);
        if (typeof r.deal_id === "string") push(progressOf, r.deal_id, r);
        break;
      case "deal":
        if (cid) push(dealsOf, cid, r);
        deals.push(info);
        break;
      case "service": {
        const made = num(r.created_at);
        if (cid && made !== null && made > (lastServiceOf.get(cid) ?? 0)) lastServiceOf.set(cid, made);
        if (typeof r.reminder_at === "number" && r.reminder_at < end) reminders.push(info);
        if (role === "engineer" && r.status === "in_progress" && r.created_by === me) {
          openServices.push({ kind: "open_service", id: info.id, at: num(r.responded_at) ?? num(r.created_at), late: null, customer: cid });
        }
        break;
      }
      case "task": {
        if (r.status !== "open" || r.assignee !== me) break;
        const due = taskDue(r);
        const start = num(r.planned_start);
        if (due === null || start === null || start >= end) break;
        tasks.push({ kind: "task", id: info.id, at: start, late: daysLate(due, 0, now), customer: cid });
        break;
      }
    }
  }
  const out: TodayList = { tasks, customers: [], deals: [], reminders: [], openServices, total: 0, end };
  for (const c of customers) {
    const late = customerOverdueDays(d, c.record, dealsOf.get(c.id) ?? [], contactsOf.get(c.id) ?? [], end);
    if (late === null) continue;
    let last: number | null = null;
    for (const [k, r] of contactsOf.get(c.id) ?? []) {
      const at = contactTime(k, r);
      if (at !== null && (last === null || at > last)) last = at;
    }
    out.customers.push({ kind: "customer", id: c.id, at: last, late, customer: c.id });
  }
  // Deals of my customers, or that I opened.
  const mine = new Set(customers.map((c) => c.id));
  for (const deal of deals) {
    const r = deal.record;
    const cid = typeof r.customer_id === "string" ? b.resolve(r.customer_id) : "";
    if (!mine.has(cid) && r.created_by !== me) continue;
    const late = dealOverdueDays(d, r, progressOf.get(deal.id) ?? [], end);
    if (late !== null) out.deals.push({ kind: "deal", id: deal.id, at: null, late, customer: cid });
  }
  // A service reminder is acted on by a later service sheet for the same customer.
  for (const s of reminders) {
    const r = s.record;
    const cid = typeof r.customer_id === "string" ? b.resolve(r.customer_id) : "";
    if (!mine.has(cid) && r.created_by !== me) continue;
    const at = r.reminder_at as number;
    if ((lastServiceOf.get(cid) ?? 0) > at) continue;
    out.reminders.push({ kind: "reminder", id: s.id, at, late: daysLate(at, 0, now), customer: cid });
  }
  tasks.sort((x, y) => (y.late ?? 0) - (x.late ?? 0) || (x.at ?? 0) - (y.at ?? 0));
  out.customers.sort((x, y) => (y.late ?? 0) - (x.late ?? 0));
  out.deals.sort((x, y) => (y.late ?? 0) - (x.late ?? 0));
  out.reminders.sort((x, y) => (x.at ?? 0) - (y.at ?? 0));
  out.total = tasks.length + out.customers.length + out.deals.length + out.reminders.length + openServices.length;
  return out;
}

let cache: { version: number; user: string; minute: number; list: TodayList } | null = null;

/** Today for the signed-in user, recomputed only when a record changed (or each minute). */
export function today(): TodayList | null {
  const a = app;
  const user = a?.api.session?.user;
  if (!a || !user || !hasDuties()) return null;
  const now = Date.now();
  const minute = Math.floor(now / 60_000);
  if (cache && cache.version === a.briefcase.version && cache.user === user.id && cache.minute === minute) return cache.list;
  const list = computeToday(a.briefcase, user.id, user.role, now);
  cache = { version: a.briefcase.version, user: user.id, minute, list };
  return list;
}

function customerName(id: string | undefined): string {
  if (!id) return "";
  return str(app!.briefcase.infos.get(id)?.record.name);
}

function enumLabel(kind: string, name: string, v: unknown): string {
  const o = field(app!.schema, kind, name)?.enum?.find((e) => e.value === v);
  return o ? label(o) : str(v);
}

function Late({ n }: { n: number | null }) {
  return n === null ? null : <span class="badge overdue">{t("overdue", { n })}</span>;
}

/** What one row shows: also what the saved snapshot keeps (see `Today`). */
interface RowData {
  kind: TodayItem["kind"];
  id: string;
  href: string;
  title: string;
  meta: string;
  late: number | null;
  action: { href: string; label: string } | null;
}

function rowOf(item: TodayItem): RowData {
  const a = app!;
  const r = a.briefcase.infos.get(item.id)?.record ?? {};
  const cname = customerName(item.customer);
  let href = "";
  let title = "";
  let meta = "";
  let action: { href: string; label: string } | null = null;
  switch (item.kind) {
    case "task":
      href = `#/edit/${item.id}`;
      title = str(r.subject);
      meta = [fmtTime(num(r.planned_start)), enumLabel("task", "task_type", r.task_type), cname].filter(Boolean).join(" · ");
      action = { href: startHref(item.id, r), label: t("task_start") };
      break;
    case "customer":
      href = `#/c/${item.id}`;
      title = cname || "—";
      meta = item.at ? t("last_contact_at", { t: fmtTime(item.at) }) : t("never_contacted");
      action = { href: `#/new/visit?customer=${item.id}`, label: t("new_visit") };
      break;
    case "deal":
      href = `#/d/${item.id}`;
      title = str(r.title) || "—";
      meta = [enumLabel("deal", "deal_class", r.deal_class), cname].filter(Boolean).join(" · ");
      action = { href: `#/new/progress?customer=${item.customer ?? ""}&deal=${item.id}`, label: t("new_progress") };
      break;
    case "reminder":
      href = `#/edit/${item.id}`;
      title = str(r.reminder_note) || str(r.subject) || t("service_reminder");
      meta = [fmtTime(item.at), cname].filter(Boolean).join(" · ");
      action = item.customer ? { href: `#/new/service?customer=${item.customer}`, label: t("new_service") } : null;
      break;
    case "open_service":
      href = `#/edit/${item.id}`;
      title = str(r.subject) || enumLabel("service", "service_type", r.service_type) || "—";
      meta = cname;
      break;
  }
  return { kind: item.kind, id: item.id, href, title, meta, late: item.late, action };
}

function Row({ row, refused }: { row: RowData; refused: boolean }) {
  const { href, title, meta, action } = row;
  return (
    <li class="card today-row" data-kind={row.kind} data-doc={row.id}>
      <a href={href} class="open">
        <div class="title">
          <span class="name">{title}</span>
          <Late n={row.late} />
          {refused && (
            <span class="badge refused" title={t("refused_here")}>
              !
            </span>
          )}
        </div>
        <div class="meta">{meta}</div>
      </a>
      {action && (
        <a class="button secondary act" href={action.href}>
          {action.label}
        </a>
      )}
    </li>
  );
}

const NO_ROWS: Rows = { count: 0, available: 0, first: () => [] };

/** Rows drawn per section before "show more": a long list stays quick to draw and to scroll. */
const SECTION_ROWS = 30;

/** A section's rows: how many there are, and the first `n` of them as drawn. Only the rows
 *  drawn are made (a section of 1,000 overdue customers costs 30 rows per draw). */
interface Rows {
  count: number;
  /** How many `first` can give (all, or the snapshot's saved rows). */
  available: number;
  first(n: number): RowData[];
}

function rowsOf(items: TodayItem[]): Rows {
  return { count: items.length, available: items.length, first: (n) => items.slice(0, n).map(rowOf) };
}

function Section({ id, title, rows }: { id: string; title: string; rows: Rows }) {
  const [shown, setShown] = useState(SECTION_ROWS);
  if (!rows.count) return null;
  // A change the server refused stays on the device, marked here as on the list.
  const refused = new Set(app!.briefcase.refused().map((e) => e.doc));
  return (
    <section class="today-section" id={id} data-count={rows.count}>
      <h2>
        {title} <span class="badge">{rows.count}</span>
      </h2>
      <ul class="cards">
        {rows.first(shown).map((it) => (
          <Row row={it} refused={refused.has(it.id)} />
        ))}
      </ul>
      {rows.available > shown && (
        <button type="button" class="secondary wide show-more" onClick={() => setShown((n) => n + 100)}>
          {t("show_more", { n: rows.count - shown })}
        </button>
      )}
    </section>
  );
}

/** Today's rows as last drawn with every record read, saved per user and day: a big
 *  briefcase, read in the background, opens to them at once (replaced once all is read). */
interface Snapshot {
  user: string;
  day: string;
  total: number;
  /** The first SNAP_ROWS rows of each section. */
  sections: Record<string, RowData[]>;
  /** Each section's count (a snapshot saved before counts were kept has none). */
  counts?: Record<string, number>;
}

/** Rows saved per section: those drawn at first and after one "show more". */
const SNAP_ROWS = SECTION_ROWS + 100;

const SNAP_KEY = "todayRows";
const SNAP_SAVE_MS = 1000;
let snapshot: Snapshot | null | undefined; // undefined: not read yet
let saveTimer: ReturnType<typeof setTimeout> | null = null;
let savedFor: TodayList | null = null;

/** Read the saved rows while the app starts (state.ts), so that its first paint shows them. */
export async function loadTodaySnapshot(store: Store): Promise<void> {
  if (snapshot !== undefined) return;
  snapshot = null;
  try {
    snapshot = (await store.meta<Snapshot>(SNAP_KEY)) ?? null;
  } catch {
    snapshot = null; // nothing saved to show: Today shows what is read meanwhile
  }
}

function readSnapshot(): void {
  if (snapshot !== undefined) return;
  void loadTodaySnapshot(app!.store).then(() => {
    if (snapshot && !app!.briefcase.isLoaded) appChanged();
  });
}

function saveSnapshot(list: TodayList): void {
  if (savedFor === list) return;
  savedFor = list;
  if (saveTimer) clearTimeout(saveTimer);
  const a = app!;
  const user = a.api.session!.user.id;
  saveTimer = setTimeout(() => {
    // Made when saved (a second after Today last changed), not on every change.
    const items = (key: keyof TodayList) => list[key] as TodayItem[];
    const sections = Object.fromEntries(SECTIONS.map(([id, key]) => [id, items(key).slice(0, SNAP_ROWS).map(rowOf)]));
    const counts = Object.fromEntries(SECTIONS.map(([id, key]) => [id, items(key).length]));
    const snap: Snapshot = { user, day: todayCST(), total: list.total, sections, counts };
    void a.store.setMeta(SNAP_KEY, snap);
  }, SNAP_SAVE_MS);
}

function snapshotRows(s: Snapshot): Record<string, Rows> {
  return Object.fromEntries(
    Object.entries(s.sections).map(([id, saved]) => {
      const rows: Rows = { count: s.counts?.[id] ?? saved.length, available: saved.length, first: (n) => saved.slice(0, n) };
      return [id, rows];
    }),
  );
}

/** The Today tab's badge: the snapshot's count while a big briefcase is read. */
export function todayCount(): number {
  const a = app!;
  if (!a.briefcase.isLoaded) {
    // Not computed from part of a big briefcase: each redraw while it is read would compute
    // Today again over tens of thousands of records (the badge is on every screen).
    return snapshot && snapshot.user === a.api.session?.user.id && snapshot.day === todayCST() ? snapshot.total : 0;
  }
  return today()?.total ?? 0;
}

const SECTIONS: Array<[string, keyof TodayList, Parameters<typeof t>[0]]> = [
  ["today-tasks", "tasks", "today_tasks"],
  ["today-open-services", "openServices", "today_open_services"],
  ["today-reminders", "reminders", "today_reminders"],
  ["today-customers", "customers", "today_customers"],
  ["today-deals", "deals", "today_deals"],
];

export function Today() {
  const a = app!;
  const loaded = a.briefcase.isLoaded;
  const list = loaded ? today() : null;
  let sections: Record<string, Rows> | null = null;
  let total: number | null = null;
  const fromList = (l: TodayList) => Object.fromEntries(SECTIONS.map(([id, key]) => [id, rowsOf(l[key] as TodayItem[])]));
  if (list) {
    sections = fromList(list);
    total = list.total;
    saveSnapshot(list);
  } else {
    readSnapshot();
    const s = snapshot;
    if (s && s.user === a.api.session?.user.id && s.day === todayCST()) {
      sections = snapshotRows(s);
      total = s.total;
    }
    // No snapshot of today's: "loading" until every record is read (Today computed over part
    // of a big briefcase at each redraw would hold the main thread).
  }
  const date = new Date().toLocaleDateString(getLang() === "zh" ? "zh-CN" : "en-GB", { month: "long", day: "numeric", weekday: "long" });
  return (
    <div class="page today" id="today" data-total={total ?? ""} data-loaded={loaded ? "1" : "0"}>
      <div class="today-head">
        <h1>
          {t("today")} <span class="muted">{date}</span>
        </h1>
        <a class="button primary" href="#/new/task" id="new-task">
          + {t("new_task")}
        </a>
      </div>
      {!loaded && <div class="banner warn">{t("today_loading")}</div>}
      {!sections ? (
        <p class="muted">{hasDuties() ? t("today_loading") : t("today_no_schema")}</p>
      ) : total === 0 ? (
        <p class="muted empty" id="today-empty">
          {t("today_empty")}
        </p>
      ) : (
        SECTIONS.map(([id, , title]) => <Section id={id} title={t(title)} rows={sections![id] ?? NO_ROWS} />)
      )}
    </div>
  );
}
