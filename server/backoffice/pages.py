"""Review pages: login, the home page, the record lists with their exports, one record with
photos and field history, a customer's timeline, and the reports with theirs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from schema import duties
from schema import tables as st
from schema.kinds import get_kind
from server import tables as t
from server.accounts import TooManyAttempts
from server.attachments import BlobRights
from server.errors import NotFound, Unauthorized
from server.history import history_of
from server.services import services_of
from sync.log import now_ms

from . import inbox as ap
from . import queries as qs
from . import reassign as ra
from .auth import (
    Viewer,
    check_csrf,
    end_session,
    language,
    start_session,
    viewer,
)
from .columns import Col, Table, yuan
from .exports import Sheet, batches_of, csv_response, xlsx_response
from .i18n import cadence_note, duty_note, fmt_ms, gettext
from .reports import REPORTS, run_report
from .web import base, page, render, see_other

# -- login ---------------------------------------------------------------------------------


def _safe_next(request: Request, nxt: str | None) -> str:
    root = base(request)
    if nxt and nxt.startswith(root + "/") and not nxt.startswith("//") and "\\" not in nxt:
        return nxt
    return root + "/"


async def login_form(request: Request) -> Response:
    return await render(request, "login.html", {"next": request.query_params.get("next", ""),
                                                "error": ""})


async def login_submit(request: Request) -> Response:
    try:
        form = await check_csrf(request)
    except Exception:  # noqa: BLE001 - a stale form is answered by the form again
        return await render(request, "login.html", {"next": "", "error":
                            gettext(language(request), "The form expired; please try again.")},
                            status=403)
    response = see_other(request, "/")
    response.headers["location"] = _safe_next(request, form.get("next"))
    try:
        await start_session(request, response, form.get("login", ""), form.get("password", ""))
    except TooManyAttempts:
        return await render(request, "login.html", {
            "next": form.get("next", ""), "login": form.get("login", ""),
            "error": gettext(language(request),
                             "Too many failed attempts; try again in 15 minutes."),
        }, status=429)
    except Unauthorized:
        return await render(request, "login.html", {
            "next": form.get("next", ""),
            "error": gettext(language(request), "Wrong login or password."),
            "login": form.get("login", ""),
        }, status=401)
    return response


@page
async def logout(request: Request) -> Response:
    await check_csrf(request)
    response = see_other(request, "/login")
    await end_session(request, response)
    return response


# -- home ----------------------------------------------------------------------------------


@page
async def home(request: Request) -> Response:
    v = await viewer(request)
    counts: dict[str, int] = {}
    async with services_of(request).engine.connect() as conn:
        for name, spec in qs.LISTS.items():
            _, count = qs.list_select(spec, v, qs.Filters())
            counts[name] = int((await conn.execute(count)).scalar_one())
    return await render(request, "home.html", {"counts": counts, "lists": qs.LISTS})


# -- lists ---------------------------------------------------------------------------------


async def _members(conn: Any, v: Viewer) -> list[tuple[str, str]]:
    rows = await conn.execute(select(t.users.c.id, t.users.c.name).order_by(t.users.c.name))
    return [(r.id, r.name) for r in rows if v.sees_user(r.id)]


def _list_spec(request: Request) -> qs.ListSpec:
    spec = qs.LISTS.get(request.path_params["list"])
    if spec is None:
        raise NotFound("no such list")
    return spec


def _cols(spec: qs.ListSpec) -> list[Col]:
    return [c for c, _ in spec.cols]


@page
async def list_page(request: Request) -> Response:
    v = await viewer(request)
    spec = _list_spec(request)
    f = qs.Filters.from_query(request.query_params)
    async with services_of(request).engine.connect() as conn:
        rows, total = await qs.list_page(conn, spec, v, f)
        members = await _members(conn, v)
        customer_name = None
        if f.customer:
            r = await conn.execute(select(st.rec_customer.c.name)
                                   .where(st.rec_customer.c.doc_id == f.customer))
            customer_name = r.scalar() if await v.principal.can_see(conn, f.customer) else None
    kind = get_kind(spec.kind)
    status_field = kind.field(spec.status_field) if spec.status_field else None
    return await render(request, "list.html", {
        "spec": spec,
        "cols": _cols(spec),
        "rows": [r._mapping for r in rows],
        "total": total,
        "f": f,
        "pages": max(1, -(-total // qs.PAGE_SIZE)),
        "members": members,
        "kind_field": kind.field(spec.kind_field),
        "status_field": status_field,
        "customer_name": customer_name,
        "late": _late_marks(spec, rows),
    })


def _late_marks(spec: qs.ListSpec, rows: Sequence[Any]) -> dict[str, int]:
    """Days overdue of the open tasks on a task list page, by doc id (schema.duties)."""
    if spec.kind != "task":
        return {}
    now, marks = now_ms(), {}
    for r in rows:
        due = r.planned_end if r.planned_end is not None else r.planned_start
        late = (duties.days_late(due, 0, now)
                if r.status == "open" and isinstance(due, int) else None)
        if late is not None:
            marks[r.doc_id] = late
    return marks


async def _stream_rows(request: Request, stmt: Any) -> AsyncIterator[Sequence[Sequence[Any]]]:
    async with services_of(request).engine.connect() as conn:
        result = await conn.stream(stmt.execution_options(yield_per=2000))
        async for part in result.partitions(2000):
            yield part


@page
async def list_export(request: Request) -> Response:
    v = await viewer(request)
    spec = _list_spec(request)
    fmt = request.path_params["fmt"]
    f = qs.Filters.from_query(request.query_params)
    stmt, _ = qs.list_select(spec, v, f)
    cols = [Col("doc_id", "Doc", "记录编号", width=44), *_cols(spec)]
    exprs = [c for c in stmt.selected_columns if c.key == "doc_id"] + [
        c for c in stmt.selected_columns if c.key in {col.key for col in _cols(spec)}]
    stmt = stmt.with_only_columns(*exprs)
    lang = language(request)
    sheet = Sheet(spec.name, cols, _stream_rows(request, stmt))
    return await _export(fmt, [sheet], spec.name, lang)


async def _export(fmt: str, sheets: list[Sheet], name: str, lang: str) -> Response:
    if fmt == "csv":
        return csv_response(sheets[0], f"{name}.csv", lang)
    if fmt == "xlsx":
        return await xlsx_response(sheets, f"{name}.xlsx", lang)
    raise NotFound("exports are .csv or .xlsx")


# -- one record ----------------------------------------------------------------------------


# Lists the record page shows in their own sections: photos, the approval flow, the stops
# of a trip (with customer names) and the approvers (named in the flow's section).
SPECIAL_LISTS = ("attachments", "approval_log", "approvers", "stops")


def _display_fields(kind: str) -> list[Any]:
    # the step is the approval section's (as "approver n of m"), not a bare index
    return [f for f in get_kind(kind).fields if f.y_type != "array" and f.name != "approval_step"]


def money_label(label: str) -> str:
    """A fen field's label as the page shows it, in yuan: 金额(分) → 金额(元)."""
    return label.replace("(分)", "(元)").replace("(fen)", "(yuan)")


