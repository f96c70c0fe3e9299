"""Importing existing customers and their contacts from a spreadsheet (.xlsx or .csv): the
file read into rows, the column mapping (remembered per file layout), the dry run that says
per row what would happen, and the import itself as server-authored changes through the log.

A refused row refuses the whole file: `Importer.run` writes nothing unless the dry run is
clean. Each source row has a stable doc id (uuid5 of the layout and the row's identity), so
running the same file again changes nothing. The rules in full: docs/operations.md.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gc
import hashlib
import io
import json
import logging
import re
import uuid
import xml.etree.ElementTree as ETree
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc
from sqlalchemy import func, or_, select

from schema import tables as st
from schema.kinds import CUSTOMER
from schema.names import canonical_name
from schema.validate import Actor
from schema.validate import validate as schema_validate
from schema.ydoc import write_record
from sync import tables as sync_t
from sync.log import Append, now_ms, upsert
from sync.scope import Principal

from . import tables as tt
from .accounts import audit
from .errors import Unprocessable
from .records import ServerEdits, format_code, reserve_codes

log = logging.getLogger(__name__)

MAX_COLUMNS = 60
MAX_ROWS = 200_000
HEADER_SEARCH = 20  # rows looked at for the header row
BATCH = 500
YIELD_EVERY = 50  # cards applied between two turns of the event loop
IMPORT_DEVICE = "import"
NAMESPACE = uuid.UUID("6f1d3c8e-3a52-5b1e-9c1a-7a0f4e2d9b61")
CHINA = dt.timezone(dt.timedelta(hours=8))
SETTING_PREFIX = "import_mapping:"

# Targets a column can map to: a customer field, a contact field ("contact." prefix), or
# one of the import's own: owner (a login), created (the source's creation date).
CUSTOMER_TARGETS = ("name", "short_name", "credit_code", "address", "postcode", "province",
                    "city", "county", "region", "phone", "email", "website", "industry",
                    "type", "source", "profile", "notes", "category", "tier", "status")
CONTACT_TARGETS = ("contact.name", "contact.title", "contact.department", "contact.mobile",
                   "contact.office_phone", "contact.email", "contact.salutation")
OWN_TARGETS = ("owner", "created")
TARGETS = CUSTOMER_TARGETS + CONTACT_TARGETS + OWN_TARGETS

# Header words as Chinese and English spreadsheets write them (compared lower-case, with
# spaces, colons and asterisks removed).
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("客户名称", "名称", "公司名称", "客户全称", "单位名称", "企业名称", "customer",
             "customername", "name", "company", "companyname"),
    "short_name": ("简称", "客户简称", "英文名", "shortname"),
    "credit_code": ("统一社会信用代码", "信用代码", "社会信用代码", "creditcode",
                    "unifiedsocialcreditcode", "uscc"),
    "address": ("地址", "详细地址", "公司地址", "address"),
    "postcode": ("邮编", "邮政编码", "postcode", "zip", "zipcode"),
    "province": ("省份", "省", "province"),
    "city": ("城市", "市", "city"),
    "county": ("县", "区县", "county", "district"),
    "region": ("地区", "区域", "region"),
    "phone": ("电话", "公司电话", "固定电话", "联系电话", "phone", "tel", "telephone"),
    "email": ("电子邮件", "邮箱", "email", "e-mail"),
    "website": ("网站", "网址", "website", "web"),
    "industry": ("行业", "所属行业", "industry"),
    "type": ("类型", "客户类型", "type"),
    "source": ("客户来源", "来源", "source"),
    "profile": ("单位概况", "概况", "profile"),
    "notes": ("备注", "notes", "remark", "remarks"),
    "category": ("客户分类", "分类", "category"),
    "tier": ("客户主分类", "tier"),
    "status": ("状况", "客户状况", "状态", "status"),
    "contact.name": ("联系人", "联系人姓名", "contact", "contactname"),
    "contact.title": ("职位", "职务", "联系人职位", "title", "jobtitle"),
    "contact.department": ("部门", "department"),
    "contact.mobile": ("手机", "手机号", "联系人手机", "mobile", "cellphone", "cell"),
    "contact.office_phone": ("办公电话", "联系人电话", "officephone"),
    "contact.email": ("联系人邮箱", "联系人电子邮件", "contactemail"),
    "contact.salutation": ("称呼", "salutation"),
    "owner": ("客户经理", "归属人", "负责人", "owner", "accountmanager"),
    "created": ("创建时间", "创建日期", "录入时间", "createdat", "created", "createddate"),
}
_WORD_TARGET = {w: tgt for tgt, words in HEADER_WORDS.items() for w in words}


def _key_of(header: str) -> str:
    return re.sub(r"[\s:：*＊()（）]", "", header).lower()


class ImportFileError(Unprocessable):
    """The file as a whole cannot be imported (not a spreadsheet, no header row, ...)."""

    code = "import_file"

    def __init__(self, message: str, message_zh: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        super().__init__(message, message_zh=message_zh, row=row, column=column)
        self.message_zh = message_zh
        self.row = row
        self.column = column


class ImportRefused(Unprocessable):
    """The dry run refused rows: nothing is imported."""

    code = "import_refused"


@dataclass(frozen=True, slots=True)
class Sheet:
    """A spreadsheet as rows of cells; `header_row` and each row's number are 1-based."""

    filename: str
    headers: list[str]
    header_row: int
    rows: list[tuple[int, list[Any]]]

    @property
    def layout(self) -> str:
        """The file layout's key: a hash of its header row."""
        joined = "\x1f".join(_key_of(h) for h in self.headers)
        return hashlib.sha256(joined.encode()).hexdigest()[:40]


