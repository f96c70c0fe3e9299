"""Validation of a record change: types, enums, formats, required fields, the author's
field rights and the rules between fields and records.

Pure functions over plain records (as `schema.ydoc.read_record` returns them); the caller
loads the records a change refers to (`related_ids`) and passes them in as `related`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc

from schema.derive import expected_subject, filled, is_no_answer, stage_probability
from schema.formats import FORMATS, is_date
from schema.kinds import (
    APPROVAL_KINDS,
    AUTHOR_STATUSES,
    CLASS_STAGES,
    ROLES,
    Field,
    Kind,
    expense_type_word,
    get_kind,
)
from schema.violations import Violation
from schema.ydoc import read_record
from sync.protocol import DOC_ID_RE  # the wire format names docs; the schema checks them

__all__ = ["Actor", "Violation", "validate", "validate_doc", "related_ids", "DOC_ID_RE", "doc_kind"]



def doc_kind(doc_id: str) -> str | None:
    """The kind part of a well-formed doc id, else None."""
    m = DOC_ID_RE.match(doc_id)
    return m.group("kind") if m else None


@dataclass(frozen=True)
class Actor:
    """Who makes a change. `system` is the server itself and may set anything."""

    user_id: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")


def _label(f: Field, path: str) -> tuple[str, str]:
    return f"{f.label_en} ({path})", f"{f.label_zh}({path})"


def _v(f: Field, path: str, rule: str, en: str, zh: str) -> Violation:
    le, lz = _label(f, path)
    return Violation(path, rule, f"{le}: {en}", f"{lz}:{zh}")


# --- single values -----------------------------------------------------------------------


_TYPE_NAMES = {
    "string": ("a string", "字符串"),
    "integer": ("an integer", "整数"),
    "number": ("a number", "数字"),
    "boolean": ("true or false", "布尔值"),
    "timestamp": ("a timestamp in whole milliseconds", "毫秒时间戳(整数)"),
    "date": ("a date string YYYY-MM-DD", "日期字符串 YYYY-MM-DD"),
    "doc_id": ("a doc id <kind>:<uuid>", "文档编号 <kind>:<uuid>"),
    "user_id": ("a user id string", "用户编号字符串"),
    "list": ("a list", "列表"),
}


def _type_ok(f: Field, value: Any) -> bool:
    if f.type in ("string", "date", "doc_id", "user_id"):
        return isinstance(value, str)
    if f.type in ("integer", "timestamp"):
        return isinstance(value, int) and not isinstance(value, bool)
    if f.type == "number":
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    if f.type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list)


def _check_value(f: Field, path: str, value: Any) -> Iterator[Violation]:
    """Type, enum, format, range and length of one present scalar value."""
    if not _type_ok(f, value):
        en, zh = _TYPE_NAMES[f.type]
        yield _v(f, path, "type", f"expected {en}, got {value!r}", f"应为{zh},实际为 {value!r}")
        return
    if isinstance(value, str) and value.strip() == "":
        return  # blank counts as not filled in: "required" speaks for it
    if f.enum:
        if value not in f.enum_values:
            allowed = ", ".join(str(v) for v in f.enum_values)
            yield _v(
                f,
                path,
                "enum",
                f"{value!r} is not one of {allowed}",
                f"{value!r} 不是允许的值({allowed})",
            )
        return
    if f.type == "date" and not is_date(value):
        yield _v(
            f,
            path,
            "format.date",
            f"{value!r} is not a date YYYY-MM-DD",
            f"{value!r} 不是日期 YYYY-MM-DD",
        )
        return
    if f.type == "doc_id":
        kind = doc_kind(value)
        if kind is None:
            yield _v(
                f,
                path,
                "format.doc_id",
                f"{value!r} is not a doc id <kind>:<uuid>",
                f"{value!r} 不是文档编号 <kind>:<uuid>",
            )
        elif f.ref_kind and kind != f.ref_kind:
            yield _v(
                f,
                path,
                "reference.kind",
                f"{value!r} is not a {f.ref_kind} record",
                f"{value!r} 不是 {f.ref_kind} 记录",
            )
        return
    if f.format:
        fmt = FORMATS[f.format]
        if not fmt.check(value):
            yield _v(
                f,
                path,
                f"format.{fmt.name}",
                f"{value!r} is not {fmt.en} (e.g. {fmt.example})",
                f"{value!r} 不符合格式:{fmt.zh}(如 {fmt.example})",
            )
            return
    if isinstance(value, str):
        if f.max_length is not None and len(value) > f.max_length:
            yield _v(
                f,
                path,
                "max_length",
                f"{len(value)} characters, at most {f.max_length} allowed",
                f"{len(value)} 个字,最多 {f.max_length} 个字",
            )
        if f.min_length is not None and len(value) < f.min_length:
            yield _v(
                f,
                path,
                "min_length",
                f"{len(value)} characters, at least {f.min_length} needed",
                f"{len(value)} 个字,至少 {f.min_length} 个字",
            )
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if f.min_value is not None and value < f.min_value:
            yield _v(
                f,
                path,
                "range",
                f"{value} is below the minimum {_num(f.min_value)}",
                f"{value} 小于最小值 {_num(f.min_value)}",
            )
        if f.max_value is not None and value > f.max_value:
            yield _v(
                f,
                path,
                "range",
                f"{value} is above the maximum {_num(f.max_value)}",
                f"{value} 大于最大值 {_num(f.max_value)}",
            )


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _required(f: Field, path: str) -> Violation:
    return _v(f, path, "required", "is required", "必填")


def _unknown(path: str, kind: str) -> Violation:
    return Violation(
        path, "unknown_field", f"{path}: {kind} has no such field", f"{path}:{kind} 没有这个字段"
    )


def _check_fields(
    kind: Kind,
    fields: tuple[Field, ...],
    record: Mapping[str, Any],
    prefix: str,
    submitted: bool,
) -> Iterator[Violation]:
    declared = {f.name for f in fields}
    for key in sorted(record):
        if key not in declared and record[key] is not None:
            yield _unknown(prefix + key, kind.name)
    for f in fields:
        path = prefix + f.name
        value = record.get(f.name)
        needed = f.required == "always" or (f.required == "on_submit" and submitted)
        if not filled(value):
            if needed:
                yield _required(f, path)
            continue
        if f.y_type != "array":
            yield from _check_value(f, path, value)
            continue
        if not isinstance(value, list):
            yield _v(
                f, path, "type", f"expected a list, got {value!r}", f"应为列表,实际为 {value!r}"
            )
            continue
        if f.max_items is not None and len(value) > f.max_items:
            yield _v(
                f,
                path,
                "max_items",
                f"{len(value)} items, at most {f.max_items}",
                f"{len(value)} 项,最多 {f.max_items} 项",
            )
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if not f.items:
                yield from _check_value(f, ipath, item)
            elif not isinstance(item, Mapping):
                yield _v(
                    f,
                    ipath,
                    "type",
                    f"expected an object, got {item!r}",
                    f"应为对象,实际为 {item!r}",
                )
            else:
                yield from _check_fields(kind, f.items, item, ipath + ".", submitted)
                yield from _gps(f.items, item, ipath + ".")


def _gps(fields: tuple[Field, ...], record: Mapping[str, Any], prefix: str) -> Iterator[Violation]:
    names = ("gps_lat", "gps_lon", "gps_accuracy")
    if not any(f.name == "gps_lat" for f in fields):
        return
    present = [n for n in names if record.get(n) is not None]
    if present and len(present) != len(names):
        missing = [n for n in names if n not in present]
        path = prefix + missing[0]
        yield Violation(
            path,
            "gps.incomplete",
            f"{path}: a GPS fix needs latitude, longitude and accuracy together "
            f"(missing {', '.join(missing)})",
            f"{path}:定位须同时有纬度、经度和精度(缺少 {', '.join(missing)})",
        )


# --- rights ------------------------------------------------------------------------------


def _changed(before: Mapping[str, Any] | None, after: Mapping[str, Any], name: str) -> bool:
    old = before.get(name) if before is not None else None
    return bool(old != after.get(name))


def _check_rights(
    kind: Kind, before: Mapping[str, Any] | None, after: Mapping[str, Any], actor: Actor
) -> Iterator[Violation]:
    if actor.role == "system":
        return
    creating = before is None
    for f in kind.fields:
        if not _changed(before, after, f.name):
            continue
        new = after.get(f.name)
        if f.server_only:
            yield _v(f, f.name, "server_only", "is set by the server only", "只能由服务器设置")
            continue
        if f.immutable_after_create and not creating and actor.role not in f.immutable_exempt:
            yield _v(f, f.name, "immutable", "cannot be changed after creation", "创建后不能修改")
            continue
        if f.writers is not None and actor.role not in f.writers:
            if creating and (new == f.default or (f.name == "owner" and new == actor.user_id)):
                continue
            yield _v(
                f,
                f.name,
                "permission",
                f"a {actor.role} may not set this field",
                f"{actor.role} 无权设置此字段",
            )
    if creating and actor.role != "admin":
        created_by = after.get("created_by")
        if created_by is not None and created_by != actor.user_id:
            f = kind.field("created_by")
            yield _v(
                f,
                "created_by",
                "created_by.actor",
                f"must be the author {actor.user_id!r}, got {created_by!r}",
                f"必须是作者本人 {actor.user_id!r},实际为 {created_by!r}",
            )
    if before is not None and before.get("submitted_at") is not None:
        if after.get("submitted_at") is None:
            f = kind.field("submitted_at")
            yield _v(
                f,
                "submitted_at",
                "submitted_at.retract",
                "a submitted record cannot go back to draft",
                "已提交的记录不能退回草稿",
            )
    if kind.name == "customer" and _changed(before, after, "shared_with"):
        owner = (before or after).get("owner") or (before or after).get("created_by")
        if actor.role not in ("manager", "admin") and actor.user_id != owner:
            f = kind.field("shared_with")
            yield _v(
                f,
                "shared_with",
                "permission",
                "only the owner, a manager or an admin may change sharing",
                "只有客户经理、上级或管理员可以更改共享",
            )


# --- rules between fields and records ----------------------------------------------------

KindRule = Callable[
    [Kind, Mapping[str, Any], Mapping[str, Mapping[str, Any]], bool], Iterator[Violation]
]


def _rule(kind: Kind, rule: str, field: str, en: str, zh: str) -> Violation:
    f = kind.field(field)
    return _v(f, field, rule, en, zh)


def _time_order(kind: Kind, rec: Mapping[str, Any], first: str, second: str) -> Iterator[Violation]:
    a, b = rec.get(first), rec.get(second)
    if isinstance(a, int) and isinstance(b, int) and b < a:
        fa = kind.field(first)
        yield _rule(kind, "time_order", second, f"is before {fa.label_en}", f"早于{fa.label_zh}")


def _no_answer(kind: Kind, rec: Mapping[str, Any], field: str) -> Iterator[Violation]:
    text = rec.get(field)
    if isinstance(text, str) and is_no_answer(text):
        yield _rule(
            kind,
            "no_answer",
            field,
            f'{text!r} reports no real contact ("no answer" and the like do not count)',
            f"{text!r} 没有实际内容(“未接通”“无人接听”等不算有效联系)",
        )


def _visit(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    yield from _gps(kind.fields, rec, "")
    prev_id = rec.get("previous_visit_id")
    prev = related.get(prev_id) if isinstance(prev_id, str) else None
    if prev is not None and prev.get("customer_id") != rec.get("customer_id"):
        yield _rule(
            kind,
            "visit.previous_same_customer",
            "previous_visit_id",
            "the previous visit belongs to another customer",
            "上次拜访属于其他客户",
        )
    if submitted:
        yield from _time_order(kind, rec, "started_at", "ended_at")
        yield from _no_answer(kind, rec, "result")


def _service(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    subject = rec.get("subject")
    if filled(subject):
        expected = expected_subject(rec)
        if subject != expected:
            want = repr(expected) if expected else "absent until type and date are set"
            want_zh = repr(expected) if expected else "在类型和日期填写前应为空"
            yield _rule(kind, "service.subject", "subject", f"must be {want}", f"应为 {want_zh}")
    if submitted:
        if rec.get("status") == "completed" and rec.get("completed_at") is None:
            yield _rule(
                kind,
                "service.completed_needs_time",
                "completed_at",
                "a completed service needs its completion time",
                "完成的服务须填写完成时间",
            )
        yield from _time_order(kind, rec, "responded_at", "completed_at")


def _deal(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    customer_id = rec.get("customer_id")
    customer = related.get(customer_id) if isinstance(customer_id, str) else None
    if customer is not None and customer.get("category") not in (None, "", "direct"):
        yield _rule(
            kind,
            "deal.direct_customer_only",
            "customer_id",
            "deals are only for direct customers, not distributors",
            "只允许直接客户建立跟单,分销商客户不能建立跟单",
        )
    stage, probability = rec.get("stage"), rec.get("probability")
    if stage not in kind.field("stage").enum_values or isinstance(stage, bool):
        stage = None  # already refused as "enum"; judging the rest by it only adds noise
    if isinstance(stage, int) and isinstance(probability, int):
        if probability != stage_probability(stage):
            yield _rule(
                kind,
                "deal.probability",
                "probability",
                f"stage {stage} means {stage_probability(stage)}%, not {probability}%",
                f"阶段 {stage} 对应 {stage_probability(stage)}%,不是 {probability}%",
            )
    if submitted:
        deal_class = rec.get("deal_class")
        yield from _class_stage(kind, "deal.class_stage", deal_class, stage)
        if deal_class == "lost" and not filled(rec.get("lost_reason")):
            yield _rule(
                kind,
                "deal.lost_reason",
                "lost_reason",
                "a lost deal needs the reason",
                "放弃或丢单须写明原因",
            )


def _class_stage(kind: Kind, rule: str, deal_class: Any, stage: Any) -> Iterator[Violation]:
    """000 §4.1.3: each deal class allows only some stages."""
    allowed = CLASS_STAGES.get(deal_class) if isinstance(deal_class, str) else None
    if allowed is not None and isinstance(stage, int) and stage not in allowed:
        span = f"{allowed[0]}-{allowed[-1]}" if len(allowed) > 1 else str(allowed[0])
        yield _rule(kind, rule, "stage", f"a {deal_class} deal is at stage {span}, not {stage}",
                    f"该跟单主分类的阶段应为 {span},不是 {stage}")


def _progress(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    deal_id = rec.get("deal_id")
    deal = related.get(deal_id) if isinstance(deal_id, str) else None
    if deal is not None and deal.get("customer_id") != rec.get("customer_id"):
        yield _rule(
            kind,
            "progress.customer_matches_deal",
            "customer_id",
            "is not the deal's customer",
            "不是该跟单的客户",
        )
    if submitted:
        yield from _no_answer(kind, rec, "detail")
        stage = rec.get("stage")
        if stage not in kind.field("stage").enum_values or isinstance(stage, bool):
            stage = None  # already refused as "enum"
        deal_class = rec.get("deal_class") or (deal.get("deal_class") if deal else None)
        yield from _class_stage(kind, "progress.class_stage", deal_class, stage)


def _task(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    yield from _time_order(kind, rec, "planned_start", "planned_end")
    remind, end = rec.get("remind_at"), rec.get("planned_end")
    if isinstance(remind, int) and isinstance(end, int) and remind > end:
        yield _rule(kind, "task.remind_after_end", "remind_at",
                    "is after the planned end", "晚于计划结束时间")
    done, at = rec.get("status") == "done", rec.get("completed_at")
    if at is not None and not done:
        yield _rule(kind, "task.completed_needs_done", "completed_at",
                    "is set, but the task is not done", "已填写,但日程不是完成状态")
    if done and at is None:
        yield _rule(kind, "task.completed_needs_done", "completed_at",
                    "a done task needs its completion time", "完成的日程须填写完成时间")


CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def china_today() -> dt.date:
    """Today's calendar day in China, which dates every record."""
    return dt.datetime.now(CHINA).date()


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and is_date(value) else None


