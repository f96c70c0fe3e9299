"""Validation: every rule with a violating case and a passing one."""

from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Map

from schema import samples
from schema.kinds import KINDS
from schema.samples import CUSTOMER_ID, DEAL_ID, SHA, T0, USER, VISIT_ID
from schema.validate import Actor, Violation, related_ids, validate, validate_doc
from schema.ydoc import new_doc

REP = Actor(USER, "rep")
OTHER_CUSTOMER = "customer:00000000-0000-4000-8000-0000000000ff"


def _check(
    kind: str,
    after: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
    actor: Actor = REP,
    related: dict[str, dict[str, Any]] | None = None,
) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in validate(kind, before, after, actor, related or {})]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_samples_are_valid_at_creation_and_as_updates(kind: str) -> None:
    rec = samples.SAMPLES[kind]()
    assert _check(kind, rec) == []
    assert _check(kind, rec, before=rec) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_draft_needs_only_the_always_required_fields(kind: str) -> None:
    full = samples.SAMPLES[kind]()
    always = {f.name for f in KINDS[kind].fields if f.required == "always"}
    draft = {k: v for k, v in full.items() if k in always}
    assert _check(kind, draft) == []
    submitted = {**draft, "submitted_at": T0 + 1}
    missing = {f for f, rule in _check(kind, submitted) if rule == "required"}
    assert missing == {f.name for f in KINDS[kind].fields if f.required == "on_submit"}


def _contact(**over: Any) -> list[dict[str, Any]]:
    return [{**samples.customer()["contacts"][0], **over}]


def _att(**over: Any) -> list[dict[str, Any]]:
    return [samples.attachment(**over)]


