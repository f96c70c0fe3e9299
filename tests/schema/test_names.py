"""Name, phone and credit-code keys: the shared vectors, properties, and the TypeScript twin."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.names import (
    BRANCH_WORDS,
    PLACES,
    canonical_name,
    check_credit_code,
    credit_code_check_char,
    index_key,
    is_similar,
    normalize_name,
    normalize_phone,
    similarity,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((ROOT / "tests/data/names.json").read_text("utf-8"))
SECRET = bytes.fromhex(VECTORS["index_keys"]["secret_hex"])
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# The vectors table ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["names"], ids=lambda c: c["input"])
def test_name_vectors(case: dict[str, str]) -> None:
    assert normalize_name(case["input"]) == case["normalized"]
    assert canonical_name(case["input"]) == case["canonical"]


def test_vectors_are_plentiful() -> None:
    assert len(VECTORS["names"]) >= 60
    assert sum("分公司" in c["input"] or "办事处" in c["input"] for c in VECTORS["names"]) >= 8


@pytest.mark.parametrize("group", VECTORS["same_canonical"], ids=lambda g: g[0])
def test_spellings_of_one_entity_share_a_key(group: list[str]) -> None:
    assert len({canonical_name(name) for name in group}) == 1
    assert len({index_key(SECRET, name) for name in group}) == 1


@pytest.mark.parametrize("pair", VECTORS["different_canonical"], ids=lambda p: " / ".join(p))
def test_different_entities_have_different_keys(pair: list[str]) -> None:
    a, b = pair
    assert canonical_name(a) != canonical_name(b)
    assert index_key(SECRET, a) != index_key(SECRET, b)


def test_the_policy_example() -> None:
    # 000 §3.1: a branch is "<parent full name> <branch> 分公司/办事处" and is its own customer.
    parent = canonical_name("北京友好创达科技有限公司")
    assert canonical_name("友好创达科技（北京）有限公司") == parent
    assert canonical_name("北京 友好创达科技 有限责任公司") == parent
    shanghai = canonical_name("北京友好创达科技有限公司上海分公司")
    assert shanghai != parent
    assert shanghai != canonical_name("北京友好创达科技有限公司广州分公司")
    assert shanghai != canonical_name("北京友好创达科技有限公司上海办事处")


@pytest.mark.parametrize("case", VECTORS["phones"], ids=lambda c: c["input"])
def test_phone_vectors(case: dict[str, str]) -> None:
    assert normalize_phone(case["input"]) == case["normalized"]


@pytest.mark.parametrize("case", VECTORS["credit_codes"]["valid"], ids=lambda c: c["input"])
def test_valid_credit_codes(case: dict[str, str]) -> None:
    assert check_credit_code(case["input"]) == case["code"]


@pytest.mark.parametrize("case", VECTORS["credit_codes"]["invalid"], ids=lambda c: c["input"])
def test_invalid_credit_codes_say_what_is_wrong(case: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=case["error"].replace("(", r"\(")):
        check_credit_code(case["input"])


@pytest.mark.parametrize("case", VECTORS["index_keys"]["keys"], ids=lambda c: c["value"])
def test_index_key_vectors(case: dict[str, str]) -> None:
    key = index_key(SECRET, case["value"], case["kind"])  # type: ignore[arg-type]
    assert key == case["key"]
    assert len(key) == 16 and "=" not in key


@pytest.mark.parametrize("case", VECTORS["index_keys"]["errors"], ids=lambda c: c["value"])
def test_index_key_refuses_nothing(case: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        index_key(SECRET, case["value"], case["kind"])  # type: ignore[arg-type]


def test_index_key_separates_kinds_and_secrets() -> None:
    assert index_key(SECRET, "13800138000", "phone") != index_key(SECRET, "13800138000", "name")
    assert index_key(SECRET, "北京银行") != index_key(bytes(32), "北京银行")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        index_key(b"short", "北京银行")


@pytest.mark.parametrize("case", VECTORS["similar"], ids=lambda c: f"{c['a']}~{c['b']}")
def test_similar_vectors(case: dict[str, Any]) -> None:
    assert is_similar(case["a"], case["b"]) is case["similar"]


def test_similarity_ranks_closer_names_higher() -> None:
    typed = "北京友好创达科技有限公司"
    ranked = sorted(
        ["上海友好创达科技有限公司", "友好创达科技(北京)有限公司", "北京友好创达信息科技有限公司"],
        key=lambda name: similarity(typed, name),
        reverse=True,
    )
    closest, middle, furthest = ranked
    assert closest == "友好创达科技(北京)有限公司"
    assert (middle, furthest) == ("北京友好创达信息科技有限公司", "上海友好创达科技有限公司")
    assert similarity("", typed) == 0.0


# Properties ---------------------------------------------------------------------------------

_SAMPLE_CJK = "北京上海市省友好创达科技有限责任公司股份集团分办事处银行支行中国广西壮族自治区"
name_text = st.lists(
    st.sampled_from(
        list(_SAMPLE_CJK) + list("ABCXYZabcxyz0129()[]【】（）ΣσΆß") + ["Co.", "Ltd", "Inc"]
    ),
    max_size=20,
).map("".join)
separators = st.sampled_from([" ", "\u3000", "\t", "·", "、", "，", "。", "-", "_", "/", ".", ",",
                              "&", "*", "'", '"', "“", "”", "\u200b", "®", "—"])  # fmt: skip


def fullwidth(s: str) -> str:
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s
    )


@given(st.text())
def test_normalize_name_is_idempotent(s: str) -> None:
    once = normalize_name(s)
    assert normalize_name(once) == once


@given(st.text())
def test_canonical_name_only_depends_on_the_normalised_form(s: str) -> None:
    assert canonical_name(normalize_name(s)) == canonical_name(s)


@given(st.text())
def test_full_width_typing_changes_nothing(s: str) -> None:
    assert normalize_name(fullwidth(s)) == normalize_name(s)
    assert canonical_name(fullwidth(s)) == canonical_name(s)


@given(name_text, st.lists(st.tuples(st.integers(0, 40), separators), max_size=6))
def test_spaces_and_punctuation_change_no_key(s: str, inserts: list[tuple[int, str]]) -> None:
    t = s
    for at, sep in inserts:
        t = t[:at] + sep + t[at:]
    assert normalize_name(t) == normalize_name(s)
    assert canonical_name(t) == canonical_name(s)
    if canonical_name(s):
        assert index_key(SECRET, t) == index_key(SECRET, s)


@given(st.sampled_from(["北京", "上海市", "广东省", "广西壮族自治区", "深圳市"]), name_text)
def test_a_place_in_front_or_in_brackets_is_the_same(place: str, body: str) -> None:
    body = body.replace("(", "").replace(")", "").replace("（", "").replace("）", "")
    body = body.replace("【", "").replace("】", "").replace("[", "").replace("]", "")
    norm = normalize_name(body)
    # A body that itself starts with a place, or with 市/省/自治区 (which would read as the
    # place's suffix: "北京" + "市…"), is a different name when the place moves.
    if not norm or norm.endswith(BRANCH_WORDS) or norm.startswith(PLACES + tuple("市省自特壮回维")):
        return
    assert canonical_name(f"{place}{body}有限公司") == canonical_name(f"{body}（{place}）有限公司")


def test_lower_case_is_the_same_on_both_sides_of_the_wire() -> None:
    # str.casefold would fold ß to ss, which JavaScript cannot do: plain per-character lower.
    assert normalize_name("STRAßE") == "straße"
    assert normalize_name("ΣΊΣΥΦΟΣ") == "σίσυφοσ"
    assert normalize_name("ＩＢＭ") == "ibm"


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles, st.sampled_from(["{}", "+86 {}", "+86{}", "0086{}", "86 {}", "(+86) {}"]),
       st.booleans())  # fmt: skip
def test_a_mobile_in_any_dress(mobile: str, dress: str, grouped: bool) -> None:
    shown = f"{mobile[:3]}-{mobile[3:7]} {mobile[7:]}" if grouped else mobile
    assert normalize_phone(dress.format(shown)) == mobile


@given(
    st.sampled_from(["010", "021", "028", "0755", "0571", "0991"]),
    st.from_regex(r"[2-8][0-9]{7}", fullmatch=True),
    st.from_regex(r"[0-9]{1,5}", fullmatch=True),
    st.sampled_from(["{a}-{n}", "({a}){n}", "{a} {n}", "+86 {a1} {n}", "0086-{a1}-{n}",
                     "{a}-{n}-{x}", "{a}-{n}转{x}", "({a}) {n} ext. {x}", "+86 {a1} {n}#{x}"]),
)  # fmt: skip
def test_a_landline_in_any_dress(area: str, number: str, ext: str, dress: str) -> None:
    written = dress.format(a=area, a1=area[1:], n=number, x=ext)
    assert normalize_phone(written) == area + number


@given(st.text(alphabet=st.sampled_from(CREDIT_CHARS), min_size=17, max_size=17))
def test_credit_code_check_char_round_trip(first17: str) -> None:
    code = first17 + credit_code_check_char(first17)
    assert check_credit_code(code.lower()) == code


@given(
    st.text(alphabet=st.sampled_from(CREDIT_CHARS), min_size=17, max_size=17),
    st.integers(0, 17),
    st.sampled_from(CREDIT_CHARS),
)
def test_any_single_typo_in_a_credit_code_is_caught(first17: str, at: int, typo: str) -> None:
    code = first17 + credit_code_check_char(first17)
    if code[at] == typo:
        return
    with pytest.raises(ValueError):
        check_credit_code(code[:at] + typo + code[at + 1 :])


# The TypeScript twin ----------------------------------------------------------------------------

RUNNER = """
import { readFileSync } from "node:fs";
import * as n from "./names.mjs";
const input = JSON.parse(readFileSync(0, "utf8"));
const secret = Uint8Array.from(Buffer.from(input.secret_hex, "hex"));
const attempt = (f) => { try { return { ok: f() }; } catch (e) { return { err: e.message }; } };
const keys = [];
for (const [kind, value] of input.keys) {
  try { keys.push({ ok: await n.indexKey(secret, value, kind) }); }
  catch { keys.push({ err: true }); }
}
process.stdout.write(JSON.stringify({
  places: n.PLACES,
  branch_words: n.BRANCH_WORDS,
  names: input.names.map((s) => [n.normalizeName(s), n.canonicalName(s)]),
  phones: input.phones.map((s) => n.normalizePhone(s)),
  codes: input.codes.map((s) => attempt(() => n.checkCreditCode(s))),
  keys,
}));
"""


def _esbuild() -> str | None:
    local = ROOT / "pwa/node_modules/.bin/esbuild"
    return str(local) if local.exists() else shutil.which("esbuild")


def _python_side(inputs: dict[str, Any]) -> dict[str, Any]:
    def attempt(code: str) -> dict[str, str]:
        try:
            return {"ok": check_credit_code(code)}
        except ValueError as e:
            return {"err": str(e)}

    def key(kind: Any, value: str) -> dict[str, Any]:
        try:
            return {"ok": index_key(SECRET, value, kind)}
        except ValueError:
            return {"err": True}

    return {
        "places": list(PLACES),
        "branch_words": list(BRANCH_WORDS),
        "names": [[normalize_name(s), canonical_name(s)] for s in inputs["names"]],
        "phones": [normalize_phone(s) for s in inputs["phones"]],
        "codes": [attempt(s) for s in inputs["codes"]],
        "keys": [key(kind, value) for kind, value in inputs["keys"]],
    }


def _random_inputs() -> dict[str, list[Any]]:
    rng = random.Random(20240605)
    pieces = (
        list(_SAMPLE_CJK) + list(PLACES[:40]) + list(BRANCH_WORDS)
        + list("ABCabc019 ()（）【】[]{}〔〕·、，.-_/&İΣσςßẞÅ\u0301\u0338=<\u200b\u3000ＡＢ１２")
        + ["有限公司", "Co., Ltd.", "Inc", "GmbH", "市", "省", "自治区", "市政", "(北京)"]
    )  # fmt: skip
    phone_pieces = list("0123456789+-() #/x１") + ["转", "分机", "ext", "86", "0086"]
    names = ["".join(rng.choices(pieces, k=rng.randint(0, 12))) for _ in range(3000)]
    phones = ["".join(rng.choices(phone_pieces, k=rng.randint(0, 20))) for _ in range(3000)]
    codes = []
    for _ in range(500):
        first17 = "".join(rng.choices(CREDIT_CHARS, k=17))
        code = first17 + credit_code_check_char(first17)
        if rng.random() < 0.5:
            at = rng.randrange(18)
            code = code[:at] + rng.choice(CREDIT_CHARS + "IOSVZ-a ") + code[at + 1 :]
        codes.append(code)
    keys: list[Any] = [["name", s] for s in names[:300]] + [["phone", s] for s in phones[:100]]
    keys += [["credit_code", s] for s in codes[:100]]
    return {"names": names, "phones": phones, "codes": codes, "keys": keys}


def _every_character() -> list[str]:
    # Every code point Python's Unicode database knows (bar the private-use planes), alone.
    # Characters it does not know yet may differ: a newer runtime may class them as punctuation.
    def known(cp: int) -> bool:
        category = unicodedata.category(chr(cp))
        return category != "Cn" and (category != "Co" or cp < 0x10000)

    return [chr(cp) for cp in range(0x110000) if known(cp)]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_typescript_twin_gives_identical_results(tmp_path: Path) -> None:
    esbuild = _esbuild()
    if esbuild is None:
        pytest.skip("esbuild not found: run `npm install` in pwa/ (esbuild in pwa/node_modules)")
    bundle = tmp_path / "names.mjs"
    subprocess.run(
        [esbuild, str(ROOT / "pwa/src/names.ts"), "--bundle", "--format=esm",
         "--target=es2022", "--log-level=warning", f"--outfile={bundle}"],
        check=True,
    )  # fmt: skip
    (tmp_path / "run.mjs").write_text(RUNNER, "utf-8")

    random_inputs = _random_inputs()
    inputs: dict[str, Any] = {
        "secret_hex": SECRET.hex(),
        "names": [c["input"] for c in VECTORS["names"]]
        + [s for group in VECTORS["same_canonical"] for s in group]
        + random_inputs["names"]
        + _every_character(),
        "phones": [c["input"] for c in VECTORS["phones"]] + random_inputs["phones"],
        "codes": [c["input"] for c in VECTORS["credit_codes"]["valid"]]
        + [c["input"] for c in VECTORS["credit_codes"]["invalid"]]
        + random_inputs["codes"],
        "keys": [[c["kind"], c["value"]] for c in VECTORS["index_keys"]["keys"]]
        + [[c["kind"], c["value"]] for c in VECTORS["index_keys"]["errors"]]
        + random_inputs["keys"],
    }
    # Lone surrogates travel as \\ud800 escapes, which JSON.parse turns back into them.
    done = subprocess.run(
        ["node", str(tmp_path / "run.mjs")],
        input=json.dumps(inputs).encode("ascii"),
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    twin = json.loads(done.stdout)
    ours = _python_side(inputs)
    for field in ("places", "branch_words", "names", "phones", "codes", "keys"):
        mismatches = [
            (given_, mine, theirs)
            for given_, mine, theirs in zip(
                inputs.get(field, ours[field]), ours[field], twin[field], strict=True
            )
            if mine != theirs
        ]
        assert not mismatches, f"{field}: {len(mismatches)} differ, e.g. {mismatches[:5]!r}"
    # The twin agrees with Python, and Python agrees with the table: check one against the other.
    assert twin["keys"][0]["ok"] == VECTORS["index_keys"]["keys"][0]["key"]
