"""Values derived from a record's fields: completeness, the service subject, the deal
probability and follow-up cadence, and the test for contentless "no answer" text."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from schema.formats import is_date
from schema.kinds import FOLLOW_UP_DAYS, SERVICE_SUBJECT_STEM

# China Standard Time has no daylight saving: a fixed offset is exact.
CST = datetime.timezone(datetime.timedelta(hours=8), "CST")

# The 11 items of 000 §3.2.3, in the order the policy lists them.
COMPLETENESS_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("name", "单位名称", "Name"),
    ("address", "地址", "Address"),
    ("postcode", "邮编", "Postcode"),
    ("region", "地区", "Region"),
    ("industry", "行业", "Industry"),
    ("type", "类型", "Type"),
    ("source", "客户来源", "Source"),
    ("profile", "单位概况", "Profile"),
    ("contact_name", "联系人", "Contact name"),
    ("contact_title", "职位", "Contact title"),
    ("phone_or_mobile", "电话或手机", "Phone or mobile"),
)


def filled(value: Any) -> bool:
    """Whether a value counts as filled in: not absent, not blank, not an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (list, tuple, dict)):
        return len(value) > 0
    return True


def completeness(record: Mapping[str, Any]) -> tuple[int, int, list[str]]:
    """(filled, 11, missing item names) for a customer record (000 §3.2.3).

    A contact name and a contact title count when any contact has one; "phone or mobile" is
    the customer's phone or any contact's mobile or office phone.
    """
    contacts = [c for c in record.get("contacts") or () if isinstance(c, Mapping)]
    present = {
        "contact_name": any(filled(c.get("name")) for c in contacts),
        "contact_title": any(filled(c.get("title")) for c in contacts),
        "phone_or_mobile": filled(record.get("phone"))
        or any(filled(c.get("mobile")) or filled(c.get("office_phone")) for c in contacts),
    }
    missing = [
        name
        for name, _zh, _en in COMPLETENESS_ITEMS
        if not present.get(name, filled(record.get(name)))
    ]
    total = len(COMPLETENESS_ITEMS)
    return total - len(missing), total, missing


def service_subject(service_type: str, service_date: str | datetime.date) -> str:
    """The subject of a service sheet: "YYYY年M月D日 <type>服务" (000 §5.7.1)."""
    day = (
        service_date
        if isinstance(service_date, datetime.date)
        else datetime.date.fromisoformat(service_date)
    )
    return f"{day.year}年{day.month}月{day.day}日 {SERVICE_SUBJECT_STEM[service_type]}服务"


def expected_subject(record: Mapping[str, Any]) -> str | None:
    """The subject a service record should carry, or None while type or date is missing."""
    stype, sdate = record.get("service_type"), record.get("service_date")
    if isinstance(stype, str) and stype in SERVICE_SUBJECT_STEM and isinstance(sdate, str) \
            and is_date(sdate):
        return service_subject(stype, sdate)
    return None


def cst_date(ms: int) -> datetime.date:
    """The calendar day in China of a millisecond timestamp."""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=CST).date()


def stage_probability(stage: int) -> int:
    """Probability in percent of a deal at `stage` (000 §4.1.2: 10% per stage)."""
    return stage * 10


def follow_up_days(deal_class: str | None) -> int | None:
    """Days between follow-ups for a deal class (7 short, 15 medium and lead), else None."""
    if deal_class is None:
        return None
    return FOLLOW_UP_DAYS.get(deal_class)


# Phrases that by themselves report no contact (000 §3.5.1, §4.3.3).
NO_ANSWER_PHRASES = (
    "电话未接通",
    "未接通",
    "没接通",
    "打不通",
    "无人接听",
    "没人接听",
    "无人接",
    "没人接",
    "不接电话",
    "未接听",
    "没有接听",
    "没接",
    "无人应答",
    "占线",
    "关机",
    "停机",
    "空号",
    "未见到本人",
    "没见到本人",
    "未见到",
    "没见到",
    "没有见到",
    "不在办公室",
    "未回复",
    "没有回复",
    "没回复",
    "联系不上",
    "no answer",
    "not answered",
    "didn't answer",
    "did not answer",
    "no reply",
    "no response",
    "not reachable",
    "unreachable",
    "voicemail",
    "line busy",
    "busy",
    "not in office",
    "did not meet",
)
# Words that add nothing when they surround such a phrase.
_FILLER_ZH = (
    "电话",
    "手机",
    "客户",
    "对方",
    "本人",
    "今天",
    "今日",
    "上午",
    "下午",
    "晚上",
    "再次",
    "仍然",
    "还是",
    "依然",
    "一直",
    "多次",
    "拨打",
    "打了",
    "联系",
    "明天",
    "稍后",
    "晚点",
    "下次",
    "再打",
    "再试",
    "回电",
    "又",
    "了",
    "的",
    "都",
    "再",
    "打",
)
_FILLER_EN = frozenset(
    "a an the he she they it we i was is were got call called calling phone customer again "
    "still today line will retry try later tomorrow back no not".split()
)
_LATIN_WORD = re.compile(r"[a-z]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
MIN_SUBSTANCE = 6


def is_no_answer(text: str) -> bool:
    """True when `text` reports only a failed contact ("电话未接通", "no answer, will retry"):
    with the no-answer phrases and filler words taken out, too little is left to be real
    progress (fewer than 6 Chinese characters, an English word counting as 2)."""
    t = unicodedata.normalize("NFKC", text).casefold()
    if not any(p in t for p in NO_ANSWER_PHRASES):
        return False
    for phrase in sorted(NO_ANSWER_PHRASES + _FILLER_ZH, key=len, reverse=True):
        t = t.replace(phrase, " ")
    words = [w for w in _LATIN_WORD.findall(t) if w not in _FILLER_EN]
    return len(_CJK.findall(t)) + 2 * len(words) < MIN_SUBSTANCE
