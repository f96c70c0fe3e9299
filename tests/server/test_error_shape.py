"""Every route the OpenAPI document lists, asked with bad input (no token, malformed ids,
nonsense parameters, a broken body, a method it does not take), answers a 4xx in the one JSON
error shape: `{"error": {"code": str, "message": str, ...}}`. Never a 5xx, never HTML."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.asyncio

BAD_PATH_VALUES = ("not-an-id", "99999999999999999999999999", "-1", "customer:nope")
BAD_QUERY_VALUES = ("x", "-99999999999999999999", "")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def check_shape(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code < 400 or r.request.method == "HEAD":
        return
    assert r.headers.get("content-type", "").startswith("application/json"), (what, r.text[:200])
    body = r.json()
    assert set(body) == {"error"}, (what, body)
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], (what, body)
    assert isinstance(err.get("message"), str) and err["message"], (what, body)


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


async def test_every_route_answers_bad_input_in_the_one_error_shape(
    live_server: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as anon:
        spec: dict[str, Any] = (await anon.get("/api/openapi.json")).json()
    token = live_server.tokens["rep1"]
    auth = {"Authorization": f"Bearer {token}"}
    asked = 0
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        for path, ops in spec["paths"].items():
            for method in METHODS:
                op = ops.get(method)
                if op is None:
                    if method in ("head", "options"):
                        continue
                    # a method the path does not take: 405 in the same shape
                    r = await http.request(method.upper(), fill(path, "x"), headers=auth)
                    check_shape(r, f"{method} {path} (undeclared)")
                    asked += 1
                    continue
                secured = op.get("security", spec.get("security")) != []
                for value in BAD_PATH_VALUES if "{" in path else ("",):
                    url = fill(path, value)
                    if secured:  # no token, and a bad one
                        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                            r = await http.request(method.upper(), url, headers=headers)
                            check_shape(r, f"{method} {url} {headers}")
                            if r.request.method != "HEAD":
                                # refused: no caller, or an id malformed on its face
                                assert r.status_code in (400, 401, 404, 405), (method, url, r.text)
                            asked += 1
                    queries = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
                    for bad in BAD_QUERY_VALUES:
                        params = {name: bad for name in queries}
                        r = await http.request(method.upper(), url, params=params, headers=auth)
                        check_shape(r, f"{method} {url} ?{params}")
                        asked += 1
                    if method in ("post", "put", "patch"):
                        r = await http.request(method.upper(), url, content=b"{not json",
                                               headers={**auth, "Content-Type":
                                                        "application/json"})
                        check_shape(r, f"{method} {url} with a broken body")
                        asked += 1
    assert asked > 100  # the document lists the API; this is no empty walk
