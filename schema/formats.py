"""Text formats of Chinese business data: phones, mobiles, credit codes, and their checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# 区号-号码-分机: a 3-4 digit area code starting with 0 and a 7-8 digit number, or a
# 400/800 service number; an extension of up to 6 digits may follow.
PHONE_RE = re.compile(r"^(?:0\d{2,3}-\d{7,8}|[48]00-\d{3}-\d{4})(?:-\d{1,6})?$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
WEBSITE_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?::\d{1,5})?(?:/\S*)?$"
)
POSTCODE_RE = re.compile(r"^\d{6}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z), last one a check.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE_RE = re.compile(rf"^[{CREDIT_CODE_ALPHABET}]{{18}}$")


def credit_code_check_char(first17: str) -> str:
    """The check character that completes the first 17 characters of a credit code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def is_credit_code(value: str) -> bool:
    return bool(CREDIT_CODE_RE.match(value)) and credit_code_check_char(value[:17]) == value[17]


def is_date(value: str) -> bool:
    import datetime

    if not DATE_RE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Format:
    name: str
    check: Callable[[str], bool]
    en: str
    zh: str
    example: str


def _re(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: bool(pattern.match(value))


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "phone",
            _re(PHONE_RE),
            "area code-number-extension",
            "区号-号码-分机",
            "021-63539330-1010",
        ),
        Format(
            "mobile",
            _re(MOBILE_RE),
            "an 11-digit mainland mobile number starting with 1",
            "以 1 开头的 11 位手机号",
            "13812345678",
        ),
        Format("email", _re(EMAIL_RE), "an e-mail address", "电子邮件地址", "contact@oa.com.cn"),
        Format(
            "website",
            _re(WEBSITE_RE),
            "a host name without a scheme (no http://)",
            "不带 http:// 的网址",
            "www.oa.com.cn",
        ),
        Format("postcode", _re(POSTCODE_RE), "a 6-digit postcode", "6 位邮编", "200001"),
        Format(
            "credit_code",
            is_credit_code,
            "an 18-character unified social credit code with a valid check character",
            "18 位统一社会信用代码(校验位正确)",
            "91350100M000100Y43",
        ),
        Format(
            "sha256",
            _re(SHA256_RE),
            "64 lower-case hex digits",
            "64 位小写十六进制",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        Format("date", is_date, "a date YYYY-MM-DD", "日期 YYYY-MM-DD", "2024-03-05"),
    )
}
