"""The record kinds of Waiqin, declared once, and everything derived from them.

`kinds` declares; `ydoc` reads and writes the Y doc layout; `validate` checks a change;
`tables` projects records into SQL; `export` and `docs` publish the schema.
"""

from schema.kinds import KINDS, Field, Kind, get_kind
from schema.validate import Actor, related_ids, validate
from schema.violations import Violation
from schema.ydoc import read_record, update_fields, write_record

__all__ = [
    "KINDS",
    "Actor",
    "Field",
    "Kind",
    "Violation",
    "get_kind",
    "read_record",
    "related_ids",
    "update_fields",
    "validate",
    "write_record",
]
