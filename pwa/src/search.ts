// Customer search for the picker and the list: name, short name, code and pinyin initials
// ("bjyhcd" finds 北京友好创达…), with today's and recently used customers first. Pure: it
// reads DocInfo rows and keeps one search key per record object, so 50,000 cards stay fast.
import type { DocInfo } from "./briefcase";

// Pinyin initials by the zh-CN pinyin collation: the first character of each initial's
// block (阿 a, 八 b, 嚓 c…); a character's initial is the last boundary it sorts after.
// i, u and v begin no syllable, hence 23 letters.
const BOUNDS = "阿八嚓哒妸发旮哈讥咔垃妈拏噢妑七呥扨它穵夕丫帀";
const LETTERS = "abcdefghjklmnopqrstwxyz";
// Characters whose reading in company and place names is usually not their collation one
// (重庆 chong, 长沙 chang, 银行 hang, 厦门 xia…): searched both ways.
const OTHER_READING: Record<string, string> = { 重: "c", 长: "c", 行: "h", 厦: "x", 乐: "y", 藏: "z", 调: "t", 单: "s", 朝: "c", 曾: "z", 解: "x", 会: "k", 传: "z", 率: "l" };

let collator: Intl.Collator | null = null;
// A character's initial by its code: 0 not looked up yet, 1 none, else the letter's code.
const initialOf = new Uint8Array(0x10000);
const otherOf = new Uint8Array(0x10000);
for (const [ch, l] of Object.entries(OTHER_READING)) otherOf[ch.charCodeAt(0)] = l.charCodeAt(0);

function initial(c: number): number {
  const got = initialOf[c];
  if (got) return got;
  collator ??= new Intl.Collator("zh-Hans-CN-u-co-pinyin");
  const ch = String.fromCharCode(c);
  let lo = 0;
  let hi = BOUNDS.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (collator.compare(ch, BOUNDS[mid]) >= 0) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  initialOf[c] = at < 0 ? 1 : LETTERS.charCodeAt(at);
  return initialOf[c];
}

/**
 * The pinyin initials of the Chinese characters in `text` (other letters and digits kept,
 * lower case; anything else dropped), and a second spelling with the other reading of
 * the polyphones in OTHER_READING, or "" when there are none.
 */
export function initials(text: string): [string, string] {
  const main: number[] = [];
  let other: number[] | null = null;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf)) {
      const ini = initial(c);
      if (ini === 1) continue;
      const o = otherOf[c];
      if (o && o !== ini) other ??= main.slice();
      main.push(ini);
      other?.push(o || ini);
      continue;
    }
    if (c >= 65 && c <= 90) c += 32;
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 122)) {
      main.push(c);
      other?.push(c);
    }
  }
  return [String.fromCharCode(...main), other ? String.fromCharCode(...other) : ""];
}

interface Key {
  /** Everything searchable in one string, for a quick "no" on most cards. */
  all: string;
  name: string;
  short: string;
  code: string;
  ini: string; // initials, and the other reading's, separated by \u0001
}

// One key per record object: a record changed on the device or by sync is a new object,
// so a stale key can never be read, and unchanged cards are never keyed twice.
const keys = new WeakMap<object, Key>();

function keyOf(info: DocInfo): Key {
  const r = info.record;
  let k = keys.get(r);
  if (k) return k;
  const name = typeof r.name === "string" ? r.name.toLowerCase() : "";
  const short = typeof r.short_name === "string" ? r.short_name.toLowerCase() : "";
  const code = typeof r.code === "string" ? r.code.toLowerCase() : "";
  const [a, b] = initials(name);
  const ini = b ? `${a}\u0001${b}` : a;
  k = { all: `${name}\u0001${short}\u0001${code}\u0001${ini}`, name, short, code, ini };
  keys.set(r, k);
  return k;
}

const text = (v: unknown): string => (typeof v === "string" ? v : "");

/** Let the record `to` use the key of `from` when the fields a key is made of are the same
 *  (a card read after its stand-in from the list's snapshot, an edit of another field): the
 *  initials of a name are not worked out twice. */
export function adoptKey(from: Record<string, unknown>, to: Record<string, unknown>): void {
  const k = keys.get(from);
  if (!k || keys.has(to)) return;
  if (text(from.name) === text(to.name) && text(from.short_name) === text(to.short_name) && text(from.code) === text(to.code)) keys.set(to, k);
}

/** Build the search keys of `infos` ahead of the first keystroke (idle time). */
export function prepareSearch(infos: Iterable<DocInfo>): void {
  for (const info of infos) if (info.kind === "customer") keyOf(info);
}

