"""Tasks (日程) through the real server: who they reach, the rules a task must keep (each refused
change named, in both languages, kept on the device), and deals kept current by progress."""

from __future__ import annotations

import pytest

from schema import samples
from schema.kinds import MIN_TIMESTAMP
from schema.ydoc import update_fields, write_record
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer
from tests.server.phones import http, online, settle

pytestmark = pytest.mark.asyncio


def task(author: str, **over: object) -> dict[str, object]:
    base: dict[str, object] = {"created_by": author, "assignee": author, "customer_id": None,
                               "deal_id": None}
    rec = samples.task(**{**base, **over})
    return {k: v for k, v in rec.items() if v is not None}


async def test_a_managers_assignment_reaches_the_reps_open_app_live(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    rep, boss, other = SyncClient("rep1-phone"), SyncClient("boss"), SyncClient("rep2-phone")
    c = samples.new_id("customer")
    t = samples.new_id("task")
    async with online(live_server, rep, "rep1"), online(live_server, other, "rep2"):
        write_record(rep.doc(c), "customer", new_customer(team.rep1.id, credit_code=None))
        await rep.wait_flushed()
        async with online(live_server, boss, "manager"):
            write_record(boss.doc(t), "task", task(
                team.manager.id, assignee=team.rep1.id, customer_id=c, subject="回访友好创达"))
            await boss.wait_flushed()
            assert not boss.errors, boss.errors
        await rep.wait_for(lambda: rep.read(t).get("subject") == "回访友好创达")
        assert t not in other.docs  # not rep2's: neither assigned nor their customer
        # the rep completes it with the visit that did it
        v = samples.new_id("visit")
        write_record(rep.doc(v), "visit", samples.visit(created_by=team.rep1.id, customer_id=c))
        update_fields(rep.doc(t), "task", {
            "status": "done", "completed_at": rep.now_ms(), "done_with": v})
        await rep.wait_flushed()
        assert not rep.errors, rep.errors
    await settle(live_server)
    async with http(live_server, "manager") as api:
        listed = (await api.get("/api/records/task", params={"status": "done"})).json()
        assert [r["doc_id"] for r in listed["items"]] == [t]
        assert listed["items"][0]["done_with"] == v
        assert listed["items"][0]["assignee"] == team.rep1.id


@pytest.mark.parametrize(("who", "record", "field", "rule"), [
    ("rep1", {"assignee": "@rep2"}, "assignee", "task.assignee_outside_tree"),
    ("manager", {"assignee": "@rep3"}, "assignee", "task.assignee_outside_tree"),
    ("rep1", {"remind_at": samples.T0 + 2 * 86_400_000}, "remind_at", "task.remind_after_end"),
    ("rep1", {"remind_at": MIN_TIMESTAMP - 1}, "remind_at", "range"),
    ("rep1", {"completed_at": samples.T0 + 5000}, "completed_at", "task.completed_needs_done"),
    ("rep1", {"status": "done"}, "completed_at", "task.completed_needs_done"),
], ids=["rep-assigns-a-colleague", "manager-assigns-another-team", "remind-after-end",
        "remind-before-2000", "completed-but-open", "done-without-time"])
async def test_a_bad_task_is_refused_by_name_and_kept_on_the_device(
    live_server: LiveServer, who: str, record: dict[str, object], field: str, rule: str,
) -> None:
    users = {"rep1": live_server.team.rep1, "manager": live_server.team.manager,
             "rep2": live_server.team.rep2, "rep3": live_server.team.rep3}
    author = users[who].id
    over = {k: (users[v[1:]].id if isinstance(v, str) and v.startswith("@") else v)
            for k, v in record.items()}
    dev = SyncClient(f"{who}-phone")
    t = samples.new_id("task")
    async with online(live_server, dev, who):
        write_record(dev.doc(t), "task", task(author, **over))
        await dev.wait_flushed()
        err = dev.errors[-1]
        assert (err.doc, err.field, err.rule) == (t, field, rule), err
        assert err.message and err.message_zh and err.message != err.message_zh
        assert [e.doc_id for e in dev.outbox if e.refused] == [t]  # still on the phone
    assert not (await live_server.services.hub.open(t, "task")).exists


async def test_only_the_assignee_or_their_manager_completes_a_task(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    owner, boss = SyncClient("rep2-phone"), SyncClient("boss")
    c, t = samples.new_id("customer"), samples.new_id("task")
    async with online(live_server, owner, "rep2"), online(live_server, boss, "manager"):
        write_record(owner.doc(c), "customer", new_customer(team.rep2.id, credit_code=None))
        await owner.wait_flushed()
        # assigned to rep1 at rep2's customer: rep2 sees it through the customer
        write_record(boss.doc(t), "task", task(team.manager.id, assignee=team.rep1.id,
                                               customer_id=c))
        await boss.wait_flushed()
        await owner.wait_for(lambda: t in owner.docs)
        update_fields(owner.doc(t), "task", {"status": "done", "completed_at": owner.now_ms()})
        await owner.wait_flushed()
        err = owner.errors[-1]
        assert (err.field, err.rule) == ("status", "task.not_yours_to_complete")
        assert "执行人" in err.message_zh
        update_fields(boss.doc(t), "task", {"status": "cancelled"})  # their manager may
        await boss.wait_flushed()
        assert not boss.errors, boss.errors
    await settle(live_server)
    assert (await live_server.services.hub.open(t, "task")).record["status"] == "cancelled"


async def test_progress_keeps_its_deal_current_and_a_late_old_one_does_not_turn_it_back(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    dev = SyncClient("rep1-phone")
    c, deal = samples.new_id("customer"), samples.new_id("deal")
    newer, older = samples.new_id("progress"), samples.new_id("progress")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(c), "customer", new_customer(team.rep1.id, credit_code=None))
        write_record(dev.doc(deal), "deal", samples.deal(
            created_by=team.rep1.id, customer_id=c, deal_class="short", stage=4, probability=40))
        write_record(dev.doc(newer), "progress", samples.progress(
            created_by=team.rep1.id, customer_id=c, deal_id=deal, stage=6,
            created_at=samples.T0 + 10_000))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await settle(live_server)
        await dev.wait_for(lambda: dev.read(deal).get("stage") == 6)
        assert dev.read(deal)["probability"] == 60
        # written earlier on another phone, arriving now: the deal stays at 6
        write_record(dev.doc(older), "progress", samples.progress(
            created_by=team.rep1.id, customer_id=c, deal_id=deal, stage=5,
            created_at=samples.T0 + 5_000))
        # a class change is carried too, with a stage that fits the new class
        move = samples.new_id("progress")
        write_record(dev.doc(move), "progress", samples.progress(
            created_by=team.rep1.id, customer_id=c, deal_id=deal, stage=2, deal_class="medium",
            created_at=samples.T0 + 20_000))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
        await settle(live_server)
        await dev.wait_for(lambda: dev.read(deal).get("deal_class") == "medium")
        assert (dev.read(deal)["stage"], dev.read(deal)["probability"]) == (2, 20)
        # a stage that does not fit the class is refused on the progress record itself
        bad = samples.new_id("progress")
        write_record(dev.doc(bad), "progress", samples.progress(
            created_by=team.rep1.id, customer_id=c, deal_id=deal, stage=1,
            created_at=samples.T0 + 30_000))
        await dev.wait_flushed()
        assert (dev.errors[-1].field, dev.errors[-1].rule) == ("stage", "progress.class_stage")
    await settle(live_server)
    assert (await live_server.services.hub.open(deal, "deal")).record["stage"] == 2