def _named_subject(
    kind: Kind, rec: Mapping[str, Any], rule: str, prefix: str | None
) -> Iterator[Violation]:
    """`subject` must be `prefix` followed by a name (the author's display name, which the
    phone knows and the schema does not). No prefix: the fields it is made of are not valid
    yet, and are refused by their own rules."""
    subject = rec.get("subject")
    if prefix is None or not isinstance(subject, str) or not subject.strip():
        return
    if not subject.startswith(prefix) or not subject[len(prefix):].strip():
        yield _rule(kind, rule, "subject", f"must be {prefix + '<name>'!r}, not {subject!r}",
                    f"应为 {prefix + '<姓名>'!r},实际为 {subject!r}")


def _day_order(kind: Kind, rec: Mapping[str, Any], first: str, second: str) -> Iterator[Violation]:
    a, b = _day(rec.get(first)), _day(rec.get(second))
    if a is not None and b is not None and b < a:
        fa = kind.field(first)
        yield _rule(kind, "time_order", second, f"is before {fa.label_en}", f"早于{fa.label_zh}")


def trip_plan_subject_prefix(rec: Mapping[str, Any]) -> str | None:
    """"YYYY年M月D日-<region>-出差计划—", without zero padding (000 §2.1)."""
    day, region = _day(rec.get("start_date")), rec.get("region")
    if day is None or not isinstance(region, str) or not region.strip():
        return None
    return f"{day.year}年{day.month}月{day.day}日-{region}-出差计划—"


