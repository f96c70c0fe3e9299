// My customers (search, filters, overdue badge) and the customer card (contacts,
// completeness, timeline of visits, service sheets and deals).
import { useState } from "preact/hooks";
import type { DocInfo } from "../briefcase";
import { fmtTime, label, t } from "../i18n";
import { childrenByCustomer, completeness, lastContact, overdueDays, str, when, type Values } from "../records";
import { field } from "../schema";
import { app } from "../state";
import { RefusedBanner } from "./editor";

function enumLabel(kindName: string, name: string, v: unknown): string {
  const f = field(app!.schema, kindName, name);
  const o = f?.enum?.find((x) => x.value === v);
  return o ? label(o) : v === undefined || v === null ? "" : String(v);
}

const collator = new Intl.Collator("zh-CN");

export function customers(): DocInfo[] {
  return [...app!.briefcase.infos.values()]
    .filter((i) => i.kind === "customer" && !i.record.merged_into)
    .sort((a, b) => collator.compare(str(a.record.name), str(b.record.name)));
}

const PAGE = 100;

export function CustomerList() {
  const a = app!;
  const [q, setQ] = useState("");
  const [cat, setCat] = useState("");
  const [status, setStatus] = useState("");
  const [limit, setLimit] = useState(PAGE);
  const kids = childrenByCustomer(a.briefcase);
  const catF = field(a.schema, "customer", "category")!;
  const statusF = field(a.schema, "customer", "status")!;
  const needle = q.trim().toLowerCase();
  const list = customers().filter((c) => {
    const r = c.record;
    if (cat && r.category !== cat) return false;
    if (status && r.status !== status) return false;
    if (!needle) return true;
    return [r.name, r.short_name, r.code].some((v) => str(v).toLowerCase().includes(needle));
  });
  return (
    <div class="page">
      <div class="toolbar">
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
      <ul class="cards" id="customer-list">
        {list.slice(0, limit).map((c) => {
          const r = c.record;
          const ch = kids.get(c.id);
          const od = overdueDays(r, ch);
          const last = lastContact(ch);
          const comp = completeness(a.schema, r);
          const refused = a.briefcase.refused().some((e) => e.doc === c.id);
          const unsent = a.briefcase.unsent().some((e) => e.doc === c.id);
          return (
            <li>
              <a class="card customer" href={`#/c/${c.id}`} data-doc={c.id}>
                <div class="title">
                  <span class="name">{str(r.name) || "—"}</span>
                  {od !== null && <span class="badge overdue">{t("overdue", { n: od })}</span>}
                  {refused && <span class="badge refused">!</span>}
                  {unsent && !refused && <span class="badge unsent" title={t("unsent", { n: 1 })}>↑</span>}
                </div>
                <div class="meta">
                  {[enumLabel("customer", "category", r.category), enumLabel("customer", "tier", r.tier), enumLabel("customer", "status", r.status), str(r.code)]
                    .filter(Boolean)
                    .join(" · ")}
                </div>
                <div class="meta">
                  {t("last_visit")}: {last ? fmtTime(last).slice(0, 10) : t("never_visited")} · {t("completeness")} {comp.done}/{comp.total}
                </div>
              </a>
            </li>
          );
        })}
      </ul>
      {list.length > limit && (
        <button class="secondary wide more" onClick={() => setLimit(limit + PAGE)}>
          {t("show_more", { n: list.length - limit })}
        </button>
      )}
      <a class="fab" href="#/new/customer" id="new-customer">
        + {t("new_customer")}
      </a>
    </div>
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
  if (!info) return <div class="page"><p class="muted">{t("not_found")}</p></div>;
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
