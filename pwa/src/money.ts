// Money on the phone: an amount typed in yuan becomes integer fen (分) by string arithmetic,
// never through a float, and is refused with a named rule when it cannot be one.

/** The expense amount's bounds in fen (schema: amount_fen 1 .. 10_000_000, rule `range`). */
export const AMOUNT_LIMITS = { min: 1, max: 10_000_000 };

export type YuanParse =
  | { ok: true; fen: number }
  | { ok: false; rule: "money.format" | "money.decimals" | "range"; zh: string; en: string };

const FULL_WIDTH = /[０-９．，－＋]/g;

/**
 * Parse a typed amount in yuan ("1,234.5", "￥88", "１２．３０") into fen. Refused: anything
 * that is not a plain decimal number (`money.format`), more than two decimals
 * (`money.decimals`), zero, negative or outside `limits` (`range`).
 */
export function parseYuan(input: string, limits: { min: number; max: number } = AMOUNT_LIMITS): YuanParse {
  const s = input
    .replace(FULL_WIDTH, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s,¥￥]|元$/g, "");
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === "" && !m[3])) {
    return { ok: false, rule: "money.format", zh: "金额须是数字,以元为单位,如 128.50", en: "The amount must be a number in yuan, e.g. 128.50" };
  }
  const frac = m[3] ?? "";
  if (frac.length > 2) {
    return { ok: false, rule: "money.decimals", zh: "金额最多两位小数(精确到分)", en: "The amount has at most two decimals (to the fen)" };
  }
  const whole = m[2].replace(/^0+(?=\d)/, "");
  const range = {
    ok: false as const,
    rule: "range" as const,
    zh: `金额须在 ${formatFen(limits.min)} 到 ${formatFen(limits.max)} 之间`,
    en: `The amount must lie between ${formatFen(limits.min)} and ${formatFen(limits.max)}`,
  };
  // Too many digits to be in range: no arithmetic needed (and none that could lose precision).
  if (whole.length > 13) return m[1] === "-" ? { ...range } : range;
  const fen = Number(whole || "0") * 100 + Number(frac.padEnd(2, "0"));
  const signed = m[1] === "-" ? -fen : fen;
  if (signed < limits.min || signed > limits.max) return range;
  return { ok: true, fen: signed };
}

/** "¥1,234.50" from fen (integer), for lists and totals. */
export function formatFen(fen: number): string {
  const neg = fen < 0;
  const abs = Math.abs(Math.trunc(fen));
  const yuan = Math.floor(abs / 100).toLocaleString("en-US");
  return `${neg ? "-" : ""}¥${yuan}.${String(abs % 100).padStart(2, "0")}`;
}

/** The form's text for a stored amount: "1234.50". */
export function fenToInput(fen: unknown): string {
  if (typeof fen !== "number" || !Number.isInteger(fen)) return "";
  const abs = Math.abs(fen);
  return `${fen < 0 ? "-" : ""}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}