def expense_subject_prefix(rec: Mapping[str, Any]) -> str | None:
    """"YYYY年MM月DD日<type>费用—", zero padded (000 §6.1)."""
    day = _day(rec.get("expense_date"))
    word = expense_type_word(t) if isinstance(t := rec.get("expense_type"), str) else None
    if day is None or word is None:
        return None
    return f"{day.year:04d}年{day.month:02d}月{day.day:02d}日{word}费用—"


def work_report_subject_prefix(rec: Mapping[str, Any]) -> str | None:
    """"YYYY年第W周工作周报—" (the ISO week and its year) or "YYYY年M月工作月报—" (000 §1.1)."""
    day, period = _day(rec.get("period_start")), rec.get("period")
    if day is None:
        return None
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}年第{week}周工作周报—"
    if period == "month":
        return f"{day.year}年{day.month}月工作月报—"
    return None


def _trip_plan(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    yield from _named_subject(kind, rec, "trip_plan.subject", trip_plan_subject_prefix(rec))
    yield from _day_order(kind, rec, "start_date", "end_date")


def _trip_report(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    yield from _named_subject(kind, rec, "trip_report.subject", "出差报告+")
    yield from _time_order(kind, rec, "started_at", "ended_at")


def _expense(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    yield from _named_subject(kind, rec, "expense.subject", expense_subject_prefix(rec))
    day, today = _day(rec.get("expense_date")), china_today()
    if day is not None and day > today:
        yield _rule(kind, "expense.future_date", "expense_date",
                    f"{day.isoformat()} is after today ({today.isoformat()})",
                    f"{day.isoformat()} 晚于今天({today.isoformat()})")


def _work_report(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    day, period = _day(rec.get("period_start")), rec.get("period")
    if day is not None and period == "week" and day.weekday() != 0:
        yield _rule(kind, "work_report.period_start", "period_start",
                    f"a week starts on a Monday; {day.isoformat()} is not one",
                    f"周报须从周一开始;{day.isoformat()} 不是周一")
    elif day is not None and period == "month" and day.day != 1:
        yield _rule(kind, "work_report.period_start", "period_start",
                    f"a month starts on the 1st, not {day.isoformat()}",
                    f"月报须从 1 日开始,不是 {day.isoformat()}")
    else:
        yield from _named_subject(kind, rec, "work_report.subject",
                                  work_report_subject_prefix(rec))


def _approval(
    kind: Kind, before: Mapping[str, Any] | None, after: Mapping[str, Any], actor: Actor
) -> Iterator[Violation]:
    """The approval flow's rules for a device's change (the server's decisions are made in
    `server.approvals`, as the system, which these rules do not bind)."""
    if actor.role == "system":
        return
    old = (before.get("approval_status") if before is not None else None) or "draft"
    new = after.get("approval_status") or "draft"
    changed = before is not None and dict(before) != dict(after)

    def v(rule: str, en: str, zh: str) -> Violation:
        return _rule(kind, rule, "approval_status", en, zh)

    if old == "rejected" and changed:
        yield v("approval.rejected_final", "the record was rejected: it is final",
                "该记录已被拒绝,不能再修改")
        return
    if old == "approved" and changed and actor.role != "admin":
        yield v("approval.approved_immutable",
                "the record was approved: only an admin may change it",
                "该记录已审批通过,只有管理员可以修改")
        return
    if new != old and new not in AUTHOR_STATUSES:
        yield v("approval.status_by_server",
                f"{new!r} is a decision, made by the approver through the server",
                f"“{new}”是审批决定,只能由审批人通过服务器做出")
        return
    author = after.get("created_by")
    if old == "submitted" and actor.role != "admin":
        if new == "withdrawn" and before is not None and before.get("opened_at") is not None:
            yield v("approval.opened", "the approver has opened it: it can no longer be "
                    "withdrawn", "审批人已查看,不能再撤销")
        elif new == "withdrawn" and actor.user_id != author:
            yield v("approval.transition", "only the author withdraws it", "只有作者可以撤销")
        elif new == "withdrawn":
            unchanged = {k: x for k, x in after.items() if k != "approval_status"}
            was = {k: x for k, x in (before or {}).items() if k != "approval_status"}
            if unchanged != was:
                yield v("approval.pending_locked", "withdraw it without other changes, then "
                        "edit it", "请先撤销(不做其他修改),再修改")
        elif changed:
            yield v("approval.pending_locked", "it is waiting for approval: withdraw it "
                    "before changing it", "审批中的记录不能修改,请先撤销")
        return
    if new == old:
        return
    if new == "submitted":
        if actor.user_id != author and actor.role != "admin":
            yield v("approval.transition", "only the author submits it", "只有作者可以提交")
        elif after.get("submitted_at") is None:
            yield v("approval.transition", "submitting for approval needs submitted_at",
                    "提交审批须同时填写提交时间")
    elif new == "withdrawn":
        yield v("approval.transition", f"only a submitted record is withdrawn, not a {old} one",
                f"只有审批中的记录可以撤销,当前为“{old}”")
    elif new == "draft":
        yield v("approval.transition", f"a {old} record does not go back to draft",
                f"“{old}”的记录不能改回草稿")


def _none(
    kind: Kind, rec: Mapping[str, Any], related: Mapping[str, Mapping[str, Any]], submitted: bool
) -> Iterator[Violation]:
    return iter(())


_KIND_RULES: dict[str, KindRule] = {
    "customer": _none,
    "visit": _visit,
    "service": _service,
    "deal": _deal,
    "progress": _progress,
    "task": _task,
    "trip_plan": _trip_plan,
    "trip_report": _trip_report,
    "expense": _expense,
    "work_report": _work_report,
}


# --- entry points ------------------------------------------------------------------------


def related_ids(kind: str, after: Mapping[str, Any]) -> set[str]:
    """Doc ids of the records `validate` wants in `related` for this change."""
    names = {
        "visit": ("previous_visit_id",),
        "deal": ("customer_id",),
        "progress": ("deal_id",),
    }.get(get_kind(kind).name, ())
    return {v for n in names if isinstance(v := after.get(n), str) and doc_kind(v) is not None}


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down: True == 1.0 in Python, but a phone that
    turns a checkbox into a number has changed the field."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def validate(
    kind: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    actor: Actor,
    related: Mapping[str, Mapping[str, Any]],
    *,
    whole: bool = False,
) -> list[Violation]:
    """Every rule `after` breaks, given the record `before` the change (None at creation),
    who makes it, and the already-loaded records it refers to. Empty means accepted.

    `before` was accepted, so its fields passed: only the fields the change touched are
    checked again, unless `whole` (the record-wide rules of each kind always run). For a
    `before` that passed, the answer is the same as checking every field.

    Required fields are enforced once the record is submitted (`submitted_at` set). A
    referenced record missing from `related` is not an error: it may simply not have
    arrived yet, so rules that need it are skipped.
    """
    k = get_kind(kind)
    submitted = after.get("submitted_at") is not None
    fields = k.fields
    if not whole and before is not None and (before.get("submitted_at") is not None) == submitted:
        # The fields the change left alone passed when `before` was accepted; only what
        # changed is checked again (submitting, or taking it back, changes what is required).
        fields = tuple(f for f in k.fields if not _same(before.get(f.name), after.get(f.name)))
        declared = {f.name for f in k.fields}
        out = [_unknown(key, k.name) for key in sorted(after)
               if key not in declared and after[key] is not None
               and not _same(before.get(key), after[key])]
        out.extend(_check_fields(k, fields, {f.name: after.get(f.name) for f in fields
                                             if f.name in after}, "", submitted))
    else:
        out = list(_check_fields(k, fields, after, "", submitted))
    out.extend(_check_rights(k, before, after, actor))
    out.extend(_KIND_RULES[k.name](k, after, related, submitted))
    if k.name in APPROVAL_KINDS:
        out.extend(_approval(k, before, after, actor))
    return out


def validate_doc(
    kind: str,
    before: Mapping[str, Any] | None,
    doc: Doc[Any],
    actor: Actor,
    related: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Any], list[Violation]]:
    """Read `doc` (the copy with the change applied) and validate it: the record and every
    violation, layout ones first."""
    record, violations = read_record(doc, kind)
    return record, violations + validate(kind, before, record, actor, related)