def column_letter(index: int) -> str:
    """Excel's column name of a 0-based index (0 → A, 26 → AA)."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


# -- reading the file ---------------------------------------------------------------------


def read_file(filename: str, data: bytes) -> Sheet:
    """The rows of an .xlsx (first sheet) or .csv file, from its header row on."""
    if not data.strip():
        raise ImportFileError("the file is empty", "文件是空的")
    if data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("an old Excel .xls file: save it as .xlsx and try again",
                              "这是旧版 Excel (.xls) 文件:请另存为 .xlsx 后再导入")
    else:
        rows = _csv_rows(data)
    return _from_rows(filename, rows)


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise ImportFileError(f"not a spreadsheet this server can read ({e})",
                              "不是可读取的电子表格文件") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise ImportFileError("the workbook has no sheet", "工作簿中没有工作表")
        try:
            if all(hasattr(ws, a) for a in ("_shared_strings", "_get_source")) and all(
                    hasattr(wb, a) for a in ("_date_formats", "_timedelta_formats", "epoch")):
                return _sheet_values(ws)
            return _openpyxl_values(ws)  # an openpyxl without the parts read directly
        except (ETree.ParseError, ValueError, IndexError) as e:  # a damaged sheet or cell
            raise ImportFileError(f"not a spreadsheet this server can read ({e})",
                                  "不是可读取的电子表格文件") from None
    finally:
        wb.close()


def _openpyxl_values(ws: Any) -> list[list[Any]]:
    """A read-only worksheet's cell values by openpyxl's own reader."""
    out: list[list[Any]] = []
    for row in ws.iter_rows(values_only=True):
        out.append(list(row))
        if len(out) > MAX_ROWS + HEADER_SEARCH:
            raise ImportFileError(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return out


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _INLINE, _TEXT, _RUN = (
    _NS + t for t in ("row", "c", "v", "is", "t", "r"))
_COLUMNS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    """The 0-based column of a cell reference ("C7" -> 2)."""
    letters = ref.rstrip("0123456789")
    n = _COLUMNS.get(letters)
    if n is None:
        n = 0
        for ch in letters.upper():
            n = n * 26 + ord(ch) - 64
        _COLUMNS[letters] = n
    return n - 1


def _sheet_values(ws: Any) -> list[list[Any]]:
    """A read-only worksheet's cell values, row by row from row 1 (a missing row is an empty
    one), as openpyxl's `iter_rows(values_only=True)` gives them but about three times as
    fast: its per-cell objects are most of a 100,000-row read. The sheet's own XML is read
    with the workbook's shared strings and date styles, as openpyxl reads them."""
    from openpyxl.utils.datetime import from_excel, from_ISO8601
    from openpyxl.xml.functions import iterparse  # defusedxml's, where openpyxl uses it

    strings = ws._shared_strings
    wb = ws.parent
    dates, durations, epoch = wb._date_formats, wb._timedelta_formats, wb.epoch
    out: list[list[Any]] = []
    number = 0
    with ws._get_source() as src:
        for _, el in iterparse(src):
            if el.tag != _ROW:
                continue
            r = el.get("r")
            idx = int(float(r)) if r else number + 1
            if idx <= number:
                el.clear()
                continue  # a row out of order: openpyxl skips it too
            out.extend([] for _ in range(idx - number - 1))
            number = idx
            cells: list[Any] = []
            col = -1
            for c in el:
                if c.tag != _CELL:
                    continue
                ref = c.get("r")
                col = _column_index(ref) if ref else col + 1
                kind = c.get("t", "n")
                value: Any
                if kind == "inlineStr":
                    node = c.find(_INLINE)
                    value = None if node is None else (node.findtext(_TEXT) or "") + "".join(
                        run.findtext(_TEXT) or "" for run in node.iterfind(_RUN))
                else:
                    value = c.findtext(_VALUE) or None
                    if value is None:
                        pass
                    elif kind == "n":
                        value = float(value) if "." in value or "E" in value or "e" in value \
                            else int(value)
                        style = c.get("s")
                        if style and int(style) in dates:
                            try:
                                value = from_excel(value, epoch,
                                                   timedelta=int(style) in durations)
                            except (OverflowError, ValueError):
                                value = "#VALUE!"
                    elif kind == "s":
                        value = strings[int(value)]
                    elif kind == "b":
                        value = bool(int(value))
                    elif kind == "d":
                        value = from_ISO8601(value)
                if col >= len(cells):
                    cells.extend([None] * (col + 1 - len(cells)))
                cells[col] = value
            out.append(cells)
            el.clear()
            if len(out) > MAX_ROWS + HEADER_SEARCH:
                raise ImportFileError(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return out


def _csv_rows(data: bytes) -> list[list[Any]]:
    if b"\x00" in data[:4096]:
        raise ImportFileError("not a spreadsheet: the file holds binary data",
                              "不是电子表格文件:文件中含有二进制数据")
    text: str | None = None
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is what Chinese Excel saves
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise ImportFileError("the CSV file is neither UTF-8 nor GB18030 text",
                              "CSV 文件既不是 UTF-8 也不是 GB18030 编码的文本")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if len(rows) > MAX_ROWS + HEADER_SEARCH:
        raise ImportFileError(f"more than {MAX_ROWS} rows", f"超过 {MAX_ROWS} 行")
    return rows


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _from_rows(filename: str, rows: list[list[Any]]) -> Sheet:
    """Find the header row: the first of the first rows naming a customer-name column."""
    if not any(not _blank(v) for r in rows for v in r):
        raise ImportFileError("the sheet is empty", "工作表是空的")
    for i, row in enumerate(rows[:HEADER_SEARCH]):
        keys = [_key_of(str(v)) if not _blank(v) else "" for v in row]
        if any(_WORD_TARGET.get(k) == "name" for k in keys):
            width = max((j + 1 for j, v in enumerate(row) if not _blank(v)), default=0)
            if width > MAX_COLUMNS:
                raise ImportFileError(
                    f"row {i + 1}: {width} columns, at most {MAX_COLUMNS}",
                    f"第 {i + 1} 行:{width} 列,最多 {MAX_COLUMNS} 列",
                    row=i + 1, column=column_letter(MAX_COLUMNS))
            headers = [str(v).strip() if not _blank(v) else "" for v in row[:width]]
            data = [(i + 2 + n, list(r[:width]) + [None] * (width - len(r)))
                    for n, r in enumerate(rows[i + 1:]) if any(not _blank(v) for v in r)]
            return Sheet(filename, headers, i + 1, data)
    raise ImportFileError(
        f"no header row in the first {HEADER_SEARCH} rows: one needs a customer-name column "
        "(客户名称, 名称, 公司名称 or Name)",
        f"前 {HEADER_SEARCH} 行中没有表头行:需要一列客户名称(客户名称、名称、公司名称或 Name)",
        row=1)


def guess_mapping(headers: list[str]) -> dict[int, str]:
    """Column index → target, by the header words; each target taken once (leftmost)."""
    out: dict[int, str] = {}
    taken: set[str] = set()
    for i, h in enumerate(headers):
        target = _WORD_TARGET.get(_key_of(h))
        if target and target not in taken:
            out[i] = target
            taken.add(target)
    return out


def check_mapping(sheet: Sheet, mapping: Mapping[int, str]) -> dict[int, str]:
    """A mapping given by a user: known targets, existing columns, each target once, and a
    name column."""
    out: dict[int, str] = {}
    seen: dict[str, int] = {}
    for i, target in sorted(mapping.items()):
        if not target:
            continue
        if target not in TARGETS:
            raise ImportFileError(f"column {column_letter(i)}: no field {target!r}",
                                  f"第 {column_letter(i)} 列:没有字段 {target!r}",
                                  column=column_letter(i))
        if not 0 <= i < len(sheet.headers):
            raise ImportFileError(f"the sheet has no column {i + 1}",
                                  f"表中没有第 {i + 1} 列")
        if target in seen:
            raise ImportFileError(
                f"columns {column_letter(seen[target])} and {column_letter(i)} both map to "
                f"{target}", f"第 {column_letter(seen[target])} 列和第 {column_letter(i)} 列"
                f"都对应 {target}", column=column_letter(i))
        seen[target] = i
        out[i] = target
    if "name" not in seen:
        raise ImportFileError("no column is mapped to the customer name",
                              "没有一列对应客户名称")
    return out


# -- cells into values ----------------------------------------------------------------------


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # a phone number Excel stored as a number
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
                      r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_date(v: Any) -> int | None:
    """A creation date from a cell, in ms; a date without a zone is China time."""
    if isinstance(v, dt.datetime):
        when = v if v.tzinfo else v.replace(tzinfo=CHINA)
    elif isinstance(v, dt.date):
        when = dt.datetime(v.year, v.month, v.day, tzinfo=CHINA)
    else:
        m = _DATE_RE.match(_text(v))
        if not m:
            return None
        y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        try:
            when = dt.datetime(y, mo, d, h, mi, s, tzinfo=CHINA)
        except ValueError:
            return None
    return int(when.timestamp() * 1000)


def _enum_value(f_name: str, text: str) -> str | None:
    """An enum cell given as its value, its Chinese or its English label."""
    f = CUSTOMER.field(f_name)
    for e in f.enum or ():
        if text in (e.value, e.label_zh) or text.lower() == e.label_en.lower():
            return str(e.value)
    return None


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str  # the column's letter and header, e.g. "C 电话"
    field: str
    rule: str
    message: str
    message_zh: str


@dataclass(slots=True)
class RowPlan:
    """What the import does with one source row."""

    row: int
    doc_id: str
    action: str  # create | merge | skip | unchanged | contact | refuse
    name: str
    record: dict[str, Any] = field(default_factory=dict)
    match: str | None = None  # the existing customer's doc id, or the earlier row's number
    match_label: str = ""
    key: str = ""  # the canonical name
    problems: list[Problem] = field(default_factory=list)


@dataclass(slots=True)
class Plan:
    sheet: Sheet
    mapping: dict[int, str]
    on_match: str
    rows: list[RowPlan]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def refused(self) -> list[RowPlan]:
        return [r for r in self.rows if r.action == "refuse"]


@dataclass(slots=True)
class Progress:
    total: int
    done: int = 0
    created: int = 0
    finished: bool = False
    error: str = ""


class Importer:
    """Plans and runs imports against a running hub (the server's, or the CLI's own)."""

    def __init__(self, edits: ServerEdits) -> None:
        self.edits = edits
        self.hub = edits.hub
        self.engine = edits.hub.log.engine

    async def saved_mapping(self, sheet: Sheet) -> dict[int, str] | None:
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(tt.settings.c.value).where(
                tt.settings.c.name == SETTING_PREFIX + sheet.layout))
        if value is None:
            return None
        saved = {int(k): str(v) for k, v in json.loads(value).items()}
        return {i: v for i, v in saved.items() if i < len(sheet.headers) and v in TARGETS}

    async def mapping_for(self, sheet: Sheet) -> dict[int, str]:
        return await self.saved_mapping(sheet) or guess_mapping(sheet.headers)

    async def save_mapping(self, sheet: Sheet, mapping: Mapping[int, str],
                           user_id: str | None) -> None:
        async with self.engine.begin() as conn:
            await upsert(conn, tt.settings, {
                "name": SETTING_PREFIX + sheet.layout,
                "value": json.dumps({str(k): v for k, v in sorted(mapping.items())}),
                "updated_at": now_ms(), "updated_by": user_id,
            }, ["name"], ["value", "updated_at", "updated_by"])

    async def plan(self, sheet: Sheet, mapping: Mapping[int, str],
                   on_match: str = "merge") -> Plan:
        """The dry run: what each row would do, and why a refused row is refused. Writes
        nothing."""
        if on_match not in ("merge", "skip"):
            raise ImportFileError(f"on_match must be merge or skip, not {on_match!r}",
                                  f"匹配时的处理只能是 merge 或 skip,而不是 {on_match!r}")
        mapping = check_mapping(sheet, mapping)
        col_of = {t: i for i, t in mapping.items()}

        def label(target: str) -> str:
            i = col_of[target]
            return f"{column_letter(i)} {sheet.headers[i]}".strip()

        async with self.engine.connect() as conn:
            logins = {r.login: r.id for r in await conn.execute(
                select(tt.users.c.login, tt.users.c.id))}
        now = now_ms()
        layout = sheet.layout
        plans: list[RowPlan] = []
        first_of: dict[str, RowPlan] = {}
        try:
            for n, (number, cells) in enumerate(sheet.rows):
                plans.append(self._row(sheet, layout, number, cells, mapping, col_of, label,
                                       logins, now, first_of))
                if n % 200 == 199:
                    gc.freeze()  # the rows planned so far stay: see `run`
                    await asyncio.sleep(0)  # a 100,000-row dry run in the server serves others
            await self._match(plans, on_match)
        finally:
            gc.unfreeze()
        return Plan(sheet, dict(mapping), on_match, plans)

    def _row(self, sheet: Sheet, layout: str, number: int, cells: list[Any],
             mapping: Mapping[int, str], col_of: Mapping[str, int], label: Callable[[str], str],
             logins: Mapping[str, str], now: int, first_of: dict[str, RowPlan]) -> RowPlan:
        problems: list[Problem] = []

        def refuse(target: str, rule: str, en: str, zh: str) -> None:
            problems.append(Problem(number, label(target), target, rule,
                                    f"row {number}, column {label(target)}: {en}",
                                    f"第 {number} 行,{label(target)} 列:{zh}"))

        values = {t: cells[i] for i, t in mapping.items() if not _blank(cells[i])}
        name = _text(values.get("name", ""))
        plan = RowPlan(number, "", "refuse", name)
        if not name:
            refuse("name", "required", "the customer name is empty", "客户名称为空")
            plan.problems = problems
            return plan
        if _key_of(name) in _WORD_TARGET and _WORD_TARGET[_key_of(name)] == "name":
            refuse("name", "import.header_in_data",
                   "a header row inside the data (the header is row "
                   f"{sheet.header_row})", f"数据中出现表头行(表头在第 {sheet.header_row} 行)")
            plan.problems = problems
            return plan
        record: dict[str, Any] = {}
        contact: dict[str, Any] = {}
        for target, v in values.items():
            if target in OWN_TARGETS:
                continue
            text = _text(v)
            fname = target.removeprefix("contact.")
            if target in ("source", "category", "tier", "status", "contact.salutation"):
                enum_field = CUSTOMER.field("contacts").items if target.startswith(
                    "contact.") else None
                found = (_contact_enum(fname, text) if enum_field else _enum_value(fname, text))
                if found is None:
                    refuse(target, "enum", f"{text!r} is not one of the choices",
                           f"{text!r} 不是可选值之一")
                    continue
                text = found
            if target == "credit_code":
                text = text.upper()
            (contact if target.startswith("contact.") else record)[fname] = text
        owner: str | None = None
        if "owner" in values:
            login = _text(values["owner"])
            owner = logins.get(login)
            if owner is None:
                refuse("owner", "import.unknown_owner", f"no user with the login {login!r}",
                       f"没有登录名为 {login!r} 的用户")
        created = now
        if "created" in values:
            parsed = parse_date(values["created"])
            if parsed is None:
                refuse("created", "import.date", f"{_text(values['created'])!r} is not a date "
                       "(2019-03-01 or 2019/3/1)", f"{_text(values['created'])!r} 不是日期"
                       "(如 2019-03-01 或 2019/3/1)")
            elif parsed > now:
                refuse("created", "import.future_date", "the creation date is in the future",
                       "创建时间晚于现在")
            else:
                created = parsed
        key = plan.key = canonical_name(name)
        identity = record.get("credit_code") or key
        plan.doc_id = "customer:" + str(uuid.uuid5(NAMESPACE, f"{layout}|{identity}"))
        record.setdefault("category", "direct")
        record.update(created_at=created, created_by=owner or "import",
                      submitted_at=now, owner=owner)
        if contact:
            contact["id"] = str(uuid.uuid5(NAMESPACE, f"{plan.doc_id}|{number}"))
            record["contacts"] = [contact]
        record = {k: v for k, v in record.items() if v is not None}
        for v in schema_validate("customer", None, record, Actor("system", "system"), {}):
            target = _target_of(v.field)
            where = label(target) if target in col_of else v.field
            problems.append(Problem(number, where, v.field, v.rule,
                                    f"row {number}, column {where}: {v.message}",
                                    f"第 {number} 行,{where} 列:{v.message_zh}"))
        plan.record = record
        earlier = first_of.get(identity)
        if earlier is None:
            first_of[identity] = plan
        elif not problems:
            mine = {k: v for k, v in record.items() if k not in ("contacts",)}
            theirs = {k: v for k, v in earlier.record.items() if k not in ("contacts",)}
            same_contact = contact and any(
                {k: v for k, v in c.items() if k != "id"}
                == {k: v for k, v in contact.items() if k != "id"}
                for c in earlier.record.get("contacts", []))
            if mine != theirs or not contact or same_contact:
                differ = sorted(k for k in set(mine) | set(theirs)
                                if mine.get(k) != theirs.get(k) and k in col_of)
                what = (f"with different values in {', '.join(label(k) for k in differ)}"
                        if differ else "repeated")
                what_zh = (f"但 {'、'.join(label(k) for k in differ)} 列不同"
                           if differ else "重复")
                refuse("name", "import.duplicate_row",
                       f"the same customer as row {earlier.row}, {what}",
                       f"与第 {earlier.row} 行是同一客户,{what_zh}")
            else:
                # One row per contact: this row's contact joins the earlier row's card.
                earlier.record.setdefault("contacts", []).append(contact)
                plan.action, plan.match = "contact", str(earlier.row)
                plan.doc_id = earlier.doc_id
        plan.problems = problems
        if problems:
            plan.action = "refuse"
        elif plan.action != "contact":
            plan.action = "create"
        return plan

    async def _match(self, plans: list[RowPlan], on_match: str) -> None:
        """Rows whose card exists already (a re-run), and rows matching an existing customer
        by canonical name or credit code."""
        todo = [p for p in plans if p.action == "create"]
        c = st.rec_customer
        async with self.engine.connect() as conn:
            for start in range(0, len(todo), BATCH):
                part = todo[start:start + BATCH]
                ids = [p.doc_id for p in part]
                have = set((await conn.execute(select(sync_t.docs.c.doc_id).where(
                    sync_t.docs.c.doc_id.in_(ids)))).scalars())
                keys = {p.key for p in part}
                codes = {p.record["credit_code"] for p in part if p.record.get("credit_code")}
                conds = [c.c.name_key.in_(sorted(keys))]
                if codes:
                    conds.append(func.upper(c.c.credit_code).in_(sorted(codes)))
                rows = list(await conn.execute(
                    select(c.c.doc_id, c.c.name, c.c.code, c.c.name_key, c.c.credit_code)
                    .where(or_(*conds), c.c.merged_into.is_(None))))
                by_key = {r.name_key: r for r in rows if r.doc_id not in ids}
                by_code = {(r.credit_code or "").upper(): r for r in rows
                           if r.credit_code and r.doc_id not in ids}
                for p in part:
                    if p.doc_id in have:
                        p.action = "unchanged"
                        continue
                    hit = by_code.get(p.record.get("credit_code") or "\0") or by_key.get(p.key)
                    if hit is not None:
                        p.action = "merge" if on_match == "merge" else "skip"
                        p.match, p.match_label = hit.doc_id, f"{hit.code or ''} {hit.name}"
        # A contact row follows its card's row (one look-up each: a file of one row per
        # contact has as many of them as cards).
        card_of: dict[str, RowPlan] = {}
        for p in plans:
            if p.action != "contact":
                card_of.setdefault(p.doc_id, p)
        for p in plans:
            if p.action == "contact":
                first = card_of[p.doc_id]
                if first.action in ("unchanged", "skip"):
                    p.action = first.action

    async def run(self, plan: Plan, admin_id: str, *,
                  progress: Progress | None = None,
                  on_progress: Callable[[Progress], Awaitable[None] | None] | None = None,
                  batch: int = BATCH) -> Progress:
        """Import a clean plan: new cards in batches through the hub as the server, each
        created by its source owner at its source date. Refuses a plan with refused rows.
        A row whose card exists by now (the same plan run twice) is left as it is."""
        if plan.refused:
            first = plan.refused[0].problems[0]
            raise ImportRefused(
                f"{len(plan.refused)} rows refused, nothing imported; first: {first.message}",
                message_zh=f"{len(plan.refused)} 行被拒绝,未导入任何数据;第一个:"
                f"{first.message_zh}")
        todo = [p for p in plan.rows if p.action in ("create", "merge")]
        prog = progress or Progress(len(todo))
        prog.total = len(todo)
        async with self.engine.begin() as conn:
            await audit(conn, "import.start", user_id=admin_id, file=plan.sheet.filename,
                        layout=plan.sheet.layout, rows=len(plan.rows), create=len(todo),
                        on_match=plan.on_match,
                        mapping={column_letter(i): t for i, t in plan.mapping.items()})
            # Every card's code, in the same transaction: a reservation per batch would wait
            # for the write lock behind the last batch's group commit. A row left alone (its
            # card exists by now) leaves its code unused: codes stay unique, with gaps.
            top = await reserve_codes(conn, len(todo))
        codes = iter(range(top - len(todo) + 1, top + 1))
        try:
            for start in range(0, len(todo), batch):
                # What is alive now (the server's state, the plan, the cards imported so
                # far) is long-lived: frozen out of the collector's full passes, which would
                # otherwise walk all of it again and again as it grows (a fifth of the
                # import's CPU at 20,000 rows). Frozen objects are still freed when their
                # last reference goes; only cycles among them wait for the unfreeze below.
                gc.freeze()
                part = todo[start:start + batch]
                prog.created += await self._finish(await self._submit(part, admin_id, codes),
                                                   admin_id)
                prog.done += len(part)
                if on_progress is not None:
                    res = on_progress(prog)
                    if res is not None:
                        await res
        except Exception as e:
            prog.error = str(e)
            raise
        finally:
            gc.unfreeze()
            prog.finished = True
        async with self.engine.begin() as conn:
            await audit(conn, "import.done", user_id=admin_id, file=plan.sheet.filename,
                        layout=plan.sheet.layout, created=prog.created)
        log.info("import of %s by %s: %s new customers", plan.sheet.filename, admin_id,
                 prog.created)
        return prog

    async def _submit(self, part: list[RowPlan], admin_id: str, codes: Iterator[int],
                      ) -> list[tuple[RowPlan, asyncio.Future[Any]]]:
        """A batch's new cards applied by the hub (validated, queued for the next group
        commit); returns each row's future of its commit."""
        await self.hub.preload(p.doc_id for p in part)
        out = []
        for n, p in enumerate(part):
            code = format_code(next(codes))
            live = self.hub.peek(p.doc_id) or await self.hub.open(p.doc_id, CUSTOMER.name)
            if live.exists:  # one created since the dry run (the same file twice) stays
                continue
            record = dict(p.record, code=code)
            owner = record.get("owner")
            if not owner:
                # No owner in the source: the card is the importing admin's until assigned.
                record["owner"] = record["created_by"] = admin_id
            doc: Doc[Any] = Doc()
            write_record(doc, "customer", record)
            # The server applies it, with the source owner as the doc's creator: the
            # duplicate rule hands a surviving card to its creator.
            author = Principal(record["created_by"], "system", None)
            out.append((p, await self.hub.apply(author, IMPORT_DEVICE, p.doc_id,
                                                doc.get_update(), self.edits.next_clock())))
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # others' requests and commits go on meanwhile
        return out

    async def _finish(self, submitted: list[tuple[RowPlan, asyncio.Future[Any]]],
                      admin_id: str) -> int:
        """Wait for a batch's commit, record it in the audit trail, and let its follow-ups
        (the duplicate rule's check of each new card) finish: progress counts finished
        work, and 100,000 pending checks never pile up in memory. Returns the cards
        created."""
        created = 0
        rows = []
        for p, fut in submitted:
            item = await fut
            if not isinstance(item, Append):
                raise ImportRefused(f"row {p.row}: the server refused the card: "
                                    f"{getattr(item, 'detail', item)}")
            if item.new_doc is not None:
                created += 1
            rows.append([p.row, p.doc_id, p.record.get("owner"), p.record["created_at"]])
        if rows:
            # The audit trail says whose the imported cards are and since when, and that an
            # admin's import set it: in the next group commit, not a write transaction of
            # its own beside it.
            await self.hub.log.write(
                lambda conn: audit(conn, "import.batch", user_id=admin_id, cards=rows))
        await self.edits.settle()
        return created


def _contact_enum(f_name: str, text: str) -> str | None:
    items = CUSTOMER.field("contacts").items or ()
    for f in items:
        if f.name == f_name:
            for e in f.enum or ():
                if text in (e.value, e.label_zh) or text.lower() == e.label_en.lower():
                    return str(e.value)
    return None


def _target_of(path: str) -> str:
    """The import target of a validation path: "contacts[0].mobile" → "contact.mobile"."""
    m = re.match(r"contacts\[\d+\]\.(\w+)", path)
    if m:
        return "contact." + m.group(1)
    if path in ("created_at",):
        return "created"
    if path in ("owner", "created_by"):
        return "owner"
    return path
