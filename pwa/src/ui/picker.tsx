// The customer picker of the visit and service forms: search as you type (name, short
// name, code, pinyin initials), today's and recently opened customers first. A briefcase of
// 50,000 cards never becomes 50,000 DOM nodes: at most LIMIT rows are drawn.
import { useEffect, useMemo, useState } from "preact/hooks";
import type { DocInfo } from "../briefcase";
import { label, t } from "../i18n";
import { str } from "../records";
import type { Field } from "../schema";
import { customerBoost, prepareSearch, searchCustomers } from "../search";
import { app } from "../state";

const LIMIT = 30;
const RECENT_MAX = 20;

function recentKey(): string {
  return `waiqin.recent.${app?.api.session?.user.id ?? ""}`;
}

/** Customer cards this user opened lately, most recent first (kept per user on the device). */
export function recentCustomers(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(recentKey()) ?? "[]");
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

export function noteOpened(id: string): void {
  const list = recentCustomers();
  if (list[0] === id) return;
  localStorage.setItem(recentKey(), JSON.stringify([id, ...list.filter((x) => x !== id)].slice(0, RECENT_MAX)));
}

function Option({ c, why, onPick }: { c: DocInfo; why: number; onPick: (id: string) => void }) {
  const r = c.record;
  return (
    <li>
      <button type="button" class="option" data-doc={c.id} onClick={() => onPick(c.id)}>
        <span class="name">{str(r.name) || "—"}</span>
        <span class="meta">
          {[str(r.code), str(r.short_name)].filter(Boolean).join(" · ")}
          {why >= 2 ? <span class="badge today">{t("picker_today")}</span> : why === 1 ? <span class="badge">{t("picker_recent")}</span> : null}
        </span>
      </button>
    </li>
  );
}

export function CustomerPicker({ f, value, onChange, readOnly, problems, required = true }: { f: Field; value: unknown; onChange: (v: unknown) => void; readOnly: boolean; problems?: string[]; required?: boolean }) {
  const a = app!;
  const [q, setQ] = useState("");
  const chosen = typeof value === "string" && value ? a.briefcase.infos.get(a.briefcase.resolve(value)) : undefined;
  const boost = useMemo(() => customerBoost(a.briefcase.infos.values(), recentCustomers(), Date.now(), (id) => a.briefcase.resolve(id)), []);
  useEffect(() => {
    // The search keys of a big briefcase are built while the rep reads the form, not on
    // the first keystroke.
    const id = setTimeout(() => prepareSearch(a.briefcase.infos.values()), 50);
    return () => clearTimeout(id);
  }, []);
  const hits = chosen ? [] : searchCustomers(a.briefcase.infos.values(), q, { limit: LIMIT, boost });
  return (
    <div class={`field picker${problems?.length ? " bad" : ""}`} data-field="customer_id">
      <label for="f-customer_id">
        {label(f)}
        {required && <span class="req">*</span>}
      </label>
      {chosen || (readOnly && value) ? (
        <div class="chosen" id="customer-chosen" data-doc={chosen?.id ?? str(value)}>
          <span class="name">{chosen ? str(chosen.record.name) || "—" : str(value)}</span>
          {chosen && str(chosen.record.code) && <span class="meta"> {str(chosen.record.code)}</span>}
          {!readOnly && (
            <button type="button" class="link" id="customer-change" onClick={() => onChange(undefined)}>
              {t("picker_change")}
            </button>
          )}
        </div>
      ) : (
        <>
          <input
            type="search"
            id="f-customer_id"
            name="customer_id"
            autoComplete="off"
            placeholder={t("picker_placeholder")}
            value={q}
            onInput={(e) => setQ((e.target as HTMLInputElement).value)}
          />
          <ul class="options" id="customer-options" role="listbox">
            {!q.trim() && hits.length > 0 && <li class="hint">{t("picker_first")}</li>}
            {hits.map((c) => (
              <Option c={c} why={boost.get(c.id) ?? 0} onPick={(id) => onChange(id)} />
            ))}
            {q.trim() && hits.length === 0 && <li class="hint" id="customer-none">{t("picker_none")}</li>}
            {!q.trim() && hits.length === 0 && <li class="hint">{t("picker_type")}</li>}
          </ul>
        </>
      )}
      {problems?.map((p) => <div class="problem">{p}</div>)}
    </div>
  );
}
