"""Data for the back-office tests: records written through the real /sync path (with a
real photo uploaded as a blob), and bulk projection rows for the report arithmetic."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import samples
from schema import tables as st
from schema.ydoc import write_record
from sync import tables as sync_t
from sync.client import SyncClient

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def jpeg(color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (640, 480)) -> bytes:
    img = Image.new("RGB", size, color)
    for x in range(0, size[0], 40):  # some structure, so the thumbnail is not one colour
        for y in range(size[1]):
            img.putpixel((x, y), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


async def upload(url: str, token: str, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.put(f"/api/blobs/{sha}", content=data,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": "image/jpeg"})
        assert r.status_code in (200, 201), r.text
    return sha


def customer_record(user_id: str, **over: Any) -> dict[str, Any]:
    rec = samples.customer(created_by=user_id, **over)
    for k in ("owner", "code", "security_level", "merged_into"):
        rec.pop(k, None)
    return rec


@dataclass
class Seeded:
    customer_a: str = ""  # rep1's, team A
    visit_a: str = ""  # with a real photo
    service_a: str = ""
    deal_a: str = ""  # no expected close date
    customer_b: str = ""  # rep3's, team B
    visit_b: str = ""
    service_b: str = ""
    photo: str = ""
    photo_b: str = ""
    extra: dict[str, str] = field(default_factory=dict)


async def seed(live: Any) -> Seeded:
    """rep1 (team A) and rep3 (team B) each record a customer with a visit, a service sheet
    and (rep1) a deal, through /sync, with photos uploaded as blobs."""
    s = Seeded()
    team = live.team
    s.photo = await upload(live.url, live.tokens["rep1"], jpeg())
    s.photo_b = await upload(live.url, live.tokens["rep3"], jpeg((40, 90, 200)))
    now = samples.T0 + 400 * 86_400_000

    def attachment(sha: str, data_len: int = 1000) -> dict[str, Any]:
        return samples.attachment(sha256=sha, size=data_len, width=640, height=480,
                                  caption="现场照片", category="site_photo")

    for login, user, photo, prefix in (("rep1", team.rep1, s.photo, "a"),
                                       ("rep3", team.rep3, s.photo_b, "b")):
        dev = SyncClient(f"phone-{login}")
        cid, vid, sid = (samples.new_id("customer"), samples.new_id("visit"),
                         samples.new_id("service"))
        name = "北京友好创达科技有限公司" if prefix == "a" else "上海远景数码设备有限公司"
        async with dev.connect(f"{live.ws}/sync", live.tokens[login]):
            await dev.wait_caught_up()
            write_record(dev.doc(cid), "customer", customer_record(
                user.id, name=name, credit_code=None, attachments=[], created_at=now,
                submitted_at=now + 1000))
            write_record(dev.doc(vid), "visit", samples.visit(
                customer_id=cid, created_by=user.id, attachments=[attachment(photo)],
                started_at=now + 3_600_000, ended_at=now + 7_200_000,
                created_at=now + 3_600_000, submitted_at=now + 7_300_000,
                purpose=f"介绍新款扫描仪 {prefix}"))
            write_record(dev.doc(sid), "service", samples.service(
                customer_id=cid, created_by=user.id, attachments=[attachment(photo)]))
            if prefix == "a":
                did = samples.new_id("deal")
                deal = samples.deal(customer_id=cid, created_by=user.id, submitted_at=None)
                deal.pop("expected_close_date")
                deal.pop("submitted_at")
                write_record(dev.doc(did), "deal", deal)
                s.deal_a = did
            await dev.wait_flushed()
            await dev.wait_for(lambda cid=cid, dev=dev: bool(dev.read(cid).get("code")))
        if prefix == "a":
            s.customer_a, s.visit_a, s.service_a = cid, vid, sid
        else:
            s.customer_b, s.visit_b, s.service_b = cid, vid, sid
    if getattr(live, "services", None) is not None:  # same process and event loop
        await live.services.edits.settle()
        assert not live.services.edits.errors
    return s


@contextlib.asynccontextmanager
async def login(url: str, user: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client holding a back-office session cookie."""
    async with httpx.AsyncClient(base_url=url, follow_redirects=False) as http:
        r = await http.get("/admin/login")
        token = csrf_of(r.text)
        r = await http.post("/admin/login", data={"login": user, "password": password,
                                                  "csrf": token, "next": ""})
        assert r.status_code == 303, r.text
        yield http


async def post_form(http: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    """A back-office form post with the session's CSRF token."""
    page = await http.get("/admin/")
    return await http.post(path, data={"csrf": csrf_of(page.text), **data})


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


# -- bulk projection rows (report arithmetic; no sync path) ------------------------------------


async def insert_rows(engine: AsyncEngine, kind: str, rows: list[dict[str, Any]],
                      grants: dict[str, list[str]]) -> None:
    """Projection rows of `kind` and their grants, straight into the tables."""
    table = st.KIND_TABLES[kind]
    full = []
    for r in rows:
        base = {c.name: None for c in table.columns}
        base.update({"seq": 1, "updated_at": r.get("received_at", 0),
                     "received_at": r.get("received_at", 0)})
        if kind == "customer":
            base.update({"completeness": 0})
        base.update(r)
        full.append(base)
    async with engine.begin() as conn:
        if full:
            await conn.execute(insert(table), full)
        g = [{"doc_id": d, "user_id": u, "since_seq": 1}
             for d, us in grants.items() for u in sorted(set(us))]
        if g:
            await conn.execute(insert(sync_t.grants), g)


async def insert_children(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(table), rows)
