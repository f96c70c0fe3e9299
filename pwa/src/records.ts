// Reading and writing record docs by the schema's layout, plus the derived facts the
// screens show: completeness, last contact and overdue follow-up (by duties.ts), service subjects.
import * as Y from "yjs";
import type { Briefcase, DocInfo } from "./briefcase";
import { contactDutyDays, customerOverdueDays, duties, lastContact as dutyLastContact } from "./duties";
import type { Field, Kind, Schema } from "./schema";

export type Values = Record<string, unknown>;

function empty(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && v.trim() === "") || (Array.isArray(v) && v.length === 0);
}

/** Replace a Y.Text's content by the smallest edit, so concurrent edits elsewhere merge. */
export function setText(t: Y.Text, s: string): void {
  const old = t.toString();
  if (old === s) return;
  let a = 0;
  while (a < old.length && a < s.length && old[a] === s[a]) a++;
  let b = 0;
  while (b < old.length - a && b < s.length - a && old[old.length - 1 - b] === s[s.length - 1 - b]) b++;
  if (old.length - a - b > 0) t.delete(a, old.length - a - b);
  const ins = s.slice(a, s.length - b);
  if (ins) t.insert(a, ins);
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function writeItem(m: Y.Map<unknown>, fields: Field[] | undefined, item: Values, before?: Values): void {
  const names = fields ? fields.map((f) => f.name) : Object.keys(item);
  for (const name of names) {
    const v = item[name];
    if (before && same(v, before[name])) continue; // untouched here: keep what others wrote
    if (empty(v)) {
      if (m.has(name)) m.delete(name);
    } else if (m.get(name) !== v) m.set(name, v);
  }
}

/**
 * Write fields into the record map (call inside a Y transaction). With `before` (what the
 * form started from), only what the user changed is written, so changes that arrived from
 * other devices while the form was open are not overwritten with stale values.
 */
export function writeRecord(rec: Y.Map<unknown>, kind: Kind, values: Values, before?: Values): void {
  for (const f of kind.fields) {
    if (!(f.name in values)) continue;
    const v = values[f.name];
    if (before && same(v, before[f.name])) continue;
    if (f.y_type === "scalar") {
      if (empty(v)) {
        if (rec.has(f.name)) rec.delete(f.name);
      } else if (rec.get(f.name) !== v) rec.set(f.name, v);
    } else if (f.y_type === "text") {
      let t = rec.get(f.name);
      if (!(t instanceof Y.Text)) {
        if (empty(v)) continue;
        t = new Y.Text();
        rec.set(f.name, t);
      }
      setText(t as Y.Text, typeof v === "string" ? v : "");
    } else if (f.y_type === "array") {
      const items = (Array.isArray(v) ? v : []) as Values[];
      let arr = rec.get(f.name);
      if (!(arr instanceof Y.Array)) {
        if (!items.length) continue;
        arr = new Y.Array<unknown>();
        rec.set(f.name, arr);
      }
      const ya = arr as Y.Array<unknown>;
      if (!f.items) {
        // a list of plain values (user ids): rewrite only when it differs
        const cur = ya.toArray();
        if (JSON.stringify(cur) !== JSON.stringify(items)) {
          ya.delete(0, ya.length);
          ya.push(items);
        }
        continue;
      }
      // Items with an id are matched by id, others by position.
      const existing = ya.toArray() as Y.Map<unknown>[];
      const keep = new Set<number>();
      const olds = (before && Array.isArray(before[f.name]) ? before[f.name] : []) as Values[];
      const oldOf = (item: Values, i: number): Values | undefined =>
        item.id ? olds.find((o) => o.id === item.id) : olds[i];
      items.forEach((item, i) => {
        let idx = -1;
        if (item.id) idx = existing.findIndex((m) => m instanceof Y.Map && m.get("id") === item.id);
        else if (i < existing.length && !(existing[i] as Y.Map<unknown>).get?.("id") && !keep.has(i)) idx = i;
        if (idx >= 0) {
          keep.add(idx);
          writeItem(existing[idx], f.items, item, oldOf(item, i));
        } else {
          const m = new Y.Map<unknown>();
          ya.push([m]);
          writeItem(m, f.items, item);
          keep.add(ya.length - 1);
        }
      });
      // Remove only items the user removed here, not ones other devices added meanwhile.
      const removedIds = new Set(olds.filter((o) => o.id && !items.some((x) => x.id === o.id)).map((o) => o.id));
      for (let i = existing.length - 1; i >= 0; i--) {
        if (keep.has(i)) continue;
        const m = existing[i];
        const id = m instanceof Y.Map ? m.get("id") : undefined;
        if (!before || (id ? removedIds.has(id) : i >= items.length)) ya.delete(i, 1);
      }
    }
  }
}

export function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}

