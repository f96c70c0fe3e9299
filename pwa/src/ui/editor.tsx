// New and edit screens for every record kind, drawn from the schema: customer (with the
// duplicate warning), visit (GPS check-in, photos), service sheet (auto subject, photos),
// deal (stage and probability) and progress record.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { JSX } from "preact";
import type { DupMatch } from "../dup";
import { getLang, label, t } from "../i18n";
import { attachmentEntry, prepare, type GpsFix } from "../photos";
import { newDocId } from "../protocol";
import { serviceSubject, str, todayCST, when, writeRecord, type Values } from "../records";
import { checkField, kind as kindOf, type Field } from "../schema";
import { app } from "../state";
import { FieldRow, ListEditor } from "./fields";
import { icons } from "./icons";
import { PhotoViewer } from "./photoview";
import { CustomerPicker } from "./picker";
import { askPermissionOnce } from "../reminders";
import { AssigneeField, completeTask, dayFromNow, nextTaskFromVisit, prefillFromTask } from "./tasks";
import { flash } from "./toast";

/**
 * Fields each form shows, in order; the rest are set by the app or the server. "checkin" is
 * the visit's GPS check-in (gps_lat, gps_lon, gps_accuracy): made at arrival, so it comes
 * before what is written after the talk.
 */
const LAYOUT: Record<string, string[]> = {
  customer: ["name", "phone", "category", "tier", "contacts", "short_name", "credit_code", "status", "level", "email", "website", "address", "postcode", "province", "city", "county", "region", "industry", "type", "source", "profile", "notes"],
  visit: ["customer_id", "visit_type", "checkin", "started_at", "ended_at", "place", "met_name", "met_title", "purpose", "result", "next_step", "attachments"],
  service: ["customer_id", "service_type", "status", "service_date", "subject", "description", "responded_at", "content", "completed_at", "reminder_at", "reminder_note", "products", "attachments"],
  deal: ["customer_id", "title", "deal_class", "stage", "probability", "intent", "expected_close_date", "purchase_reason", "purchase_form", "budget", "requirements", "schedule", "competitors", "lost_reason", "products"],
  progress: ["detail", "next_step", "stage", "count_as_contact"],
  task: ["subject", "task_type", "customer_id", "planned_start", "planned_end", "remind_at", "assignee", "priority", "status", "notes"],
};

/**
 * The customer form's first screen (390×844): the name with its duplicate warning, the
 * phone, the category, and the first contact's name, title and mobile. The rest is folded.
 */
const CUSTOMER_FIRST = new Set(["name", "phone", "category", "tier"]);
const CONTACT_FIRST = ["name", "title", "mobile"];

const TITLES: Record<string, "new_customer" | "new_visit" | "new_service" | "new_deal" | "new_progress" | "new_task"> = {
  customer: "new_customer",
  visit: "new_visit",
  service: "new_service",
  deal: "new_deal",
  progress: "new_progress",
  task: "new_task",
};

export function RefusedBanner({ docId }: { docId: string }) {
  const a = app!;
  const refused = a.briefcase.refused().filter((e) => e.doc === docId);
  if (!refused.length) return null;
  const zh = getLang() === "zh";
  return (
    <div class="banner error refused-banner" role="alert">
      {t("refused_here")}
      {refused.map((e) => (
        <div class="reason">
          {(zh ? e.refused!.message_zh : e.refused!.message) || e.refused!.message}
          {e.refused!.field ? ` (${e.refused!.field})` : ""}
        </div>
      ))}
    </div>
  );
}

function DupWarning({ name, phone, creditCode }: { name: string; phone: string; creditCode: string }) {
  const [matches, setMatches] = useState<DupMatch[]>([]);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      void app!.dups.lookup(name, phone, creditCode).then((m) => live && setMatches(m));
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [name, phone, creditCode]);
  if (!matches.length) return null;
  return (
    <div class="banner warn dup-warning" id="dup-warning">
      <b>{t("dup_title")}</b>
      <ul>
        {matches.slice(0, 5).map((m) => (
          <li>
            {m.name ?? ""} {m.code ? `[${m.code}]` : ""} {m.owner_name ? t("dup_owner", { o: m.owner_name }) : ""}
            {m.offline ? ` ${t("dup_offline")}` : ""}
          </li>
        ))}
      </ul>
    </div>
  );
}

