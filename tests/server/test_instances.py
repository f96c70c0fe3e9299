"""Several server instances on one PostgreSQL: a change committed on one reaches devices
connected to another, live and by cursor; a revoked token closes its sockets everywhere."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from schema import samples
from schema.ydoc import update_fields, write_record
from server.config import Config
from sync import protocol as p
from sync.client import SyncClient
from tests.backoffice.seed import login, post_form
from tests.conftest import PASSWORD, LiveServer, serve
from tests.factories import new_customer

pytestmark = pytest.mark.asyncio


async def test_two_instances_fan_out_to_each_other(live_server: LiveServer, config: Config) -> None:
    if config.is_sqlite:
        pytest.skip("several instances share one PostgreSQL; SQLite serves one instance")
    team = live_server.team
    async with serve(config) as (other_url, other_app):
        a_ws, b_ws = live_server.ws, other_url.replace("http://", "ws://")
        rep, boss = SyncClient("rep-phone"), SyncClient("boss-phone")
        async with rep.connect(f"{a_ws}/sync", live_server.tokens["rep1"]), boss.connect(
            f"{b_ws}/sync", live_server.tokens["manager"]
        ):
            await rep.wait_caught_up()
            await boss.wait_caught_up()
            docs = [samples.new_id("customer") for _ in range(5)]
            for i, d in enumerate(docs):  # written on instance A
                rec = new_customer(team.rep1.id, name=f"甲{i}科技有限公司", credit_code=None)
                write_record(rep.doc(d), "customer", rec)
            await rep.wait_flushed()
            # reach the manager on instance B, live
            await boss.wait_for(lambda: all(boss.read(d).get("name") for d in docs))
            # and the server's own follow-up edits (codes) flow the same way
            await boss.wait_for(lambda: all(boss.read(d).get("code") for d in docs))
            # the other way round: written on B, arrives on A
            update_fields(boss.doc(docs[0]), "customer", {"short_name": "JIA"})
            await boss.wait_flushed()
            assert not boss.errors, boss.errors
            await rep.wait_for(lambda: rep.read(docs[0]).get("short_name") == "JIA")
            # interleaved writes on both: both converge
            for i, d in enumerate(docs):
                update_fields(rep.doc(d), "customer", {"postcode": f"10000{i}"})
                update_fields(boss.doc(d), "customer", {"region": f"区{i}"})
            await rep.wait_flushed()
            await boss.wait_flushed()
            # each phone waits on its own changes for the other's edits (a wait on one
            # phone's changes for a condition on both missed the other's last update)
            for i, d in enumerate(docs):
                await rep.wait_for(lambda d=d, i=i: rep.read(d).get("region") == f"区{i}")
                await boss.wait_for(lambda d=d, i=i: boss.read(d).get("postcode") == f"10000{i}")
                assert rep.read(d) == boss.read(d)
        # the manager's phone, last on B, misses changes made on A while away, then
        # reconnects to A with its cursor: it gets exactly what it lacks
        async with rep.connect(f"{a_ws}/sync", live_server.tokens["rep1"]):
            await rep.wait_caught_up()
            for d in docs[:2]:
                update_fields(rep.doc(d), "customer", {"industry": "制造业"})
            await rep.wait_flushed()
        boss.bytes_received = 0
        async with boss.connect(f"{a_ws}/sync", live_server.tokens["manager"]):
            await boss.wait_caught_up()
            assert [boss.read(d).get("industry") for d in docs[:2]] == ["制造业", "制造业"]
            assert all(boss.read(d) == rep.read(d) for d in docs)
        assert boss.bytes_received < 2000  # two small changes, not the whole briefcase

        # revoking on B closes the socket on A
        async with rep.connect(f"{a_ws}/sync", live_server.tokens["rep1"]):
            await rep.wait_caught_up()
            async with httpx.AsyncClient(base_url=other_url) as http:
                r = await http.delete("/api/session", headers={
                    "Authorization": f"Bearer {live_server.tokens['rep1']}"})
                assert r.status_code == 204
            await rep.wait_closed()
        assert rep.close_code == p.CloseCode.BAD_TOKEN


async def test_a_tree_change_on_one_instance_closes_sockets_on_another(
    live_server: LiveServer, config: Config
) -> None:
    if config.is_sqlite:
        pytest.skip("several instances share one PostgreSQL; SQLite serves one instance")
    team = live_server.team
    async with serve(config) as (other_url, _other_app):
        boss = SyncClient("boss-phone")
        b_ws = other_url.replace("http://", "ws://")
        async with boss.connect(f"{b_ws}/sync", live_server.tokens["manager"]):
            await boss.wait_caught_up()
            services = live_server.services  # instance A makes the change
            changed = await services.accounts.set_manager(team.rep1.id, team.other_manager.id)
            assert team.manager.id in changed
            services.connections.change_scopes(changed, "reporting tree changed")
            await boss.wait_closed()
        assert boss.close_code == p.CloseCode.SCOPE_CHANGED


async def test_revoking_a_device_on_one_instance_closes_it_on_another(
    live_server: LiveServer, config: Config
) -> None:
    if config.is_sqlite:
        pytest.skip("several instances share one PostgreSQL; SQLite serves one instance")
    team = live_server.team
    async with serve(config) as (other_url, _other_app):
        b_ws = other_url.replace("http://", "ws://")
        tablet, phone = SyncClient("tablet-rep1"), SyncClient("phone-rep1")
        async with tablet.connect(f"{b_ws}/sync", live_server.tokens["rep1"]), phone.connect(
            f"{b_ws}/sync", live_server.tokens["rep1"]
        ):
            await tablet.wait_caught_up()
            await phone.wait_caught_up()
            async with login(live_server.url, "admin", PASSWORD) as http:  # instance A
                r = await post_form(http, f"/admin/users/{team.rep1.id}/revoke-device",
                                    device_id="tablet-rep1")
                assert r.status_code == 303
            await tablet.wait_closed()
            assert tablet.close_code == p.CloseCode.DEVICE_REVOKED
            assert phone.connected  # only that device, on the other instance too


async def test_an_instance_that_lost_its_listener_closes_its_sockets(
    live_server: LiveServer, config: Config
) -> None:
    """Announcements sent while an instance's listening connection was down are lost: once it
    reconnects, its devices reconnect too and are authenticated and scoped afresh."""
    if config.is_sqlite:
        pytest.skip("several instances share one PostgreSQL; SQLite serves one instance")
    async with serve(config) as (other_url, other_app):
        phone = SyncClient("phone-rep1")
        async with phone.connect(f"{other_url.replace('http://', 'ws://')}/sync",
                                 live_server.tokens["rep1"]):
            await phone.wait_caught_up()
            listener = other_app.state.services.connections.listener
            assert listener is not None
            pid = listener._conn.get_server_pid()
            async with live_server.services.engine.connect() as conn:
                assert await conn.scalar(text("select pg_terminate_backend(:pid)"), {"pid": pid})
            await phone.wait_closed()
        assert phone.close_code == p.CloseCode.SCOPE_CHANGED
        assert listener.gaps == 1
