// The notice on a card that another card was merged into: the rep whose card lost is told
// into whose card (name, code, owner) and which of their own values the merge kept aside
// (server/duplicates.py keeps differing values in the merge record, not on the card).
import { useEffect, useState } from "preact/hooks";
import type { App } from "../state";
import { app } from "../state";
import { label, t } from "../i18n";
import { str, type Values } from "../records";
import { field } from "../schema";

/** What the device knew of its own card when the server said it was merged. */
export interface MergeNotice {
  from: string;
  to: string;
  mine: Values;
  at: number;
  ownerName?: string;
}

// Fields a merge never copies (server/duplicates.py NOT_COPIED): never "kept aside" either.
const NOT_COMPARED = new Set(["code", "owner", "merged_into", "created_at", "created_by", "submitted_at", "security_level", "shared_with", "contacts", "attachments"]);

let notices: MergeNotice[] | null = null;
const listeners = new Set<() => void>();

function metaKey(a: App): string {
  return `mergeNotices:${a.api.session?.user.id ?? ""}`;
}

async function load(a: App): Promise<MergeNotice[]> {
  notices ??= (await a.store.meta<MergeNotice[]>(metaKey(a))) ?? [];
  return notices;
}

async function save(a: App, list: MergeNotice[]): Promise<void> {
  notices = list;
  for (const fn of listeners) fn();
  await a.store.setMeta(metaKey(a), list);
}

/**
 * Called when the server redirects a merged card, before the device drops it: keep the
 * rep's own values of that card, to compare with the survivor's when the card is shown.
 */
export function noteMerge(a: App, from: string, to: string): void {
  const mine = a.briefcase.record(from);
  if (!from.startsWith("customer:") || !Object.keys(mine).length) return;
  // Only the rep whose card it was is told; a manager who saw both cards is not.
  const me = a.api.session?.user.id;
  if (!me || (mine.created_by !== me && mine.owner !== me)) return;
  const snapshot = JSON.parse(JSON.stringify(mine)) as Values;
  void load(a).then((list) => save(a, [...list.filter((n) => n.from !== from), { from, to, mine: snapshot, at: Date.now() }]));
}

/** The rep's values (field, label, value) that differ from the survivor's: kept aside. */
export function keptAside(a: App, mine: Values, survivor: Values): Array<{ name: string; label: string; mine: string; theirs: string }> {
  const out = [];
  for (const [name, v] of Object.entries(mine)) {
    if (NOT_COMPARED.has(name) || v === undefined || v === null || v === "") continue;
    const theirs = survivor[name];
    if (theirs === undefined || theirs === null || theirs === "" || JSON.stringify(theirs) === JSON.stringify(v)) continue;
    const f = field(a.schema, "customer", name);
    const show = (x: unknown) => {
      const o = f?.enum?.find((e) => e.value === x);
      return o ? label(o) : str(x);
    };
    out.push({ name, label: f ? label(f) : name, mine: show(v), theirs: show(theirs) });
  }
  return out;
}

/** The survivor's owner by name: the server's lookup online, the offline index by code. */
async function ownerName(a: App, name: string, code: string): Promise<string | undefined> {
  try {
    const hits = await a.dups.lookup(name, "");
    const hit = hits.find((m) => m.code === code && m.owner_name) ?? hits.find((m) => m.owner_name && m.name === name);
    if (hit?.owner_name) return hit.owner_name;
  } catch {
    // no answer: the index below
  }
  if (!code) return undefined;
  const index = await a.store.all<{ code: string; owner_name?: string }>("dupindex");
  return index.find((e) => e.code === code && e.owner_name)?.owner_name;
}

export function MergedNotice({ id }: { id: string }) {
  const a = app!;
  const [, setTick] = useState(0);
  useEffect(() => {
    const on = () => setTick((n) => n + 1);
    listeners.add(on);
    if (!notices) void load(a).then(on);
    return () => void listeners.delete(on);
  }, []);
  const mine = (notices ?? []).filter((n) => a.briefcase.resolve(n.to) === id);
  const survivor = a.briefcase.record(id);
  const code = str(survivor.code);
  const missingOwner = mine.find((n) => !n.ownerName);
  useEffect(() => {
    if (!missingOwner || !survivor.name) return;
    void ownerName(a, str(survivor.name), code).then((o) => {
      if (o && notices) void save(a, notices.map((n) => (n.to === missingOwner.to ? { ...n, ownerName: o } : n)));
    });
  }, [missingOwner?.from, code, str(survivor.name)]);
  if (!mine.length) return null;
  return (
    <>
      {mine.map((n) => {
        const kept = keptAside(a, n.mine, survivor);
        return (
          <div class="banner warn merged-notice" role="status" data-from={n.from}>
            <b>{t("redirected")}</b>
            <p>
              {t("merged_into", {
                mine: str(n.mine.name) || "—",
                name: str(survivor.name) || "—",
                code: code || "—",
                owner: n.ownerName ?? t("unknown"),
              })}
            </p>
            {kept.length > 0 ? (
              <>
                <p>{t("merged_kept")}</p>
                <ul class="kept">
                  {kept.map((k) => (
                    <li data-field={k.name}>
                      {k.label}: <b>{k.mine}</b> <span class="muted">({t("merged_card_has", { v: k.theirs })})</span>
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              <p>{t("merged_same")}</p>
            )}
            <button type="button" class="secondary" onClick={() => void save(a, (notices ?? []).filter((x) => x.from !== n.from))}>
              {t("merged_ok")}
            </button>
          </div>
        );
      })}
    </>
  );
}