function GpsCheckin({ values, set }: { values: Values; set: (patch: Values) => void }) {
  const [state, setState] = useState<string>("");
  // When the fix was taken: shown to the rep; the schema has no field for it, so a saved
  // visit shows the fix without its time.
  const [at, setAt] = useState<number | null>(null);
  const has = typeof values.gps_lat === "number";
  const locate = () => {
    if (!navigator.geolocation) return setState(t("gps_failed", { e: "n/a" }));
    setState(t("gps_locating"));
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        set({
          gps_lat: Math.round(pos.coords.latitude * 1e6) / 1e6,
          gps_lon: Math.round(pos.coords.longitude * 1e6) / 1e6,
          gps_accuracy: Math.round(pos.coords.accuracy),
        });
        setAt(pos.timestamp || Date.now());
        setState("");
      },
      (err) => setState(t("gps_failed", { e: err.message })),
      { enableHighAccuracy: true, timeout: 20_000, maximumAge: 60_000 },
    );
  };
  return (
    <div class="field gps" id="gps" data-checked={has ? "1" : undefined}>
      <div class="row">
        <button type="button" class={has ? "secondary" : "primary"} onClick={locate} id="gps-checkin">
          {icons.pin} {has ? t("gps_again") : t("gps_checkin")}
        </button>
        {has && (
          <button type="button" class="link" onClick={() => (setAt(null), set({ gps_lat: undefined, gps_lon: undefined, gps_accuracy: undefined }))}>
            {t("gps_clear")}
          </button>
        )}
      </div>
      {has && (
        <div class="hint gps-fix" id="gps-fix">
          {at !== null && (
            <b id="gps-time">
              {t("gps_checked_at", { t: new Date(at).toLocaleTimeString(getLang() === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" }) })}
            </b>
          )}{" "}
          {Number(values.gps_lat).toFixed(5)}, {Number(values.gps_lon).toFixed(5)} · {t("gps_accuracy", { n: Number(values.gps_accuracy) })}
        </div>
      )}
      {state && <div class="hint">{state}</div>}
    </div>
  );
}

export function Photos({ docId, items, onChange, category, gps }: { docId: string; items: Values[]; onChange: (v: Values[]) => void; category?: string; gps?: GpsFix }) {
  const a = app!;
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const [viewing, setViewing] = useState<string | null>(null);
  const pick = async (files: FileList | null) => {
    if (!files?.length) return;
    setBusy(true);
    setErr("");
    try {
      const added: Values[] = [];
      for (const file of Array.from(files)) {
        // The original's EXIF fix and time are read before compression drops them; a photo
        // without them carries the visit's check-in fix.
        const c = await prepare(file);
        a.photos.hold(docId, c); // stored and uploaded only when the form is saved
        added.push(attachmentEntry(c, { category, fileTime: file.lastModified, visitFix: gps }));
      }
      onChange([...items, ...added]);
    } catch (e) {
      setErr(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="field photos" data-field="attachments">
      <label>{t("photos")}</label>
      <div class="thumbs">
        {items.map((it, i) => {
          const sha = str(it.sha256);
          const p = a.photos.photos.get(sha);
          const url = a.photos.url(sha);
          const state = a.photos.isHeld(sha) ? "held" : (p?.state ?? "missing");
          return (
            <figure class="thumb" data-sha={sha} data-state={state} data-evicted={p && !p.blob ? "1" : undefined}>
              <button type="button" class="view" aria-label={t("photos")} onClick={() => setViewing(sha)}>
                {url ? <img src={url} alt="" /> : <div class="noimg">{icons.camera}</div>}
              </button>
              <figcaption>
                <span class={`pstate ${state}`}>
                  {t(`photo_${state}` as "photo_queued")}
                  {state === "uploading" && p?.offset ? ` ${t("photo_progress", { p: Math.floor((100 * p.offset) / p.size) })}` : ""}
                </span>
                {p?.gpsFromExif && typeof it.gps_lat === "number" && (
                  <span class="exif-fix" title={t("photo_exif_fix")}>
                    {" "}
                    {icons.pin}
                  </span>
                )}
                <input
                  type="text"
                  placeholder={getLang() === "zh" ? "说明" : "Caption"}
                  value={str(it.caption)}
                  onInput={(e) => onChange(items.map((x, j) => (j === i ? { ...x, caption: (e.target as HTMLInputElement).value } : x)))}
                />
              </figcaption>
            </figure>
          );
        })}
      </div>
      <label class="button secondary file">
        {icons.camera} {busy ? "…" : t("take_photo")}
        <input type="file" accept="image/*" capture="environment" multiple id="photo-input" onChange={(e) => void pick((e.target as HTMLInputElement).files)} />
      </label>
      {err && <div class="problem">{err}</div>}
      {viewing && <PhotoViewer sha={viewing} onClose={() => setViewing(null)} />}
    </div>
  );
}

/** Rules of the schema the device checks itself before saving (the server checks all). */
function crossChecks(kindName: string, v: Values, submitting: boolean): Record<string, string[]> {
  const zh = getLang() === "zh";
  const out: Record<string, string[]> = {};
  const add = (f: string, z: string, e: string) => (out[f] ??= []).push(zh ? z : e);
  if (kindName === "visit" && typeof v.started_at === "number" && typeof v.ended_at === "number" && v.ended_at < v.started_at) {
    add("ended_at", "结束时间不能早于开始时间", "The end is not before the start");
  }
  if (kindName === "service") {
    if (submitting && v.status === "completed" && typeof v.completed_at !== "number") add("completed_at", "完成的服务须填写完成时间", "A completed service needs its completion time");
    if (typeof v.responded_at === "number" && typeof v.completed_at === "number" && v.completed_at < v.responded_at) add("completed_at", "完成时间不能早于响应时间", "Completion is not before the response");
  }
  if (kindName === "task") {
    const start = typeof v.planned_start === "number" ? v.planned_start : null;
    const end = typeof v.planned_end === "number" ? v.planned_end : null;
    if (start !== null && end !== null && end < start) add("planned_end", "计划结束不能早于计划开始", "The planned end is not before the start");
    if (typeof v.remind_at === "number" && end !== null && v.remind_at > end) add("remind_at", "提醒时间不能晚于计划结束时间", "The reminder is not after the planned end");
  }
  if (kindName === "deal" && v.deal_class === "lost" && submitting && !str(v.lost_reason).trim()) add("lost_reason", "放弃或丢单须写明原因", "A lost deal states why");
  return out;
}

/** Held photos of this form (picked, not saved yet) among `items`. */
function heldIn(items: unknown): string[] {
  const a = app!;
  return ((Array.isArray(items) ? items : []) as Values[]).map((it) => str(it.sha256)).filter((sha) => a.photos.isHeld(sha));
}

export function Editor({ docId, kindName, query }: { docId: string | null; kindName: string; query: URLSearchParams }) {
  const a = app!;
  const schema = a.schema;
  const kind = kindOf(schema, kindName);
  const isNew = docId === null;
  const id = useMemo(() => docId ?? newDocId(kindName), [docId, kindName]);
  // The task this record does (Today's "start"): completed when the record is saved.
  const taskId = kindName !== "task" ? query.get("task") : null;
  const [nextOn, setNextOn] = useState(false);
  const [nextDay, setNextDay] = useState(() => dayFromNow(7));
  const initial = useMemo<Values>(() => {
    if (!isNew) return JSON.parse(JSON.stringify(a.briefcase.record(id))) as Values;
    const v: Values = {};
    const customer = query.get("customer");
    if (customer) v.customer_id = a.briefcase.resolve(customer);
    if (kindName === "visit") v.started_at = Math.floor(Date.now() / 60_000) * 60_000;
    if (kindName === "service") v.service_date = todayCST();
    if (kindName === "progress") v.deal_id = query.get("deal") ?? undefined;
    if (kindName === "customer") v.contacts = [{ id: crypto.randomUUID() }];
    if (kindName === "task") {
      const hour = Math.ceil(Date.now() / 3600_000) * 3600_000;
      Object.assign(v, { task_type: query.get("type") ?? "visit", planned_start: hour, planned_end: hour + 3600_000, assignee: a.api.session!.user.id, priority: "normal", status: "open" });
    }
    // Recording a task's work: the record takes the task's customer, type and links.
    const task = taskId && a.briefcase.has(taskId) ? a.briefcase.record(taskId) : null;
    if (task) Object.assign(v, prefillFromTask(kindName, task));
    return v;
  }, [id]);
  const [values, setValues] = useState<Values>(initial);
  const [problems, setProblems] = useState<Record<string, string[]>>({});
  const [savedMsg, setSavedMsg] = useState("");
  const [moreOpen, setMoreOpen] = useState(!isNew);
  const top = useRef<HTMLDivElement>(null);
  const latest = useRef<Values>(values);
  latest.current = values;
  const saved = useRef(false);
  const set = (patch: Values) => setValues((v) => derive({ ...v, ...patch }));

  // Photos picked in a form left without saving go with it: never stored, never uploaded.
  useEffect(() => () => {
    if (!saved.current) a.photos.discard(heldIn(latest.current.attachments));
  }, []);

  function derive(v: Values): Values {
    if (kindName === "service") {
      const s = serviceSubject(schema, v.service_date, v.service_type);
      v.subject = s || undefined;
    }
    if (kindName === "deal") {
      v.probability = typeof v.stage === "number" ? v.stage * 10 : undefined;
      const allowed = v.deal_class ? schema.deal_class_stages[str(v.deal_class)] : undefined;
      if (allowed && typeof v.stage === "number" && !allowed.includes(v.stage)) {
        v.stage = undefined;
        v.probability = undefined;
      }
    }
    return v;
  }

  const fields = LAYOUT[kindName].map((n) => kind.fields.find((f) => f.name === n)).filter((f): f is Field => !!f);
  const zh = getLang() === "zh";
  const readOnlyNames = new Set([...(kindName === "task" ? [] : ["subject"]), "probability", ...(isNew ? [] : ["customer_id", "deal_id"])]);

  const save = async (submit: boolean) => {
    const submitting = submit || !!initial.submitted_at;
    const found: Record<string, string[]> = {};
    for (const f of fields) {
      if (f.y_type === "array" && f.items) {
        const items = (Array.isArray(values[f.name]) ? values[f.name] : []) as Values[];
        items.forEach((it, i) => {
          for (const sf of f.items!) {
            for (const p of checkField(schema, sf, it[sf.name], submitting)) (found[`${f.name}.${i}.${sf.name}`] ??= []).push(zh ? p.zh : p.en);
          }
        });
        if (submitting && f.required === "on_submit" && items.length === 0) (found[f.name] ??= []).push(zh ? `请填写${f.label_zh}` : `${f.label_en} is required`);
        continue;
      }
      for (const p of checkField(schema, f, values[f.name], submitting)) (found[f.name] ??= []).push(zh ? p.zh : p.en);
    }
    if (kindName === "task" && !str(values.subject).trim()) {
      // An empty subject is named after the type and the customer.
      const typ = kind.fields.find((f) => f.name === "task_type")?.enum?.find((o) => o.value === values.task_type);
      const cust = typeof values.customer_id === "string" ? str(a.briefcase.infos.get(values.customer_id)?.record.name) : "";
      const subject = [typ ? label(typ) : "", cust].filter(Boolean).join(" ");
      if (subject) {
        values.subject = subject;
        delete found.subject;
      }
    }
    if (kindName === "task") {
      // Done carries its completion time; reopened drops it (task.completed_needs_done).
      if (values.status === "done" && typeof values.completed_at !== "number") values.completed_at = Date.now();
      if (values.status !== "done") values.completed_at = undefined;
    }
    for (const [k, v] of Object.entries(crossChecks(kindName, values, submitting))) (found[k] ??= []).push(...v);
    setProblems(found);
    if (Object.keys(found).length) {
      setSavedMsg(t("required_missing"));
      // A problem in the folded part opens it, so the rep sees what to fix.
      if (kindName === "customer" && Object.keys(found).some((k) => folded(k))) setMoreOpen(true);
      top.current?.scrollIntoView();
      return;
    }
    // The photos first, then the record that names them; held until now, so a form
    // left unsaved never uploads anything.
    await a.photos.commit(heldIn(values.attachments));
    const userId = a.api.session!.user.id;
    const now = Date.now();
    await a.briefcase.edit(id, (rec) => {
      if (!rec.has("created_at")) {
        rec.set("created_at", now);
        rec.set("created_by", userId);
      }
      if (isNew && kindName === "visit" && values.customer_id) {
        const prev = [...a.briefcase.infos.values()]
          .filter((i) => i.kind === "visit" && i.id !== id && i.record.customer_id === values.customer_id)
          .sort((x, y) => when(y) - when(x))[0];
        if (prev) rec.set("previous_visit_id", prev.id);
      }
      const out: Values = {};
      for (const f of fields) out[f.name] = values[f.name];
      if (kindName === "visit") for (const n of ["gps_lat", "gps_lon", "gps_accuracy"]) out[n] = values[n];
      if (kindName === "progress") out.deal_id = values.deal_id;
      if (kindName === "task") out.completed_at = values.completed_at;
      if (kindName === "progress" || isNew) out.customer_id = values.customer_id;
      if (isNew && (kindName === "visit" || kindName === "service")) out.trip_id = values.trip_id; // from a trip's task
      if (!isNew) {
        delete out.customer_id;
        delete out.deal_id;
      }
      writeRecord(rec, kind, out, isNew ? undefined : initial);
      if (submit && !rec.has("submitted_at")) rec.set("submitted_at", now);
    });
    saved.current = true;
    if (submit && taskId) await completeTask(taskId, id);
    if (submit && kindName === "visit" && nextOn) await nextTaskFromVisit(id, values, nextDay);
    if (kindName === "task" && typeof values.remind_at === "number") void askPermissionOnce();
    flash(submit ? t("saved") : t("saved_draft"));
    if (kindName === "task" || taskId) {
      location.hash = "#/";
      return;
    }
    const cid = str(values.customer_id);
    location.hash = kindName === "customer" ? `#/c/${id}` : kindName === "deal" ? `#/d/${id}` : kindName === "progress" ? `#/d/${str(values.deal_id)}` : cid ? `#/c/${cid}` : "#/";
  };

  const previous = kindName === "visit" && values.customer_id
    ? [...a.briefcase.infos.values()].filter((i) => i.kind === "visit" && i.id !== id && i.record.customer_id === values.customer_id).sort((x, y) => when(y) - when(x))[0]
    : undefined;

  const contacts = (values.contacts as Values[] | undefined) ?? [];
  const setContacts = (v: Values[]) => set({ contacts: v });

  const renderField = (f: Field): JSX.Element | null => {
    if (f.name === "assignee") return <AssigneeField f={f} value={values.assignee} onChange={(v) => set({ assignee: v })} problems={problems.assignee} />;
    if (f.name === "customer_id") return <CustomerPicker f={f} value={values.customer_id} onChange={(v) => set({ customer_id: v })} readOnly={readOnlyNames.has("customer_id")} problems={problems.customer_id} required={f.required !== "no"} />;
    if (f.name === "attachments") {
      return (
        <Photos
          docId={id}
          items={(values.attachments as Values[] | undefined) ?? []}
          onChange={(v) => set({ attachments: v })}
          category={kindName === "service" ? "service_sheet" : "site_photo"}
          gps={typeof values.gps_lat === "number" ? { gps_lat: values.gps_lat, gps_lon: Number(values.gps_lon), gps_accuracy: Number(values.gps_accuracy) } : undefined}
        />
      );
    }
    if (f.y_type === "array" && f.items) {
      const first = kindName === "customer" && f.name === "contacts";
      return (
        <ListEditor
          f={f}
          items={(values[f.name] as Values[] | undefined) ?? []}
          onChange={(v) => set({ [f.name]: v })}
          addLabel={f.name === "contacts" ? t("add_contact") : t("add_product")}
          problems={problems}
          makeItem={f.name === "contacts" ? () => ({ id: crypto.randomUUID() }) : undefined}
          skip={first ? (i, n) => i === 0 && CONTACT_FIRST.includes(n) : undefined}
          itemTitle={first ? (item, i) => (i === 0 ? t("first_contact_more", { n: str(item.name) || t("first_contact") }) : undefined) : undefined}
        />
      );
    }
    let ff = f;
    if (kindName === "deal" && f.name === "stage" && values.deal_class && f.enum) {
      const allowed = schema.deal_class_stages[str(values.deal_class)] ?? [];
      ff = { ...f, enum: f.enum.filter((o) => allowed.includes(o.value as number)) };
    }
    if (kindName === "deal" && f.name === "lost_reason" && values.deal_class !== "lost") return null;
    return (
      <>
        <FieldRow
          f={ff}
          value={values[f.name]}
          onChange={(v) => set({ [f.name]: v })}
          problems={problems[f.name]}
          readOnly={readOnlyNames.has(f.name)}
          hint={f.name === "subject" && kindName !== "task" ? t("subject_auto") : f.name === "probability" ? t("probability_auto") : undefined}
        />
        {kindName === "customer" && f.name === "name" && <DupWarning name={str(values.name)} phone={str(values.phone)} creditCode={str(values.credit_code)} />}
        {kindName === "visit" && f.name === "next_step" && (
          <div class="field next-task" id="next-task">
            <label class="check">
              <input type="checkbox" id="next-task-on" checked={nextOn} onChange={(e) => setNextOn((e.target as HTMLInputElement).checked)} />
              {t("next_task_make")}
            </label>
            {nextOn && <input type="date" id="next-task-day" value={nextDay} onChange={(e) => setNextDay((e.target as HTMLInputElement).value || dayFromNow(7))} />}
          </div>
        )}
        {kindName === "visit" && f.name === "customer_id" && previous && (
          <div class="hint previous">
            ← {new Date(when(previous)).toLocaleDateString()} {str(previous.record.met_name)}: {str(previous.record.result).slice(0, 80)}
          </div>
        )}
      </>
    );
  };

  let body: (JSX.Element | null)[];
  if (kindName === "customer") {
    const byName = (n: string) => fields.find((f) => f.name === n);
    const contactsF = byName("contacts");
    const c0 = contacts[0] ?? {};
    const subs = (contactsF?.items ?? []).filter((sf) => CONTACT_FIRST.includes(sf.name));
    const setC0 = (patch: Values) => setContacts([{ id: crypto.randomUUID(), ...c0, ...patch }, ...contacts.slice(1)]);
    const rest = fields.filter((f) => !CUSTOMER_FIRST.has(f.name) && f.name !== "contacts");
    body = [
      renderField(byName("name")!),
      renderField(byName("phone")!),
      <div class="pair">
        {renderField(byName("category")!)}
        {renderField(byName("tier")!)}
      </div>,
      contactsF ? (
        <fieldset class="list first-contact" data-field="contacts.0">
          <legend>{t("first_contact")}</legend>
          <div class="pair">
            {subs.filter((sf) => sf.name !== "mobile").map((sf) => (
              <FieldRow f={{ ...sf, name: `contacts.0.${sf.name}` }} value={c0[sf.name]} problems={problems[`contacts.0.${sf.name}`]} onChange={(v) => setC0({ [sf.name]: v })} />
            ))}
          </div>
          {subs.filter((sf) => sf.name === "mobile").map((sf) => (
            <FieldRow f={{ ...sf, name: `contacts.0.${sf.name}` }} value={c0[sf.name]} problems={problems[`contacts.0.${sf.name}`]} onChange={(v) => setC0({ [sf.name]: v })} />
          ))}
        </fieldset>
      ) : null,
      <details class="more" id="more-fields" open={moreOpen} onToggle={(e) => setMoreOpen((e.target as HTMLDetailsElement).open)}>
        <summary>
          {t("more_fields")}
          <span class="muted"> {t("more_fields_hint")}</span>
        </summary>
        {rest.map(renderField)}
        {contactsF && renderField(contactsF)}
      </details>,
    ];
  } else {
    body = fields.map(renderField);
    if (kindName === "visit") {
      const at = LAYOUT.visit.indexOf("checkin");
      const before = LAYOUT.visit.slice(0, at).filter((n) => fields.some((f) => f.name === n)).length;
      body.splice(before, 0, <GpsCheckin values={values} set={set} />);
    }
  }

  return (
    <div class="page editor" ref={top} data-kind={kindName} data-doc={id}>
      <h1>{isNew ? t(TITLES[kindName]) : `${t("edit")} · ${label(kind)}`}</h1>
      <RefusedBanner docId={id} />
      {savedMsg && <div class="banner warn">{savedMsg}</div>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save(true);
        }}
      >
        {body}
        <div class="actions sticky">
          <button type="button" class="secondary" id="cancel" onClick={() => history.back()}>
            {t("cancel")}
          </button>
          {!initial.submitted_at && kindName !== "task" && (
            <button type="button" class="secondary" id="save-draft" onClick={() => void save(false)}>
              {t("save_draft")}
            </button>
          )}
          <button type="submit" class="primary" id="save">
            {t("save")}
          </button>
        </div>
      </form>
    </div>
  );
}

/** True when a problem's key names a field of the customer form's folded part. */
function folded(key: string): boolean {
  const [name, i, sub] = key.split(".");
  if (name === "contacts") return !(i === "0" && CONTACT_FIRST.includes(sub));
  return !CUSTOMER_FIRST.has(name);
}
