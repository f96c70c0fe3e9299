"""A merged card stays reachable for everyone who saw it before the merge: the read API gives
it with `merged_into`, the back office's page leads to the survivor; others still get 404."""

from __future__ import annotations

import pytest

from schema import samples
from schema.ydoc import write_record
from sync.client import SyncClient
from tests.backoffice.seed import login
from tests.conftest import PASSWORD, LiveServer
from tests.server.phones import NAME, customer, http, online, settle

pytestmark = pytest.mark.asyncio


async def merged_pair(server: LiveServer) -> tuple[str, str]:
    """rep1's card, then rep2's card of the same customer: rep2's is merged into rep1's."""
    team = server.team
    a, b = SyncClient("phone-a"), SyncClient("phone-b")
    survivor, merged = samples.new_id("customer"), samples.new_id("customer")
    async with online(server, a, "rep1"):
        write_record(a.doc(survivor), "customer", customer(team.rep1.id, NAME, a.now_ms()))
        await a.wait_flushed()
    await settle(server)
    async with online(server, b, "rep2"):
        write_record(b.doc(merged), "customer", customer(
            team.rep2.id, NAME, b.now_ms(), phone="021-63539330-1010"))
        await b.wait_flushed()
        assert not b.errors, b.errors
    await settle(server)
    return survivor, merged


async def test_the_read_api_gives_a_merged_card_to_those_who_saw_it(
    live_server: LiveServer,
) -> None:
    survivor, merged = await merged_pair(live_server)
    for who in ("manager", "rep2", "admin"):
        async with http(live_server, who) as client:
            r = await client.get(f"/api/records/customer/{merged}")
            assert r.status_code == 200, (who, r.text)
            card = r.json()["record"]
            assert card["merged_into"] == survivor, who
            assert card["phone"] == "021-63539330-1010"
    for who in ("manager_b", "rep3"):  # never theirs: no trace of it
        async with http(live_server, who) as client:
            r = await client.get(f"/api/records/customer/{merged}")
            assert r.status_code == 404, who
            assert r.json()["error"]["code"] == "not_found"


async def test_the_back_office_page_of_a_merged_card_leads_to_the_survivor(
    live_server: LiveServer,
) -> None:
    survivor, merged = await merged_pair(live_server)
    async with login(live_server.url, "manager", PASSWORD) as client:
        r = await client.get(f"/admin/records/{merged}")
        assert r.status_code == 200, r.text[:500]
        assert f'/admin/records/{survivor}"' in r.text
        assert "此客户已合并到另一张客户卡片" in r.text
    async with login(live_server.url, "manager_b", PASSWORD) as client:
        assert (await client.get(f"/admin/records/{merged}")).status_code == 404
