"""An update that leaves the record as it was still brings structs the device's later
updates build on: it must be logged, not acknowledged and forgotten."""

from __future__ import annotations

from typing import Any

import pytest

from sync.client import SyncClient
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_an_update_that_changes_nothing_visible_is_logged(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        phone = SyncClient("phone")
        doc = new_id()
        async with h.online(phone, team.rep1):
            phone.set_fields(doc, {"purpose": "拜访"})
            await phone.wait_flushed()
            rows = await h.log_rows(doc)
            phone.set_fields(doc, {"purpose": "拜访"})  # the same value: new structs
            await phone.wait_flushed()
            assert await h.log_rows(doc) == rows + 1
            h.hub.forget(doc)  # the next update applies to the doc as the database has it
            phone.set_fields(doc, {"place": "客户办公室"})
            await phone.wait_flushed()
            assert not phone.errors, phone.errors
        assert await h.server_record(doc) == {"purpose": "拜访", "place": "客户办公室"}