# (kind, bad overrides, expected (field, rule), good overrides)
CASES: list[tuple[str, dict[str, Any], tuple[str, str], dict[str, Any]]] = [
    ("customer", {"name": None}, ("name", "required"), {"name": "上海某某有限公司"}),
    ("customer", {"name": "  "}, ("name", "required"), {"name": "上海某某有限公司"}),
    (
        "customer",
        {"created_at": None, "submitted_at": None},
        ("created_at", "required"),
        {"submitted_at": None},
    ),
    ("customer", {"level": "3"}, ("level", "type"), {"level": 7}),
    ("customer", {"level": 2.5}, ("level", "type"), {"level": 1}),
    ("customer", {"level": 8}, ("level", "range"), {"level": 7}),
    ("customer", {"level": 0}, ("level", "range"), {"level": 1}),
    (
        "customer",
        {"created_at": 1_710_000_000},
        ("created_at", "range"),
        {"created_at": 1_710_000_000_000},
    ),
    ("customer", {"source": "tv"}, ("source", "enum"), {"source": "trade_show"}),
    ("customer", {"category": "partner"}, ("category", "enum"), {"category": "distributor"}),
    ("customer", {"tier": "vip"}, ("tier", "enum"), {"tier": "high_growth"}),
    ("customer", {"status": "dead"}, ("status", "enum"), {"status": "invalid"}),
    ("customer", {"phone": "63539330"}, ("phone", "format.phone"), {"phone": "021-63539330-1010"}),
    ("customer", {"phone": "021 63539330"}, ("phone", "format.phone"), {"phone": "0755-12345678"}),
    ("customer", {"email": "contact@"}, ("email", "format.email"), {"email": "contact@OA.com.cn"}),
    (
        "customer",
        {"website": "http://www.oa.com.cn"},
        ("website", "format.website"),
        {"website": "www.oa.com.cn"},
    ),
    (
        "customer",
        {"credit_code": "91350100M000100Y44"},
        ("credit_code", "format.credit_code"),
        {"credit_code": "91350100M000100Y43"},
    ),
    (
        "customer",
        {"credit_code": "9135010"},
        ("credit_code", "format.credit_code"),
        {"credit_code": None},
    ),
    ("customer", {"postcode": "10008"}, ("postcode", "format.postcode"), {"postcode": "200001"}),
    ("customer", {"profile": "字" * 51}, ("profile", "max_length"), {"profile": "字" * 50}),
    ("customer", {"colour": "red"}, ("colour", "unknown_field"), {}),
    (
        "customer",
        {"contacts": _contact(nickname="宏哥")},
        ("contacts[0].nickname", "unknown_field"),
        {"contacts": _contact()},
    ),
    (
        "customer",
        {"contacts": _contact(mobile="1381234567")},
        ("contacts[0].mobile", "format.mobile"),
        {"contacts": _contact(mobile="13812345678")},
    ),
    (
        "customer",
        {"contacts": _contact(mobile="23812345678")},
        ("contacts[0].mobile", "format.mobile"),
        {"contacts": _contact(mobile="19912345678")},
    ),
    (
        "customer",
        {"contacts": _contact(office_phone="62345678")},
        ("contacts[0].office_phone", "format.phone"),
        {"contacts": _contact(office_phone=None)},
    ),
    (
        "customer",
        {"contacts": _contact(salutation="sir")},
        ("contacts[0].salutation", "enum"),
        {"contacts": _contact(salutation="ms")},
    ),
    (
        "customer",
        {"contacts": _contact(name=None)},
        ("contacts[0].name", "required"),
        {"contacts": []},
    ),
    ("customer", {"contacts": ["张宏"]}, ("contacts[0]", "type"), {"contacts": _contact()}),
    (
        "visit",
        {"previous_visit_id": "visit:1"},
        ("previous_visit_id", "format.doc_id"),
        {"previous_visit_id": VISIT_ID},
    ),
    (
        "customer",
        {"shared_with": ["u"] * 201},
        ("shared_with", "max_items"),
        {"shared_with": ["u2"]},
    ),
    (
        "customer",
        {"attachments": _att(sha256=SHA.upper())},
        ("attachments[0].sha256", "format.sha256"),
        {"attachments": _att()},
    ),
    (
        "customer",
        {"attachments": _att(media_type="image/gif")},
        ("attachments[0].media_type", "enum"),
        {"attachments": _att(media_type="image/png")},
    ),
    (
        "customer",
        {"attachments": _att(size=0)},
        ("attachments[0].size", "range"),
        {"attachments": _att(size=1)},
    ),
    (
        "customer",
        {"attachments": _att(size=None)},
        ("attachments[0].size", "required"),
        {"attachments": _att(size=10)},
    ),
    (
        "customer",
        {"attachments": _att(gps_lon=None)},
        ("attachments[0].gps_lon", "gps.incomplete"),
        {"attachments": _att(gps_lat=None, gps_lon=None, gps_accuracy=None)},
    ),
    (
        "customer",
        {"attachments": _att(gps_lat=91.0)},
        ("attachments[0].gps_lat", "range"),
        {"attachments": _att(gps_lat=-90.0)},
    ),
    ("visit", {"customer_id": "customer:abc"}, ("customer_id", "format.doc_id"), {}),
    (
        "visit",
        {"customer_id": DEAL_ID},
        ("customer_id", "reference.kind"),
        {"customer_id": OTHER_CUSTOMER},
    ),
    ("visit", {"visit_type": "meeting"}, ("visit_type", "enum"), {"visit_type": "call_in"}),
    ("visit", {"ended_at": T0 - 1}, ("ended_at", "time_order"), {"ended_at": T0}),
    (
        "visit",
        {"gps_accuracy": None},
        ("gps_accuracy", "gps.incomplete"),
        {"gps_lat": None, "gps_lon": None, "gps_accuracy": None},
    ),
    (
        "visit",
        {"result": "电话未接通"},
        ("result", "no_answer"),
        {"result": "电话未接通,改发邮件,客户回复确认下周到访并带技术负责人"},
    ),
    (
        "visit",
        {"result": "No answer, will call back tomorrow."},
        ("result", "no_answer"),
        {"result": "Met the IT director; she asked for a quote on 5 scanners."},
    ),
    (
        "visit",
        {"previous_visit_id": DEAL_ID},
        ("previous_visit_id", "reference.kind"),
        {"previous_visit_id": VISIT_ID},
    ),
    ("visit", {"purpose": None}, ("purpose", "required"), {"purpose": "回访"}),
    (
        "service",
        {"service_type": "repair", "subject": None},
        ("service_type", "enum"),
        {"service_type": "warranty_repair"},
    ),
    ("service", {"subject": "保内维修"}, ("subject", "service.subject"), {"subject": None}),
    (
        "service",
        {"subject": "2024年3月10日 保外维修服务"},
        ("subject", "service.subject"),
        {"service_type": "paid_repair", "subject": "2024年3月10日 保外维修服务"},
    ),
    (
        "service",
        {"service_date": None, "submitted_at": None},
        ("subject", "service.subject"),
        {"service_date": None, "submitted_at": None, "subject": None},
    ),
    (
        "service",
        {"service_date": "2024-02-30", "subject": None},
        ("service_date", "format.date"),
        {"service_date": "2024-02-29", "subject": "2024年2月29日 保内维修服务"},
    ),
    ("service", {"status": None}, ("status", "required"), {"status": "in_progress"}),
    ("service", {"status": "done"}, ("status", "enum"), {"status": "abandoned"}),
    (
        "service",
        {"completed_at": None},
        ("completed_at", "service.completed_needs_time"),
        {"completed_at": None, "status": "in_progress"},
    ),
    ("service", {"completed_at": T0 - 1}, ("completed_at", "time_order"), {"completed_at": T0}),
    (
        "service",
        {"products": [{"model": "FS-9000"}]},
        ("products[0].name", "required"),
        {"products": [{"name": "扫描仪"}]},
    ),
    ("deal", {"stage": 11}, ("stage", "enum"), {"stage": 9, "probability": 90}),
    ("deal", {"probability": 50}, ("probability", "deal.probability"), {"probability": None}),
    (
        "deal",
        {"stage": 2, "probability": 20},
        ("stage", "deal.class_stage"),
        {"deal_class": "medium", "stage": 2, "probability": 20},
    ),
    (
        "deal",
        {"deal_class": "lead"},
        ("stage", "deal.class_stage"),
        {"deal_class": "lead", "stage": 1, "probability": 10},
    ),
    (
        "deal",
        {"deal_class": "won"},
        ("stage", "deal.class_stage"),
        {"deal_class": "won", "stage": 10, "probability": 100},
    ),
    (
        "deal",
        {"deal_class": "lost", "stage": 0, "probability": 0},
        ("lost_reason", "deal.lost_reason"),
        {"deal_class": "lost", "stage": 0, "probability": 0, "lost_reason": "客户预算取消"},
    ),
    ("deal", {"deal_class": "hot"}, ("deal_class", "enum"), {"deal_class": "medium"}),
    ("deal", {"intent": "phones"}, ("intent", "enum"), {"intent": "consumables"}),
    (
        "deal",
        {"expected_close_date": None},
        ("expected_close_date", "required"),
        {"expected_close_date": "2025-01-15"},
    ),
    (
        "deal",
        {"products": []},
        ("products", "required"),
        {"products": [{"name": "软件", "quantity": 1}]},
    ),
    (
        "deal",
        {"products": [{"name": "软件", "quantity": 0}]},
        ("products[0].quantity", "range"),
        {"products": [{"name": "软件", "quantity": 1, "unit_price": 0.0}]},
    ),
    ("deal", {"competitors": ""}, ("competitors", "required"), {"competitors": "无"}),
    (
        "progress",
        {"detail": "无人接听"},
        ("detail", "no_answer"),
        {"detail": "客户未接电话,后在微信上确认预算已批准,约下周演示"},
    ),
    (
        "progress",
        {"detail": "未见到本人。"},
        ("detail", "no_answer"),
        {"detail": "见到了采购部李经理,确认了招标时间"},
    ),
    ("progress", {"next_step": None}, ("next_step", "required"), {"next_step": "发报价"}),
    ("progress", {"deal_id": CUSTOMER_ID}, ("deal_id", "reference.kind"), {}),
    (
        "progress",
        {"count_as_contact": 1},
        ("count_as_contact", "type"),
        {"count_as_contact": False},
    ),
]


