"""CSV and Excel exports, streamed: rows are read from the database in batches and never
held all at once. CSV goes out as it is read; the .xlsx is written row by row to a
temporary file (XlsxWriter's constant-memory mode) and then streamed and deleted."""

from __future__ import annotations

import csv
import io
import os
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from .columns import Col, cell_text, cell_value, excel_label

BATCH = 2000
CSV_CHUNK = 64 * 1024


@dataclass
class Sheet:
    name: str
    cols: list[Col]
    rows: AsyncIterator[Sequence[Sequence[Any]]]  # batches of rows


async def batches_of(rows: Iterable[Sequence[Any]]) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Rows already in memory (a report's aggregates) as one batch."""
    yield list(rows)


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


def csv_response(sheet: Sheet, filename: str, lang: str) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        buf = io.StringIO()
        buf.write("\ufeff")  # so Excel opens UTF-8 Chinese text correctly
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([c.label(lang) for c in sheet.cols])
        async for batch in sheet.rows:
            for row in batch:
                w.writerow([cell_text(c, v, lang) for c, v in zip(sheet.cols, row, strict=False)])
                if buf.tell() >= CSV_CHUNK:
                    yield buf.getvalue().encode()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue().encode()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition(filename), "Cache-Control": "no-store"},
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Workbook:
    def __init__(self, path: str) -> None:
        # Imported here so the app starts even where the package is missing; only Excel
        # exports need it (pyproject: xlsxwriter).
        import xlsxwriter  # type: ignore[import-untyped,unused-ignore]

        self.wb = xlsxwriter.Workbook(path, {"constant_memory": True, "remove_timezone": True})
        self.header = self.wb.add_format({"bold": True, "bg_color": "#E8EEF5", "border": 1})
        self.dt = self.wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.day = self.wb.add_format({"num_format": "yyyy-mm-dd"})
        self.pct = self.wb.add_format({"num_format": "0%"})
        self.money = self.wb.add_format({"num_format": "#,##0.00"})

    def sheet(self, name: str, cols: list[Col], lang: str) -> Any:
        ws = self.wb.add_worksheet(name[:31])
        for i, c in enumerate(cols):
            ws.set_column(i, i, c.width)
            ws.write_string(0, i, excel_label(c, lang), self.header)
        ws.freeze_panes(1, 0)
        return ws

    def write(self, ws: Any, start: int, cols: list[Col], rows: Sequence[Sequence[Any]],
              lang: str) -> int:
        fmts = {"ms": self.dt, "last": self.dt, "date": self.day, "pct": self.pct,
                "money": self.money, "fen": self.money}
        r = start
        for row in rows:
            for i, (c, v) in enumerate(zip(cols, row, strict=False)):
                value = cell_value(c, v, lang)
                if value is None:
                    continue
                fmt = fmts.get(c.fmt)
                is_time = c.fmt in ("ms", "last", "date") and not isinstance(value, str)
                if fmt is not None and is_time:
                    ws.write_datetime(r, i, value, fmt)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    ws.write_number(r, i, value, fmt)
                else:
                    ws.write_string(r, i, str(value))
            r += 1
        return r


async def xlsx_response(sheets: list[Sheet], filename: str, lang: str) -> StreamingResponse:
    fd, path = tempfile.mkstemp(prefix="waiqin-export-", suffix=".xlsx")
    os.close(fd)
    try:
        book = _Workbook(path)
        for s in sheets:
            ws = book.sheet(s.name, s.cols, lang)
            row = 1
            async for batch in s.rows:
                row = await anyio.to_thread.run_sync(book.write, ws, row, s.cols, batch, lang)
        await anyio.to_thread.run_sync(book.wb.close)
    except BaseException:
        os.unlink(path)
        raise

    size = (await anyio.Path(path).stat()).st_size

    async def body() -> AsyncIterator[bytes]:
        async with await anyio.open_file(path, "rb") as f:
            while chunk := await f.read(CSV_CHUNK):
                yield chunk

    return StreamingResponse(
        body(),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": _disposition(filename), "Cache-Control": "no-store",
                 "Content-Length": str(size)},
        background=BackgroundTask(os.unlink, path),
    )
