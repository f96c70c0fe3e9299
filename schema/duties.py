"""The forward-looking duties of 000 §3.4 and §4.1.3: how often a customer must be contacted,
how often a deal must be followed up, and what counts as a contact. Defined once here; the
back office's reports use these functions and the phone reads the same numbers from
`/api/schema` ("duties"), checked against the shared vectors in `tests/data/duties.json`.

The decisions (also in docs/records.md):
- Only direct customers carry a contact duty; distributors have none (§3.4.2). A core
  customer is contacted weekly while it has an open short-term deal, else every two weeks
  (§3.4.1: short-term weekly, medium-term two-weekly); a high-growth one monthly, taken as
  30 days. Ordinary customers and merged cards have no duty.
- A contact is a submitted visit (any of its four kinds: the no-answer rule already refuses
  contentless ones, §3.5.1) at its start time, or a submitted progress record with
  "转为日程" ticked (§4.3.2) at its creation. Drafts never count.
- A customer never contacted is measured from its creation: a card made today is not late.
- A deal is followed up every 7 days (short), 15 (medium, lead), never once won or lost;
  the clock runs from its latest submitted progress record, else from its creation.
- Late means more than the duty's days have passed; the days late are counted up: one
  minute past the duty is 1 day late.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from schema.kinds import FOLLOW_UP_DAYS

DAY_MS = 86_400_000
CORE_WITH_SHORT_DEAL_DAYS = 7
CORE_DAYS = 14
HIGH_GROWTH_DAYS = 30
OPEN_DEAL_CLASSES = ("short", "medium", "lead")
# What each contact duty is called on screen (the back office translates these English keys).
DUTY_NAMES = {
    CORE_WITH_SHORT_DEAL_DAYS: "weekly",
    CORE_DAYS: "every two weeks",
    HIGH_GROWTH_DAYS: "monthly",
}

Record = Mapping[str, Any]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def counts_as_contact(kind: str, record: Record) -> bool:
    if _int(record.get("submitted_at")) is None:
        return False
    if kind == "visit":
        return True
    return kind == "progress" and record.get("count_as_contact") is True


def contact_time(kind: str, record: Record) -> int | None:
    """When a record that counts as a contact happened; None if it does not count."""
    if not counts_as_contact(kind, record):
        return None
    if kind == "visit":
        return _int(record.get("started_at")) or _int(record.get("created_at"))
    return _int(record.get("created_at"))


def contact_duty_days(customer: Record, deals: Iterable[Record] = ()) -> int | None:
    """Days allowed between contacts with this customer, or None when it has no duty."""
    if customer.get("merged_into") or customer.get("category") != "direct":
        return None
    tier = customer.get("tier")
    if tier == "core":
        short = any(d.get("deal_class") == "short" for d in deals)
        return CORE_WITH_SHORT_DEAL_DAYS if short else CORE_DAYS
    if tier == "high_growth":
        return HIGH_GROWTH_DAYS
    return None


def last_contact(records: Iterable[tuple[str, Record]]) -> int | None:
    """The latest contact among (kind, record) pairs of one customer."""
    times = [t for kind, r in records if (t := contact_time(kind, r)) is not None]
    return max(times) if times else None


def days_late(since: int, allowed_days: int, now: int) -> int | None:
    """Whole days (counted up) past `allowed_days` after `since`; None if not late."""
    over = now - since - allowed_days * DAY_MS
    return math.ceil(over / DAY_MS) if over > 0 else None


def customer_overdue_days(
    customer: Record, deals: Iterable[Record], contacts: Iterable[tuple[str, Record]], now: int
) -> int | None:
    """Days the customer's contact duty is overdue at `now`, or None (no duty, or on time).
    `deals` are the customer's deals, `contacts` its visits and progress records."""
    duty = contact_duty_days(customer, list(deals))
    if duty is None:
        return None
    since = last_contact(contacts) or _int(customer.get("created_at"))
    return None if since is None else days_late(since, duty, now)


def deal_cadence_days(deal: Record) -> int | None:
    cls = deal.get("deal_class")
    return FOLLOW_UP_DAYS.get(cls) if isinstance(cls, str) else None


def deal_last_follow_up(deal: Record, progress: Iterable[Record]) -> int | None:
    times = [t for p in progress if _int(p.get("submitted_at")) is not None
             and (t := _int(p.get("created_at"))) is not None]
    return max(times) if times else _int(deal.get("created_at"))


def deal_overdue_days(deal: Record, progress: Iterable[Record], now: int) -> int | None:
    """Days the deal's follow-up is overdue at `now`, or None (closed, or on time)."""
    cadence = deal_cadence_days(deal)
    if cadence is None:
        return None
    since = deal_last_follow_up(deal, progress)
    return None if since is None else days_late(since, cadence, now)


def duties_json() -> dict[str, Any]:
    """The numbers the phone needs to apply the same rules (published in `/api/schema`)."""
    return {
        "contact": {
            "categories": ["direct"],
            "core_with_short_deal_days": CORE_WITH_SHORT_DEAL_DAYS,
            "core_days": CORE_DAYS,
            "high_growth_days": HIGH_GROWTH_DAYS,
            "counts": {"visit": "submitted", "progress": "submitted and count_as_contact"},
            "never_contacted_from": "created_at",
        },
        "deal_follow_up_days": dict(FOLLOW_UP_DAYS),
        "deal_follow_up_from": "latest submitted progress created_at, else deal created_at",
        "late_days": "ceil((now - since - days * 86400000) / 86400000) when positive",
    }
