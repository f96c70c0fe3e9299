// Approval on the phone: the record's status, its log (流程信息) with comments, the author's
// submit / withdraw, and for managers online their inbox and the decision buttons.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { currentApprover, decide, inbox, log, openRecord, personName, refreshPeople, status, subjectName, type InboxItem } from "../approval";
import { fmtTime, getLang, label } from "../i18n";
import { formatFen } from "../money";
import { field } from "../schema";
import { app } from "../state";
import { w } from "../workstrings";
import { flash } from "./toast";

const STATUS_FALLBACK: Record<string, [string, string]> = {
  draft: ["草稿", "Draft"],
  submitted: ["审批中", "Under approval"],
  approved: ["已通过", "Approved"],
  rejected: ["已拒绝", "Rejected"],
  returned: ["已退回", "Returned"],
  withdrawn: ["已撤销", "Withdrawn"],
};

const ACTIONS: Record<string, [string, string]> = {
  submit: ["提交", "Submitted"],
  open: ["已查看", "Opened"],
  approve: ["通过", "Approved"],
  reject: ["拒绝", "Rejected"],
  return: ["退回", "Returned"],
  withdraw: ["撤销", "Withdrawn"],
};

/** The status's label from the schema's enum (or the contract's words before it lands). */
export function statusLabel(kindName: string, s: string): string {
  const e = field(app!.schema, kindName, "approval_status")?.enum?.find((o) => o.value === s);
  if (e) return label(e);
  const f = STATUS_FALLBACK[s];
  return f ? f[getLang() === "zh" ? 0 : 1] : s;
}

export function StatusChip({ kindName, rec }: { kindName: string; rec: Record<string, unknown> }) {
  const s = status(rec);
  return (
    <span class={`badge approval ${s}`} data-status={s}>
      {statusLabel(kindName, s)}
    </span>
  );
}

/**
 * A person in the log by name (`/api/people`, kept on the device): me, the author (else named
 * in the subject, "…—李明" / "出差报告+李明"), an approver. Before the names have arrived: their
 * relation to me, or the id's start.
 */
function who(id: string, rec: Record<string, unknown>): string {
  const api = app!.api;
  const me = api.session!.user;
  if (id === me.id) return `${me.name}(${w("by_me")})`;
  const name = id ? personName(api, id) : null;
  if (id === me.manager_id) return name ? `${name}(${w("my_manager")})` : w("my_manager");
  if (name) return name;
  if (id && id === rec.created_by) return subjectName(rec.subject) || w("author");
  return id ? `${w("approver")} ${id.slice(0, 8)}` : "";
}

/** Names of the people in the record's history, asked for once when some are unknown. */
function usePeople(ids: string[]): void {
  const [, setN] = useState(0);
  const key = ids.join(",");
  useEffect(() => {
    refreshPeople(app!.api, ids)
      .then((changed) => changed && setN((n) => n + 1))
      .catch(() => undefined); // offline or refused: the relations stand in until next time
  }, [key]);
}

/** Where a step was taken: the phone app (device ids "pwa-…"), the app's API, the back office. */
function where(device: string): string {
  if (device.startsWith("pwa-")) return w("device_phone");
  if (device === "api") return w("device_api");
  if (device === "backoffice") return w("device_backoffice");
  return device;
}

export function ApprovalLog({ rec }: { rec: Record<string, unknown> }) {
  const steps = log(rec);
  const approvers = Array.isArray(rec.approvers) ? (rec.approvers as unknown[]).filter((x): x is string => typeof x === "string") : [];
  usePeople([...new Set([...steps.map((s) => s.by), ...approvers])]);
  if (!steps.length) return null;
  const zh = getLang() === "zh";
  return (
    <section class="approval-log" id="approval-log">
      <h2>{w("approval_log")}</h2>
      <ul class="timeline">
        {steps.map((s) => (
          <li data-action={s.action}>
            <div class="card">
              <div class="title">
                <span class="name">{ACTIONS[s.action]?.[zh ? 0 : 1] ?? s.action}</span>
                <span class="when">{fmtTime(s.at)}</span>
              </div>
              <div class="meta">
                {who(s.by, rec)}
                {s.device ? ` · ${where(s.device)}` : ""}
              </div>
              {s.comment && <div class="comment">“{s.comment}”</div>}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Approve / return / reject for the current approver, online; opening it stops a withdraw. */
export function DecisionPanel({ docId, rec }: { docId: string; rec: Record<string, unknown> }) {
  const a = app!;
  const me = a.api.session!.user;
  const mine = currentApprover(rec) === me.id;
  const [comment, setComment] = useState("");
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (mine && navigator.onLine && typeof rec.opened_at !== "number") {
      openRecord(a.api, docId, getLang()).catch((e: unknown) => setErr(e instanceof Error ? e.message : String(e)));
    }
  }, [docId, mine]);
  if (!mine) return null;
  if (!navigator.onLine) return <div class="banner warn">{w("inbox_offline")}</div>;
  const act = async (action: "approve" | "return" | "reject") => {
    setBusy(true);
    setErr("");
    try {
      const r = await decide(a.api, docId, action, comment, getLang());
      flash(`${w("decided")}: ${statusLabel(docId.split(":")[0], r.approval_status)}`);
      setComment("");
    } catch (e) {
      setErr(e instanceof ApiError ? `${e.message} (${e.code})` : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="decision" id="decision">
      <div class="field">
        <label for="decision-comment">{w("comment")}</label>
        <textarea id="decision-comment" rows={2} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
      </div>
      {err && (
        <div class="problem" role="alert" id="decision-error">
          {err}
        </div>
      )}
      <div class="actions">
        <button type="button" class="primary" id="approve" disabled={busy} onClick={() => void act("approve")}>
          {w("approve")}
        </button>
        <button type="button" class="secondary" id="return" disabled={busy} onClick={() => void act("return")}>
          {w("return")}
        </button>
        <button type="button" class="secondary danger" id="reject" disabled={busy} onClick={() => void act("reject")}>
          {w("reject")}
        </button>
      </div>
    </section>
  );
}

/** `GET /api/approvals`: what waits for the signed-in manager's decision. */
export function Inbox() {
  const a = app!;
  const [items, setItems] = useState<InboxItem[] | null>(null);
  const [err, setErr] = useState("");
  useEffect(() => {
    if (!navigator.onLine) return;
    inbox(a.api, getLang())
      .then((r) => setItems(r.items))
      .catch((e: unknown) => setErr(e instanceof ApiError ? `${e.message} (${e.code})` : String(e)));
  }, [a.briefcase.infos.size]);
  return (
    <div class="page inbox" id="inbox">
      <h1>
        {w("approvals")}
        {items && <span class="badge" id="inbox-count">{items.length}</span>}
      </h1>
      {!navigator.onLine && <div class="banner warn">{w("inbox_offline")}</div>}
      {err && <div class="banner error">{err}</div>}
      {items && !items.length && <p class="muted">{w("inbox_empty")}</p>}
      <ul class="cards">
        {(items ?? []).map((it) => (
          <li>
            <a class="card" href={`#/work/r/${it.doc_id}`} data-doc={it.doc_id}>
              <div class="title">
                <span class="name">{it.subject}</span>
                {typeof it.amount_fen === "number" && <b>{formatFen(it.amount_fen)}</b>}
              </div>
              <div class="meta">
                {personName(a.api, it.author) ?? (subjectName(it.subject) || it.author)} · {fmtTime(it.submitted_at ?? null)}
              </div>
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}
