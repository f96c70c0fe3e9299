// My customers (search, filters, overdue badge) and the customer card (contacts,
// completeness, timeline of visits, service sheets and deals). The list renders only the
// rows near the screen and keeps the rows under the thumb still while cards arrive.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Briefcase, DocInfo } from "../briefcase";
import { fmtTime, label, t } from "../i18n";
import { daysLate } from "../duties";
import { childrenByCustomer, completeness, lastContact, overdueDays, str, when, type Children, type Values } from "../records";
import { Roster } from "../roster";
import { field } from "../schema";
import { searchCustomers } from "../search";
import { app } from "../state";
import { RefusedBanner } from "./editor";
import { SharingSection } from "./sharing";

function enumLabel(kindName: string, name: string, v: unknown): string {
  const f = field(app!.schema, kindName, name);
  const o = f?.enum?.find((x) => x.value === v);
  return o ? label(o) : v === undefined || v === null ? "" : String(v);
}

const rosters = new WeakMap<Briefcase, Roster>();

/** The briefcase's customers in list order (one incremental index per briefcase). */
export function roster(b: Briefcase): Roster {
  let r = rosters.get(b);
  if (!r) rosters.set(b, (r = new Roster(b, app!.schema)));
  return r;
}

export function customers(): readonly DocInfo[] {
  return roster(app!.briefcase).list();
}

/** Height of one row (card and gap) in px: fixed, so the list can place rows it does not render. */
export const ROW = 96;
const GAP = 8;
/** Rows rendered beyond the screen, above and below (a fling shows no blank). */
const OVERSCAN = 40;
const WINDOW = 120;

let childrenCache: { b: Briefcase; version: number; map: Map<string, Children> } | null = null;

/** Visits, service sheets and deals per customer, rebuilt only when one of those changed. */
function children(b: Briefcase): Map<string, Children> {
  if (childrenCache?.b !== b || childrenCache.version !== b.childVersion) {
    childrenCache = { b, version: b.childVersion, map: childrenByCustomer(b) };
  }
  return childrenCache.map;
}

/** The sticky headers' bottom edge: rows above it are hidden under them. */
function coveredTop(): number {
  let y = 0;
  for (const sel of ["header.top", ".syncbar", ".page > .toolbar"]) {
    const el = document.querySelector(sel);
    if (el) y = Math.max(y, el.getBoundingClientRect().bottom);
  }
  return y;
}

interface Shown {
  /** The list as filtered, and as shown (without the cards held back). */
  source: readonly DocInfo[];
  list: readonly DocInfo[];
  filter: string;
}

