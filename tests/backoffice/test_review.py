"""Review lists, record pages, photos, timelines and list exports, with rights: a manager
sees their tree, another team's manager gets 404, a rep sees only their own."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.backoffice.seed import insert_rows, login, seed
from tests.conftest import PASSWORD, LiveServer

pytestmark = pytest.mark.asyncio


async def test_lists_filter_sort_page_and_stay_inside_the_tree(live_server: LiveServer) -> None:
    s = await seed(live_server)
    team = live_server.team
    async with login(live_server.url, "manager", PASSWORD) as http:
        for name in ("customers", "visits", "services", "deals"):
            r = await http.get(f"/admin/{name}")
            assert r.status_code == 200, (name, r.text[:500])
            assert s.customer_a.split(":")[1][:8] in r.text or "北京友好创达" in r.text
            assert "上海远景" not in r.text, name  # team B's customer
        r = await http.get("/admin/visits")
        assert f"/admin/records/{s.visit_a}" in r.text
        assert s.visit_b not in r.text
        # filters: member, kind, customer text, dates, synced-since
        assert s.visit_a in (await http.get(f"/admin/visits?member={team.rep1.id}")).text
        assert s.visit_a not in (await http.get(f"/admin/visits?member={team.rep2.id}")).text
        assert s.visit_a in (await http.get("/admin/visits?kind=visit_out")).text
        assert s.visit_a not in (await http.get("/admin/visits?kind=call_in")).text
        assert s.visit_a in (await http.get("/admin/visits?q=友好创达")).text
        assert "北京友好创达" in (await http.get("/admin/customers?q=kh")).text  # any case
        assert s.visit_a not in (await http.get("/admin/visits?q=远景")).text
        assert s.visit_a in (await http.get(f"/admin/visits?customer={s.customer_a}")).text
        assert s.visit_a in (await http.get("/admin/visits?from=2025-04-01&to=2025-04-30")).text
        assert s.visit_a not in (await http.get("/admin/visits?from=2025-05-01")).text
        assert s.visit_a in (await http.get("/admin/visits?synced_since=2020-01-01T00:00")).text
        assert s.visit_a not in (await http.get("/admin/visits?synced_since=2099-01-01")).text
        assert s.service_a in (await http.get("/admin/services?status=completed")).text
        assert s.service_a not in (await http.get("/admin/services?status=abandoned")).text
        assert "核心" in (await http.get("/admin/customers?kind=core")).text
        # sorting by every sortable column works on this backend
        for key in ("started_at", "customer_name", "visit_type", "author_name", "received_at",
                    "lag"):
            for d in ("asc", "desc"):
                r = await http.get(f"/admin/visits?sort={key}&dir={d}")
                assert r.status_code == 200 and s.visit_a in r.text
        for key in ("title", "value", "stage", "expected_close_date"):
            assert s.deal_a in (await http.get(f"/admin/deals?sort={key}&dir=asc")).text
        assert (await http.get("/admin/visits?page=2")).status_code == 200
        assert s.visit_a not in (await http.get("/admin/visits?page=2")).text
        assert (await http.get("/admin/nothing")).status_code == 404
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/visits")
        assert s.visit_b in r.text and s.visit_a not in r.text
        r = await http.get("/admin/customers")
        assert "上海远景" in r.text and "北京友好创达" not in r.text
        # naming team A's rep or customer in a filter reveals nothing
        assert s.visit_a not in (await http.get(f"/admin/visits?member={team.rep1.id}")).text
        assert s.visit_a not in (await http.get(f"/admin/visits?customer={s.customer_a}")).text
    async with login(live_server.url, "rep2", PASSWORD) as http:  # same team, not the owner
        r = await http.get("/admin/visits")
        assert r.status_code == 200 and s.visit_a not in r.text


async def test_record_page_photos_history_timeline_and_404s(live_server: LiveServer) -> None:
    s = await seed(live_server)
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get(f"/admin/records/{s.visit_a}")
        assert r.status_code == 200
        page = r.text
        assert "北京友好创达科技有限公司" in page  # the customer, linked
        assert "介绍新款扫描仪 a" in page and "去访" in page  # fields, enum labels
        assert f"/admin/photos/{s.photo}/thumb?size=256" in page
        assert "修改记录" in page and "phone-rep1" in page  # history: who, which device
        thumb = await http.get(f"/admin/photos/{s.photo}/thumb?size=256")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert thumb.content[:2] == b"\xff\xd8"
        full = await http.get(f"/admin/photos/{s.photo}")
        assert full.status_code == 200 and len(full.content) > len(thumb.content)
        # the customer page: its whole timeline
        r = await http.get(f"/admin/records/{s.customer_a}")
        assert r.status_code == 200
        for doc in (s.visit_a, s.service_a, s.deal_a):
            assert doc in r.text
        assert "KH" in r.text  # the server-assigned code
        r = await http.get(f"/admin/records/{s.service_a}")
        assert "高速扫描仪" in r.text and "SN123456" in r.text  # products
        r = await http.get(f"/admin/records/{s.deal_a}?lang=en")
        assert "Short-term" in r.text
        # another team's record, a made-up id, a bad kind: all the same 404
        for doc in (s.visit_b, s.customer_b, "visit:00000000-0000-4000-8000-000000000099",
                    "secret:1", "nonsense"):
            r = await http.get(f"/admin/records/{doc}")
            assert r.status_code == 404, doc
        assert (await http.get(f"/admin/photos/{s.photo_b}")).status_code == 404
        assert (await http.get(f"/admin/photos/{s.photo_b}/thumb")).status_code == 404
        assert (await http.get("/admin/photos/../../etc/passwd")).status_code == 404
        assert (await http.get(f"/admin/photos/{s.photo}/other")).status_code == 404
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        assert (await http.get(f"/admin/records/{s.visit_a}")).status_code == 404
        assert (await http.get(f"/admin/records/{s.customer_a}")).status_code == 404
        assert (await http.get(f"/admin/photos/{s.photo}")).status_code == 404
        assert (await http.get(f"/admin/records/{s.visit_b}")).status_code == 200
    async with login(live_server.url, "admin", PASSWORD) as http:
        for doc in (s.visit_a, s.visit_b, s.customer_b):
            assert (await http.get(f"/admin/records/{doc}")).status_code == 200


async def test_list_exports_csv_and_excel_within_rights(live_server: LiveServer) -> None:
    s = await seed(live_server)
    async with login(live_server.url, "manager", PASSWORD) as http:
        for name in ("customers", "visits", "services", "deals"):
            r = await http.get(f"/admin/{name}.csv")
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
            assert "attachment" in r.headers["content-disposition"]
            rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
            docs = {row[0] for row in rows[1:]}
            assert len(rows) >= 2, name
            assert not docs & {s.customer_b, s.visit_b, s.service_b}, name
            x = await http.get(f"/admin/{name}.xlsx")
            assert x.status_code == 200
            wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
            values = [list(r) for r in wb.active.iter_rows(values_only=True)]
            assert [v[0] for v in values[1:]] == [row[0] for row in rows[1:]], name
        r = await http.get("/admin/visits.csv?lang=en")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["Doc", "Start", "Customer"]
        assert rows[1][0] == s.visit_a and rows[1][2] == "北京友好创达科技有限公司"
        # filters apply to exports
        r = await http.get("/admin/visits.csv?kind=call_in")
        assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 1
        assert (await http.get("/admin/visits.pdf")).status_code == 404
    async with login(live_server.url, "manager_b", PASSWORD) as http:
        r = await http.get("/admin/visits.csv")
        text = r.content.decode("utf-8-sig")
        assert s.visit_b in text and s.visit_a not in text
        r = await http.get(f"/admin/visits.xlsx?customer={s.customer_a}")
        wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
        assert len(list(wb.active.iter_rows(values_only=True))) == 1  # the header only


async def test_large_exports_stream_every_row(live_server: LiveServer) -> None:
    """Thousands of rows go out in batches: every visible row once, none of another team."""
    team = live_server.team
    engine = live_server.services.engine
    t0 = 1_750_000_000_000
    mine = [{"doc_id": f"visit:bulk-{i:05d}", "customer_id": "customer:bulk",
             "created_by": team.rep1.id, "created_at": t0 + i, "started_at": t0 + i,
             "received_at": t0 + i + 1000, "visit_type": "call_out", "submitted_at": t0 + i}
            for i in range(4500)]
    theirs = [{**v, "doc_id": v["doc_id"].replace("bulk", "other"), "created_by": team.rep3.id}
              for v in mine[:500]]
    await insert_rows(engine, "visit", mine + theirs,
                      {v["doc_id"]: [v["created_by"]] for v in mine + theirs})
    async with login(live_server.url, "manager", PASSWORD) as http:
        r = await http.get("/admin/visits.csv?sort=started_at&dir=asc")
        assert "content-length" not in r.headers  # streamed
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert [row[0] for row in rows[1:]] == [v["doc_id"] for v in mine]
        x = await http.get("/admin/visits.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
        assert sum(1 for _ in wb.active.iter_rows(values_only=True)) == 4501
        r = await http.get("/admin/visits?page=90")
        assert "visit:bulk-" in r.text
        assert "1 / 90" not in r.text and "90 / 90" in r.text