@page
async def record_page(request: Request) -> Response:
    doc_id = request.path_params["doc_id"]
    await ap.open_if_current(request, await viewer(request), doc_id)
    return await record_view(request, doc_id)


async def record_view(request: Request, doc_id: str, *, error: str = "",
                      status: int = 200, typed_comment: str = "") -> Response:
    """The record page; `error` (with its status) when a decision from it was refused, and
    the comment that was typed, so it is not lost."""
    v = await viewer(request)
    async with services_of(request).engine.connect() as conn:
        rec = await qs.load_record(conn, v, doc_id)
        history = await history_of(conn, doc_id)
        names = await qs.user_names(conn)
        items = await qs.timeline(conn, v, doc_id) if rec.kind == "customer" else []
        previous = None
        prev_id = rec.row.get("previous_visit_id")
        if isinstance(prev_id, str) and await v.principal.can_see(conn, prev_id):
            previous = prev_id
        kind = get_kind(rec.kind)
        refs = {f.name: rec.row.get(f.name) for f in kind.fields if f.type == "doc_id"}
        targets = await qs.linked(conn, v, [r for r in refs.values() if isinstance(r, str)])
        completes = ([] if rec.kind in ("customer", "task", "deal")
                     else await qs.tasks_done_with(conn, v, doc_id))
        flow = await ap.flow_of(request, conn, v, rec)
        trip = await qs.trip_records(conn, v, rec)
        stop_names = await qs.linked(conn, v, [str(s.get("customer_id"))
                                               for s in rec.children.get("stops", [])])
    lang = language(request)
    # a linked record the viewer sees is named; one they do not is shown by its id alone
    links = {name: _link_title(target, targets[target], lang)
             for name, target in refs.items() if isinstance(target, str) and target in targets}
    late = None
    if rec.kind == "task" and rec.row.get("status") == "open":
        due = rec.row.get("planned_end") or rec.row.get("planned_start")
        late = duties.days_late(due, 0, now_ms()) if isinstance(due, int) else None
    lists = [(f, rec.children.get(f.name, [])) for f in kind.fields
             if f.y_type == "array" and f.items and f.name not in SPECIAL_LISTS]
    for change in history:
        for fc in change["fields"]:
            fc["old_text"] = _value_text(kind, fc["field"], fc["old"], names, lang)
            fc["new_text"] = _value_text(kind, fc["field"], fc["new"], names, lang)
            fc["label"] = _field_label(kind, fc["field"], lang)
    for it in items:
        _label_timeline_item(it, lang)
    owner = rec.row.get("owner") or rec.row.get("created_by")
    reassign_to = []
    if (rec.kind == "customer" and not rec.row.get("merged_into") and ra.may_reassign(v)
            and isinstance(owner, str) and v.sees_user(owner)):
        reassign_to = [u for u in await ra.candidates(services_of(request), v) if u.id != owner]
    from . import sharing  # (sharing reaches reassign's helpers; imported where used)

    shared_ids = [str(s.get("user_id")) for s in rec.children.get("shared_with", [])]
    may_share = (rec.kind == "customer" and not rec.row.get("merged_into")
                 and isinstance(owner, str) and sharing.may_share(v, owner))
    share_to = (await sharing.share_candidates(services_of(request), str(owner), shared_ids)
                if may_share else [])
    label = kind.label_zh if lang == "zh" else kind.label_en
    when = rec.row.get("started_at") or rec.row.get("created_at")
    heading = (rec.row.get("name") or rec.row.get("title") or rec.row.get("subject")
               or f"{label} · {fmt_ms(when)}")
    return await render(request, "record.html", {
        "heading": heading,
        "rec": rec,
        "kind": kind,
        "fields": _display_fields(rec.kind),
        "lists": lists,
        "attachments": rec.children.get("attachments", []),
        "shared": rec.children.get("shared_with", []),
        "history": list(reversed(history)),
        "names": names,
        "timeline": items,
        "previous": previous,
        "links": links,
        "completes": completes,
        "late": late,
        "reassign_to": reassign_to,
        "may_share": may_share,
        "share_to": share_to,
        "message": request.query_params.get("done", ""),
        "flow": flow,
        "trip": trip,
        "stop_names": {k: _link_title(k, r, lang) for k, r in stop_names.items()},
        "decided": ap.decided_text(request.query_params.get("decided", ""), lang),
        "error": error,
        "money_label": money_label,
        "typed_comment": typed_comment,
        "task_status": lambda value: _enum_text(get_kind("task").field("status"), value, lang),
        "status_label": lambda value: _enum_text(
            get_kind("expense").field("approval_status"), value, lang),
    }, status=status)