export function CustomerList() {
  const a = app!;
  const [q, setQ] = useState("");
  const [cat, setCat] = useState("");
  const [status, setStatus] = useState("");
  const [, setScrollY] = useState(window.scrollY);
  const listRef = useRef<HTMLUListElement>(null);
  const toolbarRef = useRef<HTMLDivElement>(null);
  const shown = useRef<Shown | null>(null);
  // Cards that arrived between rows on the screen, shown once the rep scrolls or searches.
  const held = useRef(new Set<string>());
  const ourScroll = useRef<number | null>(null);
  const r = roster(a.briefcase);
  const all = r.list();
  const catF = field(a.schema, "customer", "category")!;
  const statusF = field(a.schema, "customer", "status")!;
  const needle = q.trim();
  const filter = `${needle}\u0001${cat}\u0001${status}`;
  const source = useMemo(() => {
    const keep = (c: DocInfo) => (!cat || c.record.category === cat) && (!status || c.record.status === status);
    if (needle) return searchCustomers(all, needle, { limit: Infinity }).filter(keep);
    return cat || status ? all.filter(keep) : all;
  }, [all, needle, cat, status]);

  useEffect(() => {
    let queued = false;
    const on = () => {
      // The rep moved the list (not our own scroll that keeps it still): show what was held.
      if (ourScroll.current === null || Math.abs(window.scrollY - ourScroll.current) > 1) held.current.clear();
      ourScroll.current = null;
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        setScrollY(window.scrollY);
      });
    };
    addEventListener("scroll", on, { passive: true });
    addEventListener("resize", on);
    return () => {
      removeEventListener("scroll", on);
      removeEventListener("resize", on);
    };
  }, []);

  // While cards arrive the rows on the screen stay where they are: a card that sorts between
  // two of them is held back, and cards that arrive above push the list down by whole rows,
  // so it is scrolled by as much before the browser paints.
  const ul = listRef.current;
  const viewTop = ul ? ul.getBoundingClientRect().top : 0; // the list's top in the viewport
  const before = shown.current;
  if (before && before.filter !== filter) held.current.clear();
  const changed = ul && before && before.source !== source && before.filter === filter;
  const k0 = Math.max(0, Math.floor((coveredTop() - viewTop) / ROW));
  if (changed && before.list.length) {
    const k1 = Math.min(before.list.length - 1, Math.floor((window.innerHeight - viewTop) / ROW));
    const onScreen = new Set(before.list.slice(k0, k1 + 1).map((c) => c.id));
    const from = source.findIndex((c) => c.id === before.list[k0]?.id);
    const to = source.findIndex((c) => c.id === before.list[k1]?.id);
    if (from >= 0 && to > from) for (let i = from; i <= to; i++) if (!onScreen.has(source[i].id)) held.current.add(source[i].id);
  }
  const list = held.current.size ? source.filter((c) => !held.current.has(c.id)) : source;
  let y = window.scrollY;
  let restore: number | null = null;
  if (changed) {
    const id = before.list[k0]?.id;
    const k = id ? (list[k0]?.id === id ? k0 : list.findIndex((c) => c.id === id)) : -1;
    if (k >= 0 && k !== k0) {
      restore = window.scrollY + (k - k0) * ROW;
      y = restore;
    }
  }
  const listTop = viewTop + window.scrollY; // and in the document
  const first = Math.max(0, Math.floor((y - listTop) / ROW));
  const start = Math.max(0, Math.min(first - OVERSCAN, list.length - WINDOW));
  const end = Math.min(list.length, start + WINDOW);

  useLayoutEffect(() => {
    shown.current = { source, list, filter };
    if (restore !== null) {
      ourScroll.current = restore;
      window.scrollTo(0, restore);
    }
    // The search box stays under the sync bar while the list scrolls.
    const bar = document.querySelector(".syncbar");
    if (toolbarRef.current && bar) toolbarRef.current.style.top = `${Math.round(bar.getBoundingClientRect().height + (document.querySelector("header.top")?.getBoundingClientRect().height ?? 0))}px`;
  });
  useEffect(() => {
    // A new search or filter starts at the top of its results.
    const el = listRef.current;
    if (el && el.getBoundingClientRect().top < coveredTop()) {
      window.scrollTo(0, Math.max(0, window.scrollY + el.getBoundingClientRect().top - coveredTop()));
    }
  }, [filter]);

  const kids = children(a.briefcase);
  const unsent = new Set(a.briefcase.unsent().map((e) => e.doc));
  const refusedDocs = new Set(a.briefcase.refused().map((e) => e.doc));
  const rows = list.slice(start, end);
  return (
    <div class="page">
      <div class="toolbar" ref={toolbarRef} style={{ position: "sticky", zIndex: 5, background: "var(--bg)", paddingBottom: "0.4rem", marginBottom: "0.3rem" }}>
        <input type="search" id="search" placeholder={t("search")} value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <div class="filters">
          <select id="filter-category" value={cat} onChange={(e) => setCat((e.target as HTMLSelectElement).value)}>
            <option value="">{t("all_categories")}</option>
            {catF.enum!.map((o) => (
              <option value={String(o.value)}>{label(o)}</option>
            ))}
          </select>
          <select id="filter-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t("all_statuses")}</option>
            {statusF.enum!.map((o) => (
              <option value={String(o.value)}>{label(o)}</option>
            ))}
          </select>
        </div>
      </div>
      {list.length === 0 && <p class="muted empty">{t("no_customers")}</p>}
      <ul class="cards" id="customer-list" ref={listRef} data-count={source.length} style={{ display: "block", position: "relative", height: `${Math.max(0, list.length * ROW - GAP)}px` }}>
        {rows.map((c, i) => (
          <CustomerRow key={c.id} info={c} top={(start + i) * ROW} kids={kids.get(c.id)} unsent={unsent.has(c.id)} refused={refusedDocs.has(c.id)} />
        ))}
      </ul>
      <a class="fab" href="#/new/customer" id="new-customer">
        + {t("new_customer")}
      </a>
    </div>
  );
}

/** overdueDays() from what a snapshot row keeps. */
function snapOverdue(r: Values, last: number | null, cadence: number | null, now = Date.now()): number | null {
  if (cadence === null) return null;
  const since = last || (typeof r.created_at === "number" ? r.created_at : null);
  return since === null ? null : daysLate(since, cadence, now);
}

