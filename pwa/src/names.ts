// Customer identity keys on the device: the twin of schema/names.py.
// Every function here must return exactly what its Python namesake returns (checked against
// tests/data/names.json by tests/schema/test_names.py); the rules are in docs/duplicates.md.
// Only erasable TypeScript syntax (annotations), so a plain type-stripper can run it.

/** Provincial-level divisions and larger cities, short forms; same list as schema/names.py. */
export const PLACES: readonly string[] = [
  // municipalities, provinces, autonomous regions, SARs
  "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏",
  "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南",
  "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏",
  "宁夏", "新疆", "香港", "澳门",
  // cities
  "石家庄", "唐山", "保定", "邯郸", "秦皇岛", "廊坊", "沧州", "邢台", "张家口", "承德",
  "太原", "大同", "长治", "晋中", "呼和浩特", "包头", "鄂尔多斯", "赤峰",
  "沈阳", "大连", "鞍山", "抚顺", "锦州", "营口", "长春", "哈尔滨", "大庆", "齐齐哈尔",
  "南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州",
  "镇江", "泰州", "宿迁", "昆山", "江阴", "杭州", "宁波", "温州", "嘉兴", "湖州",
  "绍兴", "金华", "衢州", "舟山", "台州", "丽水", "义乌", "合肥", "芜湖", "蚌埠",
  "安庆", "马鞍山", "阜阳", "福州", "厦门", "泉州", "漳州", "莆田", "南昌", "赣州",
  "九江", "济南", "青岛", "淄博", "烟台", "潍坊", "济宁", "泰安", "威海", "日照",
  "临沂", "德州", "聊城", "东营", "郑州", "开封", "洛阳", "新乡", "南阳", "许昌",
  "武汉", "宜昌", "襄阳", "黄石", "十堰", "荆州", "长沙", "株洲", "湘潭", "衡阳",
  "岳阳", "常德", "广州", "深圳", "珠海", "汕头", "佛山", "江门", "湛江", "茂名",
  "肇庆", "惠州", "东莞", "中山", "潮州", "揭阳", "韶关", "南宁", "柳州", "桂林",
  "北海", "海口", "三亚", "成都", "绵阳", "德阳", "宜宾", "泸州", "南充", "乐山",
  "贵阳", "遵义", "昆明", "曲靖", "玉溪", "大理", "拉萨", "西安", "宝鸡", "咸阳",
  "榆林", "兰州", "天水", "西宁", "银川", "乌鲁木齐", "克拉玛依",
];

const PLACE_SUFFIXES = ["维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市"];
const SHI_KEEPERS = "场政";

// Sorting by (-length, code points) as Python does; every entry is in the BMP, so UTF-16
// length and comparison agree with Python's code-point ones.
function longestFirst(items: readonly string[]): string[] {
  return [...items].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
}

const PLACES_LONGEST_FIRST = longestFirst(PLACES);

const FORMS = [
  "股份有限公司", "有限责任公司", "有限公司", "股份公司", "公司",
  "incorporated", "corporation", "colimited", "limited", "company",
  "coltd", "gmbh", "corp", "ltd", "inc", "llc", "plc",
];

export const BRANCH_WORDS: readonly string[] = [
  "分公司", "办事处", "代表处", "联络处", "分厂", "分店", "分行", "支行", "营业部",
  "营业所", "分部", "经营部", "门市部", "分理处", "分所", "分院", "分校", "分中心",
];
const BRANCH_WORDS_LONGEST_FIRST = longestFirst(BRANCH_WORDS);
const PARENT_ENDS = ["公司", "集团", "银行"];

const OPEN = "([{【〔〖〘〚⦅⟦";
const CLOSE = ")]}】〕〗〙〛⦆⟧";
const DROPPED = /^[\p{P}\p{S}\p{Z}\p{Cc}\p{Cf}\p{Cs}]$/u;

function lower(ch: string): string {
  const cp = ch.codePointAt(0) as number;
  if (cp <= 0x058f || (cp >= 0x1e00 && cp <= 0x1fff)) return ch.toLowerCase();
  return ch;
}

