"""Every field of every kind, written by a phone, comes back through the read API as written."""

from __future__ import annotations

from typing import Any

import pytest

from schema import kinds, samples
from schema.ydoc import write_record
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer
from tests.server.phones import http, online, settle

pytestmark = pytest.mark.asyncio

# Fields a phone does not write: the server sets them (code, owner, the approval flow's) or a
# manager does. The approval flow's come back in tests/server/test_approvals.py.
APPROVAL_SET = {"approvers", "approval_step", "opened_at", "approval_log"}
# pool and binned_at take the card out of every briefcase (tests/server/test_pool.py reads
# them back through /api/pool, /api/bin and the duplicate index)
NOT_FROM_A_PHONE = {"customer": {"owner", "code", "security_level", "merged_into", "pool",
                                 "binned_at"},
                    **{k: APPROVAL_SET for k in kinds.APPROVAL_KINDS}}


def full_records(rep: str, other: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """One record of each kind with every field a rep may write filled in."""
    c, deal, first = (samples.new_id(k) for k in ("customer", "deal", "visit"))
    records = {
        "customer": (c, new_customer(rep, county="海淀区", shared_with=[other])),
        "visit": (samples.new_id("visit"), samples.visit(
            created_by=rep, customer_id=c, previous_visit_id=first)),
        "service": (samples.new_id("service"), samples.service(created_by=rep, customer_id=c)),
        "deal": (deal, samples.deal(created_by=rep, customer_id=c, deal_class="lost",
                                    stage=0, probability=0, lost_reason="预算取消")),
        "progress": (samples.new_id("progress"), samples.progress(
            created_by=rep, customer_id=c, deal_id=deal, deal_class="lost", stage=0)),
        "_first_visit": (first, samples.visit(created_by=rep, customer_id=c)),
    }
    service_id = records["service"][0]
    records["task"] = (samples.new_id("task"), samples.task(
        created_by=rep, assignee=rep, customer_id=c, deal_id=deal, visit_id=first,
        service_id=service_id, status="done", completed_at=samples.T0 + 2 * 86_400_000,
        done_with=first))
    plan = samples.new_id("trip_plan")
    records["trip_plan"] = (plan, samples.trip_plan(
        created_by=rep, approval_status="draft",
        stops=[{"customer_id": c, "purpose": "演示"}, {"customer_id": c, "purpose": "签约"}]))
    records["trip_report"] = (samples.new_id("trip_report"), samples.trip_report(
        created_by=rep, plan_id=plan))
    records["expense"] = (samples.new_id("expense"), samples.expense(
        created_by=rep, trip_id=plan, visit_id=first, customer_id=c, deal_id=deal,
        approval_status="draft"))
    records["work_report"] = (samples.new_id("work_report"), samples.work_report(
        created_by=rep, addressed_to=other, approval_status="draft"))
    # and the trip on the records it was part of
    for name in ("visit", "service", "task"):
        records[name][1]["trip_id"] = plan
    return records


def as_read(field: kinds.Field, value: Any) -> Any:
    """A written value as the read API gives it back (numbers as JSON numbers)."""
    if field.type == "number" and isinstance(value, int):
        return float(value)
    return value


async def test_every_field_of_every_kind_round_trips(live_server: LiveServer) -> None:
    team = live_server.team
    records = full_records(team.rep1.id, team.rep2.id)
    for name in samples.SAMPLES:
        kind = kinds.get_kind(name)
        written = records[name][1]
        left_out = {f.name for f in kind.fields} - set(written) - NOT_FROM_A_PHONE.get(name, set())
        assert not left_out, f"the {name} test record leaves out {left_out}: fill them in"
    dev = SyncClient("r1")
    async with online(live_server, dev, "rep1"):
        for doc_id, rec in records.values():
            write_record(dev.doc(doc_id), kinds.get_kind(doc_id.split(":")[0]).name, rec)
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(live_server)
    customer_id = records["customer"][0]
    async with http(live_server, "rep1") as rep:
        for name in samples.SAMPLES:
            doc_id, written = records[name]
            has_customer = kinds.get_kind(name).has_field("customer_id") or name == "customer"
            params = {"customer" if has_customer else "author": customer_id if has_customer
                      else team.rep1.id, "limit": "500"}
            listed = await rep.get(f"/api/records/{name}", params=params)
            assert listed.status_code == 200, (name, listed.text)
            assert doc_id in [r["doc_id"] for r in listed.json()["items"]], name
            got = await rep.get(f"/api/records/{name}/{doc_id}")
            assert got.status_code == 200, (name, got.text)
            record = got.json()["record"]
            row = next(r for r in listed.json()["items"] if r["doc_id"] == doc_id)
            for f in kinds.get_kind(name).fields:
                if f.name not in written:
                    continue
                if f.type == "list":
                    items = record[f.name]
                    assert len(items) == len(written[f.name]), (name, f.name)
                    for want, have in zip(written[f.name], items, strict=True):
                        for item in f.items:
                            if item.name in want:
                                assert have[item.name] == as_read(item, want[item.name]), (
                                    name, f.name, item.name)
                    continue
                if f.y_type == "array":  # a list of scalars (shared_with) has no column
                    continue
                want = as_read(f, written[f.name])
                assert record[f.name] == want, (name, f.name, record[f.name], want)
                assert row[f.name] == want, (name, f.name, "in the list")
