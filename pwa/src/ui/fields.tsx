// Schema-driven inputs: one widget per field type, labels and enums from `/api/schema`.
import type { Field } from "../schema";
import { label, t } from "../i18n";
import type { Values } from "../records";
import { str } from "../records";

const pad = (n: number) => String(n).padStart(2, "0");

export function msToLocal(ms: unknown): string {
  if (typeof ms !== "number") return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function localToMs(s: string): number | undefined {
  if (!s) return undefined;
  const ms = new Date(s).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

interface Props {
  f: Field;
  value: unknown;
  onChange: (v: unknown) => void;
  problems?: string[];
  readOnly?: boolean;
  hint?: string;
}

export function FieldRow({ f, value, onChange, problems = [], readOnly, hint }: Props) {
  const id = `f-${f.name}`;
  const req = f.required !== "no";
  const max = f.limits?.max_length;
  const n = typeof value === "string" ? [...value].length : 0;
  return (
    <div class={`field${problems.length ? " bad" : ""}`} data-field={f.name}>
      <label for={id}>
        {label(f)}
        {req && <span class="req">*</span>}
        {f.y_type === "text" && max !== undefined && (
          <span class={`count${n > max ? " over" : ""}`}>
            {n}/{max}
          </span>
        )}
      </label>
      <Input id={id} f={f} value={value} onChange={onChange} readOnly={readOnly} />
      {hint && <div class="hint">{hint}</div>}
      {problems.map((p) => (
        <div class="problem" role="alert">
          {p}
        </div>
      ))}
    </div>
  );
}

function Input({ id, f, value, onChange, readOnly }: { id: string } & Props) {
  if (f.enum) {
    const numeric = typeof f.enum[0]?.value === "number";
    return (
      <select
        id={id}
        name={f.name}
        disabled={readOnly}
        value={value === undefined || value === null ? "" : String(value)}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          onChange(v === "" ? undefined : numeric ? Number(v) : v);
        }}
      >
        <option value="">—</option>
        {f.enum.map((o) => (
          <option value={String(o.value)}>{label(o)}</option>
        ))}
      </select>
    );
  }
  const common = { id, name: f.name, readOnly, disabled: readOnly };
  switch (f.type) {
    case "timestamp":
      return (
        <input
          {...common}
          type="datetime-local"
          value={msToLocal(value)}
          onChange={(e) => onChange(localToMs((e.target as HTMLInputElement).value))}
        />
      );
    case "date":
      return <input {...common} type="date" value={str(value)} onChange={(e) => onChange((e.target as HTMLInputElement).value || undefined)} />;
    case "integer":
    case "number":
      return (
        <input
          {...common}
          type="number"
          inputMode={f.type === "integer" ? "numeric" : "decimal"}
          min={f.limits?.min}
          max={f.limits?.max}
          value={typeof value === "number" ? String(value) : ""}
          onInput={(e) => {
            const s = (e.target as HTMLInputElement).value;
            onChange(s === "" ? undefined : Number(s));
          }}
        />
      );
    case "boolean":
      return <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange((e.target as HTMLInputElement).checked || undefined)} />;
  }
  if (f.y_type === "text") {
    return <textarea {...common} rows={3} value={str(value)} onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)} />;
  }
  const type = f.format === "email" ? "email" : f.format === "phone" || f.format === "mobile" ? "tel" : "text";
  const inputMode = f.format === "postcode" || f.format === "mobile" ? "numeric" : undefined;
  return (
    <input
      {...common}
      type={type}
      inputMode={inputMode}
      autoComplete="off"
      value={str(value)}
      onInput={(e) => onChange((e.target as HTMLInputElement).value)}
    />
  );
}

/** A Y.Array of Y.Map field (contacts, products): one block of inputs per item. */
export function ListEditor({
  f,
  items,
  onChange,
  addLabel,
  problems,
  makeItem,
  skip,
  itemTitle,
}: {
  f: Field;
  items: Values[];
  onChange: (items: Values[]) => void;
  addLabel: string;
  problems: Record<string, string[]>;
  makeItem?: () => Values;
  /** Sub-fields drawn elsewhere (the customer form's first contact on its first screen). */
  skip?: (index: number, name: string) => boolean;
  itemTitle?: (item: Values, index: number) => string | undefined;
}) {
  const fields = (f.items ?? []).filter((x) => x.name !== "id");
  return (
    <fieldset class="list" data-field={f.name}>
      <legend>{label(f)}</legend>
      {items.map((item, i) => (
        <div class="item" data-item={i}>
          {itemTitle?.(item, i) && <div class="item-title">{itemTitle(item, i)}</div>}
          {fields.filter((sf) => !skip?.(i, sf.name)).map((sf) => (
            <FieldRow
              f={{ ...sf, name: `${f.name}.${i}.${sf.name}` }}
              value={item[sf.name]}
              problems={problems[`${f.name}.${i}.${sf.name}`]}
              onChange={(v) => onChange(items.map((x, j) => (j === i ? { ...x, [sf.name]: v } : x)))}
            />
          ))}
          <button type="button" class="link danger" onClick={() => onChange(items.filter((_, j) => j !== i))}>
            {t("remove")}
          </button>
        </div>
      ))}
      <button type="button" class="secondary" onClick={() => onChange([...items, makeItem ? makeItem() : {}])}>
        + {addLabel}
      </button>
    </fieldset>
  );
}
