"""The Y doc layout of a record: reading it into plain Python and writing it back.

Every record doc has one root `Y.Map` named `record`. Scalar fields are plain map entries,
long free text is a `Y.Text`, lists are `Y.Array`s of `Y.Map`s (or of plain scalars for
`shared_with`). Clearing a field means deleting its key; a `null` value counts as absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pycrdt import Array, Doc, Map, Text

from schema.kinds import Field, Kind, get_kind
from schema.violations import Violation

ROOT = "record"

_Y_NAMES = {"scalar": "plain value", "text": "Y.Text", "array": "Y.Array"}
_Y_NAMES_ZH = {"scalar": "普通值", "text": "Y.Text", "array": "Y.Array"}


def _describe(value: object) -> str:
    if isinstance(value, Text):
        return "Y.Text"
    if isinstance(value, Array):
        return "Y.Array"
    if isinstance(value, Map):
        return "Y.Map"
    if isinstance(value, list):
        return "a plain list"
    if isinstance(value, dict):
        return "a plain object"
    return type(value).__name__


def _layout(path: str, f: Field, found: object) -> Violation:
    want = _Y_NAMES[f.y_type]
    if f.y_type == "array" and f.items:
        want = "Y.Array of Y.Map"
    return Violation(
        path,
        "layout.y_type",
        f"{path}: expected {want}, found {_describe(found)}",
        f"{path}:应为 {_Y_NAMES_ZH[f.y_type]},实际为 {_describe(found)}",
    )


def coerce_scalar(f: Field, value: Any) -> Any:
    """Undo the JSON number model of Yjs: whole floats become ints where an int is declared.

    Values that cannot be coerced are returned unchanged, for validation to report.
    """
    if isinstance(value, bool) or value is None:
        return value
    if f.type in ("integer", "timestamp") and isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if f.type == "number" and isinstance(value, int):
        return float(value)
    return value


def _read_value(path: str, f: Field, value: Any, violations: list[Violation]) -> tuple[bool, Any]:
    """Read one field; (False, None) when it is absent or laid out wrongly."""
    if value is None:
        return False, None
    if f.y_type == "text":
        if isinstance(value, Text):
            return True, str(value)
        violations.append(_layout(path, f, value))
        return False, None
    if f.y_type == "array":
        if not isinstance(value, Array):
            violations.append(_layout(path, f, value))
            return False, None
        return True, _read_array(path, f, value, violations)
    if isinstance(value, (Text, Array, Map, list, dict)):
        violations.append(_layout(path, f, value))
        return False, None
    return True, coerce_scalar(f, value)


def _read_array(path: str, f: Field, arr: Array[Any], violations: list[Violation]) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(arr):
        ipath = f"{path}[{i}]"
        if not f.items:
            if isinstance(item, (Text, Array, Map, list, dict)) or item is None:
                violations.append(
                    Violation(
                        ipath,
                        "layout.item",
                        f"{ipath}: expected a plain value, found {_describe(item)}",
                        f"{ipath}:应为普通值,实际为 {_describe(item)}",
                    )
                )
                continue
            out.append(coerce_scalar(f, item))
            continue
        if not isinstance(item, Map):
            violations.append(
                Violation(
                    ipath,
                    "layout.item",
                    f"{ipath}: expected a Y.Map, found {_describe(item)}",
                    f"{ipath}:应为 Y.Map,实际为 {_describe(item)}",
                )
            )
            continue
        out.append(_read_map(ipath, f.items, item, violations))
    if not f.items and not f.ordered:
        # shared_with reads as a set: concurrent adds of one user must not conflict
        # (approvers are ordered: only the server writes them, one edit at a time).
        out = sorted(set(out), key=str)
    return out


def _read_map(
    path: str, fields: Iterable[Field], ymap: Map[Any], violations: list[Violation]
) -> dict[str, Any]:
    declared = {f.name: f for f in fields}
    out: dict[str, Any] = {}
    for key in sorted(ymap.keys()):
        _read_key(path, declared, key, ymap[key], out, violations)
    return out


def _read_key(
    path: str,
    declared: Mapping[str, Field],
    key: str,
    value: Any,
    out: dict[str, Any],
    violations: list[Violation],
) -> None:
    """Read one map entry into `out` (or leave it out: absent, or laid out wrongly)."""
    f = declared.get(key)
    if f is None:
        # Unknown keys are kept for validation to refuse by name.
        if value is not None:
            out[key] = _to_py(value)
        return
    fpath = f"{path}.{key}" if path else key
    present, coerced = _read_value(fpath, f, value, violations)
    if present:
        out[key] = coerced


def _to_py(value: Any) -> Any:
    if isinstance(value, (Text, Array, Map)):
        return value.to_py()
    return value


def read_record(doc: Doc[Any], kind: str) -> tuple[dict[str, Any], list[Violation]]:
    """The record of `doc` as plain Python, coerced to the declared types, and any layout
    violations (unknown roots, fields of the wrong Y type).

    Fields with a layout violation are left out of the record; unknown fields are kept (as
    plain Python) so that validation names them.
    """
    violations = _root_violations(doc)
    root = doc.get(ROOT, type=Map)
    return _read_map("", get_kind(kind).fields, root, violations), violations


def _root_violations(doc: Doc[Any]) -> list[Violation]:
    # pycrdt's own `Doc.keys()` and `Doc.get()` build a wrapper per root and a transaction
    # per call; this is on every update's path, so one transaction and the raw roots.
    with doc.transaction() as txn:
        raw = txn._txn
        assert raw is not None
        names = sorted(doc._doc.roots(raw))
        # A root is untyped on the wire; sequence content means it was written as an array
        # or a text, which a Y.Map view would silently hide.
        sequence = ROOT in names and doc._doc.get_or_insert_array(raw, ROOT).len(raw) > 0
    violations: list[Violation] = []
    for name in names:
        if name != ROOT:
            violations.append(
                Violation(
                    name,
                    "layout.root",
                    f"unexpected root {name!r}: a record doc has only the root map 'record'",
                    f"不允许的根类型 {name!r}:记录文档只有名为 record 的根 Map",
                )
            )
    if sequence:
        violations.append(
            Violation(
                ROOT,
                "layout.y_type",
                "record: the root must be a Y.Map, found sequence content",
                "record:根类型必须是 Y.Map,实际为序列",
            )
        )
    return violations


class RecordReader:
    """`read_record` for a doc that keeps changing: after the first whole read, it reads
    again only the top-level fields that changes since the last read touched (one edit of
    a 30-field visit reads one field). Equal to `read_record` after every change.

    The reader watches the root map; its callback holds no reference to the doc, so a doc
    that is dropped is freed with its reader (keep readers in a `WeakKeyDictionary`).
    """

    __slots__ = ("kind", "_declared", "_fields", "_dirty", "_record", "_subscription")

    def __init__(self, doc: Doc[Any], kind: str) -> None:
        self.kind = kind
        self._fields = get_kind(kind).fields
        self._declared = {f.name: f for f in self._fields}
        self._dirty: set[str] = set()
        self._record: dict[str, Any] | None = None  # None: read everything next time
        root = doc.get(ROOT, type=Map)
        # The low-level observer: pycrdt's wrapper would bind the doc into the callback.
        self._subscription = root.integrated.observe_deep(self._changed)

    def _changed(self, events: list[Any]) -> None:
        if self._record is None:
            return
        dirty = self._dirty
        for event in events:
            path = event.path
            if path:
                dirty.add(path[0])
                continue
            try:
                dirty.update(event.keys)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001
                # yrs 0.28 can panic (pyo3's PanicException, a BaseException) working out a
                # key's old value after concurrent replacements applied out of order: the
                # change itself is applied; the reader just reads everything next time.
                self._record = None
                return

    def read(self, doc: Doc[Any], *, whole: bool = False) -> tuple[dict[str, Any], list[Violation]]:
        """The record now. `whole` reads every field: yrs's events miss changes made while
        integrating structs that waited for missing ones, so the caller (who sees the state
        vectors) asks for a whole read while any are waiting and when they get in."""
        violations = _root_violations(doc)
        root = doc.get(ROOT, type=Map)
        if self._record is None or whole:
            record = _read_map("", self._fields, root, violations)
        else:
            record = dict(self._record)
            added = False
            for key in self._dirty:
                fresh: dict[str, Any] = {}
                _read_key("", self._declared, key, root.get(key), fresh, violations)
                if key in fresh:
                    added = added or key not in record
                    record[key] = fresh[key]  # in place: the order stays sorted
                else:
                    record.pop(key, None)
            if added:
                record = {k: record[k] for k in sorted(record)}
        self._dirty = set()
        # After a layout violation the doc is usually rebuilt; read it whole next time.
        self._record = None if violations else record
        return dict(record), violations


# --- writing -----------------------------------------------------------------------------


def _prelim(f: Field, value: Any) -> Any:
    """The value to store for `f`: a fresh Y type where one is declared."""
    if f.y_type == "text":
        if not isinstance(value, str):
            raise TypeError(f"{f.name}: a text field takes a str")
        return Text(value)
    if f.y_type == "array":
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{f.name}: a list field takes a list")
        if f.items:
            return Array([_prelim_map(f.items, item) for item in value])
        return Array(list(value))
    return value


def _prelim_map(fields: tuple[Field, ...], item: Mapping[str, Any]) -> Map[Any]:
    declared = {f.name: f for f in fields}
    entries: dict[str, Any] = {}
    for key, value in item.items():
        if value is None:
            continue
        f = declared.get(key)
        if f is None:
            raise KeyError(f"unknown item field {key!r}")
        entries[key] = _prelim(f, value)
    return Map(entries)


def _set_text(text: Text, new: str) -> None:
    """Replace the content of `text` touching only the part that changed, so that concurrent
    edits elsewhere in the text survive the merge."""
    old = str(text)
    if old == new:
        return
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    # pycrdt indexes text by UTF-8 byte offsets.
    at = len(old[:start].encode())
    removed = len(old[start:end_old].encode())
    if removed:
        del text[at : at + removed]
    if end_new > start:
        text.insert(at, new[start:end_new])


def _write_field(root: Map[Any], f: Field, value: Any) -> None:
    if value is None:
        if f.name in root:
            del root[f.name]
        return
    current = root.get(f.name)
    if f.y_type == "text" and isinstance(current, Text) and isinstance(value, str):
        _set_text(current, value)
        return
    if not f.items and f.y_type == "scalar" and current == value and type(current) is type(value):
        return
    root[f.name] = _prelim(f, value)


def update_fields(doc: Doc[Any], kind: str | Kind, changes: Mapping[str, Any]) -> None:
    """Set the given fields of the record (None deletes one) in one transaction.

    Text fields are edited in place; list fields are replaced as a whole.
    """
    k = kind if isinstance(kind, Kind) else get_kind(kind)
    fields = {f.name: f for f in k.fields}
    for key in changes:
        if key not in fields:
            raise KeyError(f"{k.name} has no field {key!r}")
    root = doc.get(ROOT, type=Map)
    with doc.transaction():
        for key, value in changes.items():
            _write_field(root, fields[key], value)


def write_record(doc: Doc[Any], kind: str | Kind, values: Mapping[str, Any]) -> None:
    """Make the record of `doc` equal to `values`: declared fields are written with their Y
    types and fields missing from `values` are deleted."""
    k = kind if isinstance(kind, Kind) else get_kind(kind)
    root = doc.get(ROOT, type=Map)
    with doc.transaction():
        held = list(root.keys())
        if not held:
            # A new record (an import, a server-made doc): nothing to compare with or keep,
            # so each field is set as `_write_field` would, without reading it first.
            fields = {f.name: f for f in k.fields}
            for key, value in values.items():
                if value is None:
                    continue
                if key not in fields:
                    raise KeyError(f"{k.name} has no field {key!r}")
                root[key] = _prelim(fields[key], value)
            return
        for key in held:
            if key not in values or values[key] is None:
                del root[key]
        update_fields(doc, k, {key: v for key, v in values.items() if v is not None})


def append_item(doc: Doc[Any], kind: str | Kind, field: str, item: Any) -> None:
    """Append one item to a list field (creating the Y.Array if needed)."""
    k = kind if isinstance(kind, Kind) else get_kind(kind)
    f = k.field(field)
    if f.y_type != "array":
        raise TypeError(f"{k.name}.{field} is not a list")
    root = doc.get(ROOT, type=Map)
    with doc.transaction():
        arr = root.get(field)
        if not isinstance(arr, Array):
            arr = Array()
            root[field] = arr
        arr.append(_prelim_map(f.items, item) if f.items else item)


def new_doc(kind: str | Kind, values: Mapping[str, Any]) -> Doc[Any]:
    """A fresh doc holding `values` (for tests and server-made records)."""
    doc: Doc[Any] = Doc()
    write_record(doc, kind, values)
    return doc
