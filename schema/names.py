"""Customer identity keys: name and phone normalisation, credit-code checks, offline index keys.

Pure functions, no I/O. `pwa/src/names.ts` is a byte-for-byte twin of the key functions here;
both are checked against `tests/data/names.json`. The rules are explained in `docs/duplicates.md`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from typing import Literal

from rapidfuzz.fuzz import ratio

__all__ = [
    "BRANCH_WORDS",
    "INDEX_KEY_BYTES",
    "PLACES",
    "SIMILAR_THRESHOLD",
    "KeyKind",
    "canonical_name",
    "check_credit_code",
    "credit_code_check_char",
    "index_key",
    "is_similar",
    "normalize_name",
    "normalize_phone",
    "similarity",
]

# Provincial-level divisions and the larger prefecture-level cities, short forms. "中国" is
# deliberately absent: in "中国石油" or "西门子(中国)" it is part of the name, not a place.
PLACES: tuple[str, ...] = (
    # municipalities, provinces, autonomous regions, SARs
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏",
    "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南",
    "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏",
    "宁夏", "新疆", "香港", "澳门",
    # cities
    "石家庄", "唐山", "保定", "邯郸", "秦皇岛", "廊坊", "沧州", "邢台", "张家口", "承德",
    "太原", "大同", "长治", "晋中", "呼和浩特", "包头", "鄂尔多斯", "赤峰",
    "沈阳", "大连", "鞍山", "抚顺", "锦州", "营口", "长春", "哈尔滨", "大庆", "齐齐哈尔",
    "南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州",
    "镇江", "泰州", "宿迁", "昆山", "江阴", "杭州", "宁波", "温州", "嘉兴", "湖州",
    "绍兴", "金华", "衢州", "舟山", "台州", "丽水", "义乌", "合肥", "芜湖", "蚌埠",
    "安庆", "马鞍山", "阜阳", "福州", "厦门", "泉州", "漳州", "莆田", "南昌", "赣州",
    "九江", "济南", "青岛", "淄博", "烟台", "潍坊", "济宁", "泰安", "威海", "日照",
    "临沂", "德州", "聊城", "东营", "郑州", "开封", "洛阳", "新乡", "南阳", "许昌",
    "武汉", "宜昌", "襄阳", "黄石", "十堰", "荆州", "长沙", "株洲", "湘潭", "衡阳",
    "岳阳", "常德", "广州", "深圳", "珠海", "汕头", "佛山", "江门", "湛江", "茂名",
    "肇庆", "惠州", "东莞", "中山", "潮州", "揭阳", "韶关", "南宁", "柳州", "桂林",
    "北海", "海口", "三亚", "成都", "绵阳", "德阳", "宜宾", "泸州", "南充", "乐山",
    "贵阳", "遵义", "昆明", "曲靖", "玉溪", "大理", "拉萨", "西安", "宝鸡", "咸阳",
    "榆林", "兰州", "天水", "西宁", "银川", "乌鲁木齐", "克拉玛依",
)  # fmt: skip

# Administrative suffixes a place may carry ("北京市", "广西壮族自治区"); longest first.
_PLACE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")
# "北京市政…" is 北京 + 市政 (municipal works), "上海市场…" is 上海 + 市场 (market).
_SHI_KEEPERS = "场政"

_PLACES_LONGEST_FIRST = tuple(sorted(PLACES, key=lambda p: (-len(p), p)))

# Legal-form endings, longest first. "集团" is not among them: "中国石油天然气集团有限公司"
# (the group) and "中国石油天然气股份有限公司" (its listed subsidiary) are different entities.
_FORMS = (
    "股份有限公司", "有限责任公司", "有限公司", "股份公司", "公司",
    "incorporated", "corporation", "colimited", "limited", "company",
    "coltd", "gmbh", "corp", "ltd", "inc", "llc", "plc",
)  # fmt: skip

# A name ending in one of these is a branch or office of the entity named before it.
BRANCH_WORDS: tuple[str, ...] = (
    "分公司", "办事处", "代表处", "联络处", "分厂", "分店", "分行", "支行", "营业部",
    "营业所", "分部", "经营部", "门市部", "分理处", "分所", "分院", "分校", "分中心",
)  # fmt: skip
_BRANCH_WORDS_LONGEST_FIRST = tuple(sorted(BRANCH_WORDS, key=lambda w: (-len(w), w)))
# Where the parent's name ends inside "<parent><place><branch word>".
_PARENT_ENDS = ("公司", "集团", "银行")

# Opening and closing brackets after NFKC ("（" and "［" are already "(" and "[" by then).
_OPEN = "([{【〔〖〘〚⦅⟦"
_CLOSE = ")]}】〕〗〙〛⦆⟧"

_BRACKETED = re.compile(r"\(([^()]*)\)")


def _lower(ch: str) -> str:
    """Lower-case only scripts whose case mappings are identical in every Python and browser.

    Latin, Greek, Cyrillic and Armenian (U+0000-U+058F, U+1E00-U+1FFF), one character at a
    time (so no context-dependent final sigma). `str.casefold` is not used: JavaScript has no
    equivalent ("ß" would fold to "ss" here and stay "ß" on the device).
    """
    cp = ord(ch)
    if cp <= 0x058F or 0x1E00 <= cp <= 0x1FFF:
        return ch.lower()
    return ch


def normalize_name(name: str) -> str:
    """The spelling-insensitive form of a name: NFKC, lower case, no spaces or punctuation.

    Brackets of every shape become "(" and ")" and are kept, since a bracketed place name
    means something to `canonical_name`. Symbols, whitespace and control characters go.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", name):
        if ch in _OPEN:
            out.append("(")
        elif ch in _CLOSE:
            out.append(")")
        else:
            cat = unicodedata.category(ch)
            if cat[0] not in "PSZ" and cat not in ("Cc", "Cf", "Cs"):
                out.append(_lower(ch))
    # Removing a character can leave a base letter next to a combining mark: compose again.
    return unicodedata.normalize("NFKC", "".join(out))


