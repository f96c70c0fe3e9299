"""SQL projections on SQLite and PostgreSQL: upsert, child rows, delete, rebuild."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import samples
from schema.kinds import KINDS
from schema.samples import new_id
from schema.tables import (
    ProjectionMeta,
    delete_projection,
    dump_projections,
    metadata,
    project,
    projection_rows,
    rec_attachment,
    rec_customer,
    rec_customer_contact,
    rec_customer_share,
    rec_deal,
    rec_deal_product,
    rec_service,
)
from schema.ydoc import new_doc, read_record

META = ProjectionMeta(seq=7, updated_at=1_710_000_100_000, received_at=1_710_000_050_000)


def test_tables_have_the_declared_names_and_columns() -> None:
    assert set(metadata.tables) == {
        "rec_customer",
        "rec_visit",
        "rec_service",
        "rec_deal",
        "rec_progress",
        "rec_task",
        "rec_trip_plan",
        "rec_trip_report",
        "rec_expense",
        "rec_work_report",
        "rec_trip_stop",
        "rec_approver",
        "rec_approval_step",
        "rec_customer_contact",
        "rec_customer_share",
        "rec_service_product",
        "rec_deal_product",
        "rec_attachment",
    }
    for kind in KINDS.values():
        table = metadata.tables[kind.table]
        assert {
            "doc_id",
            "seq",
            "updated_at",
            "received_at",
            "created_by",
            "created_at",
            "submitted_at",
        } <= set(table.c.keys())
        scalars = {f.name for f in kind.fields if f.y_type != "array"}
        assert scalars <= set(table.c.keys())
    assert {"completeness", "merged_into", "name_key", "owner", "code"} <= set(
        rec_customer.c.keys()
    )


def test_rows_are_a_pure_function_of_record_and_meta() -> None:
    rec = samples.customer(shared_with=["u3", "u2"])
    rows = projection_rows("customer", "customer:x", rec, META)
    assert rows == projection_rows("customer", "customer:x", dict(rec), META)
    row = rows["rec_customer"][0]
    assert row["completeness"] == 11 and row["security_level"] == 0
    assert row["seq"] == 7 and row["profile"] == rec["profile"]
    assert (
        row["name_key"]
        == projection_rows(
            "customer", "customer:y", samples.customer(name="友好创达科技(北京)有限公司"), META
        )["rec_customer"][0]["name_key"]
    )
    assert rows["rec_customer_share"] == [
        {"doc_id": "customer:x", "user_id": "u2"},
        {"doc_id": "customer:x", "user_id": "u3"},
    ]
    assert rows["rec_attachment"][0]["kind"] == "customer"


def test_derived_columns() -> None:
    rows = projection_rows("service", "service:x", samples.service(subject=None), META)
    assert rows["rec_service"][0]["subject"] == "2024年3月10日 保内维修服务"
    assert rows["rec_service"][0]["service_date"] == datetime.date(2024, 3, 10)
    deal = projection_rows("deal", "deal:x", samples.deal(probability=None), META)["rec_deal"][0]
    assert deal["probability"] == 40 and deal["follow_up_days"] == 7


def test_values_of_the_wrong_type_project_as_null() -> None:
    row = projection_rows("customer", "customer:x", {"level": "three", "colour": 1}, META)
    assert row["rec_customer"][0]["level"] is None
    assert "colour" not in row["rec_customer"][0]


async def _rows(engine: AsyncEngine, table: Any, doc_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(table).where(table.c.doc_id == doc_id))
        return [dict(r._mapping) for r in result]


@pytest.mark.asyncio
async def test_project_inserts_then_replaces(engine: AsyncEngine) -> None:
    doc_id = new_id("customer")
    rec = samples.customer(shared_with=["u2"])
    async with engine.begin() as conn:
        await project(conn, doc_id, "customer", rec, META)
    [row] = await _rows(engine, rec_customer, doc_id)
    assert row["name"] == rec["name"] and row["level"] == 3 and row["completeness"] == 11
    assert row["created_at"] == samples.T0 and row["seq"] == 7
    assert [c["mobile"] for c in await _rows(engine, rec_customer_contact, doc_id)] == [
        "13812345678"
    ]
    assert len(await _rows(engine, rec_attachment, doc_id)) == 1

    changed = samples.customer(
        name="北京友好创达科技有限公司 上海分公司",
        contacts=[{"name": "李四"}, {"name": "王五", "title": "经理"}],
        attachments=[],
        shared_with=[],
    )
    async with engine.begin() as conn:
        await project(conn, doc_id, "customer", changed, ProjectionMeta(9, 2, 1))
    [row] = await _rows(engine, rec_customer, doc_id)
    assert row["name"].endswith("上海分公司") and row["seq"] == 9
    contacts = sorted(
        await _rows(engine, rec_customer_contact, doc_id), key=lambda r: r["position"]
    )
    assert [(c["position"], c["name"], c["title"]) for c in contacts] == [
        (0, "李四", None),
        (1, "王五", "经理"),
    ]
    assert await _rows(engine, rec_attachment, doc_id) == []
    assert await _rows(engine, rec_customer_share, doc_id) == []


@pytest.mark.asyncio
async def test_every_kind_projects_with_typed_columns(engine: AsyncEngine) -> None:
    ids = {kind: new_id(kind) for kind in KINDS}
    async with engine.begin() as conn:
        for kind, doc_id in ids.items():
            await project(conn, doc_id, kind, samples.SAMPLES[kind](), META)
    [deal] = await _rows(engine, rec_deal, ids["deal"])
    assert deal["expected_close_date"] == datetime.date(2024, 5, 31)
    assert deal["stage"] == 4 and deal["probability"] == 40
    [product] = await _rows(engine, rec_deal_product, ids["deal"])
    assert product["quantity"] == 5 and product["unit_price"] == 89_000.0
    [service] = await _rows(engine, rec_service, ids["service"])
    assert service["subject"] == "2024年3月10日 保内维修服务"
    assert service["completed_at"] == samples.T0 + 7_200_000


@pytest.mark.asyncio
async def test_delete_projection_removes_the_record_and_its_children(
    engine: AsyncEngine,
) -> None:
    keep, gone = new_id("customer"), new_id("customer")
    async with engine.begin() as conn:
        await project(conn, keep, "customer", samples.customer(), META)
        await project(conn, gone, "customer", samples.customer(shared_with=["u2"]), META)
        await delete_projection(conn, gone, "customer")
    for table in (rec_customer, rec_customer_contact, rec_attachment, rec_customer_share):
        assert await _rows(engine, table, gone) == []
    assert len(await _rows(engine, rec_customer, keep)) == 1


@pytest.mark.asyncio
async def test_rebuild_yields_identical_tables(engine: AsyncEngine) -> None:
    """Projecting every edit as it comes equals projecting the final docs once."""
    docs = {new_id(kind): (kind, new_doc(kind, samples.SAMPLES[kind]())) for kind in KINDS}
    async with engine.begin() as conn:
        for seq, (doc_id, (kind, doc)) in enumerate(docs.items(), start=1):
            rec, _ = read_record(doc, kind)
            await project(conn, doc_id, kind, rec, ProjectionMeta(seq, seq * 10, seq))
            # A later edit that is projected again on top.
            rec["created_by"] = samples.USER
            await project(conn, doc_id, kind, rec, ProjectionMeta(seq + 100, seq * 10, seq))
        live = await dump_projections(conn)
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        for seq, (doc_id, (kind, doc)) in reversed(list(enumerate(docs.items(), start=1))):
            rec, _ = read_record(doc, kind)
            await project(conn, doc_id, kind, rec, ProjectionMeta(seq + 100, seq * 10, seq))
        rebuilt = await dump_projections(conn)
    assert rebuilt == live
    assert sum(len(rows) for rows in live.values()) > len(KINDS)


# --- property: any record that round-trips through a doc projects the same --------------

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
contacts = st.lists(
    st.fixed_dictionaries(
        {"name": text},
        optional={
            "title": text,
            "mobile": st.sampled_from(["13812345678", "19900001111"]),
            "office_phone": st.just("021-63539330-1010"),
        },
    ),
    max_size=3,
)
customer_records = st.fixed_dictionaries(
    {"created_at": st.integers(samples.T0, samples.T0 * 2), "created_by": st.just("u1")},
    optional={
        "name": text,
        "profile": st.text(max_size=50),
        "region": text,
        "level": st.integers(1, 7),
        "category": st.sampled_from(["direct", "distributor"]),
        "contacts": contacts,
        "shared_with": st.lists(st.sampled_from(["u2", "u3", "u4"]), max_size=3),
    },
)


@settings(max_examples=60, deadline=None)
@given(customer_records)
def test_customer_records_survive_the_doc_and_project_deterministically(
    rec: dict[str, Any],
) -> None:
    from schema.validate import Actor, validate

    read, violations = read_record(new_doc("customer", rec), "customer")
    assert violations == []
    expected = dict(rec)
    if "shared_with" in expected:
        expected["shared_with"] = sorted(set(expected["shared_with"]))
    assert read == expected
    assert validate("customer", None, read, Actor("u1", "rep"), {}) == []
    assert projection_rows("customer", "customer:x", read, META) == projection_rows(
        "customer", "customer:x", expected, META
    )
