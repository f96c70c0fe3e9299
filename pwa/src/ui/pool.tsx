// The customer pool (公海) on the phone: the pool's names, codes and cities (never contacts),
// read from the server (the pool is in nobody's briefcase), and a claim button. A claimed
// customer enters the briefcase through sync, live; the screen then opens its card.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { getLang } from "../i18n";
import { app } from "../state";
import { flash } from "./toast";

const P = {
  pool: ["公海", "Customer pool"],
  pool_search: ["搜索名称、代码或城市", "Search name, code or city"],
  pool_empty: ["公海中没有客户", "The pool is empty"],
  pool_offline: ["公海需要联网查看", "The pool needs a network connection"],
  pool_claim: ["领取", "Claim"],
  pool_claimed: ["已领取 {n} / 上限 {limit}", "Claimed {n} of at most {limit}"],
  pool_done: ["已领取,客户已加入我的客户", "Claimed: the customer is now yours"],
  reason_released: ["主动释放", "Released"],
  reason_departed: ["离职释放", "Owner left"],
  reason_uncontacted: ["超期未联系", "Not contacted in time"],
  "pool.already_claimed": ["已被别人抢先领取", "Someone else claimed it first"],
  "pool.limit": ["已达到领取上限 {limit} 个,请先释放客户", "You hold the most you may claim ({limit}); release one first"],
  "pool.owned": ["该客户已有归属人", "This customer already has an owner"],
  "pool.binned": ["该客户在回收站中", "This customer is in the recycle bin"],
  "pool.merged": ["该客户已被合并", "This card was merged into another"],
  "pool.no_customer": ["没有这个客户", "No such customer"],
  error: ["出错了:{m}", "Something went wrong: {m}"],
} as const;

export type PoolKey = keyof typeof P;

export function p(key: PoolKey, vars: Record<string, string | number> = {}): string {
  let s: string = P[key][getLang() === "zh" ? 0 : 1];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** A refusal from the pool routes, in the user's language, naming the rule. */
export function refusal(e: unknown, vars: Record<string, string | number> = {}): string {
  if (e instanceof ApiError && e.code in P) return p(e.code as PoolKey, vars);
  return p("error", { m: e instanceof Error ? e.message : String(e) });
}

interface PoolItem {
  doc_id: string;
  name: string;
  code: string;
  province: string;
  city: string;
  reason: string;
}

interface PoolPage {
  items: PoolItem[];
  claimed: number;
  limit: number;
}

export function PoolScreen() {
  const a = app!;
  const [q, setQ] = useState("");
  const [page, setPage] = useState<PoolPage | null>(null);
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState("");
  const [waiting, setWaiting] = useState("");

  const load = async (query: string) => {
    try {
      const r = await a.api.request("GET", `/api/pool?q=${encodeURIComponent(query)}`);
      setPage((await r.json()) as PoolPage);
      setProblem("");
    } catch (e) {
      setProblem(navigator.onLine ? refusal(e) : p("pool_offline"));
    }
  };
  useEffect(() => {
    void load(q);
  }, [q]);
  // The claimed card arrives through sync: open it once it is in the briefcase.
  useEffect(() => {
    if (!waiting) return;
    const open = () => {
      if (a.briefcase.has(waiting)) location.hash = `#/c/${waiting}`;
    };
    open();
    return a.briefcase.subscribe(open);
  }, [waiting]);

  const claim = async (item: PoolItem) => {
    setBusy(item.doc_id);
    try {
      await a.api.request("POST", `/api/pool/${item.doc_id}/claim`);
      flash(p("pool_done"));
      setWaiting(item.doc_id);
      a.sync.kick();
    } catch (e) {
      setProblem(refusal(e, { limit: page?.limit ?? "" }));
      void load(q);
    } finally {
      setBusy("");
    }
  };

  return (
    <div class="page pool" id="pool">
      <h1>{p("pool")}</h1>
      <input class="search" id="pool-search" type="search" placeholder={p("pool_search")} value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      {page && (
        <p class="muted" id="pool-claimed">
          {p("pool_claimed", { n: page.claimed, limit: page.limit })}
        </p>
      )}
      {problem && (
        <p class="banner warn" role="alert" id="pool-problem">
          {problem}
        </p>
      )}
      {page && page.items.length === 0 && <p class="muted">{p("pool_empty")}</p>}
      <ul class="pool-list" id="pool-list">
        {page?.items.map((item) => (
          <li data-doc={item.doc_id}>
            <b>{item.name || "—"}</b>
            <div class="meta">
              {[item.code, [item.province, item.city].filter(Boolean).join(" "), reasonLabel(item.reason)].filter(Boolean).join(" · ")}
            </div>
            <button class="primary claim" disabled={busy !== ""} onClick={() => void claim(item)}>
              {p("pool_claim")}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function reasonLabel(reason: string): string {
  const key = `reason_${reason}`;
  return key in P ? p(key as PoolKey) : reason;
}