@pytest.mark.parametrize(
    ("kind", "bad", "expected", "good"),
    CASES,
    ids=[f"{c[0]}-{c[2][1]}-{c[2][0]}" for c in CASES],
)
def test_rule(
    kind: str, bad: dict[str, Any], expected: tuple[str, str], good: dict[str, Any]
) -> None:
    make = samples.SAMPLES[kind]
    assert _check(kind, make(**bad)) == [expected]
    assert _check(kind, make(**good)) == []


def test_draft_skips_submit_rules() -> None:
    assert _check("visit", samples.visit(submitted_at=None, result="未接通", ended_at=1)) == [
        ("ended_at", "range")
    ]
    assert _check("visit", samples.visit(submitted_at=None, result="未接通", ended_at=T0 - 1)) == []
    assert _check("deal", samples.deal(submitted_at=None, deal_class="lost")) == []


def test_violations_name_the_field_in_both_languages() -> None:
    violations = validate(
        "customer",
        None,
        samples.customer(phone="12345", contacts=_contact(mobile="1")),
        REP,
        {},
    )
    assert [v.field for v in violations] == ["phone", "contacts[0].mobile"]
    for v in violations:
        assert isinstance(v, Violation)
        assert v.field in v.message and v.field in v.message_zh
        assert "电话" in violations[0].message_zh and "Phone" in violations[0].message
    assert violations[0].to_json()["rule"] == "format.phone"


