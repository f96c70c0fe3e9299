"""Loaded by the schemathesis run of tests/server/test_openapi.py (SCHEMATHESIS_HOOKS).

Signs every request in with a token the test minted, and gives the few values that JSON
Schema cannot describe (a check character, a content hash, a cursor the API gave out) a
valid form in positive cases only: negative cases go out exactly as drawn.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from typing import Any

import pillow_heif
import schemathesis
from PIL import Image
from schemathesis.core.file_samples import FILE_SAMPLES, MEDIA_TYPE_FILE_SAMPLES
from schemathesis.transport.serialization import serialize_binary

from schema.names import credit_code_check_char
from server.errors import BadRequest
from server.records_api import _decode_cursor

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


class Tokens:
    """Tokens the test minted for the run's user, one a line in WAIQIN_TOKENS: the first
    signs every request; `DELETE /api/session` revokes the token it is sent with, so each
    one is sent a token of its own and the rest of the run keeps a working one. No login
    over HTTP: the run's own failed logins would soon throttle it."""

    def __init__(self) -> None:
        with open(os.environ["WAIQIN_TOKENS"]) as f:
            self.pool = [line.strip() for line in f if line.strip()]
        self.main = self.pool.pop(0)

    def spare(self) -> str:
        if not self.pool:
            raise RuntimeError("the run logged out more often than WAIQIN_TOKENS has tokens")
        return self.pool.pop(0)


TOKENS = Tokens()


@schemathesis.auth(refresh_interval=None, retry_on=[])
class WaiqinToken:
    def get(self, case: Any, context: Any) -> str:
        return TOKENS.main

    def set(self, case: Any, data: str, context: Any) -> None:
        logout = (case.method.upper(), case.path) == ("DELETE", "/api/session")
        token = TOKENS.spare() if logout else data
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


# tus PATCH bodies are raw bytes, as application/octet-stream ones are.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _seed(value: Any) -> bytes:
    return hashlib.sha256(repr(value).encode()).digest()


def credit_code(drawn: str) -> str:
    """A well-formed code derived from whatever was drawn, with its right check character."""
    first17 = "".join(CREDIT_CHARS[b % len(CREDIT_CHARS)] for b in _seed(drawn)[:17])
    return first17 + credit_code_check_char(first17)


def _heic() -> bytes:
    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 80, 40)).save(buf, "HEIF")
    return buf.getvalue()


# Schemathesis sends a real file as a positive body of the image types it knows; these are
# the two more a blob may be, so that a positive upload is a whole file of its type.
MEDIA_TYPE_FILE_SAMPLES.setdefault("application/pdf", FILE_SAMPLES["pdf"])
MEDIA_TYPE_FILE_SAMPLES.setdefault("image/heic", _heic())
schemathesis.serializer.alias(["application/pdf", "image/heic"], "application/octet-stream")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _cursor_ok(raw: str) -> bool:
    try:
        _decode_cursor(raw)
    except BadRequest:
        return False
    return True


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return case
    op = (case.method.upper(), case.path)
    query = case.query or {}
    if op == ("GET", "/api/customers/lookup") and isinstance(query.get("credit_code"), str) \
            and query["credit_code"].strip():
        query["credit_code"] = credit_code(query["credit_code"])
    elif op == ("GET", "/api/duplicates") and case.meta.phase.name == "stateful":
        # The stateful phase follows this list's links to merge and dismiss: the open queue
        # (which of the links the run draws shifts with every operation the API gains).
        query["status"] = "open"
        case.query = query
    elif case.path.startswith("/api/records/") and isinstance(query.get("cursor"), str) \
            and query["cursor"] and not _cursor_ok(query["cursor"]):
        # Only a cursor the API gave out (a link's `next`) is a valid one.
        del query["cursor"]
    elif op == ("PUT", "/api/blobs/{sha256}") and case.media_type:
        # The id of a blob is the hash of its bytes.
        case.path_parameters = {"sha256": hashlib.sha256(serialize_binary(case.body)).hexdigest()}
    elif op == ("POST", "/api/uploads"):
        headers = case.headers or {}
        sha = hashlib.sha256(_seed(headers.get("Upload-Metadata"))).hexdigest()
        headers["Upload-Metadata"] = f"sha256 {_b64(sha)},type {_b64('image/png')}"
        case.headers = headers
    return case
