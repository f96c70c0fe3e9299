"""Who sees what, asked at every door: the sync socket, `/yjs`, the read API, the back office's
record page, its list export and its photos, and the blob API. One matrix of users x records,
written out by hand from the policy (000: own customers, what one wrote, what is shared; a
supervisor sees the tree; admins see all), and every door must give the same answer."""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass

import pytest
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from schema import samples
from schema.ydoc import write_record
from sync import protocol as p
from sync.client import SyncClient
from tests.backoffice.seed import login
from tests.conftest import PASSWORD, LiveServer
from tests.factories import new_customer
from tests.server.phones import http, online, settle

pytestmark = pytest.mark.asyncio

USERS = ("rep1", "rep2", "engineer", "manager", "manager_b", "rep3", "admin")

# record -> the users who see it. rep2 wrote V2 at rep1's customer: rep2 sees the visit, not
# the customer; rep1 sees it through the customer. C2 is shared with the engineer, so the
# engineer's sheet S1 there is seen by C2's owner too. manager_b's team is rep3 alone.
SEES = {
    "C1": {"rep1", "manager", "admin"},
    "V1": {"rep1", "manager", "admin"},
    "V2": {"rep1", "rep2", "manager", "admin"},
    "C2": {"rep2", "engineer", "manager", "admin"},
    "S1": {"rep2", "engineer", "manager", "admin"},
    "C3": {"rep3", "manager_b", "admin"},
}
LIST_OF = {"customer": "customers", "visit": "visits", "service": "services"}


@dataclass
class Rec:
    doc_id: str
    marker: str  # text the back office's list export shows for this record
    photo: str = ""  # sha256 of a photo the record names


def jpeg() -> bytes:
    img = Image.frombytes("RGB", (32, 24), random.randbytes(32 * 24 * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


async def upload(server: LiveServer, who: str) -> tuple[str, dict[str, object]]:
    data = jpeg()
    sha = hashlib.sha256(data).hexdigest()
    async with http(server, who) as c:
        r = await c.put(f"/api/blobs/{sha}", content=data, headers={"Content-Type": "image/jpeg"})
        assert r.status_code in (200, 201), r.text
    return sha, samples.attachment(sha256=sha, size=len(data), width=32, height=24)


async def write_all(server: LiveServer) -> dict[str, Rec]:
    team = server.team
    recs: dict[str, Rec] = {}
    sha_c1, att_c1 = await upload(server, "rep1")
    sha_v1, att_v1 = await upload(server, "rep1")
    sha_s1, att_s1 = await upload(server, "engineer")
    c1, c2, c3 = (samples.new_id("customer") for _ in range(3))
    v1, v2, s1 = samples.new_id("visit"), samples.new_id("visit"), samples.new_id("service")
    plan = [
        ("rep1", "C1", c1, "customer", new_customer(
            team.rep1.id, name="甲矩阵科技有限公司", credit_code=None, attachments=[att_c1]),
         "甲矩阵科技有限公司", sha_c1),
        ("rep1", "V1", v1, "visit", samples.visit(
            created_by=team.rep1.id, customer_id=c1, purpose="甲的第一次矩阵拜访",
            attachments=[att_v1]), "甲的第一次矩阵拜访", sha_v1),
        ("rep2", "V2", v2, "visit", samples.visit(
            created_by=team.rep2.id, customer_id=c1, purpose="乙在甲客户的矩阵拜访",
            attachments=[]), "乙在甲客户的矩阵拜访", ""),
        ("rep2", "C2", c2, "customer", new_customer(
            team.rep2.id, name="乙矩阵贸易有限公司", credit_code=None, phone="021-11112222",
            shared_with=[team.engineer.id]), "乙矩阵贸易有限公司", ""),
        ("engineer", "S1", s1, "service", samples.service(
            created_by=team.engineer.id, customer_id=c2, attachments=[att_s1]),
         "乙矩阵贸易有限公司", sha_s1),  # the sheet's row names its customer
        ("rep3", "C3", c3, "customer", new_customer(
            team.rep3.id, name="丙矩阵工程有限公司", credit_code=None, phone="0571-33334444"),
         "丙矩阵工程有限公司", ""),
    ]
    for who, key, doc_id, kind, record, marker, sha in plan:
        dev = SyncClient(f"{who}-writes-{key}")
        async with online(server, dev, who):
            write_record(dev.doc(doc_id), kind, record)
            await dev.wait_flushed()
            assert not dev.errors, (key, dev.errors)
        recs[key] = Rec(doc_id, marker, sha)
    await settle(server)
    return recs


async def sync_door(server: LiveServer, who: str) -> set[str]:
    dev = SyncClient(f"{who}-reader")
    async with online(server, dev, who):
        return set(dev.docs)


async def yjs_door(server: LiveServer, who: str, doc_id: str) -> bool:
    url = f"{server.ws}/yjs/{doc_id}?token={server.tokens[who]}"
    async with connect(url) as ws:
        try:
            await ws.recv()  # the server's step 1: the doc is open to this user
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == p.CloseCode.NOT_FOUND, e
            return False
        return True


def export_markers(body: str) -> str:
    return "\n".join(",".join(row) for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))))


async def test_every_door_gives_the_same_answer(live_server: LiveServer) -> None:
    recs = await write_all(live_server)
    seen: dict[str, dict[str, dict[str, bool]]] = {}  # door -> user -> record -> sees
    for who in USERS:
        docs = await sync_door(live_server, who)
        seen.setdefault("sync", {})[who] = {k: r.doc_id in docs for k, r in recs.items()}
        seen.setdefault("yjs", {})[who] = {
            k: await yjs_door(live_server, who, r.doc_id) for k, r in recs.items()}
        async with http(live_server, who) as api:
            answers = {}
            for k, r in recs.items():
                kind = r.doc_id.split(":")[0]
                got = await api.get(f"/api/records/{kind}/{r.doc_id}")
                assert got.status_code in (200, 404), (who, k, got.text)
                answers[k] = got.status_code == 200
            seen.setdefault("read API", {})[who] = answers
            seen.setdefault("blob API", {})[who] = {
                k: (await api.get(f"/api/blobs/{r.photo}")).status_code == 200
                for k, r in recs.items() if r.photo}
        async with login(live_server.url, who, PASSWORD) as office:
            pages, exports, photos = {}, {}, {}
            lists: dict[str, str] = {}
            for k, r in recs.items():
                page = await office.get(f"/admin/records/{r.doc_id}")
                assert page.status_code in (200, 404), (who, k, page.status_code)
                pages[k] = page.status_code == 200
                name = LIST_OF[r.doc_id.split(":")[0]]
                if name not in lists:
                    got = await office.get(f"/admin/{name}.csv")
                    assert got.status_code == 200, (who, name, got.text[:300])
                    lists[name] = export_markers(got.text)
                exports[k] = r.marker in lists[name]
                if r.photo:
                    photos[k] = (await office.get(f"/admin/photos/{r.photo}")).status_code == 200
            seen.setdefault("back-office page", {})[who] = pages
            seen.setdefault("back-office export", {})[who] = exports
            seen.setdefault("back-office photo", {})[who] = photos
    for door, by_user in seen.items():
        for who, answers in by_user.items():
            expected = {k: who in SEES[k] for k in answers}
            assert answers == expected, f"{door} for {who}"