# --- references to other records ---------------------------------------------------------


def test_deal_only_on_a_direct_customer() -> None:
    rec = samples.deal()
    distributor = {CUSTOMER_ID: samples.customer(category="distributor")}
    assert _check("deal", rec, related=distributor) == [
        ("customer_id", "deal.direct_customer_only")
    ]
    assert _check("deal", rec, related={CUSTOMER_ID: samples.customer()}) == []
    # Not arrived yet, or not yet classified: nothing to check against.
    assert _check("deal", rec, related={}) == []
    assert _check("deal", rec, related={CUSTOMER_ID: samples.customer(category=None)}) == []


def test_previous_visit_belongs_to_the_same_customer() -> None:
    rec = samples.visit(previous_visit_id=VISIT_ID)
    elsewhere = {VISIT_ID: samples.visit(customer_id=OTHER_CUSTOMER)}
    assert _check("visit", rec, related=elsewhere) == [
        ("previous_visit_id", "visit.previous_same_customer")
    ]
    assert _check("visit", rec, related={VISIT_ID: samples.visit()}) == []


def test_progress_customer_is_the_deals_customer() -> None:
    rec = samples.progress()
    assert _check("progress", rec, related={DEAL_ID: samples.deal(customer_id=OTHER_CUSTOMER)}) == [
        ("customer_id", "progress.customer_matches_deal")
    ]
    assert _check("progress", rec, related={DEAL_ID: samples.deal()}) == []


def test_related_ids_tell_the_caller_what_to_load() -> None:
    assert related_ids("deal", samples.deal()) == {CUSTOMER_ID}
    assert related_ids("progress", samples.progress()) == {DEAL_ID}
    assert related_ids("visit", samples.visit(previous_visit_id=VISIT_ID)) == {VISIT_ID}
    assert related_ids("visit", samples.visit()) == set()
    assert related_ids("customer", samples.customer()) == set()
    assert related_ids("deal", samples.deal(customer_id="garbage")) == set()


# --- field rights ------------------------------------------------------------------------

MANAGER = Actor("u-mgr", "manager")
ADMIN = Actor("u-admin", "admin")
SYSTEM = Actor("server", "system")
ENGINEER = Actor(USER, "engineer")


def test_owner_at_creation_is_absent_or_the_author() -> None:
    assert _check("customer", samples.customer(owner=USER)) == []
    assert _check("customer", samples.customer(owner="someone")) == [("owner", "permission")]
    assert _check("customer", samples.customer(owner="someone"), actor=ENGINEER) == [
        ("owner", "permission")
    ]
    assert (
        _check("customer", samples.customer(owner="someone", created_by="u-mgr"), actor=MANAGER)
        == []
    )


def test_owner_moves_only_by_manager_admin_or_server() -> None:
    before = samples.customer(owner=USER)
    after = samples.customer(owner="u-rep-2")
    assert _check("customer", after, before=before) == [("owner", "permission")]
    for actor in (MANAGER, ADMIN, SYSTEM):
        assert _check("customer", after, before=before, actor=actor) == []
    # Unchanged is fine for anyone.
    assert _check("customer", before, before=before) == []


