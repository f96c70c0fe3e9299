// The contact duty (000 §3.4), the deal cadence (§4.1.3) and what counts as a contact, the
// same rules as schema/duties.py with the numbers read from the published schema
// (`/api/schema` "duties"); checked against tests/data/duties.json (test_duties_ts.py).

/** The "duties" object of `/api/schema` (schema/duties.py `duties_json`). */
export interface Duties {
  contact: {
    categories: string[];
    core_with_short_deal_days: number;
    core_days: number;
    high_growth_days: number;
  };
  deal_follow_up_days: Record<string, number>;
}

export type Rec = Record<string, unknown>;
export const DAY_MS = 86_400_000;

const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);

let current: Duties | null = null;

/** The numbers every screen uses from now on (set once the schema is loaded). */
export function useDuties(d: Duties | undefined): void {
  if (d) current = d;
}

/** The numbers set by useDuties; throws before the schema is loaded (no guessed defaults). */
export function duties(): Duties {
  if (!current) throw new Error("the schema's duties are not loaded");
  return current;
}

export function hasDuties(): boolean {
  return current !== null;
}

export function countsAsContact(kind: string, r: Rec): boolean {
  if (int(r.submitted_at) === null) return false;
  if (kind === "visit") return true;
  return kind === "progress" && r.count_as_contact === true;
}

/** When a record that counts as a contact happened; null if it does not count. */
export function contactTime(kind: string, r: Rec): number | null {
  if (!countsAsContact(kind, r)) return null;
  if (kind === "visit") return int(r.started_at) || int(r.created_at);
  return int(r.created_at);
}

/** Days allowed between contacts with this customer, or null when it has no duty. */
export function contactDutyDays(d: Duties, customer: Rec, deals: Rec[]): number | null {
  if (customer.merged_into || !d.contact.categories.includes(customer.category as string)) return null;
  if (customer.tier === "core") {
    return deals.some((x) => x.deal_class === "short") ? d.contact.core_with_short_deal_days : d.contact.core_days;
  }
  if (customer.tier === "high_growth") return d.contact.high_growth_days;
  return null;
}

/** The latest contact among [kind, record] pairs of one customer. */
export function lastContact(records: Iterable<[string, Rec]>): number | null {
  let best: number | null = null;
  for (const [kind, r] of records) {
    const t = contactTime(kind, r);
    if (t !== null && (best === null || t > best)) best = t;
  }
  return best;
}

/** Whole days (counted up) past `allowedDays` after `since`; null if not late. */
export function daysLate(since: number, allowedDays: number, now: number): number | null {
  const over = now - since - allowedDays * DAY_MS;
  return over > 0 ? Math.ceil(over / DAY_MS) : null;
}

export function customerOverdueDays(d: Duties, customer: Rec, deals: Rec[], contacts: Iterable<[string, Rec]>, now: number): number | null {
  const duty = contactDutyDays(d, customer, deals);
  if (duty === null) return null;
  const since = lastContact(contacts) || int(customer.created_at);
  return since === null ? null : daysLate(since, duty, now);
}

export function dealCadenceDays(d: Duties, deal: Rec): number | null {
  const cls = deal.deal_class;
  return typeof cls === "string" && cls in d.deal_follow_up_days ? d.deal_follow_up_days[cls] : null;
}

export function dealLastFollowUp(deal: Rec, progress: Rec[]): number | null {
  let best: number | null = null;
  for (const p of progress) {
    const t = int(p.created_at);
    if (int(p.submitted_at) !== null && t !== null && (best === null || t > best)) best = t;
  }
  return best ?? int(deal.created_at);
}

export function dealOverdueDays(d: Duties, deal: Rec, progress: Rec[], now: number): number | null {
  const cadence = dealCadenceDays(d, deal);
  if (cadence === null) return null;
  const since = dealLastFollowUp(deal, progress);
  return since === null ? null : daysLate(since, cadence, now);
}
