"""Validation of an edit checks only the fields the edit touched: for every record that was
accepted, the answer equals checking the whole record (a property test over random edits)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema import samples
from schema.kinds import KINDS, get_kind
from schema.samples import USER
from schema.validate import Actor, validate

ACTORS = [Actor(USER, "rep"), Actor("u-manager", "manager"), Actor("u-admin", "admin")]

# What a phone, a bug or an attacker may put in a field: right and wrong types, empty,
# too long, out of range, other kinds' values.
ODD_VALUES = st.one_of(
    st.none(), st.just(""), st.just("   "), st.text(max_size=8),
    st.text(min_size=300, max_size=301),
    st.integers(), st.floats(allow_nan=True), st.booleans(), st.just([]), st.just({}),
    st.just([{"name": "x"}]), st.sampled_from([samples.T0, samples.CUSTOMER_ID, samples.DEAL_ID,
                                               "2026-12-01", "core", "direct", "done", USER]),
)


def _values_for(kind: str) -> st.SearchStrategy[Any]:
    """Values from the field's own enum and from the other samples, mixed with odd ones."""
    k = get_kind(kind)
    good: list[Any] = []
    for f in k.fields:
        good.extend(f.enum_values)
    for make in samples.SAMPLES.values():
        good.extend(v for v in make().values() if v is not None)
    return st.one_of(ODD_VALUES, st.sampled_from(good)) if good else ODD_VALUES


@st.composite
def accepted_then_edited(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any], Actor]:
    kind = draw(st.sampled_from(sorted(KINDS)))
    k = get_kind(kind)
    names = [f.name for f in k.fields] + ["no_such_field"]
    values = _values_for(kind)
    base = samples.SAMPLES[kind]()
    draft = dict(base, submitted_at=None, approval_status=None)
    for f in k.fields:  # a draft may leave out what is required only on submitting
        if f.required == "on_submit" and draw(st.booleans()):
            draft[f.name] = None
    if draw(st.booleans()) and not validate(kind, None, draft, Actor(USER, "rep"), {}, whole=True):
        base = draft
    # the record before: the sample, edited until accepted (or the sample as it is)
    before = dict(base)
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        candidate = dict(before, **{name: draw(values)})
        if not validate(kind, None, candidate, Actor(USER, "rep"), {}, whole=True):
            before = candidate
    after = dict(before)
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=4)):
        after[name] = draw(values)
    if draw(st.booleans()):  # submit it, or take the submission back
        after["submitted_at"] = None if before.get("submitted_at") else samples.T0
    return kind, before, after, draw(st.sampled_from(ACTORS))


def _key(v: Any) -> tuple[str, str, str]:
    return (v.field, v.rule, v.message)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accepted_then_edited())
def test_checking_what_changed_equals_checking_everything(
    case: tuple[str, dict[str, Any], dict[str, Any], Actor],
) -> None:
    kind, before, after, actor = case
    assert not validate(kind, None, before, Actor(USER, "rep"), {}, whole=True)
    changed = validate(kind, before, after, actor, {})
    everything = validate(kind, before, after, actor, {}, whole=True)
    assert sorted(map(_key, changed)) == sorted(map(_key, everything))


def test_a_value_equal_in_python_but_of_another_type_is_a_change() -> None:
    """True == 1.0 == 1 in Python: found by the property test in CI."""
    before = samples.progress(count_as_contact=True)
    rep = Actor(USER, "rep")
    assert validate("progress", None, before, rep, {}, whole=True) == []
    for odd in (1, 1.0):
        after = dict(before, count_as_contact=odd)
        assert [(v.field, v.rule) for v in validate("progress", before, after, rep, {})] == [
            ("count_as_contact", "type")]


def test_an_unchanged_field_is_not_checked_again() -> None:
    """The point of it: a field that broke a rule added after it was accepted does not block an
    edit of another field; checking everything would."""
    before = dict(samples.customer(), name="x" * 500)  # longer than the name limit
    after = dict(before, phone="021-63539330")
    rep = Actor(USER, "rep")
    assert [v.field for v in validate("customer", before, after, rep, {}, whole=True)] == ["name"]
    assert validate("customer", before, after, rep, {}) == []
