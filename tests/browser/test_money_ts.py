"""The phone's money and work-report code in Node: `pwa/src/money.ts` turns typed yuan into
integer fen (and refuses what is not an amount, naming the rule), `subjects.ts` builds the
subjects the server checks (schema.validate's prefixes), `workreport.ts` drafts a weekly
report from a seeded week's records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from schema.validate import (
    expense_subject_prefix,
    trip_plan_subject_prefix,
    work_report_subject_prefix,
)

from .node import run_ts

SCRIPT = r"""
import { formatFen, parseYuan, fenToInput } from "./src/money";
import { expenseSubject, tripPlanSubject, workReportSubject } from "./src/subjects";
import { buildDraft, periodRecords, periodStartOf, isPeriodStart, periodEnd }
  from "./src/workreport";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const names = input.names;
const out = {
  parsed: input.amounts.map((s) => parseYuan(s)),
  budget: input.amounts.map((s) => parseYuan(s, { min: 0, max: 1e9 })),
  formatted: input.fens.map((f) => [formatFen(f), fenToInput(f)]),
  subjects: input.days.map((d) => ({
    trip: tripPlanSubject(d, "华东", "李明"),
    expense: expenseSubject(d, input.typeLabel, "李明"),
    week: workReportSubject("week", periodStartOf("week", d), "李明"),
    month: workReportSubject("month", periodStartOf("month", d), "李明"),
    weekStart: periodStartOf("week", d),
    isStart: isPeriodStart("week", d),
    monthEnd: periodEnd("month", periodStartOf("month", d)),
  })),
};
const draftInput = {
  period: "week", periodStart: input.week, author: "u-rep", lang: "zh", records: input.records,
  customerName: (id) => names[id] || "",
  expenseType: (t) => ({ transport: "交通费", meals: "餐饮费" })[t] || t,
};
out.draft = buildDraft(draftInput);
out.ids = Object.fromEntries(
  Object.entries(periodRecords(draftInput)).map(([k, v]) => [k, v.map((r) => r.id)]));
out.draftEn = buildDraft({ ...draftInput, lang: "en" });
process.stdout.write(JSON.stringify(out));
"""

# (typed, fen or the rule that refuses it)
AMOUNTS: list[tuple[str, int | str]] = [
    ("128.50", 12850),
    ("128.5", 12850),
    ("128", 12800),
    ("0.01", 1),
    (".5", 50),
    ("1,234.56", 123456),
    ("￥88", 8800),
    ("88元", 8800),
    ("１２．３０", 1230),  # full-width digits from a Chinese keyboard
    ("100000", 10_000_000),
    ("100000.00", 10_000_000),
    ("0.1", 10),
    ("19.99", 1999),  # 19.99 * 100 is 1998.9999999999998 as a float
    ("1.005", "money.decimals"),
    ("12.345", "money.decimals"),
    ("0", "range"),
    ("0.00", "range"),
    ("-5", "range"),
    ("100000.01", "range"),
    ("99999999999999999999", "range"),
    ("abc", "money.format"),
    ("", "money.format"),
    ("1.2.3", "money.format"),
    ("1e5", "money.format"),
    (".", "money.format"),
]


def _seed_week() -> tuple[str, list[dict[str, Any]], dict[str, str]]:
    """The week of Monday 2026-11-16 (China time): records inside it, on its edges and
    outside it, one of another author's, one draft visit."""
    cst = dt.timezone(dt.timedelta(hours=8))

    def at(day: str, hour: int) -> int:
        d = dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=cst)
        return int(d.timestamp() * 1000)

    me = {"created_by": "u-rep"}
    recs: list[dict[str, Any]] = [
        {"id": "visit:in", "kind": "visit", "record": {**me, "customer_id": "customer:a",
         "started_at": at("2026-11-17", 10), "purpose": "演示新扫描仪", "result": "同意试用",
         "submitted_at": 1}},
        # Sunday 23:30 China time is still the week (UTC says Sunday 15:30).
        {"id": "visit:sunday", "kind": "visit", "record": {**me, "customer_id": "customer:b",
         "started_at": at("2026-11-22", 23) + 30 * 60_000, "purpose": "回访",
         "submitted_at": 1}},
        # Monday 00:30 China time of the next week is Sunday in UTC: outside.
        {"id": "visit:next", "kind": "visit", "record": {**me, "customer_id": "customer:a",
         "started_at": at("2026-11-23", 0) + 30 * 60_000, "purpose": "下周", "submitted_at": 1}},
        {"id": "visit:draft", "kind": "visit", "record": {**me, "customer_id": "customer:a",
         "started_at": at("2026-11-18", 9), "purpose": "草稿"}},
        {"id": "visit:other", "kind": "visit", "record": {"created_by": "u-other",
         "customer_id": "customer:a", "started_at": at("2026-11-18", 9), "purpose": "别人的",
         "submitted_at": 1}},
        {"id": "progress:in", "kind": "progress", "record": {**me, "customer_id": "customer:a",
         "created_at": at("2026-11-19", 15), "detail": "报价已发出", "submitted_at": 1}},
        {"id": "service:in", "kind": "service", "record": {**me, "customer_id": "customer:b",
         "service_date": "2026-11-20", "subject": "2026年11月20日 初始安装服务",
         "submitted_at": 1}},
        {"id": "service:before", "kind": "service", "record": {**me,
         "customer_id": "customer:b", "service_date": "2026-11-15", "subject": "上周",
         "submitted_at": 1}},
        # A trip that began the week before and ends in this one overlaps it.
        {"id": "trip_plan:over", "kind": "trip_plan", "record": {**me, "region": "华东",
         "start_date": "2026-11-14", "end_date": "2026-11-17",
         "stops": [{"customer_id": "customer:a", "purpose": "拜访"}]}},
        {"id": "expense:in1", "kind": "expense", "record": {**me, "expense_date": "2026-11-17",
         "expense_type": "transport", "amount_fen": 12850, "description": "高铁"}},
        {"id": "expense:in2", "kind": "expense", "record": {**me, "expense_date": "2026-11-21",
         "expense_type": "meals", "amount_fen": 1999}},
        {"id": "expense:out", "kind": "expense", "record": {**me, "expense_date": "2026-11-23",
         "expense_type": "meals", "amount_fen": 5000}},
    ]
    names = {"customer:a": "上海金科电子有限公司", "customer:b": "杭州友诚科技有限公司"}
    return "2026-11-16", recs, names


