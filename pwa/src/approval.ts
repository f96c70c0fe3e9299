// The approval flow as the phone sees it (seed 004 §3.2; issue 16's contract): which edits
// the author may make in which state, the refusals named like the server's rules, and the
// decision API a manager calls online.
import { ApiError, type Api } from "./api";

export type Status = "draft" | "submitted" | "approved" | "rejected" | "returned" | "withdrawn";

export const APPROVAL_KINDS = new Set(["trip_plan", "expense", "work_report"]);

export interface Refusal {
  rule: string;
  zh: string;
  en: string;
}

export interface LogStep {
  action: string;
  by: string;
  at: number;
  comment: string;
  device: string;
}

export function status(rec: Record<string, unknown>): Status {
  const s = rec.approval_status;
  return typeof s === "string" && s ? (s as Status) : "draft";
}

/** Why the author may not edit the record now (null: they may). Admins are exempt. */
export function editRefusal(rec: Record<string, unknown>, role: string): Refusal | null {
  if (role === "admin") return null;
  switch (status(rec)) {
    case "submitted":
      return { rule: "approval.pending_locked", zh: "审批中的记录不能修改;可先撤销(审批人打开前)", en: "A record under approval cannot be changed; withdraw it first (before the approver opens it)" };
    case "approved":
      return { rule: "approval.approved_immutable", zh: "已通过审批的记录不能修改", en: "An approved record cannot be changed" };
    case "rejected":
      return { rule: "approval.rejected_final", zh: "已拒绝的记录不能再修改", en: "A rejected record cannot be changed" };
    default:
      return null;
  }
}

/** The author may submit from draft, returned or withdrawn. */
export function canSubmit(rec: Record<string, unknown>): boolean {
  return ["draft", "returned", "withdrawn"].includes(status(rec));
}

/**
 * The author may withdraw until an approver has opened it: `opened_at` is the submission's
 * first opening and stays set through the later steps (docs/approvals.md), and a record past
 * its first step was decided by someone, so it is not offered then either.
 */
export function canWithdraw(rec: Record<string, unknown>): boolean {
  const step = typeof rec.approval_step === "number" ? rec.approval_step : 0;
  return status(rec) === "submitted" && typeof rec.opened_at !== "number" && step === 0;
}

export function log(rec: Record<string, unknown>): LogStep[] {
  const items = Array.isArray(rec.approval_log) ? (rec.approval_log as Array<Record<string, unknown>>) : [];
  return items.map((s) => ({
    action: typeof s.action === "string" ? s.action : "",
    by: typeof s.by === "string" ? s.by : "",
    at: typeof s.at === "number" ? s.at : 0,
    comment: typeof s.comment === "string" ? s.comment : "",
    device: typeof s.device === "string" ? s.device : "",
  }));
}

/** The comment of the latest return, shown on a returned record. */
export function returnComment(rec: Record<string, unknown>): string {
  const back = log(rec).filter((s) => s.action === "return");
  return back.length ? back[back.length - 1].comment : "";
}

/** The user whose decision the record waits for, or null. */
export function currentApprover(rec: Record<string, unknown>): string | null {
  if (status(rec) !== "submitted") return null;
  const list = Array.isArray(rec.approvers) ? (rec.approvers as unknown[]) : [];
  const step = typeof rec.approval_step === "number" ? rec.approval_step : 0;
  const who = list[step];
  return typeof who === "string" ? who : null;
}

export interface InboxItem {
  doc_id: string;
  kind: string;
  subject: string;
  author: string;
  amount_fen?: number | null;
  submitted_at?: number | null;
  approval_step: number;
}

/**
 * One call of the decision API with the session's token. Its errors carry the server's
 * Chinese message (`message_zh`) on a Chinese screen, with the rule's code.
 */
async function call(api: Api, lang: "zh" | "en", method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (api.session?.token) headers.Authorization = `Bearer ${api.session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  if (r.ok) return r;
  let code = `http_${r.status}`;
  let message = r.statusText;
  try {
    const j = (await r.json()) as { error?: { code?: string; message?: string; message_zh?: string } };
    code = j.error?.code ?? code;
    message = (lang === "zh" ? j.error?.message_zh : undefined) ?? j.error?.message ?? message;
  } catch {
    // not JSON: the status line says it
  }
  throw new ApiError(r.status, code, message, r.headers);
}

export async function inbox(api: Api, lang: "zh" | "en"): Promise<{ items: InboxItem[]; counts: { waiting: number } }> {
  const r = await call(api, lang, "GET", "/api/approvals");
  return (await r.json()) as { items: InboxItem[]; counts: { waiting: number } };
}

/** The author's display name as the subject carries it ("…—李明", "出差报告+李明"), or "". */
export function subjectName(subject: unknown): string {
  const m = /[—+]([^—+]+)$/.exec(typeof subject === "string" ? subject : "");
  return m ? m[1].trim() : "";
}

// The log names the device a step came from: this phone's id, like the rep's own steps.
export async function openRecord(api: Api, docId: string, lang: "zh" | "en"): Promise<void> {
  await call(api, lang, "POST", `/api/approvals/${encodeURIComponent(docId)}/open`, { device: await api.deviceId() });
}

export async function decide(api: Api, docId: string, action: "approve" | "reject" | "return", comment: string, lang: "zh" | "en"): Promise<{ approval_status: string }> {
  const r = await call(api, lang, "POST", `/api/approvals/${encodeURIComponent(docId)}/decide`, { action, comment, device: await api.deviceId() });
  return (await r.json()) as { approval_status: string };
}

// -- people: the names of who decided (`GET /api/people`), kept for offline use -------------

export interface Person {
  id: string;
  name: string;
  role: string;
  manager_id: string | null;
}

const PEOPLE_KEY = "waiqin.people";
let people: Map<string, Person> | null = null;
let peopleFor = "";
let asked = 0;

function peopleKey(api: Api): string {
  return `${PEOPLE_KEY}.${api.session?.user.id ?? ""}`;
}

/** The people this device knows (the last answer of `/api/people`, per signed-in user). */
export function knownPeople(api: Api): Map<string, Person> {
  if (people && peopleFor === peopleKey(api)) return people;
  peopleFor = peopleKey(api);
  asked = 0;
  people = new Map();
  try {
    const raw = JSON.parse(localStorage.getItem(peopleKey(api)) ?? "[]") as Person[];
    for (const p of raw) if (p && typeof p.id === "string" && typeof p.name === "string") people.set(p.id, p);
  } catch {
    // a broken cache is asked again
  }
  return people;
}

/** A person's name, or null when this device has not heard of them (yet). */
export function personName(api: Api, id: string): string | null {
  return knownPeople(api).get(id)?.name ?? null;
}

/**
 * Ask the server for the names when online and some of `ids` are unknown (at most once a
 * minute); true when the answer changed what is known.
 */
export async function refreshPeople(api: Api, ids: string[]): Promise<boolean> {
  const known = knownPeople(api);
  if (!ids.some((id) => id && !known.has(id)) && known.size) return false;
  if (!navigator.onLine || !api.session?.token || Date.now() - asked < 60_000) return false;
  asked = Date.now();
  const r = await api.request("GET", "/api/people");
  const body = (await r.json()) as { people: Person[] };
  people = new Map(body.people.map((p) => [p.id, p]));
  peopleFor = peopleKey(api);
  localStorage.setItem(peopleFor, JSON.stringify(body.people));
  return true;
}
