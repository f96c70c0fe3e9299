"""A change of the reporting tree or of a role reaches connected devices at once: their
sockets close with SCOPE_CHANGED, and the reconnect brings the new scope. A manager who
lost a rep must not keep receiving the rep's changes on a socket opened before the move."""

from __future__ import annotations

import httpx
import pytest

from schema import samples
from schema.ydoc import update_fields, write_record
from sync import protocol as p
from sync.client import SyncClient
from tests.backoffice.seed import csrf_of, login
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def _post(http: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    page = await http.get("/admin/")
    return await http.post(path, data={"csrf": csrf_of(page.text), **data})


async def test_moving_a_rep_closes_both_managers_sockets_and_moves_the_scope(
    live_server: LiveServer,
) -> None:
    team, ws, tokens = live_server.team, f"{live_server.ws}/sync", live_server.tokens
    rep, boss_a, boss_b = SyncClient("rep1-phone"), SyncClient("ma-phone"), SyncClient("mb-phone")
    visit = samples.new_id("visit")
    async with rep.connect(ws, tokens["rep1"]):
        await rep.wait_caught_up()
        async with boss_a.connect(ws, tokens["manager"]), boss_b.connect(ws, tokens["manager_b"]):
            await boss_a.wait_caught_up()
            await boss_b.wait_caught_up()
            write_record(rep.doc(visit), "visit", samples.visit(created_by=team.rep1.id))
            await rep.wait_flushed()
            assert not rep.errors, rep.errors
            await boss_a.wait_for(lambda: boss_a.read(visit).get("purpose"))
            assert visit not in boss_b.docs

            async with login(live_server.url, "admin", PASSWORD) as http:
                r = await _post(http, f"/admin/users/{team.rep1.id}/manager",
                                manager_id=team.other_manager.id)
                assert r.status_code == 303
            # both managers' scopes changed: their sockets close; the rep's did not
            await boss_a.wait_closed()
            await boss_b.wait_closed()
            assert boss_a.close_code == p.CloseCode.SCOPE_CHANGED
            assert boss_b.close_code == p.CloseCode.SCOPE_CHANGED
            assert rep.connected

        async with boss_a.connect(ws, tokens["manager"]), boss_b.connect(ws, tokens["manager_b"]):
            await boss_a.wait_caught_up()
            await boss_b.wait_caught_up()
            assert visit not in boss_a.docs  # reset: the lost rep's records left
            assert boss_b.read(visit).get("purpose")  # and arrived in the new team
            update_fields(rep.doc(visit), "visit", {"place": "新的地点"})
            await rep.wait_flushed()
            await boss_b.wait_for(lambda: boss_b.read(visit).get("place") == "新的地点")
            assert visit not in boss_a.docs


async def test_a_role_change_closes_that_users_sockets_and_resets_their_devices(
    live_server: LiveServer,
) -> None:
    team, ws, tokens = live_server.team, f"{live_server.ws}/sync", live_server.tokens
    outsider, boss = SyncClient("rep3-phone"), SyncClient("ma-phone")
    visit = samples.new_id("visit")
    async with outsider.connect(ws, tokens["rep3"]):
        await outsider.wait_caught_up()
        write_record(outsider.doc(visit), "visit", samples.visit(created_by=team.rep3.id))
        await outsider.wait_flushed()
        assert not outsider.errors, outsider.errors
    async with login(live_server.url, "admin", PASSWORD) as http:
        # the manager is made an admin: sees everything, at once
        async with boss.connect(ws, tokens["manager"]):
            await boss.wait_caught_up()
            assert visit not in boss.docs
            r = await _post(http, f"/admin/users/{team.manager.id}/role", role="admin")
            assert r.status_code == 303
            await boss.wait_closed()
            assert boss.close_code == p.CloseCode.SCOPE_CHANGED
        async with boss.connect(ws, tokens["manager"]):
            await boss.wait_caught_up()
            assert boss.read(visit).get("purpose")
        # and back: the other team's visit leaves the device, not only new changes to it
        r = await _post(http, f"/admin/users/{team.manager.id}/role", role="manager")
        assert r.status_code == 303
        async with boss.connect(ws, tokens["manager"]):
            await boss.wait_caught_up()
            assert visit not in boss.docs
