"""Derived values and formats: completeness, service subjects, deal cadence, no-answer text,
phone/mobile/credit-code formats."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema import samples
from schema.derive import (
    completeness,
    cst_date,
    expected_subject,
    follow_up_days,
    is_no_answer,
    service_subject,
    stage_probability,
)
from schema.formats import (
    CREDIT_CODE_ALPHABET,
    FORMATS,
    credit_code_check_char,
    is_credit_code,
)


def test_complete_customer_has_all_eleven() -> None:
    assert completeness(samples.customer()) == (11, 11, [])


def test_empty_customer_misses_all_eleven_in_policy_order() -> None:
    filled, total, missing = completeness({})
    assert (filled, total) == (0, 11)
    assert missing == [
        "name",
        "address",
        "postcode",
        "region",
        "industry",
        "type",
        "source",
        "profile",
        "contact_name",
        "contact_title",
        "phone_or_mobile",
    ]


def test_completeness_counts_contacts_and_phone_or_mobile() -> None:
    rec = samples.customer(phone=None, contacts=[{"name": "张宏", "mobile": "13812345678"}])
    assert completeness(rec) == (10, 11, ["contact_title"])
    rec = samples.customer(phone=None, contacts=[{"name": "张宏", "title": "主任"}])
    assert completeness(rec) == (10, 11, ["phone_or_mobile"])
    rec = samples.customer(phone=" ", profile="", contacts=[])
    assert completeness(rec)[2] == ["profile", "contact_name", "contact_title", "phone_or_mobile"]


@pytest.mark.parametrize(
    ("stype", "subject"),
    [
        ("warranty_repair", "2024年3月5日 保内维修服务"),
        ("paid_repair", "2024年3月5日 保外维修服务"),
        ("installation", "2024年3月5日 初始安装服务"),
        ("online_support", "2024年3月5日 在线支持服务"),
        ("follow_up", "2024年3月5日 回访服务"),
        ("training", "2024年3月5日 培训服务"),
    ],
)
def test_service_subject(stype: str, subject: str) -> None:
    assert service_subject(stype, "2024-03-05") == subject
    assert service_subject(stype, datetime.date(2024, 3, 5)) == subject


def test_expected_subject_needs_type_and_date() -> None:
    assert expected_subject({"service_type": "training", "service_date": "2024-12-31"}) == (
        "2024年12月31日 培训服务"
    )
    assert expected_subject({"service_type": "training"}) is None
    assert expected_subject({"service_date": "2024-12-31"}) is None
    assert expected_subject({"service_type": "training", "service_date": "2024-13-01"}) is None


def test_cst_date_is_the_day_in_china() -> None:
    # 2024-03-09T16:30Z is already the 10th in Beijing.
    assert cst_date(1_710_001_800_000) == datetime.date(2024, 3, 10)


def test_deal_probability_and_cadence() -> None:
    assert [stage_probability(s) for s in (0, 1, 5, 10)] == [0, 10, 50, 100]
    assert follow_up_days("short") == 7
    assert follow_up_days("medium") == 15
    assert follow_up_days("lead") == 15
    assert follow_up_days("won") is None and follow_up_days("lost") is None
    assert follow_up_days(None) is None


@pytest.mark.parametrize(
    "text",
    [
        "电话未接通",
        "客户电话一直无人接听,明天再打",
        "未见到本人",
        "关机",
        "占线。",
        "no answer",
        "No answer. Will call back tomorrow.",
        "Voicemail again",
        "没人接",
    ],
)
def test_no_answer_texts(text: str) -> None:
    assert is_no_answer(text)


@pytest.mark.parametrize(
    "text",
    [
        "已报价,客户确认预算",
        "电话未接通,改发邮件,客户回复确认下周到访并带技术负责人",
        "客户不在办公室,与其助理沟通了报价,预计下周签合同",
        "no answer on the mobile, but emailed the quote to Mr Li who confirmed the budget",
        "Business review went well",
    ],
)
def test_substantive_texts(text: str) -> None:
    assert not is_no_answer(text)


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        (
            "phone",
            ["021-63539330-1010", "010-62345678", "0755-1234567", "400-820-8820"],
            ["63539330", "021-63539330-", "21-63539330", "021 63539330", "13812345678"],
        ),
        (
            "mobile",
            ["13812345678", "19912345678"],
            ["1381234567", "138123456789", "23812345678", "12012345678", "+8613812345678"],
        ),
        ("email", ["contact@OA.com.cn", "a.b+c@x.io"], ["contact@", "@x.com", "a b@x.com"]),
        (
            "website",
            ["www.OA.com.cn", "oa.com.cn/path", "example.com:8080"],
            ["http://www.oa.com.cn", "https://oa.com", "localhost", "www"],
        ),
        ("postcode", ["100080"], ["10008", "1000800", "abcdef"]),
        ("sha256", ["ab" * 32], ["AB" * 32, "ab" * 31]),
        ("date", ["2024-02-29"], ["2023-02-29", "2024-2-1", "20240201"]),
    ],
)
def test_formats(fmt: str, good: list[str], bad: list[str]) -> None:
    check = FORMATS[fmt].check
    assert all(check(v) for v in good)
    assert not any(check(v) for v in bad)
    assert check(FORMATS[fmt].example)


credit_body = st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17)


@given(credit_body)
def test_credit_code_with_its_check_character_is_valid(body: str) -> None:
    assert is_credit_code(body + credit_code_check_char(body))


@given(credit_body, st.integers(0, 17), st.sampled_from(CREDIT_CODE_ALPHABET))
def test_one_changed_character_breaks_a_credit_code(body: str, at: int, char: str) -> None:
    code = body + credit_code_check_char(body)
    changed = code[:at] + char + code[at + 1 :]
    assert is_credit_code(changed) == (changed == code)


def test_credit_code_letters_outside_the_alphabet() -> None:
    assert is_credit_code("91350100M000100Y43")
    assert not is_credit_code("91350100M000100O43")  # O is not used
    assert not is_credit_code("91350100m000100y43")