def test_code_is_server_only() -> None:
    assert _check("customer", samples.customer(code="C0001")) == [("code", "server_only")]
    assert _check(
        "customer", samples.customer(code="C0001"), actor=ADMIN, before=samples.customer()
    ) == [("code", "server_only")]
    assert (
        _check("customer", samples.customer(code="C0001"), before=samples.customer(), actor=SYSTEM)
        == []
    )
    with_code = samples.customer(code="C0001")
    assert _check("customer", {**with_code, "level": 5}, before=with_code) == []


def test_security_level_and_merged_into_rights() -> None:
    assert _check("customer", samples.customer(security_level=0)) == []
    assert _check("customer", samples.customer(security_level=2)) == [
        ("security_level", "permission")
    ]
    before = samples.customer()
    assert (
        _check("customer", samples.customer(security_level=2), before=before, actor=MANAGER) == []
    )
    assert _check("customer", samples.customer(merged_into=OTHER_CUSTOMER), before=before) == [
        ("merged_into", "permission")
    ]
    assert _check(
        "customer", samples.customer(merged_into=OTHER_CUSTOMER), before=before, actor=MANAGER
    ) == [("merged_into", "permission")]
    assert (
        _check("customer", samples.customer(merged_into=OTHER_CUSTOMER), before=before, actor=ADMIN)
        == []
    )
    assert _check(
        "customer", samples.customer(merged_into=DEAL_ID), before=before, actor=SYSTEM
    ) == [("merged_into", "reference.kind")]


def test_created_at_and_created_by_are_fixed_after_creation() -> None:
    before = samples.customer()
    for field, value in (("created_at", T0 - 86_400_000), ("created_by", "u-rep-2")):
        after = samples.customer(**{field: value})
        for actor in (REP, MANAGER, ADMIN):
            assert _check("customer", after, before=before, actor=actor) == [(field, "immutable")]
        assert _check("customer", after, before=before, actor=SYSTEM) == []


def test_created_by_at_creation_is_the_author() -> None:
    rec = samples.customer(created_by="u-rep-2")
    assert _check("customer", rec) == [("created_by", "created_by.actor")]
    assert _check("customer", rec, actor=MANAGER) == [("created_by", "created_by.actor")]
    assert _check("customer", rec, actor=ADMIN) == []
    assert _check("customer", rec, actor=SYSTEM) == []


def test_children_stay_with_their_customer_unless_admin_or_server_moves_them() -> None:
    before = samples.visit()
    after = samples.visit(customer_id=OTHER_CUSTOMER)
    assert _check("visit", after, before=before) == [("customer_id", "immutable")]
    assert _check("visit", after, before=before, actor=ADMIN) == []
    assert _check("visit", after, before=before, actor=SYSTEM) == []
    p_before = samples.progress()
    p_after = samples.progress(deal_id="deal:00000000-0000-4000-8000-0000000000aa")
    assert _check("progress", p_after, before=p_before) == [("deal_id", "immutable")]


def test_submitted_record_cannot_go_back_to_draft() -> None:
    before = samples.visit()
    assert _check("visit", samples.visit(submitted_at=None), before=before) == [
        ("submitted_at", "submitted_at.retract")
    ]
    assert _check("visit", samples.visit(submitted_at=T0 + 5), before=before) == []
    assert _check("visit", samples.visit(), before=samples.visit(submitted_at=None)) == []


def test_sharing_is_changed_by_owner_manager_or_admin() -> None:
    before = samples.customer(owner=USER)
    after = samples.customer(owner=USER, shared_with=["u-rep-2"])
    assert _check("customer", after, before=before) == []
    stranger = Actor("u-rep-3", "rep")
    assert _check("customer", after, before=before, actor=stranger) == [
        ("shared_with", "permission")
    ]
    assert _check("customer", after, before=before, actor=MANAGER) == []
    # At creation the creator is the owner.
    assert _check("customer", samples.customer(shared_with=["u-rep-2"])) == []


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError):
        Actor("u", "supervisor")


def test_validate_doc_reports_layout_then_rules() -> None:
    doc = new_doc("customer", samples.customer(phone="12345"))
    doc.get("extra", type=Map)["x"] = 1
    record, violations = validate_doc("customer", None, doc, REP, {})
    assert record["name"] == samples.customer()["name"]
    assert [(v.field, v.rule) for v in violations] == [
        ("extra", "layout.root"),
        ("phone", "format.phone"),
    ]
