// Tasks (日程) on the phone: who a task may go to, where "start" leads from a task (the visit,
// progress record or service sheet that does it, pre-filled), completing a task with the
// record that did it, and the visit's next step made the next task.
import type { JSX } from "preact";
import { fmtTime, label, t } from "../i18n";
import type { Reminders } from "../reminders";
import { icons } from "./icons";
import { newDocId } from "../protocol";
import { str, writeRecord, type Values } from "../records";
import { kind as kindOf, type Field } from "../schema";
import { app } from "../state";

/** Where recording a task's work starts: the form of the record that does it, pre-filled. */
export function startHref(taskId: string, r: Values): string {
  const q = new URLSearchParams({ task: taskId });
  if (typeof r.customer_id === "string") q.set("customer", r.customer_id);
  if (r.task_type === "service") {
    if (typeof r.service_id === "string") return `#/edit/${r.service_id}?task=${taskId}`;
    return `#/new/service?${q}`;
  }
  if (r.task_type === "follow_up" && typeof r.deal_id === "string") {
    q.set("deal", r.deal_id);
    return `#/new/progress?${q}`;
  }
  return `#/new/visit?${q}`;
}

/** What a record started from a task takes from it. */
export function prefillFromTask(kindName: string, task: Values): Values {
  const v: Values = {};
  if (typeof task.customer_id === "string") v.customer_id = task.customer_id;
  if (kindName === "visit") {
    v.visit_type = task.task_type === "call" ? "call_out" : "visit_out";
    if (str(task.subject)) v.purpose = str(task.subject);
  }
  if (kindName === "progress" && typeof task.deal_id === "string") v.deal_id = task.deal_id;
  // A trip's planned visit is part of the trip: its trip report lists it.
  if ((kindName === "visit" || kindName === "service") && typeof task.trip_id === "string") v.trip_id = task.trip_id;
  return v;
}

/** Mark the task done by `doneWith` (call after that record is saved). */
export async function completeTask(taskId: string, doneWith: string | null): Promise<void> {
  const a = app!;
  if (!a.briefcase.has(taskId)) return;
  const task = kindOf(a.schema, "task");
  await a.briefcase.edit(taskId, (rec) => {
    if (rec.get("status") === "done") return;
    const v: Values = { status: "done", completed_at: Date.now() };
    if (doneWith) v.done_with = doneWith;
    writeRecord(rec, task, v);
  });
}

/** A new open task for the signed-in user, saved now; returns its id. */
export async function createTask(fields: Values): Promise<string> {
  const a = app!;
  const id = newDocId("task");
  const me = a.api.session!.user.id;
  const now = Date.now();
  await a.briefcase.edit(id, (rec) => {
    rec.set("created_at", now);
    rec.set("created_by", me);
    writeRecord(rec, kindOf(a.schema, "task"), { assignee: me, priority: "normal", status: "open", ...fields });
  });
  return id;
}

/** The visit's next step as the next task: the same customer, planned on `day` at 09:00. */
export async function nextTaskFromVisit(visitId: string, visit: Values, day: string): Promise<string> {
  const start = new Date(`${day}T09:00`).getTime();
  const step = str(visit.next_step).trim();
  const subject = step.slice(0, 200) || t("next_task_subject");
  return createTask({
    subject,
    task_type: "visit",
    customer_id: visit.customer_id,
    visit_id: visitId,
    planned_start: start,
    planned_end: start + 3600_000,
    remind_at: start - 30 * 60_000,
  });
}

/**
 * Who a task may be given to: the rep themselves; a manager, also the people whose records
 * their briefcase holds (the server publishes no list of a manager's reports, so the phone
 * knows them by the records it sees; the server refuses anyone outside the tree by name).
 */
export function assignees(): Array<{ id: string; name: string }> {
  const a = app!;
  const me = a.api.session!.user;
  const out = new Map<string, string>([[me.id, me.name]]);
  if (me.role === "manager" || me.role === "admin") {
    for (const info of a.briefcase.infos.values()) {
      for (const k of ["owner", "created_by", "assignee"]) {
        const v = info.record[k];
        if (typeof v === "string" && v && !out.has(v)) out.set(v, str(info.record[`${k}_name`]) || `${t("team_member")} ${v.slice(0, 8)}`);
      }
    }
  }
  return [...out].map(([id, name]) => ({ id, name }));
}

export function AssigneeField({ f, value, onChange, problems = [] }: { f: Field; value: unknown; onChange: (v: unknown) => void; problems?: string[] }): JSX.Element {
  const people = assignees();
  const v = str(value);
  if (v && !people.some((p) => p.id === v)) people.push({ id: v, name: `${t("team_member")} ${v.slice(0, 8)}` });
  return (
    <div class={`field${problems.length ? " bad" : ""}`} data-field="assignee">
      <label for="f-assignee">
        {label(f)}
        <span class="req">*</span>
      </label>
      <select id="f-assignee" name="assignee" value={v} disabled={people.length < 2} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {people.map((p) => (
          <option value={p.id}>{p.name}</option>
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

/** Offset of a day from today (local) as YYYY-MM-DD. */
export function dayFromNow(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The in-app side of a reminder: shown while it rings, with the notification's two buttons. */
export function ReminderBanner({ reminders }: { reminders: Reminders }) {
  if (!reminders.ringing.length) return null;
  return (
    <div class="banner warn reminder-banner" id="reminder-banner" role="alert">
      {reminders.ringing.map((r) => (
        <div class="reminder" data-doc={r.id}>
          <a href={`#/edit/${r.id}`} class="what">
            {icons.bell} {r.subject || t("reminder")} <span class="when">{fmtTime(r.at)}</span>
          </a>
          <span class="row">
            <button type="button" class="secondary snooze" onClick={() => void reminders.act(r.id, "snooze")}>
              {t("reminder_snooze")}
            </button>
            <button type="button" class="primary done" onClick={() => void reminders.act(r.id, "done")}>
              {t("reminder_done")}
            </button>
          </span>
        </div>
      ))}
    </div>
  );
}
