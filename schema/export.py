"""The schema as JSON, for `GET /api/schema`: the PWA builds its forms from it and any other
client can check its records against it. Stable: the same declarations give the same JSON."""

from __future__ import annotations

from typing import Any

from schema.derive import COMPLETENESS_ITEMS
from schema.duties import duties_json
from schema.formats import FORMATS
from schema.kinds import (
    CLASS_STAGES,
    FOLLOW_UP_DAYS,
    KINDS,
    MAX_ATTACHMENT_BYTES,
    SERVICE_SUBJECT_STEM,
    Field,
    Kind,
)

SCHEMA_VERSION = 1

# Rules every kind obeys, beside the per-field limits and the kinds' own rules.
GENERAL_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "layout.root",
        "A record doc has one root, the Y.Map 'record'.",
        "记录文档只有一个根类型:名为 record 的 Y.Map。",
    ),
    (
        "layout.y_type",
        "Each field has its declared Y type (plain value, Y.Text or Y.Array).",
        "每个字段使用声明的 Y 类型(普通值、Y.Text 或 Y.Array)。",
    ),
    (
        "layout.item",
        "List items are Y.Maps (or plain values for lists of ids).",
        "列表项为 Y.Map(id 列表为普通值)。",
    ),
    ("unknown_field", "Only declared fields may be written.", "只能写入已声明的字段。"),
    ("type", "A value has its declared type.", "值须为声明的类型。"),
    (
        "required",
        "Required fields are filled in once the record is submitted "
        "(submitted_at set); fields required 'always' from the start.",
        "记录提交(submitted_at 已设置)后必填项须填写;“始终”必填的字段从创建起即须填写。",
    ),
    ("enum", "An enumerated field holds one of its values.", "枚举字段须为允许的值之一。"),
    ("format.*", "Formatted text matches its format (see formats).", "须符合规定格式。"),
    ("format.doc_id", "A reference is a doc id <kind>:<uuid>.", "引用须为文档编号 <kind>:<uuid>。"),
    (
        "reference.kind",
        "A reference points at a record of the declared kind.",
        "引用须指向声明类型的记录。",
    ),
    ("max_length", "Text is not longer than its limit (characters).", "文字不超过字数上限。"),
    ("min_length", "Text is not shorter than its minimum (characters).", "文字不少于最少字数。"),
    ("range", "A number lies within its minimum and maximum.", "数值在最小值和最大值之间。"),
    ("max_items", "A list has at most its limit of items.", "列表项数不超过上限。"),
    (
        "gps.incomplete",
        "A GPS fix has latitude, longitude and accuracy, or none.",
        "定位须同时有纬度、经度和精度,或都不填。",
    ),
    (
        "server_only",
        "Server-only fields are written by the server alone.",
        "仅服务器字段只能由服务器写入。",
    ),
    ("permission", "The author's role may write the field.", "作者的角色有权写入该字段。"),
    (
        "immutable",
        "Fields fixed at creation are not changed afterwards (server excepted).",
        "创建时确定的字段之后不能修改(服务器除外)。",
    ),
    (
        "created_by.actor",
        "At creation, created_by is the author (admin and server excepted).",
        "创建时创建人必须是作者本人(管理员和服务器除外)。",
    ),
    (
        "submitted_at.retract",
        "A submitted record cannot go back to draft.",
        "已提交的记录不能退回草稿。",
    ),
)


def field_json(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f.name,
        "type": f.type,
        "y_type": f.y_type,
        "label_zh": f.label_zh,
        "label_en": f.label_en,
        "required": f.required,
    }
    if f.enum:
        out["enum"] = [
            {
                "value": e.value,
                "label_zh": e.label_zh,
                "label_en": e.label_en,
                **({"note_zh": e.note_zh, "note_en": e.note_en} if e.note_zh else {}),
            }
            for e in f.enum
        ]
    limits = {
        key: value
        for key, value in (
            ("min", f.min_value),
            ("max", f.max_value),
            ("min_length", f.min_length),
            ("max_length", f.max_length),
            ("max_items", f.max_items),
        )
        if value is not None
    }
    if limits:
        out["limits"] = {k: int(v) if float(v).is_integer() else v for k, v in limits.items()}
    if f.format:
        out["format"] = f.format
    if f.ref_kind:
        out["ref_kind"] = f.ref_kind
    if f.default is not None:
        out["default"] = f.default
    if f.server_only:
        out["server_only"] = True
    if f.ordered:
        out["ordered"] = True  # a list of scalars read in order, not as a set
    if f.writers is not None:
        out["writers"] = sorted(f.writers | {"system"})
    if f.immutable_after_create:
        out["immutable_after_create"] = True
        out["immutable_exempt"] = sorted(f.immutable_exempt)
    if f.items:
        out["items"] = [field_json(i) for i in f.items]
    if f.table:
        out["table"] = f.table
    if f.help_en:
        out["help_en"] = f.help_en
        out["help_zh"] = f.help_zh
    return out


def kind_json(k: Kind) -> dict[str, Any]:
    return {
        "name": k.name,
        "label_zh": k.label_zh,
        "label_en": k.label_en,
        "description_zh": k.description_zh,
        "description_en": k.description_en,
        "doc_id": f"{k.name}:<uuid>",
        "table": k.table,
        "fields": [field_json(f) for f in k.fields],
        "rules": [
            {"id": r.id, "fields": list(r.fields), "en": r.en, "zh": r.zh, "when": r.when}
            for r in k.rules
        ],
    }


def schema_json() -> dict[str, Any]:
    """The whole schema: kinds, fields, types, Y types, enums with both labels, rules."""
    return {
        "version": SCHEMA_VERSION,
        "layout": {
            "root": "record",
            "root_type": "Y.Map",
            "y_types": {
                "scalar": "plain map entry",
                "text": "Y.Text",
                "array": "Y.Array of Y.Map (or of plain values when a field has no items)",
            },
        },
        "formats": {
            name: {"en": f.en, "zh": f.zh, "example": f.example}
            for name, f in sorted(FORMATS.items())
        },
        "rules": [{"id": r, "en": en, "zh": zh} for r, en, zh in GENERAL_RULES],
        "kinds": [kind_json(k) for k in KINDS.values()],
        "customer_completeness": [
            {"item": name, "label_zh": zh, "label_en": en} for name, zh, en in COMPLETENESS_ITEMS
        ],
        "service_subject": {
            "template": "{year}年{month}月{day}日 {stem}服务",
            "stems": dict(SERVICE_SUBJECT_STEM),
        },
        "deal_follow_up_days": dict(FOLLOW_UP_DAYS),
        "deal_class_stages": {k: list(v) for k, v in CLASS_STAGES.items()},
        "max_attachment_bytes": MAX_ATTACHMENT_BYTES,
        "duties": duties_json(),
    }
