"""Importing customers from spreadsheets (server.importer): real .xlsx files written by
openpyxl, a LibreOffice-style layout, CSV in GB18030; the dry run's refusals named by row
and column; idempotent re-runs; imported cards ranked by their source dates."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from schema import tables as st
from schema.ydoc import write_record
from server import tables as tt
from server.importer import (
    Importer,
    ImportFileError,
    ImportRefused,
    Plan,
    _openpyxl_values,
    _sheet_values,
    parse_date,
    read_file,
)
from sync import tables as sync_t
from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.server.phones import customer, online, settle

HEADERS = ["客户名称", "电话", "联系人", "手机", "城市", "客户经理", "创建时间"]


def xlsx(rows: list[list[Any]], *, title: bool = True) -> bytes:
    """A workbook as LibreOffice and many exports lay it out: a title, a blank row, then
    the header row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    if title:
        ws.append(["客户资料导出"])
        ws.append([])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


GOOD = [
    HEADERS,
    ["北京友好创达科技有限公司", "010-62345678", "张三", "13812345678", "北京", "rep1",
     "2019-03-01"],
    ["上海金科电子有限公司", "021-63539330-1010", "李四", 13912345678, "上海", "rep2",
     "2018/5/2"],
    ["上海金科电子有限公司", "021-63539330-1010", "王五", "13712345678", "上海", "rep2",
     "2018/5/2"],
]


async def dry_run(server: LiveServer, data: bytes, name: str = "c.xlsx",
                  on_match: str = "merge") -> Plan:
    importer = Importer(server.services.edits)
    sheet = read_file(name, data)
    return await importer.plan(sheet, await importer.mapping_for(sheet), on_match)


async def customers(server: LiveServer) -> dict[str, Any]:
    async with server.services.engine.connect() as conn:
        return {r.doc_id: r for r in await conn.execute(select(st.rec_customer))}


async def log_length(server: LiveServer) -> int:
    async with server.services.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(sync_t.changes)) or 0)


