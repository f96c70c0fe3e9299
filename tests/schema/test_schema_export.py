"""The schema JSON served to the PWA, and docs/records.md generated from the same source."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from schema.docs import render
from schema.export import GENERAL_RULES, schema_json
from schema.kinds import KINDS, iter_fields

ROOT = Path(__file__).resolve().parents[2]


def test_schema_json_is_serialisable_and_stable() -> None:
    first = json.dumps(schema_json(), ensure_ascii=False, sort_keys=True)
    assert first == json.dumps(schema_json(), ensure_ascii=False, sort_keys=True)
    assert json.loads(first)["version"] == 1


def test_schema_json_lists_every_kind_and_field() -> None:
    data = schema_json()
    assert [k["name"] for k in data["kinds"]] == [
        "customer",
        "visit",
        "service",
        "deal",
        "progress",
        "task",
        "trip_plan",
        "trip_report",
        "expense",
        "work_report",
    ]
    for kj in data["kinds"]:
        kind = KINDS[kj["name"]]
        assert [f["name"] for f in kj["fields"]] == [f.name for f in kind.fields]
        for fj in kj["fields"]:
            assert fj["y_type"] in ("scalar", "text", "array")
            assert fj["label_zh"] and fj["label_en"]
            for e in fj.get("enum", []):
                assert e["label_zh"] and e["label_en"]


def test_schema_json_carries_labels_limits_and_rights() -> None:
    kinds = {k["name"]: {f["name"]: f for f in k["fields"]} for k in schema_json()["kinds"]}
    visit_type = kinds["visit"]["visit_type"]
    assert {e["value"]: e["label_zh"] for e in visit_type["enum"]} == {
        "visit_out": "去访",
        "visit_in": "来访",
        "call_out": "致电",
        "call_in": "来电",
    }
    assert kinds["customer"]["profile"]["limits"] == {"max_length": 50}
    assert kinds["customer"]["profile"]["y_type"] == "text"
    assert kinds["customer"]["code"]["server_only"] is True
    assert kinds["customer"]["owner"]["writers"] == ["admin", "manager", "system"]
    stage = kinds["deal"]["stage"]
    assert [e["value"] for e in stage["enum"]] == list(range(11))
    assert stage["enum"][8]["label_zh"] == "签订合同"
    contacts = kinds["customer"]["contacts"]
    assert contacts["table"] == "rec_customer_contact"
    assert {i["name"]: i.get("format") for i in contacts["items"]}["mobile"] == "mobile"
    assert kinds["deal"]["customer_id"]["ref_kind"] == "customer"


def test_every_rule_a_validator_can_report_is_documented() -> None:
    documented = {r for r, _en, _zh in GENERAL_RULES}
    documented |= {r.id for k in KINDS.values() for r in k.rules}
    documented |= {f"format.{name}" for name in schema_json()["formats"]}
    source = "".join((ROOT / "schema" / n).read_text() for n in ("validate.py", "ydoc.py"))
    emitted = set(
        re.findall(
            r'(?:_v\(\s*f,\s*[^,]+,\s*|_rule\(\s*kind,\s*|Violation\(\s*[^,]+,\s*)"([a-z_.]+)"',
            source,
        )
    )
    assert {"type", "enum", "required", "immutable", "layout.root", "deal.probability"} <= emitted
    assert emitted - documented == set()
    formats = {f.format for k in KINDS.values() for _p, f in iter_fields(k) if f.format}
    assert formats <= set(schema_json()["formats"])


def test_docs_records_md_is_generated_from_the_declarations() -> None:
    committed = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    stale = "docs/records.md is stale: run python -m schema.docs > docs/records.md"
    assert committed == render(), stale


def test_docs_module_prints_the_document() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "schema.docs"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
        encoding="utf-8",
    ).stdout
    assert out == render()
    for kind in KINDS.values():
        assert f"(`{kind.name}`)" in out
        for f in kind.fields:
            assert f"`{f.name}`" in out
