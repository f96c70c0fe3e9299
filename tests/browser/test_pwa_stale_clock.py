"""The PWA whose device id the server knows from clocks it has not used itself (its counter
restarted, or another client used the id): its offline change is renumbered after the
server's last clock and lands, instead of being taken for a resend and dropped."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from sync.client import SyncClient

from .conftest import LiveServer, run_async
from .test_pwa import create_customer, login, server_records, wait_state, wait_synced

pytestmark = pytest.mark.browser


def test_an_offline_change_under_used_clocks_is_renumbered_and_lands(
    context: Any, live_server: LiveServer
) -> None:
    page = context.new_page()
    login(page, live_server)
    device = page.evaluate("() => window.waiqin.sync.opts.deviceId")
    context.set_offline(True)
    wait_state(page, "offline")
    name = f"上海新创科技有限公司 {uuid.uuid4().hex[:6]}"
    customer = create_customer(page, name)
    clock = page.evaluate("() => window.waiqin.briefcase.outbox[0].clock")

    # Meanwhile the same device id uses clocks from 1 up, past the PWA's (the server
    # refuses these bare visits, which uses their clocks all the same)
    token = live_server.login("rep1")

    async def use_clocks() -> int:
        other = SyncClient(device)
        async with other.connect(live_server.url.replace("http://", "ws://") + "/sync", token):
            await other.wait_caught_up()
            for _ in range(clock + 3):
                other.set_fields(f"visit:{uuid.uuid4()}", {"created_at": int(time.time() * 1000)})
            await other.wait_flushed()
        return other.clock

    last = run_async(use_clocks())
    assert last > clock
    context.set_offline(False)
    wait_synced(page)
    outbox = page.evaluate("() => window.waiqin.briefcase.outbox")
    assert outbox == [], outbox  # nothing left, nothing marked refused
    assert page.evaluate("() => window.waiqin.briefcase.clock") > last
    assert server_records(live_server, "rep1", [customer])[customer]["name"] == name
