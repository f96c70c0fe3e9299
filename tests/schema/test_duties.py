"""The contact-duty and deal-cadence rules against the vectors the phone is checked with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schema import duties
from schema.export import schema_json

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((ROOT / "tests/data/duties.json").read_text("utf-8"))


@pytest.mark.parametrize("case", VECTORS["customers"], ids=lambda c: c["name"])
def test_customer_duty_vectors(case: dict[str, Any]) -> None:
    contacts = [(kind, rec) for kind, rec in case["contacts"]]
    assert duties.contact_duty_days(case["customer"], case["deals"]) == case["duty_days"]
    if case["duty_days"] is not None:
        assert duties.last_contact(contacts) == case["last_contact"]
    assert duties.customer_overdue_days(
        case["customer"], case["deals"], contacts, case["now"]) == case["overdue_days"]


@pytest.mark.parametrize("case", VECTORS["deals"], ids=lambda c: c["name"])
def test_deal_cadence_vectors(case: dict[str, Any]) -> None:
    assert duties.deal_cadence_days(case["deal"]) == case["cadence_days"]
    assert duties.deal_last_follow_up(case["deal"], case["progress"]) == case["last_follow_up"]
    assert duties.deal_overdue_days(case["deal"], case["progress"], case["now"]) == \
        case["overdue_days"]


def test_the_phone_reads_the_same_numbers_from_the_schema() -> None:
    published = schema_json()["duties"]
    assert published["contact"]["core_with_short_deal_days"] == 7
    assert published["contact"]["core_days"] == 14
    assert published["contact"]["high_growth_days"] == 30
    assert published["contact"]["categories"] == ["direct"]
    assert published["deal_follow_up_days"] == {"short": 7, "medium": 15, "lead": 15}
