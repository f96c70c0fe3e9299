"""Logging in and out of the back office: cookies, CSRF, redirects, language."""

from __future__ import annotations

import httpx
import pytest

from tests.backoffice.seed import csrf_of, login
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def test_login_sets_a_strict_cookie_and_logout_ends_the_session(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.get("/admin/visits")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/admin/login?next=%2Fadmin%2Fvisits")
        page = await http.get("/admin/login")
        assert "登录" in page.text  # Chinese first
        token = csrf_of(page.text)
        # no CSRF token: refused
        r = await http.post("/admin/login", data={"login": "manager", "password": PASSWORD})
        assert r.status_code == 403
        # a wrong password: the form again, and no session
        r = await http.post("/admin/login", data={"login": "manager", "password": "nope",
                                                  "csrf": token})
        assert r.status_code == 401 and "账号或密码错误" in r.text
        assert "wq_admin" not in http.cookies
        r = await http.post("/admin/login", data={"login": "manager", "password": PASSWORD,
                                                  "csrf": token, "next": "/admin/visits"})
        assert r.status_code == 303 and r.headers["location"] == "/admin/visits"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("wq_admin="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert "Path=/admin" in cookie
        # an open redirect is not followed
        r = await http.post("/admin/login", data={"login": "manager", "password": PASSWORD,
                                                  "csrf": token, "next": "//evil.example/"})
        assert r.headers["location"] == "/admin/"
        home = await http.get("/admin/")
        assert home.status_code == 200 and "manager" in home.text
        # English on request, remembered
        r = await http.get("/admin/?lang=en")
        assert "Visits" in r.text and "Log out" in r.text
        assert "Log out" in (await http.get("/admin/")).text
        kept = http.cookies["wq_admin"]
        # logging out needs the token too
        r = await http.post("/admin/logout", data={})
        assert r.status_code == 403
        r = await http.post("/admin/logout", data={"csrf": csrf_of(home.text)})
        assert r.status_code == 303
    # the old cookie is dead even if someone kept it
    async with httpx.AsyncClient(base_url=live_server.url, cookies={"wq_admin": kept}) as http:
        assert (await http.get("/admin/visits")).status_code == 303


async def test_disabled_user_loses_the_back_office_at_once(live_server: LiveServer) -> None:
    async with login(live_server.url, "manager", PASSWORD) as http:
        assert (await http.get("/admin/")).status_code == 200
        await live_server.services.accounts.disable(live_server.team.manager.id)
        assert (await http.get("/admin/")).status_code == 303


async def test_a_post_from_another_origin_is_refused(live_server: LiveServer) -> None:
    async with login(live_server.url, "admin", PASSWORD) as http:
        page = await http.get("/admin/users")
        r = await http.post("/admin/users", data={
            "csrf": csrf_of(page.text), "login": "mallory", "password": "x" * 10, "role": "admin",
        }, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        assert await live_server.services.accounts.by_login("mallory") is None


async def test_password_guessing_is_cut_off(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        token = csrf_of((await http.get("/admin/login")).text)
        for _ in range(10):
            r = await http.post("/admin/login", data={"login": "rep1", "password": "guess",
                                                      "csrf": token})
            assert r.status_code == 401
        r = await http.post("/admin/login", data={"login": "rep1", "password": PASSWORD,
                                                  "csrf": token})
        assert r.status_code == 429 and "15 分钟" in r.text
        assert "wq_admin" not in http.cookies
        # other accounts are not affected
        r = await http.post("/admin/login", data={"login": "rep2", "password": PASSWORD,
                                                  "csrf": token})
        assert r.status_code == 303