def _link_title(doc_id: str, row: Mapping[str, Any], lang: str) -> str:
    """How a record page names a record it links to: a customer by name, a deal by title,
    a service sheet or task by subject, a visit by kind and time, progress by its time."""
    kind = get_kind(doc_id.split(":", 1)[0])
    for key in ("name", "title", "subject"):
        if row.get(key):
            return str(row[key])
    label = kind.label_zh if lang == "zh" else kind.label_en
    if kind.name == "visit" and row.get("visit_type"):
        label = _enum_text(kind.field("visit_type"), row["visit_type"], lang)
    when = row.get("started_at") or row.get("created_at")
    return f"{label} · {fmt_ms(when)}" if when else label


def _field_label(kind: Any, name: str, lang: str) -> str:
    try:
        f = kind.field(name)
    except KeyError:
        return name
    return money_label(str(f.label_zh if lang == "zh" else f.label_en))


def _enum_text(f: Any, value: Any, lang: str) -> str:
    e = f.enum_label(value)
    return str(value) if e is None else str(e.label_zh if lang == "zh" else e.label_en)


def _value_text(kind: Any, name: str, value: Any, names: dict[str, str], lang: str) -> str:
    """A field's value in the history as a person reads it: names for user ids, labels
    for enums, China time for timestamps, a count for lists."""
    if value is None:
        return ""
    try:
        f = kind.field(name)
    except KeyError:
        return _json_text(value)
    if f.y_type == "array" and isinstance(value, list):
        if not value:
            return ""
        if f.type == "user_id":
            return ", ".join(names.get(str(u), str(u)) for u in value)
        if name == "contacts":
            return "; ".join(str(c.get("name") or "?") for c in value if isinstance(c, dict))
        if name == "approval_log":
            n = len(value)
            return f"{n} {'步' if lang == 'zh' else ('step' if n == 1 else 'steps')}"
        if name == "stops":
            return "; ".join(str(c.get("purpose") or "?") for c in value if isinstance(c, dict))
        if name == "products":
            return "; ".join(
                " ".join(str(c.get(k)) for k in ("name", "model", "quantity") if c.get(k))
                for c in value if isinstance(c, dict))
        return f"{len(value)} × {'附件' if lang == 'zh' else 'file'}"
    if f.type == "timestamp" and isinstance(value, (int, float)):
        return fmt_ms(int(value))
    if name.endswith("_fen") and isinstance(value, int) and not isinstance(value, bool):
        return "¥" + yuan(value)
    if f.type == "user_id" and isinstance(value, str):
        return names.get(value, value)
    if f.enum:
        return _enum_text(f, value, lang)
    return _json_text(value)


