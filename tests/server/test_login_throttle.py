"""Password guessing is cut off per account and per client address, on the API and in the back
office alike (one throttle, in `Accounts.login`), and a named 429 says why."""

from __future__ import annotations

import httpx
import pytest

from server.accounts import MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, TooManyAttempts
from tests.backoffice.seed import csrf_of
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def attempt(http: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await http.post("/api/session", json={"login": login, "password": password})


async def test_one_account_is_cut_off_after_its_failures_on_the_api(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for _ in range(MAX_ACCOUNT_FAILURES):
            r = await attempt(http, "rep1", "guess")
            assert r.status_code == 401 and r.json()["error"]["code"] == "bad_credentials"
        r = await attempt(http, "rep1", PASSWORD)  # even the right password, for now
        assert r.status_code == 429
        err = r.json()["error"]
        assert err["code"] == "too_many_attempts" and err["scope"] == "account"
        assert "rep1" in err["message"]
        assert (await attempt(http, "rep2", PASSWORD)).status_code == 201  # others unaffected


async def test_one_address_trying_many_accounts_is_cut_off(live_server: LiveServer) -> None:
    accounts = live_server.services.accounts
    logins = [f"nobody{i}" for i in range(MAX_ADDRESS_FAILURES)]  # a few tries on each of many
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for login in logins:
            assert (await attempt(http, login, "guess")).status_code == 401
        r = await attempt(http, "rep2", PASSWORD)
        assert r.status_code == 429 and r.json()["error"]["scope"] == "address"
        assert "127.0.0.1" in r.json()["error"]["message"]
        # the back office's login is the same door
        token = csrf_of((await http.get("/admin/login")).text)
        r = await http.post("/admin/login", data={"login": "rep2", "password": PASSWORD,
                                                  "csrf": token})
        assert r.status_code == 429 and "15 分钟" in r.text
    # another address is not held back by this one's failures
    token, user = await accounts.login("rep2", PASSWORD, address="10.1.2.3")
    assert token and user.login == "rep2"
    with pytest.raises(TooManyAttempts):
        await accounts.login("rep2", PASSWORD, address="127.0.0.1")
