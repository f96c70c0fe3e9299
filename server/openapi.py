"""The OpenAPI 3.1 description of the HTTP API, served at /api/openapi.json.

Record schemas come from `schema/`, parameter bounds and enums from the constants the routes
check with; tests/server/test_openapi.py runs schemathesis on a live server to keep it true.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schema.export import schema_json
from schema.kinds import MAX_EXPENSE_FEN
from sync.protocol import DOC_ID_RE

from . import approvals_api, duplicates_api, pool_api, records_api
from .approvals import ACTIONS, THRESHOLD
from .blobs.media import ACCEPTED_TYPES
from .blobs.store import SHA256_RE
from .blobs.thumbs import THUMB_SIZES
from .blobs.uploads import UPLOAD_ID_RE
from .duplicates import MAX_LOOKUP
from .params import IntParam
from .pool import MAX_EXTENSION_DAYS, MAX_REASON, POOL_REASONS  # the customer pool

_UUID = DOC_ID_RE.pattern.split(":", 1)[1].removesuffix("$")
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "doc_id": {"type": "string", "pattern": DOC_ID_RE.pattern},
    "user_id": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "integer", "description": "ms since the epoch"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
}
ERROR = {"$ref": "#/components/schemas/Error"}
# Each error status the API answers with, once; operations refer to these.
ERRORS = {
    400: "bad input: error.field names the parameter or field",
    401: "no, bad or revoked token",
    403: "signed in, but not allowed",
    404: "absent, or not visible to the caller",
    405: "the path does not take this method; Allow lists those it takes",
    409: "the state does not allow it",
    412: "a Tus-Resumable version this server does not speak",
    413: "over the size limit",
    415: "a media type this server does not accept, or bytes of another type",
    416: "the range misses the blob",
    422: "well-formed, but the bytes do not match their hash or do not decode",
    423: "another PATCH is writing this upload",
    429: "too many: failed logins (error.retry_after_s says when to try again), or open "
         "uploads",
}
JSON_OBJECT = {"type": "object"}
TUS_RESUMABLE = {"name": "Tus-Resumable", "in": "header", "required": False,
                 "description": "the tus version; 1.0.0 is the one spoken",
                 "schema": {"type": "string", "enum": ["1.0.0"]}}


def _field(f: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = dict(_TYPES.get(f["type"], {}))
    if f["type"] == "list":
        base = {"type": "array", "items": {"type": "object"}}
    elif f.get("y_type") == "array":
        # read back as its child rows ({doc_id, user_id}, and position where ordered)
        base = {"type": "array", "items": {"type": "object"}}
    base["description"] = f"{f['label_zh']} / {f['label_en']}"
    return base


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    if "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _record_schemas() -> dict[str, Any]:
    out = {}
    for kind in schema_json()["kinds"]:
        props = {
            "doc_id": _TYPES["doc_id"],
            "seq": {"type": "integer", "description": "last log sequence folded in"},
            "updated_at": _TYPES["timestamp"],
            "received_at": _TYPES["timestamp"],
        }
        # A field a record leaves empty is null in its projection row.
        props.update({f["name"]: _nullable(_field(f)) for f in kind["fields"]})
        out[kind["name"].capitalize()] = {
            "type": "object",
            "description": f"{kind['label_zh']} / {kind['label_en']}",
            "properties": props,
        }
    return out


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}


def _error_responses() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, text in ERRORS.items():
        response: dict[str, Any] = {"description": text,
                                    "content": {"application/json": {"schema": ERROR}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == 405:
            response["headers"] = {"Allow": {"schema": {"type": "string"}}}
        out[f"E{status}"] = response
    return out


def _json(description: str, schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or JSON_OBJECT}}, **extra}


def _q(name: str, desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": schema or {"type": "string"}}


def _int_q(param: IntParam, desc: str | None = None) -> dict[str, Any]:
    return _q(param.name, desc or param.description, param.schema())


def _path(name: str, schema: dict[str, Any], desc: str = "") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": schema}


def _int_path(param: IntParam) -> dict[str, Any]:
    return _path(param.name, param.schema(), param.description)


def _header(name: str, desc: str, schema: dict[str, Any],
            required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "description": desc,
            "schema": schema}


def _records(kind: dict[str, Any]) -> dict[str, Any]:
    """The two read paths of one kind: each kind has its own filters (a status only where
    the kind has one) and its own doc id pattern."""
    name = kind["name"]
    fields = {f["name"]: f for f in kind["fields"]}
    by_customer = name == "customer" or "customer_id" in fields  # no filter where no field
    params = [
        *([_q("customer", "the customer's doc id" if name != "customer" else "this doc id"),
           _q("owner", "the customer's owner (user id)")] if by_customer else []),
        _q("author", "created_by (user id)"),
    ]
    if "status" in fields:
        values = ", ".join(v["value"] for v in fields["status"]["enum"])
        params.append(_q("status", f"the status: {values}"))
    params += [
        *(_int_q(param) for param, _, _ in records_api.TIME_PARAMS),
        _q("q", "text in " + ", ".join(records_api.TEXT_FIELDS.get(name, ())),
           {"type": "string", "maxLength": 100}),
        _q("sort", "order; a leading - for descending",
           {"type": "string", "default": "-updated_at",
            "enum": [p + k for k in records_api.SORTABLE for p in ("", "-")]}),
        _int_q(records_api.LIMIT),
        _q("cursor", "the `next` of the previous page"),
    ]
    if name == "customer":
        params.append(_q("merged", "1: include cards merged into another",
                         {"type": "string"}))
    schema_ref = {"$ref": f"#/components/schemas/{name.capitalize()}"}
    doc_id = {"type": "string", "pattern": f"^{name}:{_UUID}$"}
    label = f"{kind['label_zh']} / {kind['label_en']}"
    return {
        f"/api/records/{name}": {"get": {
            "operationId": f"list_{name}", "summary": f"{label} records the caller may see",
            "parameters": params,
            "responses": {
                "200": _json("a page: items, and the cursor of the next page or null", {
                    "type": "object", "required": ["items", "next"],
                    "properties": {"items": {"type": "array", "items": schema_ref},
                                   "next": {"type": ["string", "null"]}}},
                    links={"record": {"operationId": f"get_{name}",
                                      "parameters": {"doc_id": "$response.body#/items/0/doc_id"}},
                           "next_page": {"operationId": f"list_{name}",
                                         "parameters": {"cursor": "$response.body#/next"}}}),
                **_errors(400, 401)}}},
        f"/api/records/{name}/{{doc_id}}": {"get": {
            "operationId": f"get_{name}",
            "summary": f"One {label} record with its child rows and field history",
            "parameters": [_path("doc_id", doc_id)],
            "responses": {"200": _json("{record, history}", {
                "type": "object", "required": ["record", "history"],
                "properties": {"record": schema_ref, "history": {"type": "array"}}}),
                **_errors(401, 404)}}},
    }


def _approvals() -> dict[str, Any]:
    kinds = sorted(k for k in ("trip_plan", "expense", "work_report"))
    doc_id = _path("doc_id", {"type": "string",
                              "pattern": f"^({'|'.join(kinds)}):{_UUID}$"},
                   "a trip plan, expense or work report")
    device = {"type": "string", "maxLength": 200,
              "description": "which device or page decided, for the record's history"}
    item = {"type": "object", "required": ["doc_id", "kind", "subject", "author",
                                           "submitted_at", "approval_step"], "properties": {
        "doc_id": _TYPES["doc_id"], "kind": {"type": "string", "enum": kinds},
        "subject": {"type": ["string", "null"]}, "author": {"type": ["string", "null"]},
        "submitted_at": {"type": ["integer", "null"]},
        "approval_step": {"type": ["integer", "null"]},
        "amount_fen": {"type": ["integer", "null"], "description": "expenses only"}}}
    threshold = {"type": "object", "required": [THRESHOLD], "properties": {
        THRESHOLD: {"type": "integer", "minimum": 0, "maximum": MAX_EXPENSE_FEN,
                    "description": "fen; an expense above it also goes to the manager's "
                                   "manager"}}}
    return {
        "/api/approvals": {"get": {
            "operationId": "approvals_inbox",
            "summary": "Records waiting for the caller's decision, newest first",
            "responses": {"200": _json("items and counts", {
                "type": "object", "required": ["items", "counts"], "properties": {
                    "items": {"type": "array", "items": item},
                    "counts": {"type": "object", "required": ["waiting"],
                               "properties": {"waiting": {"type": "integer"}}}}},
                links={"open": {"operationId": "approvals_open",
                                "parameters": {"doc_id": "$response.body#/items/0/doc_id"}},
                       "decide": {"operationId": "approvals_decide",
                                  "parameters": {"doc_id": "$response.body#/items/0/doc_id"}}}),
                **_errors(401)}}},
        "/api/approvals/settings": {
            "get": {"operationId": "approvals_settings",
                    "summary": "The approval threshold an admin sets",
                    "responses": {"200": _json("the settings", threshold), **_errors(401)}},
            "put": {"operationId": "set_approvals_settings",
                    "summary": "Change the approval threshold (admins)",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": threshold}}},
                    "responses": {"200": _json("the settings", threshold),
                                  **_errors(400, 401, 403)}}},
        "/api/approvals/{doc_id}/open": {"post": {
            "operationId": "approvals_open",
            "summary": "The current approver opened the record: the author can no longer "
                       "withdraw it",
            "parameters": [doc_id],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"device": device}}}}},
            "responses": {"204": {"description": "opened (once per step)"},
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/approvals/{doc_id}/decide": {"post": {
            "operationId": "approvals_decide",
            "summary": "Approve (to the next approver, or approved), reject, or return to "
                       "the author with a comment",
            "parameters": [doc_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "enum": list(ACTIONS)},
                    "comment": {"type": "string", "maxLength": approvals_api.MAX_COMMENT},
                    "step": {"type": "integer", "description": "the approval_step decided"},
                    "device": device}}}}},
            "responses": {"200": _json("where the record stands", {
                "type": "object", "required": ["approval_status", "approval_step",
                                               "approvers"], "properties": {
                    "approval_status": {"type": "string"},
                    "approval_step": {"type": "integer"},
                    "approvers": {"type": "array", "items": {"type": "string"}}}}),
                **_errors(400, 401, 403, 404, 409, 422)}}},
        "/api/approvals/{doc_id}/withdraw": {"post": {
            "operationId": "approvals_withdraw",
            "summary": "The author takes back a submitted record no approver has opened "
                       "(409 approval.opened once one has)",
            "parameters": [doc_id],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"device": device}}}}},
            "responses": {"204": {"description": "withdrawn"},
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/people": {"get": {
            "operationId": "people",
            "summary": "The users whose names the caller's records show: themselves, their "
                       "managers, everyone under them and the admins (an admin: everyone)",
            "responses": {"200": _json("people", {
                "type": "object", "required": ["people"], "properties": {"people": {
                    "type": "array", "items": {
                        "type": "object",
                        "required": ["id", "name", "role", "manager_id", "disabled"],
                        "properties": {
                            "id": {"type": "string"}, "name": {"type": "string"},
                            "role": {"type": "string"},
                            "manager_id": {"type": ["string", "null"]},
                            "disabled": {"type": "boolean"}}}}}}),
                **_errors(401)}}},
    }


def _pool() -> dict[str, Any]:  # the customer pool, the recycle bin, sharing (server.pool)
    cust = _path("doc_id", {"type": "string", "pattern": f"^customer:{_UUID}$"}, "a customer")
    ext_id = _int_path(pool_api.EXTENSION_ID)
    code = {"type": "string"}
    item = {"type": "object", "required": ["doc_id", "name", "code", "city", "reason"],
            "properties": {"doc_id": _TYPES["doc_id"], "name": code, "code": code,
                           "province": code, "city": code,
                           "reason": {"type": "string", "enum": list(POOL_REASONS)},
                           "status": {"type": ["string", "null"]},
                           "since": {"type": ["integer", "null"]}}}
    moved = _json("the customer's new state", {"type": "object", "required": ["doc_id"],
                                                "properties": {"doc_id": _TYPES["doc_id"]}})
    person = {"type": "object", "required": ["id", "name"], "properties": {
        "id": code, "name": code, "login": code, "disabled": {"type": "boolean"}}}
    sharing = {"type": "object", "required": ["doc_id", "owner", "managers", "shared_with",
                                              "may_change", "candidates"], "properties": {
        "doc_id": _TYPES["doc_id"], "owner": {"anyOf": [person, {"type": "null"}]},
        "managers": {"type": "array", "items": person},
        "shared_with": {"type": "array", "items": person},
        "private": {"type": "boolean"}, "may_change": {"type": "boolean"},
        "candidates": {"type": "array", "items": person}}}
    listed = {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": JSON_OBJECT}}}

    def op(op_id: str, summary: str, params: list[dict[str, Any]], ok: dict[str, Any],
           errors: tuple[int, ...], body: dict[str, Any] | None = None,
           status: str = "200") -> dict[str, Any]:
        out: dict[str, Any] = {"operationId": op_id, "summary": summary, "parameters": params,
                               "responses": {status: ok, **_errors(401, *errors)}}
        if body is not None:
            out["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": body}}}
        return out

    return {
        "/api/pool": {"get": op(
            "pool", "Customers in the pool: names, codes, cities and why (never contacts); "
            "how many the caller holds from claims, and the limit",
            [_q("q", "part of a name, code or city", {"type": "string",
                                                       "maxLength": pool_api.MAX_QUERY}),
             _int_q(pool_api.LIMIT)],
            _json("the pool", {"type": "object", "required": ["items", "claimed", "limit"],
                               "properties": {"items": {"type": "array", "items": item},
                                              "claimed": {"type": "integer"},
                                              "limit": {"type": "integer"}}}), (400,))},
        "/api/pool/{doc_id}/claim": {"post": op(
            "pool_claim", "Claim a pool customer: the first claim wins (409 "
            "pool.already_claimed), at most the limit at once (409 pool.limit)", [cust],
            moved, (404, 409))},
        "/api/pool/{doc_id}/release": {"post": op(
            "pool_release", "The owner, their manager or an admin puts the customer in the "
            "pool", [cust], moved, (403, 404, 409))},
        "/api/pool/{doc_id}/assign": {"post": op(
            "pool_assign", "A manager (within the team) or an admin gives a pool customer to "
            "a user", [cust], moved, (400, 403, 404, 409),
            {"type": "object", "required": ["to"], "properties": {
                "to": {"type": "string", "minLength": 1}}})},
        "/api/pool/{doc_id}/extension": {"post": op(
            "pool_extension", "The owner asks to keep the customer longer before the "
            "automatic release (延期)", [cust],
            _json("the request", {"type": "object", "required": ["id", "status"]}),
            (400, 403, 404, 409),
            {"type": "object", "required": ["days", "reason"], "properties": {
                "days": {"type": "integer", "minimum": 1,
                         "maximum": MAX_EXTENSION_DAYS},
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON,
                           "pattern": "\\S", "description": "not only spaces"}}},
            status="201")},
        "/api/pool/extensions": {"get": op(
            "pool_extensions", "Pending extension requests the caller made or may decide",
            [], _json("requests", listed), ())},
        "/api/pool/extensions/{id}/decide": {"post": op(
            "pool_extension_decide", "The owner's manager or an admin grants or refuses an "
            "extension", [ext_id], _json("the decision", {"type": "object",
                                                          "required": ["id", "status"]}),
            (400, 403, 404, 409),
            {"type": "object", "required": ["grant"], "properties": {
                "grant": {"type": "boolean"}}})},
        "/api/bin": {"get": op(
            "bin", "The recycle bin: invalid customers whose owner is in the caller's tree",
            [], _json("binned customers", listed), ())},
        "/api/bin/{doc_id}": {"post": op(
            "bin_customer", "Move an invalid customer (状况 无效) to the recycle bin: it leaves "
            "the briefcases and the duplicate index", [cust], moved, (403, 404, 409))},
        "/api/bin/{doc_id}/restore": {"post": op(
            "bin_restore", "Bring a customer back from the recycle bin", [cust], moved,
            (403, 404, 409))},
        "/api/customers/{doc_id}/sharing": {
            "get": op("sharing", "Who can see the customer (owner, managers, shared with) "
                      "and whom the caller may share it with", [cust],
                      _json("sharing", sharing), (404,)),
            "post": op("change_sharing", "The owner, their manager or an admin shares the "
                       "customer with one more user (add) or one fewer (remove)", [cust],
                       _json("sharing", sharing), (400, 403, 404, 409),
                       {"type": "object", "properties": {"add": code, "remove": code}})},
    }


def _customers() -> dict[str, Any]:
    text = {"type": "string", "maxLength": MAX_LOOKUP}
    lookup = {"type": "object", "properties": {"name": text, "phone": text,
                                               "credit_code": text}}
    candidate = {"type": "object", "required": ["id", "doc_a", "doc_b", "reason", "score",
                                                "created_at", "status"], "properties": {
        "id": {"type": "integer"}, "doc_a": _TYPES["doc_id"], "doc_b": _TYPES["doc_id"],
        "reason": {"type": "string"}, "score": {"type": "number"},
        "created_at": _TYPES["timestamp"],
        "status": {"type": "string", "enum": list(duplicates_api.CANDIDATE_STATUSES)}}}
    merge = {"type": "object", "required": ["id", "survivor", "duplicate", "rule", "at",
                                            "actor", "undone_at", "detail"], "properties": {
        "id": {"type": "integer"}, "survivor": _TYPES["doc_id"], "duplicate": _TYPES["doc_id"],
        "rule": {"type": "string"}, "at": _TYPES["timestamp"], "actor": {"type": "string"},
        "undone_at": {"type": ["integer", "null"]}, "detail": JSON_OBJECT}}
    candidate_id = _int_path(duplicates_api.CANDIDATE_ID)
    return {
        "/api/customers/lookup": {"get": {
            "operationId": "lookup_customers",
            "summary": "Existing customers with the same or a similar name, phone or credit "
                       "code: name, code and owner only. Give at least one of the three.",
            "parameters": [
                {"name": "match", "in": "query", "style": "form", "explode": True,
                 "required": True, "description": "name, phone, credit_code (a unified "
                 "social credit code with its right check character; blanks, full-width "
                 "characters and lower case are tolerated)",
                 "schema": {**lookup, "anyOf": [
                     {"required": [k], "properties": {k: {"pattern": r"\S"}}}
                     for k in ("name", "phone", "credit_code")]}},
                _int_q(duplicates_api.LOOKUP_LIMIT)],
            "responses": {"200": _json("{matches}"), **_errors(400, 401)}}},
        "/api/customers/index": {"get": {
            "operationId": "customer_index",
            "summary": "The offline duplicate index (keyed hashes), incremental",
            "parameters": [_int_q(duplicates_api.INDEX_CURSOR), _int_q(duplicates_api.INDEX_LIMIT)],
            "responses": {"200": _json("a page of the index"), **_errors(400, 401)}}},
        "/api/duplicates": {"get": {
            "operationId": "list_candidates",
            "summary": "Candidate duplicate pairs (managers, admins)",
            "parameters": [_q("status", "which candidates", {
                "type": "string", "enum": list(duplicates_api.CANDIDATE_STATUSES),
                "default": "open"})],
            "responses": {"200": _json("{candidates}", {
                "type": "object", "required": ["candidates"],
                "properties": {"candidates": {"type": "array", "items": candidate}}},
                links={"merge": {"operationId": "merge_candidate",
                                 "parameters": {"id": "$response.body#/candidates/0/id"}},
                       "not_duplicate": {"operationId": "dismiss_candidate",
                                         "parameters": {"id": "$response.body#/candidates/0/id"}}}),
                **_errors(400, 401, 403)}}},
        "/api/duplicates/{id}/merge": {"post": {
            "operationId": "merge_candidate", "summary": "Merge an open candidate pair",
            "parameters": [candidate_id],
            "responses": {"201": _json("merged: the merge's id", {
                "type": "object", "required": ["merge"],
                "properties": {"merge": {"type": "integer"}}},
                links={"undo": {"operationId": "undo_merge",
                                "parameters": {"id": "$response.body#/merge"}}}),
                **_errors(400, 401, 403, 404, 409)}}},
        "/api/duplicates/{id}/dismiss": {"post": {
            "operationId": "dismiss_candidate", "summary": "Dismiss an open candidate pair",
            "parameters": [candidate_id],
            "responses": {"204": {"description": "dismissed"},
                          **_errors(400, 401, 403, 404, 409)}}},
        "/api/merges": {"get": {
            "operationId": "list_merges", "summary": "Past merges (managers, admins)",
            "responses": {"200": _json("{merges}", {
                "type": "object", "required": ["merges"],
                "properties": {"merges": {"type": "array", "items": merge}}},
                links={"undo": {"operationId": "undo_merge",
                                "parameters": {"id": "$response.body#/merges/0/id"}}}),
                **_errors(401, 403)}}},
        "/api/merges/{id}/undo": {"post": {
            "operationId": "undo_merge", "summary": "Undo a merge (admins)",
            "parameters": [_int_path(duplicates_api.MERGE_ID)],
            "responses": {"204": {"description": "undone"},
                          **_errors(400, 401, 403, 404, 409)}}},
    }


def _blobs(max_size: int) -> dict[str, Any]:
    sha = _path("sha256", {"type": "string", "pattern": f"^{SHA256_RE.pattern}$"},
                "the SHA-256 of the bytes")
    upload = _path("upload_id", {"type": "string", "pattern": f"^{UPLOAD_ID_RE.pattern}$"})
    # Range, If-Range and If-None-Match work as RFC 9110 says (docs/blobs.md).
    bytes_ = {"type": "string", "format": "binary"}
    served = {"200": {"description": "the bytes",
                      "content": {"*/*": {"schema": bytes_}}},
              "206": {"description": "the range asked for",
                      "content": {"*/*": {"schema": bytes_}}},
              "304": {"description": "not modified (If-None-Match)"}}
    info = {"type": "object", "required": ["sha256", "media_type", "size", "stored"],
            "properties": {"sha256": {"type": "string"}, "media_type": {"type": "string"},
                           "size": {"type": "integer"},
                           "width": {"type": ["integer", "null"]},
                           "height": {"type": ["integer", "null"]},
                           "stored": {"type": "boolean"}}}
    return {
        "/api/blobs/{sha256}": {
            "parameters": [sha],
            "put": {"operationId": "put_blob",
                    "summary": "Upload a whole blob in one request (idempotent)",
                    "description": f"The bytes must hash to the id and be a whole file of "
                                   f"the type sent, at most {max_size} bytes.",
                    "requestBody": {"required": True, "content": {
                        t: {"schema": bytes_} for t in sorted(ACCEPTED_TYPES)}},
                    "responses": {"200": _json("already stored", info),
                                  "201": _json("stored", info),
                                  **_errors(400, 401, 413, 415, 422)}},
            "get": {"operationId": "get_blob", "summary": "A blob, with ETag and Range",
                    "responses": {**served, **_errors(400, 401, 404, 416)}},
        },
        "/api/blobs/{sha256}/thumb": {"get": {
            "operationId": "get_thumb", "summary": "A JPEG thumbnail of an image blob",
            "parameters": [sha, _q("size", "the longer side in pixels", {
                "type": "integer", "enum": sorted(THUMB_SIZES), "default": 256})],
            "responses": {**served, **_errors(400, 401, 404, 416)}}},
        "/api/uploads": {
            "options": {"operationId": "upload_options", "security": [],
                        "summary": "What this tus server speaks",
                        "responses": {"204": {"description": "Tus-Version, Tus-Extension, "
                                                             "Tus-Max-Size"}}},
            "post": {"operationId": "create_upload",
                     "summary": "Start a resumable (tus 1.0) upload",
                     "parameters": [
                         TUS_RESUMABLE,
                         _header("Upload-Length", "the whole size in bytes",
                                 {"type": "integer", "minimum": 1, "maximum": max_size},
                                 required=True),
                         _header("Upload-Metadata", "tus metadata: `sha256 <base64 of the "
                                 "hex id>,type <base64 of the media type>`",
                                 {"type": "string"}, required=True)],
                     "responses": {"200": _json("already stored: Upload-Offset is the length"),
                                   "201": {"description": "created: Location is the upload"},
                                   **_errors(400, 401, 412, 413, 415, 429)}},
        },
        "/api/uploads/{upload_id}": {
            "parameters": [upload],
            "head": {"operationId": "upload_offset", "summary": "The durable offset",
                     "parameters": [TUS_RESUMABLE],
                     "responses": {"200": {"description": "Upload-Offset, Upload-Length"},
                                   **_errors(400, 401, 404, 412)}},
            "get": {"operationId": "get_upload", "summary": "The same as HEAD",
                    "parameters": [TUS_RESUMABLE],
                    "responses": {"200": {"description": "Upload-Offset, Upload-Length"},
                                  **_errors(400, 401, 404, 412)}},
            "patch": {"operationId": "patch_upload", "summary": "Append bytes at an offset",
                      "parameters": [TUS_RESUMABLE, _header(
                          "Upload-Offset", "where these bytes go",
                          {"type": "integer", "minimum": 0}, required=True)],
                      "requestBody": {"required": True, "content": {
                          "application/offset+octet-stream": {"schema": bytes_}}},
                      "responses": {"200": _json("the last bytes: the blob is stored"),
                                    "204": {"description": "appended; Upload-Offset"},
                                    **_errors(400, 401, 404, 409, 412, 413, 415, 422, 423)}},
            "delete": {"operationId": "delete_upload", "summary": "Give up an upload",
                       "parameters": [TUS_RESUMABLE],
                       "responses": {"204": {"description": "deleted"},
                                     **_errors(400, 401, 404, 412, 423)}},
        },
    }


def document(*, max_blob_size: int) -> dict[str, Any]:
    schema = schema_json()
    public: list[dict[str, list[str]]] = []
    user = {"type": "object", "required": ["id", "login", "name", "role"], "properties": {
        "id": {"type": "string"}, "login": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string"}, "manager_id": {"type": ["string", "null"]},
        "disabled": {"type": "boolean"}}}
    paths: dict[str, Any] = {
        "/api/session": {
            "post": {"operationId": "login", "summary": "Log in; returns a bearer token",
                     "security": public,
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["login", "password"],
                                    "properties": {
                                        "login": {"type": "string", "minLength": 1},
                                        "password": {"type": "string", "minLength": 1},
                                        "device": {"type": "string"}}}}}},
                     "responses": {"201": _json("token and user", {
                         "type": "object", "required": ["token", "user"],
                         "properties": {"token": {"type": "string"}, "user": user}}),
                         **_errors(400, 401, 429)}},
            "delete": {"operationId": "logout",
                       "summary": "Log out: revoke the token, close its sockets",
                       "responses": {"204": {"description": "revoked"}, **_errors(401)}},
        },
        "/api/me": {"get": {"operationId": "me", "summary": "The signed-in user",
                            "responses": {"200": _json("user", {
                                "type": "object", "required": ["user"],
                                "properties": {"user": user}}), **_errors(401)}}},
        "/api/schema": {"get": {"operationId": "schema", "security": public,
                                "summary": "Every record kind, field, enum and rule",
                                "responses": {"200": _json("the schema")}}},
        "/api/openapi.json": {"get": {"operationId": "openapi", "security": public,
                                      "summary": "This document",
                                      "responses": {"200": _json("OpenAPI 3.1")}}},
        "/healthz": {"get": {"operationId": "health", "security": public,
                             "summary": "Liveness, the log head and counts",
                             "responses": {"200": _json("health")}}},
    }
    for kind in schema["kinds"]:
        paths.update(_records(kind))
    paths.update(_approvals())
    paths.update(_customers())
    paths.update(_pool())  # the customer pool, the recycle bin, sharing (server.pool)
    paths.update(_blobs(max_blob_size))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waiqin 外勤", "version": "1",
                 "description": "Offline-first field CRM. The websocket sync protocol is in "
                                "docs/protocol.md; this is the HTTP side. Every error is "
                                "the Error object."},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "field": {"type": "string"}}}}},
                **_record_schemas(),
            },
            "responses": _error_responses(),
        },
        "paths": paths,
    }


_DOCS: dict[int, dict[str, Any]] = {}  # by the blob size limit, which is configuration


async def openapi(request: Request) -> Response:
    max_size = request.app.state.config.blob_max_size
    if max_size not in _DOCS:
        _DOCS[max_size] = document(max_blob_size=max_size)
    return JSONResponse(_DOCS[max_size])