def test_money_subjects_and_the_weekly_draft(tmp_path: Path) -> None:
    days = ["2026-01-01", "2026-11-03", "2026-12-31", "2027-01-03", "2025-12-29", "2024-02-29",
            "2026-11-16", "2026-11-22", "2020-12-31", "2021-01-04"]
    week, records, names = _seed_week()
    fens = [0, 1, 99, 100, 12850, 123456789, -250]
    got = run_ts(tmp_path, SCRIPT, {
        "amounts": [a for a, _ in AMOUNTS], "fens": fens, "days": days, "typeLabel": "交通费",
        "week": week, "records": records, "names": names,
    })

    for (typed, want), res in zip(AMOUNTS, got["parsed"], strict=True):
        if isinstance(want, int):
            assert res == {"ok": True, "fen": want}, typed
        else:
            assert res["ok"] is False and res["rule"] == want, (typed, res)
            assert res["zh"] and res["en"], typed
    # A budget of nothing is an amount (min 0); a zero expense is not.
    assert got["budget"][AMOUNTS.index(("0", "range"))] == {"ok": True, "fen": 0}
    assert "¥0.01" in got["parsed"][AMOUNTS.index(("0", "range"))]["zh"]

    assert got["formatted"] == [
        ["¥0.00", "0.00"], ["¥0.01", "0.01"], ["¥0.99", "0.99"], ["¥1.00", "1.00"],
        ["¥128.50", "128.50"], ["¥1,234,567.89", "1234567.89"], ["-¥2.50", "-2.50"],
    ]

    # The subjects are the server's prefixes followed by the name (schema.validate).
    for day, s in zip(days, got["subjects"], strict=True):
        d = dt.date.fromisoformat(day)
        monday = (d - dt.timedelta(days=d.weekday())).isoformat()
        assert s["weekStart"] == monday
        assert s["isStart"] == (d.weekday() == 0)
        first = d.replace(day=1).isoformat()
        assert s["trip"] == trip_plan_subject_prefix({"start_date": day, "region": "华东"}) + "李明"
        assert s["expense"] == expense_subject_prefix(
            {"expense_date": day, "expense_type": "transport"}) + "李明"
        assert s["week"] == work_report_subject_prefix(
            {"period": "week", "period_start": monday}) + "李明"
        assert s["month"] == work_report_subject_prefix(
            {"period": "month", "period_start": first}) + "李明"
        nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        assert s["monthEnd"] == (nxt - dt.timedelta(days=1)).isoformat()
    assert got["subjects"][4]["week"] == "2026年第1周工作周报—李明"  # 2025-12-29: ISO 2026-W01

    # The week's records, by China time, the author's own, drafts of visits left out.
    assert got["ids"] == {
        "visit": ["visit:in", "visit:sunday"],
        "progress": ["progress:in"],
        "service": ["service:in"],
        "trip_plan": ["trip_plan:over"],
        "expense": ["expense:in1", "expense:in2"],
    }
    draft = got["draft"]
    assert "期间:2026-11-16 至 2026-11-22" in draft
    assert "一、客户拜访(2)" in draft
    assert "11月17日 上海金科电子有限公司 演示新扫描仪 → 同意试用" in draft
    assert "11月22日 杭州友诚科技有限公司 回访" in draft
    assert "报价已发出" in draft and "2026年11月20日 初始安装服务" in draft
    assert "2026-11-14~2026-11-17 华东 (上海金科电子有限公司)" in draft
    assert "11月17日 交通费 ¥128.50 高铁" in draft
    assert "合计 ¥148.49" in draft  # 12850 + 1999 fen, exactly
    for absent in ("下周", "草稿", "别人的", "上周", "¥50.00"):
        assert absent not in draft, absent
    assert "1. Customer visits(2)" in got["draftEn"] and "Total ¥148.49" in got["draftEn"]
