// The work area (工作): trip plans with their customer stops, trip reports listing the trip's
// records, expenses with receipt photos (amounts typed in yuan, kept in fen), weekly and
// monthly work reports pre-filled from the briefcase, and their approval flow.
import type { JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { APPROVAL_KINDS, canSubmit, canWithdraw, currentApprover, editRefusal, personName, returnComment, status, type Refusal } from "../approval";
import type { DocInfo } from "../briefcase";
import { fmtTime, getLang, label, t } from "../i18n";
import { fenToInput, formatFen, parseYuan } from "../money";
import { newDocId } from "../protocol";
import { str, todayCST, writeRecord, type Values } from "../records";
import { checkField, field as fieldOf, type Field, type Kind } from "../schema";
import { app } from "../state";
import { expenseSubject, tripPlanSubject, tripReportSubject, workReportSubject } from "../subjects";
import { buildDraft, isPeriodStart, periodStartOf, type Period } from "../workreport";
import { both, w, type WorkKey } from "../workstrings";
import { sha256Hex } from "../photos";
import { Photos, RefusedBanner } from "./editor";
import { FieldRow } from "./fields";
import { CustomerPicker } from "./picker";
import { ApprovalLog, DecisionPanel, Inbox, StatusChip } from "./approval";
import { flash } from "./toast";

export const WORK_KINDS = ["trip_plan", "trip_report", "expense", "work_report"] as const;

/** The fields each form shows, in order; subject, approval and common fields are not typed. */
const LAYOUT: Record<string, string[]> = {
  trip_plan: ["region", "start_date", "end_date", "stops", "budget_fen", "notes"],
  trip_report: ["plan_id", "started_at", "ended_at", "purpose", "result", "next_step"],
  expense: ["expense_date", "expense_type", "amount_fen", "description", "trip_id", "customer_id", "attachments"],
  work_report: ["period", "period_start", "body", "attachments"],
};

const SECTION: Record<string, WorkKey> = { trip_plan: "trips", trip_report: "trip_reports", expense: "expenses", work_report: "reports" };
const NEW: Record<string, WorkKey> = { trip_plan: "new_trip_plan", trip_report: "new_trip_report", expense: "new_expense", work_report: "new_work_report" };
const MONEY = new Set(["amount_fen", "budget_fen"]);

function kindIn(name: string): Kind | undefined {
  return app!.schema.kinds.find((k) => k.name === name);
}

function mine(kindName: string): DocInfo[] {
  const me = app!.api.session!.user.id;
  return [...app!.briefcase.infos.values()]
    .filter((i) => i.kind === kindName && i.record.created_by === me)
    .sort((x, y) => y.updatedAt - x.updatedAt || x.id.localeCompare(y.id));
}

function customerName(id: unknown): string {
  if (typeof id !== "string" || !id) return "";
  const a = app!;
  return str(a.briefcase.infos.get(a.briefcase.resolve(id))?.record.name);
}

function enumLabel(kindName: string, name: string, v: unknown): string {
  const o = fieldOf(app!.schema, kindName, name)?.enum?.find((e) => e.value === v);
  return o ? label(o) : str(v);
}

/** The automatic subject of a record of these kinds from its values. */
function subjectOf(kindName: string, v: Values): string {
  const me = app!.api.session!.user.name;
  if (kindName === "trip_plan") return tripPlanSubject(v.start_date, v.region, me);
  if (kindName === "trip_report") return tripReportSubject(me);
  if (kindName === "expense") {
    const o = fieldOf(app!.schema, "expense", "expense_type")?.enum?.find((e) => e.value === v.expense_type);
    return expenseSubject(v.expense_date, o ? o.label_zh : "", me);
  }
  if (kindName === "work_report") return workReportSubject(v.period, v.period_start, me);
  return "";
}

// -- the work area's home ---------------------------------------------------------------------

export function Work({ parts, query }: { parts: string[]; query: URLSearchParams }) {
  if (parts[0] === "approvals") return <Inbox />;
  if (parts[1] === "new" && parts[2]) return <WorkEditor key={parts.join("/") + query.toString()} docId={null} kindName={parts[2]} query={query} />;
  if (parts[1] === "edit" && parts[2]) return <WorkEditor key={parts[2]} docId={parts[2]} kindName={parts[2].split(":")[0]} query={query} />;
  if (parts[1] === "r" && parts[2]) return <WorkRecord id={app!.briefcase.resolve(parts[2])} />;
  return <WorkHome />;
}

function WorkHome() {
  const a = app!;
  const role = a.api.session!.user.role;
  const refusedDocs = new Set(a.briefcase.refused().map((e) => e.doc));
  const unsentDocs = new Set(a.briefcase.outbox.map((e) => e.doc));
  return (
    <div class="page work" id="work">
      <h1>{w("work")}</h1>
      {(role === "manager" || role === "admin") && (
        <a class="button secondary wide" href="#/approvals" id="open-inbox">
          {w("approvals")}
        </a>
      )}
      {WORK_KINDS.map((k) => {
        const kind = kindIn(k);
        const rows = kind ? mine(k) : [];
        return (
          <section class="work-section" data-kind={k}>
            <div class="row" style="margin:1rem 0 0.5rem">
              <h2 style="flex:1;margin:0">{w(SECTION[k])}</h2>
              {kind && (
                <a class="button secondary" style="min-height:38px;padding:0.35rem 0.8rem" href={`#/work/new/${k}`} id={`new-${k}`}>
                  + {w(NEW[k])}
                </a>
              )}
            </div>
            {!kind && <p class="muted">{w("not_on_server")}</p>}
            {kind && !rows.length && <p class="muted">{w("none")}</p>}
            <ul class="cards">
              {rows.map((i) => (
                <li>
                  <a class="card" href={`#/work/r/${i.id}`} data-doc={i.id}>
                    <div class="title">
                      <span class="name">{str(i.record.subject) || label(kind!)}</span>
                      {APPROVAL_KINDS.has(k) && <StatusChip kindName={k} rec={i.record} />}
                      {refusedDocs.has(i.id) ? <span class="badge refused">!</span> : unsentDocs.has(i.id) ? <span class="badge unsent">↑</span> : null}
                    </div>
                    <div class="meta">
                      {k === "expense" && typeof i.record.amount_fen === "number" ? `${formatFen(i.record.amount_fen)} · ` : ""}
                      {str(i.record.start_date || i.record.expense_date || i.record.period_start) || fmtTime(i.updatedAt)}
                    </div>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

// -- one record -------------------------------------------------------------------------------

function RefusalBanner({ r }: { r: Refusal }) {
  return (
    <div class="banner error" role="alert" id="edit-refused" data-rule={r.rule}>
      {getLang() === "zh" ? r.zh : r.en} ({r.rule})
    </div>
  );
}

function Linked({ planId }: { planId: string }) {
  const a = app!;
  const of = (k: string) => [...a.briefcase.infos.values()].filter((i) => i.kind === k && i.record.trip_id === planId);
  const visits = of("visit");
  const services = of("service");
  const expenses = of("expense");
  const total = expenses.reduce((s, e) => s + (typeof e.record.amount_fen === "number" ? e.record.amount_fen : 0), 0);
  return (
    <section class="linked" id="trip-linked">
      <h2>{w("linked")}</h2>
      <dl class="facts">
        <dt>{w("visits")}</dt>
        <dd data-kind="visit" data-n={visits.length}>{visits.map((v) => `${customerName(v.record.customer_id)} ${fmtTime(v.record.started_at as number)}`).join(";") || "—"}</dd>
        <dt>{w("services")}</dt>
        <dd data-kind="service" data-n={services.length}>{services.map((s) => str(s.record.subject)).join(";") || "—"}</dd>
        <dt>{w("expenses")}</dt>
        <dd data-kind="expense" data-n={expenses.length}>
          {expenses.map((e) => `${str(e.record.subject)} ${formatFen(Number(e.record.amount_fen) || 0)}`).join(";") || "—"}
          {expenses.length > 0 && ` · ${w("total")} ${formatFen(total)}`}
        </dd>
      </dl>
    </section>
  );
}

function shown(kindName: string, f: Field, v: unknown): string | JSX.Element {
  if (MONEY.has(f.name) && typeof v === "number") return formatFen(v);
  if (f.enum) return enumLabel(kindName, f.name, v);
  if (f.type === "timestamp" && typeof v === "number") return fmtTime(v);
  if (f.type === "doc_id") return customerName(v) || str(app!.briefcase.infos.get(str(v))?.record.subject) || str(v);
  if (f.name === "stops" && Array.isArray(v)) {
    return (
      <ol class="stops" style="margin:0;padding-left:1.2em">
        {(v as Values[]).map((s) => (
          <li>
            {customerName(s.customer_id)}:{str(s.purpose)}
          </li>
        ))}
      </ol>
    );
  }
  if (f.name === "attachments" && Array.isArray(v)) {
    const items = v as Values[];
    const photos = items.filter((x) => !isPdf(x)).length;
    return (
      <>
        {photos > 0 && <span id="photo-count">{w("n_photos", { n: photos })}</span>}
        {items.some(isPdf) && (
          <ul class="pdfs" id="pdf-list">
            {items.filter(isPdf).map((it) => (
              <PdfItem it={it} />
            ))}
          </ul>
        )}
      </>
    );
  }
  return str(v);
}

function WorkRecord({ id }: { id: string }) {
  const a = app!;
  const [tried, setTried] = useState<Refusal | null>(null);
  if (!a.briefcase.has(id)) return <div class="page"><p class="muted">—</p></div>;
  const kindName = id.split(":")[0];
  const kind = kindIn(kindName);
  const rec = a.briefcase.record(id);
  const me = a.api.session!.user;
  const author = rec.created_by === me.id;
  const approval = APPROVAL_KINDS.has(kindName);
  const refusal = editRefusal(rec, me.role);
  const comment = status(rec) === "returned" ? returnComment(rec) : "";
  const setStatus = async (s: "submitted" | "withdrawn") => {
    await a.briefcase.edit(id, (r) => {
      r.set("approval_status", s);
      if (s === "submitted" && !r.has("submitted_at")) r.set("submitted_at", Date.now());
    });
    flash(s === "withdrawn" ? w("withdrawn_done") : navigator.onLine ? w("submitted") : w("submitted_offline"));
  };
  const fields = (LAYOUT[kindName] ?? []).map((n) => kind?.fields.find((f) => f.name === n)).filter((f): f is Field => !!f);
  return (
    <div class="page work-record" data-doc={id} data-kind={kindName}>
      <h1>
        {str(rec.subject) || (kind ? label(kind) : kindName)} {approval && <StatusChip kindName={kindName} rec={rec} />}
        {approval && status(rec) === "submitted" && Array.isArray(rec.approvers) && rec.approvers.length > 1 && (
          <span class="badge" id="approval-step">
            {w("step", { n: (typeof rec.approval_step === "number" ? rec.approval_step : 0) + 1, m: rec.approvers.length })}
          </span>
        )}
      </h1>
      <RefusedBanner docId={id} />
      {approval && currentApprover(rec) && (
        <p class="muted" id="approval-waiting">
          {w("waiting_for", { who: personName(a.api, currentApprover(rec)!) ?? (currentApprover(rec) === me.manager_id ? w("my_manager") : w("approver")) })}
        </p>
      )}
      {comment && (
        <div class="banner warn" id="returned-comment">
          {w("returned_comment", { c: comment })}
        </div>
      )}
      {tried && <RefusalBanner r={tried} />}
      <dl class="facts">
        {fields
          .filter((f) => rec[f.name] !== undefined && f.name !== "body")
          .map((f) => (
            <>
              <dt>{MONEY.has(f.name) ? w(f.name === "amount_fen" ? "amount_yuan" : "budget_yuan") : label(f)}</dt>
              <dd data-field={f.name}>{shown(kindName, f, rec[f.name])}</dd>
            </>
          ))}
      </dl>
      {kindName === "work_report" && <pre class="report-body" style="white-space:pre-wrap;background:#fff;border:1px solid var(--line);border-radius:8px;padding:0.7rem;font:inherit;font-size:0.9rem">{str(rec.body)}</pre>}
      {kindName === "trip_plan" && <Linked planId={id} />}
      {kindName === "trip_report" && typeof rec.plan_id === "string" && <Linked planId={rec.plan_id} />}
      {author && (
        <div class="actions">
          <button
            type="button"
            class="secondary"
            id="edit-record"
            onClick={() => {
              if (approval && refusal) setTried(refusal);
              else location.hash = `#/work/edit/${id}`;
            }}
          >
            {w("edit")}
          </button>
          {approval && canSubmit(rec) && (
            <button type="button" class="primary" id="submit-approval" onClick={() => void setStatus("submitted")}>
              {status(rec) === "draft" ? w("submit_approval") : w("resubmit")}
            </button>
          )}
          {approval && canWithdraw(rec) && (
            <button type="button" class="secondary" id="withdraw" onClick={() => void setStatus("withdrawn")}>
              {w("withdraw")}
            </button>
          )}
          {kindName === "trip_plan" && kindIn("trip_report") && (
            <a class="button secondary" href={`#/work/new/trip_report?plan=${id}`} id="new-report-of-plan">
              + {w("new_trip_report")}
            </a>
          )}
          {kindName === "trip_plan" && kindIn("expense") && (
            <a class="button secondary" href={`#/work/new/expense?trip=${id}`} id="new-expense-of-plan">
              + {w("new_expense")}
            </a>
          )}
        </div>
      )}
      {approval && <DecisionPanel docId={id} rec={rec} />}
      {approval && <ApprovalLog rec={rec} />}
    </div>
  );
}

// -- receipts: photos, and PDFs picked from the phone's files ------------------------------

const PDF = "application/pdf";
const MAX_PDF_BYTES = 20 * 1024 * 1024; // the schema's attachment size limit

function isPdf(x: Values): boolean {
  return str(x.media_type) === PDF;
}

function kb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

/** A PDF's state on this device, as a photo's (held until saved, queued, uploaded). */
function pdfState(sha: string): string {
  const a = app!;
  return a.photos.isHeld(sha) ? "held" : (a.photos.photos.get(sha)?.state ?? "missing");
}

/** Open a PDF receipt: the bytes on the phone, else the server's (online). */
async function openPdf(sha: string): Promise<void> {
  try {
    const url = await app!.photos.original(sha);
    window.open(url, "_blank", "noopener");
  } catch (e) {
    flash(`${w("pdf_unavailable")}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One PDF receipt: a file item, never an image. */
function PdfItem({ it, onRemove }: { it: Values; onRemove?: () => void }) {
  const sha = str(it.sha256);
  const state = pdfState(sha);
  return (
    <li class="pdf-item" data-sha={sha} data-state={state}>
      <button type="button" class="pdf-open" onClick={() => void openPdf(sha)}>
        <span class="pdf-badge">PDF</span>
        <span class="pdf-text">
          <span class="pdf-name">{str(it.caption) || w("pdf_receipt")}</span>
          <small class="muted">
            {typeof it.size === "number" ? kb(it.size) : ""} · {t(`photo_${state}` as "photo_queued")}
          </small>
        </span>
      </button>
      {onRemove && (
        <button type="button" class="link danger" aria-label={t("remove")} onClick={onRemove}>
          ✕
        </button>
      )}
    </li>
  );
}

/**
 * An expense's (or report's) attachments: photos through the camera, PDFs from the phone's
 * files. A PDF is checked here (type and "%PDF-" signature, size), held until the form is
 * saved, then stored and uploaded by the same queue as photos (offline first).
 */
function Receipts({ docId, items, onChange, category }: { docId: string; items: Values[]; onChange: (v: Values[]) => void; category: string }) {
  const a = app!;
  const images = items.filter((x) => !isPdf(x));
  const pdfs = items.filter(isPdf);
  const [err, setErr] = useState("");
  const pick = async (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = "";
    setErr("");
    const added: Values[] = [];
    for (const file of files) {
      const head = new Uint8Array(await file.slice(0, 5).arrayBuffer());
      if ((file.type && file.type !== PDF) || String.fromCharCode(...head) !== "%PDF-") {
        setErr(w("pdf_not_pdf", { f: file.name }));
        continue;
      }
      if (file.size > MAX_PDF_BYTES) {
        setErr(w("pdf_too_big", { f: file.name, n: kb(MAX_PDF_BYTES) }));
        continue;
      }
      const blob = new Blob([await file.arrayBuffer()], { type: PDF });
      const sha = await sha256Hex(blob);
      if (items.some((x) => x.sha256 === sha) || added.some((x) => x.sha256 === sha)) continue;
      a.photos.hold(docId, { blob, sha256: sha, width: 0, height: 0 }, PDF);
      added.push({ sha256: sha, media_type: PDF, size: blob.size, caption: file.name.slice(0, 200), category, captured_at: file.lastModified || Date.now() });
    }
    if (added.length) onChange([...items, ...added]);
  };
  return (
    <>
      <Photos docId={docId} items={images} onChange={(v) => onChange([...v, ...pdfs])} category={category} />
      <div class="field receipts-pdf" data-field="attachments-pdf">
        {pdfs.length > 0 && (
          <ul class="pdfs" id="pdf-list">
            {pdfs.map((it) => (
              <PdfItem it={it} onRemove={() => onChange(items.filter((x) => x.sha256 !== it.sha256))} />
            ))}
          </ul>
        )}
        <label class="button secondary file">
          + {w("add_pdf")}
          <input type="file" accept="application/pdf,.pdf" multiple id="pdf-input" onChange={(e) => void pick(e.target as HTMLInputElement)} />
        </label>
        {err && (
          <div class="problem" role="alert" id="pdf-error">
            {err}
          </div>
        )}
      </div>
    </>
  );
}

// -- the forms --------------------------------------------------------------------------------

function MoneyField({ f, text, onText, problems = [], label: lbl }: { f: Field; text: string; onText: (s: string) => void; problems?: string[]; label: string }) {
  return (
    <div class={`field${problems.length ? " bad" : ""}`} data-field={f.name}>
      <label for={`f-${f.name}`}>
        {lbl}
        {f.required !== "no" && <span class="req">*</span>}
      </label>
      <input id={`f-${f.name}`} name={f.name} type="text" inputMode="decimal" autoComplete="off" placeholder="0.00" value={text} onInput={(e) => onText((e.target as HTMLInputElement).value)} />
      {problems.map((p) => (
        <div class="problem" role="alert">
          {p}
        </div>
      ))}
    </div>
  );
}

function StopsEditor({ f, items, onChange, problems }: { f: Field; items: Values[]; onChange: (v: Values[]) => void; problems: Record<string, string[]> }) {
  const cf = f.items?.find((x) => x.name === "customer_id");
  const pf = f.items?.find((x) => x.name === "purpose");
  return (
    <fieldset class="list stops" data-field={f.name}>
      <legend>{label(f)}</legend>
      {items.map((item, i) => (
        <div class="item" data-stop={i}>
          {cf && <CustomerPicker f={cf} value={item.customer_id} readOnly={false} problems={problems[`stops.${i}.customer_id`]} onChange={(v) => onChange(items.map((x, j) => (j === i ? { ...x, customer_id: v } : x)))} />}
          {pf && <FieldRow f={{ ...pf, name: `stops.${i}.purpose` }} value={item.purpose} problems={problems[`stops.${i}.purpose`]} onChange={(v) => onChange(items.map((x, j) => (j === i ? { ...x, purpose: v } : x)))} />}
          <button type="button" class="link danger" onClick={() => onChange(items.filter((_, j) => j !== i))}>
            ✕ {t("remove")}
          </button>
        </div>
      ))}
      {problems.stops?.map((p) => <div class="problem">{p}</div>)}
      <button type="button" class="secondary" id="add-stop" onClick={() => onChange([...items, {}])}>
        + {w("add_stop")}
      </button>
    </fieldset>
  );
}

function PlanSelect({ f, value, onChange, problems = [] }: { f: Field; value: unknown; onChange: (v: unknown) => void; problems?: string[] }) {
  const plans = mine("trip_plan");
  return (
    <div class={`field${problems.length ? " bad" : ""}`} data-field={f.name}>
      <label for={`f-${f.name}`}>
        {label(f)}
        {f.required !== "no" && <span class="req">*</span>}
      </label>
      <select id={`f-${f.name}`} name={f.name} value={str(value)} onChange={(e) => onChange((e.target as HTMLSelectElement).value || undefined)}>
        <option value="">{w("choose")}</option>
        {plans.map((p) => (
          <option value={p.id}>{str(p.record.subject) || p.id}</option>
        ))}
      </select>
      {problems.map((p) => (
        <div class="problem" role="alert">
          {p}
        </div>
      ))}
    </div>
  );
}

function draftFor(v: Values): string {
  const a = app!;
  const period = v.period as Period;
  const start = str(v.period_start);
  if ((period !== "week" && period !== "month") || !isPeriodStart(period, start)) return "";
  return buildDraft({
    period,
    periodStart: start,
    author: a.api.session!.user.id,
    lang: getLang(),
    records: [...a.briefcase.infos.values()],
    customerName,
    expenseType: (t) => enumLabel("expense", "expense_type", t),
  });
}

/** Cross-field rules the device can see (the server checks them again). */
function crossChecks(kindName: string, v: Values): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (f: string, k: WorkKey, rule: string) => (out[f] ??= []).push(`${w(k)} (${rule})`);
  if (kindName === "trip_plan" && str(v.start_date) && str(v.end_date) && str(v.end_date) < str(v.start_date)) add("end_date", "end_before_start", "time_order");
  if (kindName === "trip_report" && typeof v.started_at === "number" && typeof v.ended_at === "number" && v.ended_at < v.started_at) add("ended_at", "end_before_start", "time_order");
  if (kindName === "expense" && str(v.expense_date) > todayCST()) add("expense_date", "future_date", "expense.future_date");
  if (kindName === "work_report" && str(v.period_start) && (v.period === "week" || v.period === "month") && !isPeriodStart(v.period, str(v.period_start))) add("period_start", "period_start_bad", "work_report.period_start");
  return out;
}

function WorkEditor({ docId, kindName, query }: { docId: string | null; kindName: string; query: URLSearchParams }) {
  const a = app!;
  const kind = kindIn(kindName);
  const me = a.api.session!.user;
  const isNew = docId === null;
  const id = useMemo(() => docId ?? newDocId(kindName), [docId, kindName]);
  const initial = useMemo<Values>(() => {
    if (!isNew) return a.briefcase.has(id) ? (JSON.parse(JSON.stringify(a.briefcase.record(id))) as Values) : {};
    const v: Values = {};
    if (kindName === "trip_plan") Object.assign(v, { start_date: todayCST(), end_date: todayCST(), stops: [{}] });
    if (kindName === "expense") Object.assign(v, { expense_date: todayCST(), trip_id: query.get("trip") ?? undefined, customer_id: query.get("customer") ?? undefined });
    if (kindName === "trip_report") {
      const plan = query.get("plan") ?? undefined;
      v.plan_id = plan;
      const p = plan && a.briefcase.has(plan) ? a.briefcase.record(plan) : null;
      if (p) Object.assign(v, { started_at: Date.parse(`${str(p.start_date)}T09:00:00+08:00`) || undefined, ended_at: Date.parse(`${str(p.end_date)}T18:00:00+08:00`) || undefined });
    }
    if (kindName === "work_report") {
      const period: Period = query.get("period") === "month" ? "month" : "week";
      Object.assign(v, { period, period_start: periodStartOf(period, todayCST()) });
      v.body = draftFor(v);
    }
    return v;
  }, [id]);
  const [values, setValues] = useState<Values>(initial);
  const [money, setMoney] = useState<Record<string, string>>(() => ({ amount_fen: fenToInput(initial.amount_fen), budget_fen: fenToInput(initial.budget_fen) }));
  const [problems, setProblems] = useState<Record<string, string[]>>({});
  const lastDraft = useRef(str(initial.body));
  const saved = useRef(false);
  const latest = useRef(values);
  latest.current = values;
  useEffect(() => () => {
    if (!saved.current) a.photos.discard(((latest.current.attachments as Values[] | undefined) ?? []).map((x) => str(x.sha256)).filter((s) => a.photos.isHeld(s)));
  }, []);

  if (!kind) return <div class="page"><p class="muted">{w("not_on_server")}</p></div>;
  const refusal = !isNew && APPROVAL_KINDS.has(kindName) ? editRefusal(initial, me.role) : null;
  if (refusal) {
    return (
      <div class="page work-editor" data-doc={id}>
        <h1>{str(initial.subject)}</h1>
        <RefusalBanner r={refusal} />
        <a class="button secondary" href={`#/work/r/${id}`}>
          ←
        </a>
      </div>
    );
  }

  const unmark = (names: string[]) =>
    setProblems((p) => (names.some((n) => n in p) ? Object.fromEntries(Object.entries(p).filter(([k]) => !names.includes(k))) : p));
  const set = (patch: Values) => {
    unmark(Object.keys(patch));
    setValues((v) => {
      const next = { ...v, ...patch };
      if (kindName === "work_report" && (patch.period === "week" || patch.period === "month") && !("period_start" in patch)) {
        next.period_start = periodStartOf(patch.period, str(v.period_start) || todayCST());
      }
      // The draft follows the period until the rep edits it; then the text is theirs.
      if (kindName === "work_report" && ("period" in patch || "period_start" in patch) && str(v.body) === lastDraft.current) {
        next.body = draftFor(next);
        lastDraft.current = str(next.body);
      }
      return next;
    });
  };

  const fields = LAYOUT[kindName].map((n) => kind.fields.find((f) => f.name === n)).filter((f): f is Field => !!f);
  const approval = APPROVAL_KINDS.has(kindName);
  const zh = getLang() === "zh";
  const subject = subjectOf(kindName, values);

  const save = async (submit: boolean) => {
    const v: Values = { ...values };
    // The server builds the subject from the region as stored: store it trimmed.
    if (typeof v.region === "string") v.region = v.region.trim();
    const found: Record<string, string[]> = {};
    const submitting = submit || typeof initial.submitted_at === "number";
    for (const f of fields) {
      if (MONEY.has(f.name)) {
        const text = (money[f.name] ?? "").trim();
        if (!text) {
          v[f.name] = undefined;
        } else {
          const lim = { min: f.limits?.min ?? (f.name === "amount_fen" ? 1 : 0), max: f.limits?.max ?? (f.name === "amount_fen" ? 10_000_000 : 1e12) };
          const p = parseYuan(text, lim);
          if (p.ok) v[f.name] = p.fen;
          else (found[f.name] ??= []).push(`${zh ? p.zh : p.en} (${p.rule})`);
        }
      }
      if (f.y_type === "array" && f.items && f.name !== "attachments") {
        const items = (Array.isArray(v[f.name]) ? v[f.name] : []) as Values[];
        items.forEach((it, i) => {
          for (const sf of f.items!) for (const p of checkField(a.schema, sf, it[sf.name], true)) (found[`${f.name}.${i}.${sf.name}`] ??= []).push(zh ? p.zh : p.en);
        });
        if (f.required !== "no" && submitting && !items.length) (found[f.name] ??= []).push(zh ? `请填写${f.label_zh}` : `${f.label_en} is required`);
        continue;
      }
      if (f.name === "attachments" || found[f.name]) continue;
      // An amount is typed in yuan: a missing one is named as the form labels it.
      const ff = MONEY.has(f.name) ? { ...f, ...both(f.name === "amount_fen" ? "amount_yuan" : "budget_yuan") } : f;
      for (const p of checkField(a.schema, ff, v[f.name], submitting)) (found[f.name] ??= []).push(`${zh ? p.zh : p.en} (${p.rule})`);
    }
    for (const [k, list] of Object.entries(crossChecks(kindName, v))) (found[k] ??= []).push(...list);
    if (kindName === "work_report" && !me.manager_id) (found.period ??= []).push(w("no_manager"));
    setProblems(found);
    if (Object.keys(found).length) {
      document.querySelector(".work-editor .field.bad, .work-editor .problem")?.scrollIntoView({ block: "center" });
      return;
    }
    await a.photos.commit(((v.attachments as Values[] | undefined) ?? []).map((x) => str(x.sha256)).filter((s) => a.photos.isHeld(s)));
    const now = Date.now();
    const out: Values = {};
    for (const f of fields) out[f.name] = v[f.name];
    out.subject = subjectOf(kindName, v) || undefined;
    if (kindName === "work_report") out.addressed_to = me.manager_id ?? undefined;
    if (approval && submit) out.approval_status = "submitted";
    await a.briefcase.edit(id, (rec) => {
      if (!rec.has("created_at")) {
        rec.set("created_at", now);
        rec.set("created_by", me.id);
      }
      writeRecord(rec, kind, out, isNew ? undefined : initial);
      if (submit && !rec.has("submitted_at")) rec.set("submitted_at", now);
    });
    saved.current = true;
    flash(submit && approval ? (navigator.onLine ? w("submitted") : w("submitted_offline")) : t("saved"));
    location.hash = `#/work/r/${id}`;
  };

  const render = (f: Field): JSX.Element | null => {
    const p = problems[f.name];
    if (MONEY.has(f.name)) {
      return <MoneyField f={f} text={money[f.name] ?? ""} onText={(s) => (unmark([f.name]), setMoney((m) => ({ ...m, [f.name]: s })))} problems={p} label={f.name === "amount_fen" ? w("amount_yuan") : w("budget_yuan")} />;
    }
    if (f.name === "stops") return <StopsEditor f={f} items={(values.stops as Values[] | undefined) ?? []} onChange={(v) => set({ stops: v })} problems={problems} />;
    if (f.name === "plan_id" || f.name === "trip_id") return <PlanSelect f={f} value={values[f.name]} onChange={(v) => set({ [f.name]: v })} problems={p} />;
    if (f.name === "customer_id") return <CustomerPicker f={{ ...f, required: "no" }} value={values.customer_id} onChange={(v) => set({ customer_id: v })} readOnly={false} problems={p} />;
    if (f.name === "attachments") {
      const receipts = fieldOf(a.schema, kindName, "attachments")?.items?.find((x) => x.name === "category")?.enum?.some((e) => e.value === "receipt");
      return <Receipts docId={id} items={(values.attachments as Values[] | undefined) ?? []} onChange={(v) => set({ attachments: v })} category={kindName === "expense" && receipts ? "receipt" : "other"} />;
    }
    if (f.name === "body") {
      // A report is written here: room for it, not the three lines of a note.
      const n = [...str(values.body)].length;
      return (
        <div class={`field${p?.length ? " bad" : ""}`} data-field="body">
          <label for="f-body">
            {label(f)}
            <span class="req">*</span>
            <span class={`count${n > (f.limits?.max_length ?? Infinity) ? " over" : ""}`}>
              {n}/{f.limits?.max_length ?? ""}
            </span>
          </label>
          <textarea id="f-body" name="body" rows={14} value={str(values.body)} onInput={(e) => set({ body: (e.target as HTMLTextAreaElement).value })} />
          {p?.map((x) => (
            <div class="problem" role="alert">
              {x}
            </div>
          ))}
          <button
            type="button"
            class="secondary"
            id="draft-fill"
            onClick={() => {
              const d = draftFor(values);
              if (str(values.body).trim() && str(values.body) !== d && !confirm(w("draft_replace"))) return;
              lastDraft.current = d;
              setValues((v) => ({ ...v, body: d }));
            }}
          >
            {w("draft_fill")}
          </button>
        </div>
      );
    }
    return (
      <>
        <FieldRow f={f} value={values[f.name]} onChange={(v) => set({ [f.name]: v })} problems={p} />
      </>
    );
  };

  return (
    <div class="page editor work-editor" data-kind={kindName} data-doc={id}>
      <h1>{isNew ? w(NEW[kindName]) : `${w("edit")} · ${label(kind)}`}</h1>
      <RefusedBanner docId={id} />
      {status(initial) === "returned" && returnComment(initial) && <div class="banner warn" id="returned-comment">{w("returned_comment", { c: returnComment(initial) })}</div>}
      <div class="field" data-field="subject">
        <label for="f-subject">{label(kind.fields.find((f) => f.name === "subject") ?? { label_zh: "主题", label_en: "Subject" })}</label>
        <input id="f-subject" readOnly disabled value={subject} />
        <div class="hint">{w("subject_auto")}</div>
      </div>
      {kindName === "work_report" && <div class="hint" id="addressed-to">{me.manager_id ? w("addressed_to") : w("no_manager")}</div>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save(true);
        }}
      >
        {fields.map(render)}
        <div class="actions sticky">
          <button type="button" class="secondary" id="cancel" onClick={() => history.back()}>
            {zh ? "取消" : "Cancel"}
          </button>
          {(isNew || !initial.submitted_at || status(initial) !== "draft") && (
            <button type="button" class="secondary" id="save-draft" onClick={() => void save(false)}>
              {zh ? "存草稿" : "Save draft"}
            </button>
          )}
          <button type="submit" class="primary" id="save">
            {approval ? (status(initial) === "draft" ? w("submit_approval") : w("resubmit")) : zh ? "保存" : "Save"}
          </button>
        </div>
      </form>
    </div>
  );
}
