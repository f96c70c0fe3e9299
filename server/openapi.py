"""The OpenAPI 3.1 description of the HTTP API, served at /api/openapi.json.

Record schemas are generated from `schema/`, so they cannot drift from the declarations.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schema.export import schema_json

_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "doc_id": {"type": "string", "pattern": "^[a-z][a-z_]{1,30}:[0-9a-f-]{36}$"},
    "user_id": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "integer", "description": "ms since the epoch"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
}

ERROR = {"$ref": "#/components/schemas/Error"}


def _field(f: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = dict(_TYPES.get(f["type"], {}))
    if f["type"] == "list":
        base = {"type": "array", "items": {"type": "object"}}
    elif f.get("y_type") == "array":
        base = {"type": "array", "items": _TYPES.get(f["type"], {})}
    base["description"] = f"{f['label_zh']} / {f['label_en']}"
    return base


def _record_schemas() -> dict[str, Any]:
    out = {}
    for kind in schema_json()["kinds"]:
        props = {
            "doc_id": _TYPES["doc_id"],
            "seq": {"type": "integer", "description": "last log sequence folded in"},
            "updated_at": _TYPES["timestamp"],
            "received_at": _TYPES["timestamp"],
        }
        props.update({f["name"]: _field(f) for f in kind["fields"]})
        out[kind["name"].capitalize()] = {
            "type": "object",
            "description": f"{kind['label_zh']} / {kind['label_en']}",
            "properties": props,
        }
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input, named in error.field", 401: "no, bad or revoked token",
            403: "not allowed", 404: "absent or not visible", 409: "state does not allow it"}
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}}
        for c in codes
    }


def _q(name: str, desc: str, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": {"type": typ}}


def document() -> dict[str, Any]:
    kinds = [k["name"] for k in schema_json()["kinds"]]
    json_ok = {"content": {"application/json": {"schema": {"type": "object"}}}}
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waiqin 外勤", "version": "1",
                 "description": "Offline-first field CRM. The websocket sync protocol is in "
                                "docs/protocol.md; this is the HTTP side."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "field": {"type": "string"}}}}},
                **_record_schemas(),
            },
        },
        "paths": {
            "/api/session": {
                "post": {"summary": "Log in; returns a bearer token",
                         "requestBody": {"content": {"application/json": {"schema": {
                             "type": "object", "required": ["login", "password"],
                             "properties": {"login": {"type": "string"},
                                            "password": {"type": "string"},
                                            "device": {"type": "string"}}}}}},
                         "responses": {"201": {"description": "token and user", **json_ok},
                                       **_errors(400, 401)}},
                "delete": {"summary": "Log out: revoke the token, close its sockets",
                           "security": bearer,
                           "responses": {"204": {"description": "revoked"}, **_errors(401)}},
            },
            "/api/me": {"get": {"summary": "The signed-in user", "security": bearer,
                                "responses": {"200": {"description": "user", **json_ok},
                                              **_errors(401)}}},
            "/api/schema": {"get": {"summary": "Every record kind, field, enum and rule",
                                    "responses": {"200": {"description": "schema", **json_ok}}}},
            "/api/records/{kind}": {"get": {
                "summary": "Records of a kind the caller may see",
                "security": bearer,
                "parameters": [
                    {"name": "kind", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": kinds}},
                    _q("customer", "customer doc id"), _q("owner", "owner user id"),
                    _q("author", "created_by user id"), _q("status", "status value"),
                    _q("since", "created_at >= (ms)", "integer"),
                    _q("until", "created_at < (ms)", "integer"),
                    _q("updated_since", "updated_at >= (ms)", "integer"),
                    _q("q", "text search in names"),
                    _q("sort", "created_at | updated_at | received_at | seq; - for descending"),
                    _q("limit", "1-500, default 50", "integer"),
                    _q("cursor", "the `next` of the previous page"),
                ],
                "responses": {"200": {"description": "{items, next}", **json_ok},
                              **_errors(400, 401, 404)}}},
            "/api/records/{kind}/{doc_id}": {"get": {
                "summary": "One record with its child rows and field history",
                "security": bearer,
                "parameters": [
                    {"name": "kind", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": kinds}},
                    {"name": "doc_id", "in": "path", "required": True,
                     "schema": _TYPES["doc_id"]}],
                "responses": {"200": {"description": "{record, history}", **json_ok},
                              **_errors(401, 404)}}},
            "/api/customers/lookup": {"get": {
                "summary": "Existing customers with the same or a similar name, phone or "
                           "credit code: name, code and owner only",
                "security": bearer,
                "parameters": [_q("name", "typed name"), _q("phone", "phone"),
                               _q("credit_code", "unified social credit code")],
                "responses": {"200": {"description": "{matches}", **json_ok},
                              **_errors(400, 401)}}},
            "/api/customers/index": {"get": {
                "summary": "The offline duplicate index (keyed hashes), incremental",
                "security": bearer, "parameters": [_q("cursor", "from the last page", "integer")],
                "responses": {"200": {"description": "index page", **json_ok},
                              **_errors(400, 401)}}},
            "/api/duplicates": {"get": {"summary": "Candidate duplicate pairs (managers, admins)",
                                        "security": bearer,
                                        "parameters": [_q("status", "open|merged|dismissed")],
                                        "responses": {"200": {"description": "{candidates}",
                                                              **json_ok},
                                                      **_errors(400, 401, 403)}}},
            "/api/duplicates/{id}/{action}": {"post": {
                "summary": "merge or dismiss a candidate", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}},
                               {"name": "action", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": ["merge", "dismiss"]}}],
                "responses": {"201": {"description": "merged"}, "204": {"description": "dismissed"},
                              **_errors(400, 401, 403, 404, 409)}}},
            "/api/merges": {"get": {"summary": "Past merges", "security": bearer,
                                    "responses": {"200": {"description": "{merges}", **json_ok},
                                                  **_errors(401, 403)}}},
            "/api/merges/{id}/undo": {"post": {
                "summary": "Undo a merge (admins)", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "responses": {"204": {"description": "undone"},
                              **_errors(401, 403, 404, 409)}}},
            "/api/blobs/{sha256}": {
                "put": {"summary": "Upload a whole small blob (idempotent)", "security": bearer,
                        "responses": {"200": {"description": "already stored"},
                                      "201": {"description": "stored"}}},
                "get": {"summary": "A blob, with ETag and Range", "security": bearer,
                        "responses": {"200": {"description": "bytes"},
                                      "206": {"description": "range"}, **_errors(401, 404)}},
            },
            "/api/uploads": {"post": {"summary": "Start a resumable (tus 1.0) upload",
                                      "security": bearer,
                                      "responses": {"201": {"description": "Location"}}}},
        },
    }


_DOC: dict[str, Any] = {}


async def openapi(request: Request) -> Response:
    if not _DOC:
        _DOC.update(document())
    return JSONResponse(_DOC)