// -- customers ------------------------------------------------------------------------------

export interface Completeness {
  done: number;
  total: number;
  missing: Array<{ item: string; label_zh: string; label_en: string }>;
}

export function completeness(schema: Schema, rec: Values): Completeness {
  const contacts = (Array.isArray(rec.contacts) ? rec.contacts : []) as Values[];
  const has = (item: string): boolean => {
    switch (item) {
      case "contact_name":
        return contacts.some((c) => !empty(c.name));
      case "contact_title":
        return contacts.some((c) => !empty(c.title));
      case "phone_or_mobile":
        return !empty(rec.phone) || contacts.some((c) => !empty(c.mobile) || !empty(c.office_phone));
      default:
        return !empty(rec[item]);
    }
  };
  const items = schema.customer_completeness;
  const missing = items.filter((i) => !has(i.item));
  return { done: items.length - missing.length, total: items.length, missing };
}

export interface Children {
  visits: DocInfo[];
  services: DocInfo[];
  deals: DocInfo[];
  progress: DocInfo[];
}

/** Visits, service sheets, deals and progress records grouped by customer id. */
export function childrenByCustomer(b: Briefcase): Map<string, Children> {
  const out = new Map<string, Children>();
  for (const info of b.infos.values()) {
    const cid = info.record.customer_id;
    if (typeof cid !== "string") continue;
    const id = b.resolve(cid);
    let c = out.get(id);
    if (!c) out.set(id, (c = { visits: [], services: [], deals: [], progress: [] }));
    if (info.kind === "visit") c.visits.push(info);
    else if (info.kind === "service") c.services.push(info);
    else if (info.kind === "deal") c.deals.push(info);
    else if (info.kind === "progress") c.progress.push(info);
  }
  return out;
}

export function when(info: DocInfo): number {
  const r = info.record;
  for (const k of ["started_at", "responded_at", "created_at"]) if (typeof r[k] === "number") return r[k] as number;
  if (typeof r.service_date === "string") return Date.parse(r.service_date);
  return info.updatedAt;
}

/** The latest contact of a customer by the one rule (duties.ts: submitted visits, submitted
 *  progress records ticked "转为日程"; drafts never count). */
export function lastContact(ch: Children | undefined): number | null {
  if (!ch) return null;
  return dutyLastContact(contactsOf(ch));
}

function contactsOf(ch: Children | undefined): Array<[string, Values]> {
  if (!ch) return [];
  return [...ch.visits.map((v): [string, Values] => ["visit", v.record]), ...ch.progress.map((p): [string, Values] => ["progress", p.record])];
}

/** Days allowed between contacts (the published contact duty, duties.ts), or null. */
export function cadenceDays(rec: Values, ch: Children | undefined): number | null {
  return contactDutyDays(duties(), rec, (ch?.deals ?? []).map((d) => d.record));
}

export function overdueDays(rec: Values, ch: Children | undefined, now = Date.now()): number | null {
  return customerOverdueDays(duties(), rec, (ch?.deals ?? []).map((d) => d.record), contactsOf(ch), now);
}

// -- service sheets -------------------------------------------------------------------------

/** "YYYY年M月D日 <type>服务" from the service date and type, or "" while either is missing. */
export function serviceSubject(schema: Schema, date: unknown, type: unknown): string {
  if (typeof date !== "string" || typeof type !== "string") return "";
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const stem = schema.service_subject.stems[type];
  if (!m || !stem) return "";
  return schema.service_subject.template
    .replace("{year}", String(Number(m[1])))
    .replace("{month}", String(Number(m[2])))
    .replace("{day}", String(Number(m[3])))
    .replace("{stem}", stem);
}

/** Today in China Standard Time as YYYY-MM-DD (service dates are CST days). */
export function todayCST(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10);
}
