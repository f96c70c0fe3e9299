// The record schema the server publishes (`GET /api/schema`, schema/export.py): kinds,
// fields, Y types, enums with zh/en labels. Forms and checks are driven from it.
import type { Store } from "./store";

export interface EnumValue {
  value: string | number;
  label_zh: string;
  label_en: string;
  note_zh?: string;
  note_en?: string;
}

export interface Field {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "timestamp" | "date" | "doc_id" | "user_id" | "list";
  y_type: "scalar" | "text" | "array";
  label_zh: string;
  label_en: string;
  required: "no" | "on_submit" | "always";
  limits?: { max_length?: number; min_length?: number; min?: number; max?: number; max_items?: number };
  format?: string;
  enum?: EnumValue[];
  items?: Field[];
  ref_kind?: string;
  writers?: string[];
  server_only?: boolean;
  default?: unknown;
  help_zh?: string;
  help_en?: string;
}

export interface Kind {
  name: string;
  label_zh: string;
  label_en: string;
  fields: Field[];
  rules: Array<{ id: string; fields: string[]; en: string; zh: string }>;
}

export interface Schema {
  version: number;
  kinds: Kind[];
  formats: Record<string, { en: string; zh: string; example: string }>;
  customer_completeness: Array<{ item: string; label_zh: string; label_en: string }>;
  service_subject: { template: string; stems: Record<string, string> };
  deal_follow_up_days: Record<string, number>;
  deal_class_stages: Record<string, number[]>;
  max_attachment_bytes: number;
}

export function kind(schema: Schema, name: string): Kind {
  const k = schema.kinds.find((x) => x.name === name);
  if (!k) throw new Error(`the schema has no kind ${name}`);
  return k;
}

export function field(schema: Schema, kindName: string, name: string): Field | undefined {
  return kind(schema, kindName).fields.find((f) => f.name === name);
}

/** The cached schema at once; a fresh one from the server when online (stored for next time). */
export async function loadSchema(store: Store, base: string): Promise<Schema> {
  const cached = await store.meta<Schema>("schema");
  const fetchFresh = async (): Promise<Schema | null> => {
    for (const url of ["/api/schema", `${base}schema.json`]) {
      try {
        const r = await fetch(url, { cache: "no-cache" });
        if (r.ok) {
          const s = (await r.json()) as Schema;
          if (Array.isArray(s.kinds)) {
            await store.setMeta("schema", s);
            return s;
          }
        }
      } catch {
        // offline: the cached copy, or the precached build-time copy, serves
      }
    }
    return null;
  };
  if (cached) {
    void fetchFresh();
    return cached;
  }
  const fresh = await fetchFresh();
  if (!fresh) throw new Error("no schema: connect once to download it");
  return fresh;
}

// The formats of schema/formats.py, checked before saving so the rep sees problems at once;
// the server checks again and its word is final.
const FORMATS: Record<string, RegExp> = {
  phone: /^(?:0\d{2,3}-\d{7,8}|[48]00-\d{3}-\d{4})(?:-\d{1,6})?$/,
  mobile: /^1[3-9]\d{9}$/,
  email: /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/,
  website: /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?::\d{1,5})?(?:\/\S*)?$/,
  postcode: /^\d{6}$/,
  sha256: /^[0-9a-f]{64}$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  credit_code: /^[0-9ABCDEFGHJKLMNPQRTUWXY]{18}$/,
};

export interface Problem {
  field: string;
  rule: string;
  zh: string;
  en: string;
}

function filled(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === "string") return v.trim() !== "";
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/** Problems with one field's value, as far as the device can tell. */
export function checkField(schema: Schema, f: Field, v: unknown, submitting: boolean): Problem[] {
  const out: Problem[] = [];
  const label = { zh: f.label_zh, en: f.label_en };
  if (!filled(v)) {
    if (f.required === "always" || (submitting && f.required === "on_submit")) {
      out.push({ field: f.name, rule: "required", zh: `请填写${label.zh}`, en: `${label.en} is required` });
    }
    return out;
  }
  const lim = f.limits ?? {};
  if (typeof v === "string") {
    const n = [...v].length;
    if (lim.max_length !== undefined && n > lim.max_length) {
      out.push({
        field: f.name,
        rule: "max_length",
        zh: `${label.zh}最多 ${lim.max_length} 字(现在 ${n} 字)`,
        en: `${label.en}: at most ${lim.max_length} characters (now ${n})`,
      });
    }
    if (f.format && FORMATS[f.format] && !FORMATS[f.format].test(v)) {
      const fmt = schema.formats[f.format];
      out.push({
        field: f.name,
        rule: `format.${f.format}`,
        zh: `${label.zh}格式不对:${fmt?.zh ?? ""}${fmt ? `,如 ${fmt.example}` : ""}`,
        en: `${label.en}: expected ${fmt?.en ?? f.format}${fmt ? `, e.g. ${fmt.example}` : ""}`,
      });
    }
  }
  if (typeof v === "number") {
    if ((lim.min !== undefined && v < lim.min) || (lim.max !== undefined && v > lim.max)) {
      out.push({
        field: f.name,
        rule: "range",
        zh: `${label.zh}须在 ${lim.min ?? "-∞"} 到 ${lim.max ?? "∞"} 之间`,
        en: `${label.en} must lie between ${lim.min ?? "-∞"} and ${lim.max ?? "∞"}`,
      });
    }
  }
  return out;
}