def _label_timeline_item(it: qs.TimelineItem, lang: str) -> None:
    k = get_kind(it.kind)
    if it.kind == "visit":
        it.title = _enum_text(k.field("visit_type"), it.title, lang) if it.title else ""
        it.title = " · ".join(x for x in (it.title, it.status or "") if x)
    elif it.kind == "service" and it.status:
        it.detail = _enum_text(k.field("status"), it.status, lang) + " · " + it.detail
    elif it.kind == "deal":
        parts = [_enum_text(k.field("deal_class"), it.detail, lang) if it.detail else ""]
        if it.status is not None:
            parts.append(_enum_text(k.field("stage"), int(it.status), lang))
        it.detail = " · ".join(x for x in parts if x)
    elif it.kind == "progress":
        it.title, it.detail = it.title[:60], it.detail
    elif it.kind in ("trip_plan", "expense"):
        if it.kind == "expense" and it.detail.lstrip("-").isdigit():
            it.detail = "¥" + yuan(int(it.detail))
        if it.status:
            it.detail = " · ".join(x for x in (
                it.detail, _enum_text(k.field("approval_status"), it.status, lang)) if x)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:299] + "…"


# -- photos --------------------------------------------------------------------------------


class _Forward(Response):
    """Answers by handing a rewritten request to the app's own blob endpoint, so ranges,
    ETags and thumbnail caching behave exactly as for the field app."""

    def __init__(self, scope: Scope) -> None:
        self.forward_scope = scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"](self.forward_scope, receive, send)


@page
async def blob(request: Request) -> Response:
    v = await viewer(request)
    sha = request.path_params["sha256"]
    if request.path_params.get("thumb", "thumb") != "thumb":
        raise NotFound("no such photo")
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise NotFound("no such photo")
    svc = services_of(request)
    if not await BlobRights(svc.engine, svc.accounts)(v.user.id, sha):
        raise NotFound("no such photo")
    token = request.cookies.get("wq_admin", "")
    path = f"/api/blobs/{sha}" + ("/thumb" if request.path_params.get("thumb") else "")
    query = b""
    if request.path_params.get("thumb"):
        query = f"size={request.query_params.get('size', '256')}".encode()
    headers = [(k, val) for k, val in request.scope["headers"]
               if k not in (b"cookie", b"authorization")]
    headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {**request.scope, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query, "headers": headers}
    scope.pop("path_params", None)
    scope.pop("endpoint", None)
    scope.pop("route", None)
    return _Forward(scope)


# -- reports -------------------------------------------------------------------------------


def _report_name(request: Request) -> str:
    name = str(request.path_params["report"])
    if name not in REPORTS:
        raise NotFound("no such report")
    return name


@page
async def report_page(request: Request) -> Response:
    v = await viewer(request)
    name = _report_name(request)
    lang = language(request)
    async with services_of(request).engine.connect() as conn:
        report, params = await run_report(conn, name, v, request.query_params, lang)
        members = await _members(conn, v)
    return await render(request, f"report_{name}.html", {
        "report": report, "params": params, "members": members,
        "service_type": get_kind("service").field("service_type"),
        "expense_type": get_kind("expense").field("expense_type") if name == "expenses" else None,
        "duty_note": duty_note(lang), "cadence_note": cadence_note(lang),
    })


@page
async def report_export(request: Request) -> Response:
    v = await viewer(request)
    name = _report_name(request)
    fmt = request.path_params["fmt"]
    lang = language(request)
    async with services_of(request).engine.connect() as conn:
        report, _ = await run_report(conn, name, v, request.query_params, lang)
    tables: list[Table] = report.tables
    if fmt == "csv":
        wanted = request.query_params.get("table")
        tables = [tb for tb in report.tables if tb.name == wanted] or report.tables[:1]
        name = f"{name}-{tables[0].name}"
    sheets = [Sheet(tb.title, tb.cols, batches_of(tb.rows)) for tb in tables]
    return await _export(fmt, sheets, name, lang)


async def count_rows(conn: Any, table: Any) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