@pytest.mark.asyncio
async def test_import_keeps_owner_and_date_and_a_rerun_changes_nothing(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    plan = await dry_run(live_server, xlsx(GOOD))
    assert plan.sheet.header_row == 3
    assert [r.action for r in plan.rows] == ["create", "create", "contact"]
    assert await customers(live_server) == {}  # the dry run wrote nothing
    importer = Importer(live_server.services.edits)
    prog = await importer.run(plan, team.admin.id)
    await settle(live_server)
    assert prog.created == 2 and prog.done == prog.total == 2
    rows = await customers(live_server)
    by_name = {r.name: r for r in rows.values()}
    jinke = by_name["上海金科电子有限公司"]
    assert jinke.owner == team.rep2.id and jinke.code
    assert jinke.created_at == parse_date("2018-05-02")
    async with live_server.services.engine.connect() as conn:
        contacts = {r.name: r.mobile for r in await conn.execute(
            select(st.CHILD_TABLES["customer"]["contacts"]).where(
                st.CHILD_TABLES["customer"]["contacts"].c.doc_id == jinke.doc_id))}
        creator = await conn.scalar(select(sync_t.docs.c.created_by).where(
            sync_t.docs.c.doc_id == jinke.doc_id))
        actions = [r.action for r in await conn.execute(
            select(tt.audit.c.action, tt.audit.c.user_id)
            .where(tt.audit.c.action.like("import.%")))]
    assert contacts == {"李四": "13912345678", "王五": "13712345678"}
    assert creator == team.rep2.id
    assert actions == ["import.start", "import.batch", "import.done"]

    before = await log_length(live_server)
    again = await dry_run(live_server, xlsx(GOOD))
    assert [r.action for r in again.rows] == ["unchanged", "unchanged", "unchanged"]
    assert (await importer.run(again, team.admin.id)).created == 0
    await settle(live_server)
    assert await log_length(live_server) == before
    assert len(await customers(live_server)) == 2


@pytest.mark.asyncio
async def test_batches_and_a_plan_run_twice(live_server: LiveServer) -> None:
    """Seven rows in batches of three: every card once, with its own code (all reserved at
    the start), progress by finished batch; the same plan run again (its dry run said
    "create") creates nothing, because the cards exist by then."""
    team = live_server.team
    rows = [HEADERS] + [[f"杭州第{i}号批次科技有限公司", f"0571-8{i:07d}", f"联系人{i}",
                         f"1381234{i:04d}", "杭州", "rep1", "2019-03-01"] for i in range(7)]
    plan = await dry_run(live_server, xlsx(rows))
    assert [r.action for r in plan.rows] == ["create"] * 7
    importer = Importer(live_server.services.edits)
    seen: list[int] = []
    prog = await importer.run(plan, team.admin.id, batch=3,
                              on_progress=lambda p: seen.append(p.done))
    await settle(live_server)
    assert seen == [3, 6, 7] and prog.created == 7
    cards = await customers(live_server)
    assert sorted(cards) == sorted(r.doc_id for r in plan.rows)
    assert len({r.code for r in cards.values()}) == 7 and all(r.code for r in cards.values())
    before = await log_length(live_server)
    assert (await importer.run(plan, team.admin.id, batch=3)).created == 0
    await settle(live_server)
    assert await log_length(live_server) == before
    assert await customers(live_server) == cards


@pytest.mark.asyncio
async def test_a_rep_retyping_an_imported_customer_offline_loses_to_the_source_date(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    phone = SyncClient("phone-rep2")
    async with online(live_server, phone, "rep2"):
        pass
    # offline, today: rep2 types the customer rep1 has had since 2019
    retyped = "customer:00000000-0000-4000-8000-00000000abcd"
    write_record(phone.doc(retyped), "customer",
                 customer(team.rep2.id, "北京友好创达科技有限公司", phone.now_ms()))
    plan = await dry_run(live_server, xlsx(GOOD[:2]))
    await Importer(live_server.services.edits).run(plan, team.admin.id)
    await settle(live_server)
    async with online(live_server, phone, "rep2"):
        await phone.wait_flushed()
        assert not phone.errors, phone.errors
    await settle(live_server)
    rows = await customers(live_server)
    imported = plan.rows[0].doc_id
    assert rows[retyped].merged_into == imported
    assert rows[imported].merged_into is None and rows[imported].owner == team.rep1.id


@pytest.mark.asyncio
async def test_a_matching_row_merges_or_is_skipped(live_server: LiveServer) -> None:
    team = live_server.team
    first = await dry_run(live_server, xlsx(GOOD[:2]))
    await Importer(live_server.services.edits).run(first, team.admin.id)
    await settle(live_server)
    # Another system's export, other headers: the same customer under a branch-free name
    other = [["公司名称", "城市", "归属人", "创建日期"],
             ["北京友好创达科技有限公司", "北京", "rep2", "2020-01-01"]]
    skip = await dry_run(live_server, xlsx(other, title=False), "old.xlsx", on_match="skip")
    assert [r.action for r in skip.rows] == ["skip"]
    assert skip.rows[0].match == first.rows[0].doc_id
    await Importer(live_server.services.edits).run(skip, team.admin.id)
    await settle(live_server)
    assert len(await customers(live_server)) == 1
    merge = await dry_run(live_server, xlsx(other, title=False), "old.xlsx")
    assert [r.action for r in merge.rows] == ["merge"]
    await Importer(live_server.services.edits).run(merge, team.admin.id)
    await settle(live_server)
    rows = await customers(live_server)
    survivor = rows[first.rows[0].doc_id]
    assert survivor.merged_into is None and survivor.owner == team.rep1.id  # 2019 < 2020
    assert rows[merge.rows[0].doc_id].merged_into == survivor.doc_id


def _problems(plan: Plan) -> list[tuple[int, str, str]]:
    return [(p.row, p.column.split()[0], p.rule) for r in plan.refused for p in r.problems]


@pytest.mark.asyncio
async def test_bad_rows_are_named_by_row_and_column_and_nothing_is_imported(
    live_server: LiveServer,
) -> None:
    rows = [
        HEADERS,
        ["北京友好创达科技有限公司", "010-62345678", "张三", "13812345678", "北京", "rep1",
         "2019-03-01"],
        ["北京友好创达科技有限公司", "010-62345678", "张三", "13812345678", "北京", "rep1",
         "2019-03-01"],  # a duplicate row
        ["广州好运贸易有限公司", "not a phone", "", "", "", "", ""],
        ["深" * 201, "", "", "", "", "", ""],
        ["杭州新星软件有限公司", "", "", "", "", "nobody", ""],
        ["南京东方机械有限公司", "", "", "12345", "", "", "yesterday"],
        HEADERS,  # a header row in the wrong place
    ]
    plan = await dry_run(live_server, xlsx(rows))
    found = _problems(plan)
    assert (5, "A", "import.duplicate_row") in found
    assert (6, "B", "format.phone") in found
    assert (7, "A", "max_length") in found
    assert (8, "F", "import.unknown_owner") in found
    assert (9, "D", "format.mobile") in found and (9, "G", "import.date") in found
    assert (9, "C", "required") in found  # a mobile without its contact's name
    assert (10, "A", "import.header_in_data") in found
    assert all(p.message.startswith(f"row {p.row}, column ") and f"第 {p.row} 行" in
               p.message_zh for r in plan.refused for p in r.problems)
    assert [r.action for r in plan.rows][0] == "create"
    with pytest.raises(ImportRefused):
        await Importer(live_server.services.edits).run(plan, live_server.team.admin.id)
    await settle(live_server)
    assert await customers(live_server) == {}


@pytest.mark.asyncio
async def test_files_that_cannot_be_imported(live_server: LiveServer) -> None:
    with pytest.raises(ImportFileError, match="not a spreadsheet"):
        read_file("photo.xlsx", b"PK\x03\x04 this is no zip at all")
    with pytest.raises(ImportFileError, match="binary"):
        read_file("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ImportFileError, match="empty"):
        read_file("empty.xlsx", xlsx([[]], title=False))
    wide = [["客户名称", *[f"列{i}" for i in range(199)]], ["北京某某有限公司"]]
    with pytest.raises(ImportFileError, match="200 columns") as e:
        read_file("wide.xlsx", xlsx(wide, title=False))
    assert e.value.row == 1 and e.value.column
    late = [[f"说明 {i}"] for i in range(25)] + GOOD
    with pytest.raises(ImportFileError, match="no header row") as e2:
        read_file("late.xlsx", xlsx(late, title=False))
    assert "表头" in e2.value.message_zh
    number = b'<c r="D5" t="n"><v>13912345678</v></c>'
    # a sheet cut short, a shared string that is not there, a number that is not one
    for damage in (lambda x: x[: len(x) // 2],
                   lambda x: x.replace(number, b'<c r="D5" t="s"><v>99999</v></c>'),
                   lambda x: x.replace(number, b'<c r="D5" t="n"><v>zero</v></c>')):
        with pytest.raises(ImportFileError, match="not a spreadsheet"):
            read_file("damaged.xlsx", _with_sheet(xlsx(GOOD), number, damage))


def _with_sheet(data: bytes, part: bytes, change: Any) -> bytes:
    """The workbook with its first sheet's XML, which holds `part`, changed by `change`."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert part in body
                body = change(body)
            dst.writestr(info, body)
    return out.getvalue()


@pytest.mark.asyncio
async def test_csv_in_gb18030_and_utf8_with_bom_and_the_mapping_remembered(
    live_server: LiveServer,
) -> None:
    text = "名称,电话,联系人,手机\n北京友好创达科技有限公司,010-62345678,张三,13812345678\n"
    for data in (text.encode("gb18030"), text.encode("utf-8-sig")):
        plan = await dry_run(live_server, data, "c.csv")
        assert plan.rows[0].name == "北京友好创达科技有限公司" and plan.rows[0].action == "create"
    importer = Importer(live_server.services.edits)
    sheet = read_file("c.csv", text.encode())
    assert (await importer.mapping_for(sheet))[0] == "name"
    await importer.save_mapping(sheet, {0: "name", 1: "phone", 3: "contact.mobile"}, None)
    assert await importer.mapping_for(sheet) == {0: "name", 1: "phone", 3: "contact.mobile"}


def test_the_command_dry_runs_imports_with_progress_and_reruns_as_unchanged(
    database_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import main

    db = ["--database", database_url, "--data", str(tmp_path)]
    assert main(["demo", *db]) == 0
    path = tmp_path / "customers.xlsx"
    path.write_bytes(xlsx(GOOD))
    capsys.readouterr()
    assert main(["import", str(path), "--dry-run", *db]) == 0
    assert "header in row 3, 3 rows: 2 create, 1 contact" in capsys.readouterr().out
    assert main(["import", str(path), *db]) == 2  # the import needs --as an admin
    assert "--as" in capsys.readouterr().err
    assert main(["import", str(path), "--as", "rep1", *db]) == 2
    assert main(["import", str(path), "--as", "admin", *db]) == 0
    out = capsys.readouterr().out
    assert "imported 2/2" in out and "2 customers created" in out
    assert main(["import", str(path), "--as", "admin", *db]) == 0
    assert "3 unchanged" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("名称,电话\n北京某某科技有限公司,电话坏了\n", encoding="gb18030")
    assert main(["import", str(bad), "--as", "admin", *db]) == 1
    out = capsys.readouterr().out
    assert "row 2, column B 电话" in out and "第 2 行,B 电话 列" in out


def test_the_sheet_reader_gives_what_openpyxl_gives() -> None:
    """The direct reader of the sheet's XML against openpyxl's own, on one workbook with
    every kind of cell: shared and inline strings, rich text, numbers, dates and times,
    booleans, a formula's cached value, gaps in rows and columns."""
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["客户名称", "电话", "金额", "创建时间", "有效"])
    ws.append(["北京友好创达科技有限公司", 13812345678, 12.5, dt.date(2019, 3, 1), True])
    ws.append(["上海金科", "021-63539330", -3, dt.datetime(2018, 5, 2, 9, 30), False])
    ws["J5"] = "远处的一格"
    ws["A7"] = CellRichText(["富", TextBlock(InlineFont(b=True), "文本"), "公司"])
    ws["B7"] = 1e-05
    ws["C7"] = dt.time(8, 15)
    ws["D7"] = "=1+1"
    ws["E7"] = ""
    buf = io.BytesIO()
    wb.save(buf)
    streaming = io.BytesIO()
    wo = openpyxl.Workbook(write_only=True)
    wsw = wo.create_sheet()
    wsw.append(["客户名称", "电话"])
    wsw.append(["行内字符串公司", 42])
    wo.save(streaming)

    def trimmed(rows: list[list[Any]]) -> list[list[Any]]:
        out = []
        for r in rows:
            r = list(r)
            while r and r[-1] is None:
                r.pop()
            out.append(r)
        while out and not out[-1]:
            out.pop()
        return out

    for data in (buf.getvalue(), streaming.getvalue()):
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            direct = trimmed(_sheet_values(sheet))
            assert direct == trimmed(_openpyxl_values(sheet))
        finally:
            book.close()
    assert direct == [["客户名称", "电话"], ["行内字符串公司", 42]]
    sheet = read_file("c.xlsx", buf.getvalue())
    assert [n for n, _ in sheet.rows] == [2, 3, 5, 7]
    assert sheet.rows[3][1][:2] == ["富文本公司", 1e-05]
