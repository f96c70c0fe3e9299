"""Columns of the back office's tables: one description feeds the HTML page, the CSV and
the Excel export, so the three always agree on labels and on how a value reads."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from schema.kinds import Field

from .i18n import cst, fmt_duration, fmt_ms, gettext

# How a value reads: text, int, float, pct (0-1), money, fen (integer 分 shown as yuan with
# two decimals, exactly), ms (timestamp), date, duration (ms), hours (float), enum (labels
# from `enum`), bool.
Format = str


@dataclass(frozen=True)
class Col:
    key: str
    en: str
    zh: str = ""
    fmt: Format = "text"
    enum: Field | None = None
    sortable: bool = False
    link: str | None = None  # key of the row value holding a doc id to link to
    width: int = 14

    def label(self, lang: str) -> str:
        if lang == "zh":
            return self.zh or gettext("zh", self.en)
        return self.en


def field_col(f: Field, **over: Any) -> Col:
    fmt = {"timestamp": "ms", "date": "date", "integer": "int", "number": "float",
           "boolean": "bool"}.get(f.type, "text")
    if f.enum:
        fmt = "enum"
    return Col(f.name, f.label_en, f.label_zh, fmt, f if f.enum else None, **over)


def enum_text(f: Field | None, value: Any, lang: str) -> str:
    if value is None:
        return ""
    e = f.enum_label(value) if f is not None else None
    if e is None:
        return str(value)
    return e.label_zh if lang == "zh" else e.label_en


def cell_text(col: Col, value: Any, lang: str) -> str:
    """The value as the page and the CSV show it."""
    if value is None and col.fmt == "last":  # a last contact that never happened
        return gettext(lang, "never")
    if value is None or value == "":
        return ""
    fmt = col.fmt
    if fmt in ("ms", "last"):
        return fmt_ms(value)
    if fmt == "date":
        return value.isoformat() if isinstance(value, datetime.date) else str(value)
    if fmt == "duration":
        return fmt_duration(value, lang)
    if fmt == "enum":
        return enum_text(col.enum, value, lang)
    if fmt == "stage":  # a deal stage with its label (0-10, 000 §4.1.2)
        if not isinstance(value, int):
            return str(value)
        from schema.kinds import get_kind

        return f"{value} · {enum_text(get_kind('deal').field('stage'), value, lang)}"
    if fmt == "pct":
        return f"{float(value) * 100:.0f}%"
    if fmt == "money":
        return f"{float(value):,.2f}"
    if fmt == "fen":
        return yuan(int(value))
    if fmt in ("float", "hours"):
        return f"{float(value):.1f}"
    if fmt == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    return str(value)


def cell_value(col: Col, value: Any, lang: str) -> Any:
    """The value as an Excel cell: numbers stay numbers, times become datetimes."""
    if value is None:
        return None
    fmt = col.fmt
    if fmt in ("ms", "last"):
        return cst(int(value))
    if fmt == "duration":
        return round(float(value) / 3_600_000, 2)  # hours
    if fmt in ("int", "float", "money", "pct", "hours"):
        return value
    if fmt == "fen":  # the nearest double to the yuan: reads back as the same fen
        return int(value) / 100
    if fmt == "date":
        return value if isinstance(value, datetime.date) else str(value)
    return cell_text(col, value, lang)


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals, by integer arithmetic (never a float)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def excel_label(col: Col, lang: str) -> str:
    label = col.label(lang)
    if col.fmt == "duration":
        return f"{label} ({'小时' if lang == 'zh' else 'h'})"
    return label


@dataclass
class Table:
    """A titled table of rows: a list page, or one section of a report."""

    name: str
    title: str
    cols: list[Col]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""
