"""Parameters and bodies of the HTTP API, parsed and checked in one place: whole numbers
with their ranges, and JSON object bodies.

The OpenAPI document (server/openapi.py) declares each parameter from the same object the
route parses it with, so the declared bounds and the enforced ones cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .errors import BadRequest

# The widest integer both databases store (SQLite INTEGER, PostgreSQL bigint): a larger one
# would reach the driver and fail there (OverflowError) instead of being refused here.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@dataclass(frozen=True)
class IntParam:
    """A whole number in a query string or a path, within [minimum, maximum]."""

    name: str
    description: str
    minimum: int = INT64_MIN
    maximum: int = INT64_MAX
    default: int | None = None

    def parse(self, raw: str | None) -> int | None:
        """The value, `default` when absent or empty; BadRequest naming the parameter when
        it is not a whole number or out of range."""
        if raw is None or raw == "":
            return self.default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{self.name} must be a whole number, not {raw[:40]!r}",
                             field=self.name) from None
        if not self.minimum <= value <= self.maximum:
            raise BadRequest(f"{self.name} is {self.minimum} to {self.maximum}", field=self.name)
        return value

    def require(self, raw: str | None) -> int:
        value = self.parse(raw)
        if value is None:
            raise BadRequest(f"{self.name} is required", field=self.name)
        return value

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the parameter, as the OpenAPI document declares it."""
        out: dict[str, Any] = {"type": "integer", "minimum": self.minimum,
                               "maximum": self.maximum}
        if self.default is not None:
            out["default"] = self.default
        return out


async def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; an empty body is `{}` when not `required`."""
    if not required and not (await request.body()).strip():
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body
