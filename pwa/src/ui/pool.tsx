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
  release: ["释放到公海", "Release to the pool"],
  release_confirm: ["释放后该客户将离开你的客户列表,任何业务员都可以领取。确定释放?", "The customer leaves your list and any rep may claim it. Release it?"],
  released: ["已释放到公海", "Released to the pool"],
  extend: ["申请延期", "Ask for an extension"],
  extend_days: ["延期天数", "Days"],
  extend_reason: ["理由", "Reason"],
  extend_sent: ["延期申请已提交,等待上级批准", "Extension requested; your manager decides"],
  to_bin: ["移入回收站", "Move to the recycle bin"],
  bin_confirm: ["该无效客户将移入回收站,离开所有人的客户列表(可由上级或管理员恢复)。确定?", "This invalid customer goes to the recycle bin and leaves every list (a manager or an admin can restore it). Go on?"],
  binned: ["已移入回收站", "Moved to the recycle bin"],
  "pool.not_yours": ["只有客户经理、其上级或管理员可以这样做", "Only the owner, their manager or an admin may do this"],
  "pool.extension_pending": ["已有一个延期申请在等待批准", "An extension request is already waiting"],
  "pool.extension_days": ["延期天数为 1 到 90", "Days are 1 to 90"],
  "pool.extension_reason": ["请填写理由", "Give a reason"],
  "pool.in_pool": ["该客户已在公海中", "This customer is already in the pool"],
  "bin.not_invalid": ["只有状况为“无效”的客户可以移入回收站", "Only a customer whose status is Invalid goes to the recycle bin"],
  "bin.not_yours": ["只有客户经理、其上级或管理员可以这样做", "Only the owner, their manager or an admin may do this"],
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

/** On a customer card, for its owner or their manager: release it to the pool, ask for an
 * extension before the automatic release (the owner), or move an invalid one to the bin. */
export function HoldActions({ id, ownerId, invalid }: { id: string; ownerId: string; invalid: boolean }) {
  const a = app!;
  const [asking, setAsking] = useState(false);
  const [days, setDays] = useState("14");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState("");
  const mine = a.api.session?.user.id === ownerId;
  const call = async (path: string, body: unknown, done: PoolKey, leave: boolean) => {
    try {
      await a.api.request("POST", path, body);
      flash(p(done));
      setProblem("");
      setAsking(false);
      if (leave) location.hash = "#/customers";
    } catch (e) {
      setProblem(refusal(e));
    }
  };
  return (
    <div class="hold-actions" id="hold-actions">
      <button class="secondary" id="release" onClick={() => confirm(p("release_confirm")) && void call(`/api/pool/${id}/release`, undefined, "released", true)}>
        {p("release")}
      </button>
      {mine && (
        <button class="secondary" id="extend" onClick={() => setAsking(!asking)}>
          {p("extend")}
        </button>
      )}
      {invalid && (
        <button class="secondary" id="to-bin" onClick={() => confirm(p("bin_confirm")) && void call(`/api/bin/${id}`, undefined, "binned", true)}>
          {p("to_bin")}
        </button>
      )}
      {asking && (
        <div class="extend-form">
          <label>
            {p("extend_days")}
            <input id="extend-days" type="number" min="1" max="90" value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {p("extend_reason")}
            <input id="extend-reason" maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
          <button class="primary" id="extend-send" onClick={() => void call(`/api/pool/${id}/extension`, { days: Number(days), reason }, "extend_sent", false)}>
            {p("extend")}
          </button>
        </div>
      )}
      {problem && (
        <p class="banner warn" role="alert" id="hold-problem">
          {problem}
        </p>
      )}
    </div>
  );
}