/** NFKC, lower case (Latin, Greek, Cyrillic, Armenian), no spaces, symbols or punctuation. */
export function normalizeName(name: string): string {
  let out = "";
  for (const ch of name.normalize("NFKC")) {
    if (OPEN.includes(ch)) out += "(";
    else if (CLOSE.includes(ch)) out += ")";
    else if (!DROPPED.test(ch)) out += lower(ch);
  }
  return out.normalize("NFKC");
}

function takePlace(s: string): [string, number] | null {
  for (const place of PLACES_LONGEST_FIRST) {
    if (!s.startsWith(place)) continue;
    let end = place.length;
    for (const suffix of PLACE_SUFFIXES) {
      if (s.startsWith(suffix, end)) {
        const after = s.slice(end + suffix.length, end + suffix.length + 1);
        if (!(suffix === "市" && after !== "" && SHI_KEEPERS.includes(after))) end += suffix.length;
        break;
      }
    }
    return [place, end];
  }
  return null;
}

function stripForms(s: string): string {
  let changed = true;
  while (changed) {
    changed = false;
    for (const form of FORMS) {
      if (s.endsWith(form)) {
        s = s.slice(0, s.length - form.length);
        changed = true;
        break;
      }
    }
  }
  return s;
}

function entity(s: string): string {
  const places: string[] = [];
  const plain = s
    .replace(/\(([^()]*)\)/g, (_m: string, inner: string) => {
      const taken = takePlace(inner);
      if (taken !== null && taken[1] === inner.length) {
        places.push(taken[0]);
        return "";
      }
      return inner;
    })
    .replace(/[()]/g, "");
  let rest = stripForms(plain);
  const taken = takePlace(rest);
  if (taken !== null) {
    places.unshift(taken[0]);
    rest = rest.slice(taken[1]);
  }
  const unique: string[] = [];
  for (const place of places) if (!unique.includes(place)) unique.push(place);
  return unique.join("") + rest || plain;
}

function branch(s: string): string {
  s = s.replace(/[()]/g, "");
  const taken = takePlace(s);
  return taken === null ? s : taken[0] + s.slice(taken[1]);
}

function canonical(s: string): string {
  if (s.endsWith(")")) {
    const start = s.lastIndexOf("(");
    const inner = s.slice(start + 1, -1);
    if (start >= 0 && !inner.includes(")") && BRANCH_WORDS.some((w) => inner.endsWith(w))) {
      s = s.slice(0, start) + inner;
    }
  }
  const word = BRANCH_WORDS_LONGEST_FIRST.find((w) => s.endsWith(w));
  if (word === undefined) return entity(s);
  const head = s.slice(0, s.length - word.length);
  let cut = -1;
  for (const end of PARENT_ENDS) {
    if (head.includes(end)) cut = Math.max(cut, head.lastIndexOf(end) + end.length);
  }
  if (cut <= 0) return branch(s);
  return canonical(head.slice(0, cut)) + branch(head.slice(cut) + word);
}

/** The key under which two customer names count as the same entity (see canonical_name). */
export function canonicalName(name: string): string {
  return canonical(normalizeName(name));
}

const ALTERNATIVES = ["/", "、", ";", "；", "|", "或"];
const EXTENSION_MARKS = ["转", "分机", "ext", "x", "#", ",", "，", "~"];
const MOBILE_AT_START = /^1[3-9][0-9]{9}/;
const MOBILE = /^1[3-9][0-9]{9}$/;