def _take_place(s: str) -> tuple[str, int] | None:
    """The place name `s` starts with and how many characters it spans (suffix included)."""
    for place in _PLACES_LONGEST_FIRST:
        if s.startswith(place):
            end = len(place)
            for suffix in _PLACE_SUFFIXES:
                if s.startswith(suffix, end):
                    after = s[end + len(suffix) : end + len(suffix) + 1]
                    if not (suffix == "市" and after != "" and after in _SHI_KEEPERS):
                        end += len(suffix)
                    break
            return place, end
    return None


def _strip_forms(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for form in _FORMS:
            if s.endswith(form):
                s = s[: len(s) - len(form)]
                changed = True
                break
    return s


def _entity(s: str) -> str:
    """Canonical key of a (non-branch) legal entity's normalised name."""
    places: list[str] = []

    def bracketed(m: re.Match[str]) -> str:
        inner = m.group(1)
        taken = _take_place(inner)
        if taken is not None and taken[1] == len(inner):
            places.append(taken[0])
            return ""
        return inner

    plain = _BRACKETED.sub(bracketed, s).replace("(", "").replace(")", "")
    rest = _strip_forms(plain)
    taken = _take_place(rest)
    if taken is not None:
        places.insert(0, taken[0])
        rest = rest[taken[1] :]
    unique: list[str] = []
    for place in places:
        if place not in unique:
            unique.append(place)
    key = "".join(unique) + rest
    # A name that is nothing but a legal form ("有限公司") keeps its letters.
    return key or plain


def _branch(s: str) -> str:
    """Canonical key of a branch descriptor ("(上海市)分公司" -> "上海分公司")."""
    s = s.replace("(", "").replace(")", "")
    taken = _take_place(s)
    if taken is None:
        return s
    return taken[0] + s[taken[1] :]


def _canonical(s: str) -> str:
    if s.endswith(")"):
        # "<parent>(上海分公司)" reads as "<parent>上海分公司".
        start = s.rfind("(")
        inner = s[start + 1 : -1]
        if start >= 0 and ")" not in inner and inner.endswith(_BRANCH_WORDS_LONGEST_FIRST):
            s = s[:start] + inner
    word = next((w for w in _BRANCH_WORDS_LONGEST_FIRST if s.endswith(w)), None)
    if word is None:
        return _entity(s)
    head = s[: len(s) - len(word)]
    cut = max((head.rfind(end) + len(end) for end in _PARENT_ENDS if end in head), default=-1)
    if cut <= 0:
        # No legal name before the branch words: keep it whole, places tidied.
        return _branch(s)
    return _canonical(head[:cut]) + _branch(head[cut:] + word)


def canonical_name(name: str) -> str:
    """The key under which two customer names count as the same entity.

    Legal-form endings (有限公司, 有限责任公司, 股份有限公司, 公司, Co., Ltd., Inc. ...) are
    dropped; a place name in front or in brackets anywhere is moved to the front without its
    administrative suffix, so "北京友好创达科技有限公司", "友好创达科技(北京)有限公司" and
    "北京市友好创达科技有限责任公司" share one key. A branch ("...有限公司上海分公司") keys as
    its parent's key followed by the branch's place and kind, so it differs from its parent
    and from branches elsewhere.
    """
    return _canonical(normalize_name(name))


# Phones --------------------------------------------------------------------------------------

# Text after one of these is another number ("021-63539330/31", "…；138…"): ignored.
_ALTERNATIVES = ("/", "、", ";", "；", "|", "或")
# Text after one of these is an extension: dropped for matching.
_EXTENSION_MARKS = ("转", "分机", "ext", "x", "#", ",", "，", "~")
_DIGITS = re.compile(r"[0-9]+")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def normalize_phone(s: str) -> str:
    """A phone number as the digits that identify the line, for matching; "" if none.

    Mainland numbers come out in national form: mobile "13800138000", landline with its area
    code "02163539330" (the +86 / 0086 country code stripped, the trunk 0 restored). Other
    countries' numbers keep their code behind "00" ("0014155550100"). An extension is dropped,
    whether marked (转, 分机, ext, x, #) or written as a trailing group ("021-63539330-1010"):
    everyone at one switchboard is one customer.
    """
    t = "".join(c.lower() if "A" <= c <= "Z" else c for c in unicodedata.normalize("NFKC", s))
    for sep in _ALTERNATIVES:
        t = t.split(sep, 1)[0]
    cut = min((i for i in (t.find(m) for m in _EXTENSION_MARKS) if i >= 0), default=len(t))
    t = t[:cut]
    groups = _DIGITS.findall(t)
    if not groups:
        return ""
    digits = "".join(groups)
    ends: list[int] = []
    for g in groups:
        ends.append((ends[-1] if ends else 0) + len(g))
    plus = t.find("+")
    international = 0 <= plus < t.find(groups[0])

    strip = 0
    if international:
        if not digits.startswith("86"):
            return "00" + digits
        strip = 2
    elif digits.startswith("0086"):
        strip = 4
    elif digits.startswith("00"):
        return digits
    elif (groups[0] == "86" and len(groups) > 1) or (
        len(digits) == 13 and digits.startswith("86") and _MOBILE.fullmatch(digits, 2)
    ):
        strip = 2
    if strip:
        digits = digits[strip:]
        ends = [e - strip for e in ends if e > strip]
        if not _MOBILE.match(digits) and not digits.startswith("0"):
            digits = "0" + digits  # +86 21 … is dialled 021 … at home
            ends = [e + 1 for e in ends]

    def upto(length: int) -> str:
        return digits[:length] if length in ends[:-1] else digits

    if _MOBILE.match(digits):
        return upto(11)
    if digits.startswith("0"):
        if digits[1:2] in ("1", "2"):
            return digits[:11]  # 010 and 02x areas all have 8-digit numbers
        return next((digits[:e] for e in ends[:-1] if e in (11, 12)), digits)
    if digits.startswith(("400", "800")):
        return digits[:10]
    return next((digits[:e] for e in ends[:-1] if e in (7, 8)), digits)


# Unified social credit codes (GB 32100-2015) --------------------------------------------------

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_BLANK_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code, from its first 17."""
    if len(first17) != 17:
        raise ValueError(f"need the first 17 characters of a credit code, got {len(first17)}")
    total = 0
    for pos, (ch, weight) in enumerate(zip(first17, _CREDIT_WEIGHTS, strict=True), start=1):
        value = _CREDIT_CHARS.find(ch)
        if value < 0:
            raise ValueError(
                f"credit code character '{ch}' at position {pos} is not allowed "
                "(0-9 and A-Z except I, O, S, V, Z)"
            )
        total += value * weight
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def check_credit_code(code: str) -> str:
    """Validate a unified social credit code; return it upper-case, without spaces.

    Full-width characters and spaces typed by the rep are tolerated. Raises ValueError saying
    whether the length, a character or the check character is wrong.
    """
    norm = "".join(
        c.upper() if "a" <= c <= "z" else c
        for c in unicodedata.normalize("NFKC", code)
        if unicodedata.category(c) not in _BLANK_CATEGORIES
    )
    if len(norm) != 18:
        raise ValueError(f"a credit code has 18 characters, got {len(norm)}")
    expected = credit_code_check_char(norm[:17])
    if norm[17] != expected:
        if _CREDIT_CHARS.find(norm[17]) < 0:
            raise ValueError(
                f"credit code character '{norm[17]}' at position 18 is not allowed "
                "(0-9 and A-Z except I, O, S, V, Z)"
            )
        raise ValueError(f"credit code check character is '{norm[17]}', expected '{expected}'")
    return norm


# Similar names (server side only) ------------------------------------------------------------

SIMILAR_THRESHOLD = 0.8
"""`is_similar` cut-off: one wrong character in an 8-character key scores 0.875."""


def similarity(a: str, b: str) -> float:
    """Similarity of two names in [0, 1]: normalised Indel similarity of their canonical keys."""
    ca, cb = canonical_name(a), canonical_name(b)
    if not ca or not cb:
        return 0.0
    return ratio(ca, cb) / 100.0


def is_similar(a: str, b: str) -> bool:
    """Whether two names are close enough to put before the back office as likely duplicates."""
    return similarity(a, b) >= SIMILAR_THRESHOLD


# Offline index keys ---------------------------------------------------------------------------

KeyKind = Literal["name", "credit_code", "phone"]
INDEX_KEY_BYTES = 12
"""96 bits of HMAC: 16 base64url characters, no padding; collisions among 10^6 keys ~ 10^-17."""

_MIN_SECRET_BYTES = 16


def index_key(secret: bytes, value: str, kind: KeyKind = "name") -> str:
    """Keyed hash of a customer's canonical name (or credit code, or phone) for the offline index.

    HMAC-SHA256 over "<kind>:<canonical value>" in UTF-8, first 12 bytes, base64url without
    padding. The kind prefix keeps a name from ever matching a code or a phone. Raises
    ValueError for a short secret or a value with nothing left after normalisation.
    """
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"index secret must be at least {_MIN_SECRET_BYTES} bytes")
    if kind == "name":
        canon = canonical_name(value)
    elif kind == "credit_code":
        canon = check_credit_code(value)
    elif kind == "phone":
        canon = normalize_phone(value)
    else:
        raise ValueError(f"unknown index key kind {kind!r}")
    if not canon:
        raise ValueError(f"nothing to index: {kind} {value!r} is empty once normalised")
    digest = hmac.new(secret, f"{kind}:{canon}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:INDEX_KEY_BYTES]).decode("ascii")