/** How well a key matches the (lower-case, trimmed) needle; 0 is no match. */
function matchScore(k: Key, needle: string, ascii: boolean): number {
  if (!k.all.includes(needle)) return 0;
  if (k.code === needle) return 7;
  if (k.name.startsWith(needle)) return 6;
  if (k.code.startsWith(needle)) return 5;
  if (ascii && (k.ini.startsWith(needle) || k.ini.includes(`\u0001${needle}`))) return 4;
  if (k.name.includes(needle)) return 3;
  if (k.short.includes(needle) || k.code.includes(needle)) return 2;
  return ascii && k.ini.includes(needle) ? 1 : 0;
}

export interface SearchOptions {
  /** At most this many results (default 50). */
  limit?: number;
  /** Customers to put first, with their weight (today's 2, recent 1): see `customerBoost`. */
  boost?: ReadonlyMap<string, number>;
}

/** Live customers (merged cards left out) matching `query`, best first: boosted customers,
 *  then the better match (exact code, name prefix, code prefix, initials, contained), then
 *  by name. An empty query gives the boosted customers only. */
export function searchCustomers(infos: Iterable<DocInfo>, query: string, opts: SearchOptions = {}): DocInfo[] {
  const limit = opts.limit ?? 50;
  const boost = opts.boost ?? new Map<string, number>();
  const needle = query.trim().toLowerCase();
  if (!needle) {
    const out: DocInfo[] = [];
    for (const info of infos) {
      if (info.kind === "customer" && !info.record.merged_into && boost.has(info.id)) out.push(info);
    }
    return out.sort((x, y) => boost.get(y.id)! - boost.get(x.id)! || cmpName(x, y)).slice(0, limit);
  }
  const ascii = /^[0-9a-z]+$/.test(needle);
  // Hits by score (match 1-7, plus 10 per boost step): a common word ("科技") can match the
  // whole briefcase, so nothing sorts every hit; only the best `limit` are kept per bucket.
  const buckets: DocInfo[][] = [];
  for (const info of infos) {
    if (info.kind !== "customer" || info.record.merged_into) continue;
    const s = matchScore(keyOf(info), needle, ascii);
    if (s) (buckets[s + 10 * (boost.get(info.id) ?? 0)] ??= []).push(info);
  }
  const out: DocInfo[] = [];
  for (let score = buckets.length - 1; score > 0 && out.length < limit; score--) {
    const b = buckets[score];
    if (b) out.push(...smallestByName(b, limit - out.length));
  }
  return out;
}

/** The `k` first of `list` by name, in order, without sorting all of it. */
function smallestByName(list: DocInfo[], k: number): DocInfo[] {
  if (list.length <= k) return list.sort(cmpName);
  const top: DocInfo[] = [];
  for (const x of list) {
    if (top.length === k && cmpName(x, top[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmpName(top[mid], x) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, x);
    if (top.length > k) top.pop();
  }
  return top;
}

// Code-point order, not the collator: it is what keeps one search under a few ms, and the
// picker's list is short.
function cmpName(x: DocInfo, y: DocInfo): number {
  const a = String(x.record.name ?? "");
  const b = String(y.record.name ?? "");
  return a < b ? -1 : a > b ? 1 : 0;
}

function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/**
 * Today's customers (a task planned for today, a visit, service sheet, deal or progress
 * record dated today, or the card made today) weigh 2; recently opened ones (`recent`, most
 * recent first) and those of the last week's records weigh 1.
 */
export function customerBoost(infos: Iterable<DocInfo>, recent: readonly string[], now = Date.now(), resolve: (id: string) => string = (id) => id): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of recent) out.set(resolve(id), 1);
  const today = localDay(now);
  const weekAgo = now - 7 * 86_400_000;
  for (const info of infos) {
    const r = info.record;
    const at = [info.kind === "task" ? r.planned_start : undefined, r.started_at, r.responded_at, r.created_at].find((v) => typeof v === "number") as number | undefined;
    const t = at ?? (typeof r.service_date === "string" ? Date.parse(r.service_date) : undefined);
    if (t === undefined || t < weekAgo) continue;
    const cid = info.kind === "customer" ? info.id : typeof r.customer_id === "string" ? resolve(r.customer_id) : null;
    if (!cid) continue;
    const w = localDay(t) === today ? 2 : 1;
    if ((out.get(cid) ?? 0) < w) out.set(cid, w);
  }
  return out;
}
