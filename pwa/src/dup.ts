// The duplicate warning while a customer name is typed: the server's lookup when online,
// the keyed-hash index kept on the device when not (pwa/src/names.ts makes the keys).
import type { Api } from "./api";
import { ApiError } from "./api";
import { indexKey } from "./names";
import type { IndexEntry, Store } from "./store";

export interface DupMatch {
  name?: string;
  code?: string;
  owner_name?: string;
  match?: string;
  doc_id?: string;
  offline?: boolean;
}

/**
 * One page of `GET /api/customers/index?cursor=`. Two shapes are read: the compact one of
 * server/duplicates.py `index_page` (`owners` listed once, one row per customer `[code, owner
 * index, name key, credit-code key or ""]`), and plain `entries` of {key, code, owner_name}.
 * `removed` lists customer codes (or keys) that left the index.
 */
interface IndexPage {
  secret?: string;
  cursor?: number;
  owners?: string[];
  customers?: Array<[string, number, string, string?]>;
  entries?: IndexEntry[];
  removed?: string[];
  more?: boolean;
}

function pageEntries(j: IndexPage): IndexEntry[] {
  const out: IndexEntry[] = [...(j.entries ?? [])];
  for (const [code, owner, nameKey, creditKey] of j.customers ?? []) {
    const owner_name = j.owners?.[owner];
    if (nameKey) out.push({ key: nameKey, code, owner_name, kind: "name" });
    if (creditKey) out.push({ key: creditKey, code, owner_name, kind: "credit_code" });
  }
  return out;
}

function b64ToBytes(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

export class Duplicates {
  private secret: Uint8Array | null = null;

  constructor(
    readonly store: Store,
    readonly api: Api,
  ) {}

  /** Matches for what is being typed; empty when the server has no such endpoint (404). */
  async lookup(name: string, phone: string, creditCode = ""): Promise<DupMatch[]> {
    if (!name.trim() && !phone.trim() && !creditCode.trim()) return [];
    if (navigator.onLine) {
      try {
        const q = new URLSearchParams({ name, phone, credit_code: creditCode });
        const r = await this.api.request("GET", `/api/customers/lookup?${q}`);
        const j = (await r.json()) as { matches?: DupMatch[]; customers?: DupMatch[] } | DupMatch[];
        return Array.isArray(j) ? j : (j.matches ?? j.customers ?? []);
      } catch (e) {
        if (e instanceof ApiError) return [];
        // no network after all: fall through to the index
      }
    }
    return this.offline(name, creditCode);
  }

  /** The index holds names and credit codes only (phone keys would be enumerable). */
  private async offline(name: string, creditCode: string): Promise<DupMatch[]> {
    const secret = this.secret ?? (await this.loadSecret());
    if (!secret) return [];
    const out: DupMatch[] = [];
    const tries: Array<[string, "name" | "credit_code"]> = [];
    if (name.trim()) tries.push([name, "name"]);
    if (creditCode.trim()) tries.push([creditCode, "credit_code"]);
    for (const [value, kind] of tries) {
      let key: string;
      try {
        key = await indexKey(secret, value, kind);
      } catch {
        continue;
      }
      const hit = await this.store.get<IndexEntry>("dupindex", key);
      if (hit) out.push({ code: hit.code, owner_name: hit.owner_name, match: kind, offline: true });
    }
    return out;
  }

  private keysOf(code: string): Promise<IDBValidKey[]> {
    const tx = this.store.db.transaction("dupindex", "readonly");
    const req = tx.objectStore("dupindex").index("code").getAllKeys(code);
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  private async loadSecret(): Promise<Uint8Array | null> {
    const s = await this.store.meta<string>("dupSecret");
    this.secret = s ? b64ToBytes(s) : null;
    return this.secret;
  }

  /** Bring the offline index up to date (incremental by cursor); quiet when unsupported. */
  async refresh(): Promise<void> {
    let cursor = (await this.store.meta<number>("dupCursor")) ?? 0;
    for (let page = 0; page < 1000; page++) {
      let j: IndexPage;
      try {
        const r = await this.api.request("GET", `/api/customers/index?cursor=${cursor}`);
        j = (await r.json()) as IndexPage;
      } catch {
        return;
      }
      const next = j.cursor ?? cursor;
      const entries = pageEntries(j);
      const stale = new Set([...(j.removed ?? []), ...entries.map((e) => e.code ?? "")].filter(Boolean));
      const staleKeys: IDBValidKey[] = [];
      for (const code of stale) staleKeys.push(...(await this.keysOf(code)));
      await this.store.write(["dupindex", "meta"], (s) => {
        // A renamed customer's old key goes before its new one is put.
        for (const k of staleKeys) s("dupindex").delete(k);
        for (const k of j.removed ?? []) s("dupindex").delete(k);
        for (const e of entries) s("dupindex").put(e);
        if (j.secret) s("meta").put(j.secret, "dupSecret");
        s("meta").put(next, "dupCursor");
      });
      if (j.secret) this.secret = b64ToBytes(j.secret);
      if (!j.more || next === cursor) return;
      cursor = next;
    }
  }
}