const ONE_LINE = { whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis" } as const;

function CustomerRow({ info, top, kids, unsent, refused }: { info: DocInfo; top: number; kids: Children | undefined; unsent: boolean; refused: boolean }) {
  const a = app!;
  const r = info.record;
  const snap = info.snap; // a stand-in from the list's snapshot, while the records are read
  const last = snap ? snap.last : lastContact(kids);
  const od = snap ? snapOverdue(r, snap.last, snap.cadence) : overdueDays(r, kids);
  const comp = snap ? { done: snap.comp[0], total: snap.comp[1] } : completeness(a.schema, r);
  return (
    <li style={{ position: "absolute", left: 0, right: 0, top: `${top}px`, height: `${ROW - GAP}px` }}>
      <a class="card customer" href={`#/c/${info.id}`} data-doc={info.id} style={{ height: "100%", boxSizing: "border-box", overflow: "hidden" }}>
        <div class="title">
          <span class="name" style={ONE_LINE}>{str(r.name) || "—"}</span>
          {od !== null && <span class="badge overdue">{t("overdue", { n: od })}</span>}
          {refused && <span class="badge refused">!</span>}
          {unsent && !refused && <span class="badge unsent" title={t("unsent", { n: 1 })}>↑</span>}
        </div>
        <div class="meta" style={ONE_LINE}>
          {[enumLabel("customer", "category", r.category), enumLabel("customer", "tier", r.tier), enumLabel("customer", "status", r.status), str(r.code)]
            .filter(Boolean)
            .join(" · ")}
        </div>
        <div class="meta" style={ONE_LINE}>
          {t("last_visit")}: {last ? fmtTime(last).slice(0, 10) : t("never_visited")} · {t("completeness")} {comp.done}/{comp.total}
        </div>
      </a>
    </li>
  );
}

function timelineTitle(info: DocInfo): string {
  const r = info.record;
  if (info.kind === "visit") return `${enumLabel("visit", "visit_type", r.visit_type)} ${str(r.met_name)}`.trim();
  // Not the subject: it repeats the date shown beside it ("2026年12月1日 初始安装服务").
  if (info.kind === "service") return [enumLabel("service", "service_type", r.service_type), enumLabel("service", "status", r.status)].filter(Boolean).join(" · ") || str(r.subject);
  if (info.kind === "deal") return `${str(r.title)} · ${enumLabel("deal", "stage", r.stage)}`;
  return str(r.detail);
}

export function CustomerCard({ id }: { id: string }) {
  const a = app!;
  const info = a.briefcase.infos.get(id);
  if (!info) return <div class="page"><p class="muted">{t(a.briefcase.isLoaded ? "not_found" : "loading")}</p></div>;
  const r = info.record;
  const kids = childrenByCustomer(a.briefcase).get(id);
  const comp = completeness(a.schema, r);
  const contacts = (Array.isArray(r.contacts) ? r.contacts : []) as Values[];
  const timeline = [...(kids?.visits ?? []), ...(kids?.services ?? []), ...(kids?.deals ?? [])].sort((x, y) => when(y) - when(x));
  const fields = ["short_name", "credit_code", "phone", "email", "website", "address", "postcode", "region", "industry", "type", "source", "profile"];
  return (
    <div class="page" data-doc={id}>
      <RefusedBanner docId={id} />
      <h1 class="customer-name">{str(r.name) || "—"}</h1>
      <div class="meta">
        {[str(r.code) && `${t("code")} ${str(r.code)}`, enumLabel("customer", "category", r.category), enumLabel("customer", "tier", r.tier), enumLabel("customer", "status", r.status), r.level ? `L${String(r.level)}` : ""]
          .filter(Boolean)
          .join(" · ")}
        {!r.submitted_at && <span class="badge">{t("draft")}</span>}
      </div>
      <div class="actions">
        <a class="button secondary" href={`#/edit/${id}`} id="edit-customer">
          {t("edit")}
        </a>
        <a class="button" href={`#/new/visit?customer=${id}`} id="card-new-visit">
          {t("new_visit")}
        </a>
        <a class="button" href={`#/new/service?customer=${id}`} id="card-new-service">
          {t("new_service")}
        </a>
        {r.category !== "distributor" && (
          <a class="button" href={`#/new/deal?customer=${id}`} id="card-new-deal">
            {t("new_deal")}
          </a>
        )}
      </div>
      <section class="completeness" id="completeness">
        <h2>
          {t("completeness")} {comp.done}/{comp.total}
        </h2>
        <div class="bar">
          <div style={{ width: `${(100 * comp.done) / comp.total}%` }} />
        </div>
        {comp.missing.length ? (
          <p class="muted">
            {t("missing")}: {comp.missing.map((m) => label(m)).join("、")}
          </p>
        ) : (
          <p class="muted">{t("complete")}</p>
        )}
      </section>
      <dl class="facts">
        {fields
          .filter((n) => r[n] !== undefined && r[n] !== "")
          .map((n) => {
            const f = field(a.schema, "customer", n)!;
            return (
              <>
                <dt>{label(f)}</dt>
                <dd>{f.enum ? enumLabel("customer", n, r[n]) : str(r[n])}</dd>
              </>
            );
          })}
      </dl>
      <section>
        <h2>{t("contacts")}</h2>
        {contacts.length === 0 && <p class="muted">{t("nothing_yet")}</p>}
        <ul class="contacts">
          {contacts.map((c) => (
            <li>
              <b>{str(c.name)}</b> {str(c.title)} {str(c.department)}
              <div class="meta">
                {[c.mobile, c.office_phone, c.email].filter(Boolean).map((v) => (
                  <a href={String(v).includes("@") ? `mailto:${String(v)}` : `tel:${String(v)}`}>{str(v)} </a>
                ))}
              </div>
            </li>
          ))}
        </ul>
      </section>
      <SharingSection id={id} />
      <section>
        <h2>{t("timeline")}</h2>
        {timeline.length === 0 && <p class="muted">{t("nothing_yet")}</p>}
        <ul class="timeline" id="timeline">
          {timeline.map((x) => (
            <li data-kind={x.kind} data-doc={x.id}>
              <a href={x.kind === "deal" ? `#/d/${x.id}` : `#/edit/${x.id}`}>
                <span class={`tag ${x.kind}`}>{t(x.kind as "visit")}</span>
                <span class="when">{fmtTime(when(x)).slice(0, 10)}</span>
                <span class="what">{timelineTitle(x)}</span>
                {a.briefcase.unsent().some((e) => e.doc === x.id) && <span class="badge unsent">↑</span>}
                {a.briefcase.refused().some((e) => e.doc === x.id) && <span class="badge refused">!</span>}
              </a>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

export function DealView({ id }: { id: string }) {
  const a = app!;
  const info = a.briefcase.infos.get(id);
  if (!info) return <div class="page"><p class="muted">{t("not_found")}</p></div>;
  const r = info.record;
  const progress = [...a.briefcase.infos.values()].filter((i) => i.kind === "progress" && i.record.deal_id === id).sort((x, y) => when(y) - when(x));
  const cust = a.briefcase.record(str(r.customer_id));
  return (
    <div class="page" data-doc={id}>
      <RefusedBanner docId={id} />
      <h1>{str(r.title) || "—"}</h1>
      <p class="meta">
        <a href={`#/c/${str(r.customer_id)}`}>{str(cust.name)}</a>
      </p>
      <dl class="facts">
        {["deal_class", "stage", "probability", "intent", "expected_close_date"].map((n) => {
          const f = field(a.schema, "deal", n)!;
          return (
            <>
              <dt>{label(f)}</dt>
              <dd>{n === "probability" && r[n] !== undefined ? `${String(r[n])}%` : f.enum ? enumLabel("deal", n, r[n]) : str(r[n])}</dd>
            </>
          );
        })}
      </dl>
      <div class="actions">
        <a class="button secondary" href={`#/edit/${id}`}>
          {t("edit")}
        </a>
        <a class="button" href={`#/new/progress?customer=${str(r.customer_id)}&deal=${id}`} id="new-progress">
          {t("new_progress")}
        </a>
      </div>
      <h2>{t("progress_records")}</h2>
      {progress.length === 0 && <p class="muted">{t("nothing_yet")}</p>}
      <ul class="timeline">
        {progress.map((p) => (
          <li data-doc={p.id}>
            <a href={`#/edit/${p.id}`}>
              <span class="when">{fmtTime(when(p)).slice(0, 10)}</span>
              <span class="what">
                {enumLabel("progress", "stage", p.record.stage)} {str(p.record.detail)}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}
