// The weekly / monthly work report's draft: the period's days, and a text pre-filled from
// the rep's visits, progress records, service sheets, trips and expenses in the briefcase.
// The draft is only a start: once in the form the text is the rep's, never rewritten.
import { formatFen } from "./money";

export type Period = "week" | "month";

export interface Rec {
  id: string;
  kind: string;
  record: Record<string, unknown>;
}

export interface DraftInput {
  period: Period;
  /** A Monday for a week, the 1st for a month (rule work_report.period_start). */
  periodStart: string;
  author: string;
  lang: "zh" | "en";
  records: Rec[];
  /** A customer's name by doc id ("" when unknown). */
  customerName: (id: string) => string;
  /** An expense type's label in the draft's language. */
  expenseType: (value: string) => string;
}

const DAY_MS = 86_400_000;
const CST_MS = 8 * 3600_000;

function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** The China-time calendar day of a timestamp (ms). */
export function cstDay(ms: number): string {
  return new Date(ms + CST_MS).toISOString().slice(0, 10);
}

/** The period holding `day`: its first day (Monday or the 1st). */
export function periodStartOf(period: Period, day: string): string {
  if (period === "month") return `${day.slice(0, 8)}01`;
  const dow = (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7;
  return addDays(day, -dow);
}

/** True when `day` opens a period of that kind (work_report.period_start). */
export function isPeriodStart(period: Period, day: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && periodStartOf(period, day) === day;
}

/** The last day of the period that starts on `start`. */
export function periodEnd(period: Period, start: string): string {
  if (period === "week") return addDays(start, 6);
  const [y, m] = start.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const short = (s: string, n = 60): string => {
  const one = s.replace(/\s+/g, " ").trim();
  return [...one].length > n ? `${[...one].slice(0, n).join("")}…` : one;
};

/** The day a record belongs to in a report, or null when it has none. */
function dayOf(r: Rec): string | null {
  const v = r.record;
  if (r.kind === "visit") return typeof v.started_at === "number" ? cstDay(v.started_at) : null;
  if (r.kind === "progress") return typeof v.created_at === "number" ? cstDay(v.created_at) : null;
  if (r.kind === "service") return str(v.service_date) || null;
  if (r.kind === "expense") return str(v.expense_date) || null;
  if (r.kind === "trip_plan") return str(v.start_date) || null;
  return null;
}

/** The author's records of the period, by kind, each list in day order. */
export function periodRecords(input: DraftInput): Record<"visit" | "progress" | "service" | "trip_plan" | "expense", Rec[]> {
  const first = input.periodStart;
  const last = periodEnd(input.period, first);
  const out = { visit: [] as Rec[], progress: [] as Rec[], service: [] as Rec[], trip_plan: [] as Rec[], expense: [] as Rec[] };
  for (const r of input.records) {
    if (!(r.kind in out) || r.record.created_by !== input.author) continue;
    // Drafts are not work done yet; a trip counts when it overlaps the period.
    if (r.kind !== "trip_plan" && r.kind !== "expense" && typeof r.record.submitted_at !== "number") continue;
    const day = dayOf(r);
    if (!day) continue;
    const end = r.kind === "trip_plan" ? str(r.record.end_date) || day : day;
    if (end < first || day > last) continue;
    out[r.kind as keyof typeof out].push(r);
  }
  for (const list of Object.values(out)) list.sort((a, b) => (dayOf(a) ?? "").localeCompare(dayOf(b) ?? "") || a.id.localeCompare(b.id));
  return out;
}

function md(day: string, zh: boolean): string {
  const [, m, d] = day.split("-").map(Number);
  return zh ? `${m}月${d}日` : `${day.slice(5)}`;
}

/** The draft text: one section per kind with a line per record, totals for expenses. */
export function buildDraft(input: DraftInput): string {
  const zh = input.lang === "zh";
  const recs = periodRecords(input);
  const cust = (v: Record<string, unknown>) => (typeof v.customer_id === "string" ? input.customerName(v.customer_id) : "");
  const lines: string[] = [];
  const section = (title: string, items: Rec[], line: (r: Rec) => string) => {
    lines.push(`${title}(${items.length})`);
    if (!items.length) lines.push(zh ? "  无" : "  none");
    for (const r of items) lines.push(`  - ${line(r)}`);
    lines.push("");
  };
  const last = periodEnd(input.period, input.periodStart);
  lines.push(zh ? `期间:${input.periodStart} 至 ${last}` : `Period: ${input.periodStart} to ${last}`, "");
  section(zh ? "一、客户拜访" : "1. Customer visits", recs.visit, (r) =>
    [md(dayOf(r)!, zh), cust(r.record), short(str(r.record.purpose)), str(r.record.result) ? `→ ${short(str(r.record.result))}` : ""].filter(Boolean).join(" "),
  );
  section(zh ? "二、跟单进展" : "2. Deal progress", recs.progress, (r) =>
    [md(dayOf(r)!, zh), cust(r.record), short(str(r.record.detail))].filter(Boolean).join(" "),
  );
  section(zh ? "三、服务" : "3. Service", recs.service, (r) =>
    [md(dayOf(r)!, zh), cust(r.record), str(r.record.subject)].filter(Boolean).join(" "),
  );
  section(zh ? "四、出差" : "4. Trips", recs.trip_plan, (r) => {
    const stops = Array.isArray(r.record.stops) ? (r.record.stops as Array<Record<string, unknown>>) : [];
    const names = stops.map((s) => (typeof s.customer_id === "string" ? input.customerName(s.customer_id) : "")).filter(Boolean);
    return `${str(r.record.start_date)}~${str(r.record.end_date)} ${str(r.record.region)}${names.length ? ` (${names.join(zh ? "、" : ", ")})` : ""}`;
  });
  let total = 0;
  section(zh ? "五、费用" : "5. Expenses", recs.expense, (r) => {
    const fen = typeof r.record.amount_fen === "number" ? r.record.amount_fen : 0;
    total += fen;
    return [md(dayOf(r)!, zh), input.expenseType(str(r.record.expense_type)), formatFen(fen), short(str(r.record.description), 40)].filter(Boolean).join(" ");
  });
  if (recs.expense.length) {
    lines.splice(lines.length - 1, 0, zh ? `  合计 ${formatFen(total)}` : `  Total ${formatFen(total)}`);
  }
  lines.push(zh ? "六、下一步计划" : "6. Next steps", "  ");
  return lines.join("\n");
}
