"""The briefcase's keeper (pwa/src/keeper.ts): server updates are merged into the stored
records by a Web Worker, and the page keeps them itself when there is no worker. What the
worker stored is what a reload (offline too) and a later edit start from.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sync.client import SyncClient

from .conftest import PASSWORD, LiveServer, run_async
from .test_pwa import login, server_records, wait_state, wait_synced, write_as

pytestmark = pytest.mark.browser


def manager_sets(server: LiveServer, doc: str, fields: dict[str, Any]) -> None:
    token = server.login("manager")

    async def edit() -> None:
        client = SyncClient(f"pytest-{uuid.uuid4().hex[:8]}")
        async with client.connect(server.url.replace("http://", "ws://") + "/sync", token):
            await client.wait_caught_up()
            await client.wait_for(lambda: doc in client.docs)
            client.set_fields(doc, fields)
            await client.wait_flushed()
            assert not any(e.refused for e in client.outbox), client.outbox

    run_async(edit())


def edit_phone(page: Any, customer: str, phone: str) -> None:
    page.goto(page.url.split("#")[0] + f"#/c/{customer}")
    page.click("#edit-customer")
    page.fill("#f-phone", phone)
    page.click("#save")
    page.wait_for_selector("h1.customer-name")


def test_server_updates_stored_by_the_worker_survive_an_offline_reload_and_an_edit(
    context: Any, live_server: LiveServer
) -> None:
    customer = f"customer:{uuid.uuid4()}"
    name = f"苏州工业园区精密仪器有限公司 {uuid.uuid4().hex[:6]}"
    write_as(live_server, "rep2", customer, {"name": name, "category": "direct"})
    page = context.new_page()
    login(page, live_server, "rep2")
    assert page.evaluate("window.waiqin.briefcase.keeper.inWorker") is True
    page.wait_for_function("(id) => window.waiqin.briefcase.has(id)", arg=customer)

    # A second update of a stored record: the worker merges it into the stored state.
    manager_sets(live_server, customer, {"industry": "仪器仪表"})
    page.wait_for_function(
        "(id) => window.waiqin.briefcase.record(id).industry === '仪器仪表'", arg=customer)
    page.evaluate("() => window.waiqin.briefcase.flushed()")

    context.set_offline(True)
    page.reload()
    wait_state(page, "offline")
    page.wait_for_function("(id) => window.waiqin.briefcase.has(id)", arg=customer)
    assert page.evaluate("(id) => window.waiqin.briefcase.record(id)", customer)["name"] == name
    # The edit starts from the stored state: both updates are in it, so the record as the
    # page's Y doc has it after the edit still holds the manager's field.
    edit_phone(page, customer, "0512-66661234")
    record = page.evaluate("(id) => window.waiqin.briefcase.record(id)", customer)
    assert record["industry"] == "仪器仪表"
    assert record["name"] == name
    assert record["phone"] == "0512-66661234"

    context.set_offline(False)
    wait_synced(page)
    on_server = server_records(live_server, "manager", [customer])[customer]
    assert on_server["phone"] == "0512-66661234"
    assert on_server["industry"] == "仪器仪表"


def test_without_its_worker_the_page_keeps_the_records(
    context: Any, live_server: LiveServer
) -> None:
    customer = f"customer:{uuid.uuid4()}"
    name = f"无锡太湖纺织机械有限公司 {uuid.uuid4().hex[:6]}"
    write_as(live_server, "rep2", customer, {"name": name, "category": "direct"})
    context.route("**/briefcase-worker.js", lambda route: route.fulfill(status=404, body=""))
    page = context.new_page()
    page.goto(live_server.url + "/app/")
    page.fill("#login", "rep2")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    wait_state(page, "live")
    page.wait_for_function("(id) => window.waiqin.briefcase.has(id)", arg=customer)
    page.wait_for_function("() => window.waiqin.briefcase.keeper.inWorker === false")

    manager_sets(live_server, customer, {"industry": "纺织机械"})
    page.wait_for_function(
        "(id) => window.waiqin.briefcase.record(id).industry === '纺织机械'", arg=customer)
    page.evaluate("() => window.waiqin.briefcase.flushed()")
    page.reload()
    wait_state(page, "live")
    page.wait_for_function("(id) => window.waiqin.briefcase.has(id)", arg=customer)
    edit_phone(page, customer, "0510-88887777")
    record = page.evaluate("(id) => window.waiqin.briefcase.record(id)", customer)
    assert record["industry"] == "纺织机械"
    wait_synced(page)
    assert server_records(live_server, "manager", [customer])[customer]["phone"] == "0510-88887777"