/** Digits that identify a phone line: national form, country code and extension dropped. */
export function normalizePhone(s: string): string {
  let t = s.normalize("NFKC").replace(/[A-Z]/g, (c) => c.toLowerCase());
  for (const sep of ALTERNATIVES) {
    const at = t.indexOf(sep);
    if (at >= 0) t = t.slice(0, at);
  }
  let cut = t.length;
  for (const mark of EXTENSION_MARKS) {
    const at = t.indexOf(mark);
    if (at >= 0 && at < cut) cut = at;
  }
  t = t.slice(0, cut);
  const groups = t.match(/[0-9]+/g) ?? [];
  if (groups.length === 0) return "";
  let digits = groups.join("");
  let ends: number[] = [];
  for (const g of groups) ends.push((ends.at(-1) ?? 0) + g.length);
  const plus = t.indexOf("+");
  const international = plus >= 0 && plus < t.indexOf(groups[0] as string);

  let strip = 0;
  if (international) {
    if (!digits.startsWith("86")) return "00" + digits;
    strip = 2;
  } else if (digits.startsWith("0086")) {
    strip = 4;
  } else if (digits.startsWith("00")) {
    return digits;
  } else if (
    (groups[0] === "86" && groups.length > 1) ||
    (digits.length === 13 && digits.startsWith("86") && MOBILE.test(digits.slice(2)))
  ) {
    strip = 2;
  }
  if (strip) {
    digits = digits.slice(strip);
    ends = ends.filter((e) => e > strip).map((e) => e - strip);
    if (!MOBILE_AT_START.test(digits) && !digits.startsWith("0")) {
      digits = "0" + digits; // +86 21 … is dialled 021 … at home
      ends = ends.map((e) => e + 1);
    }
  }
  const inner = ends.slice(0, -1);
  const upto = (length: number): string => (inner.includes(length) ? digits.slice(0, length) : digits);

  if (MOBILE_AT_START.test(digits)) return upto(11);
  if (digits.startsWith("0")) {
    if (digits[1] === "1" || digits[1] === "2") return digits.slice(0, 11);
    const e = inner.find((x) => x === 11 || x === 12);
    return e === undefined ? digits : digits.slice(0, e);
  }
  if (digits.startsWith("400") || digits.startsWith("800")) return digits.slice(0, 10);
  const e = inner.find((x) => x === 7 || x === 8);
  return e === undefined ? digits : digits.slice(0, e);
}

const CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const BLANK = /^[\p{Zs}\p{Zl}\p{Zp}\p{Cc}\p{Cf}]$/u;

/** The 18th character of a unified social credit code, from its first 17. */
export function creditCodeCheckChar(first17: string): string {
  const chars = [...first17];
  if (chars.length !== 17) {
    throw new RangeError(`need the first 17 characters of a credit code, got ${chars.length}`);
  }
  let total = 0;
  chars.forEach((ch, i) => {
    const value = ch.length === 1 ? CREDIT_CHARS.indexOf(ch) : -1;
    if (value < 0) {
      throw new RangeError(
        `credit code character '${ch}' at position ${i + 1} is not allowed ` +
          "(0-9 and A-Z except I, O, S, V, Z)",
      );
    }
    total += value * (CREDIT_WEIGHTS[i] as number);
  });
  return CREDIT_CHARS.charAt((31 - (total % 31)) % 31);
}

/** Validate a unified social credit code (GB 32100-2015); upper-case, spaces removed. */
export function checkCreditCode(code: string): string {
  const chars = [...code.normalize("NFKC")]
    .filter((c) => !BLANK.test(c))
    .map((c) => (c >= "a" && c <= "z" ? c.toUpperCase() : c));
  if (chars.length !== 18) throw new RangeError(`a credit code has 18 characters, got ${chars.length}`);
  const expected = creditCodeCheckChar(chars.slice(0, 17).join(""));
  const last = chars[17] as string;
  if (last !== expected) {
    if (last.length !== 1 || !CREDIT_CHARS.includes(last)) {
      throw new RangeError(
        `credit code character '${last}' at position 18 is not allowed ` +
          "(0-9 and A-Z except I, O, S, V, Z)",
      );
    }
    throw new RangeError(`credit code check character is '${last}', expected '${expected}'`);
  }
  return chars.join("");
}

export type KeyKind = "name" | "credit_code" | "phone";
export const INDEX_KEY_BYTES = 12;
const MIN_SECRET_BYTES = 16;

/** Keyed hash for the offline duplicate index: HMAC-SHA256("<kind>:<canonical>"), 12 bytes, base64url. */
export async function indexKey(secret: Uint8Array, value: string, kind: KeyKind = "name"): Promise<string> {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new RangeError(`index secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  let canon: string;
  if (kind === "name") canon = canonicalName(value);
  else if (kind === "credit_code") canon = checkCreditCode(value);
  else if (kind === "phone") canon = normalizePhone(value);
  else throw new RangeError(`unknown index key kind '${kind as string}'`);
  if (!canon) throw new RangeError(`nothing to index: ${kind} '${value}' is empty once normalised`);
  const key = await crypto.subtle.importKey("raw", new Uint8Array(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${kind}:${canon}`)));
  let binary = "";
  for (const byte of mac.subarray(0, INDEX_KEY_BYTES)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
