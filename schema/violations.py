"""What a refused change reports: the field, a stable rule id, and messages in both languages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule. `field` is a path (`contacts[2].mobile`); `rule` a stable id such as
    `enum`, `format.phone` or `deal.direct_customer_only` (see docs/records.md)."""

    field: str
    rule: str
    message: str
    message_zh: str

    def to_json(self) -> dict[str, str]:
        return {
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
            "message_zh": self.message_zh,
        }
