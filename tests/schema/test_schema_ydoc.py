"""The Y doc layout: writing records with the declared Y types and reading them back."""

from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Array, Doc, Map, Text

from schema import samples
from schema.kinds import KINDS
from schema.ydoc import append_item, new_doc, read_record, update_fields, write_record


def _roundtrip(doc: Doc[Any]) -> Doc[Any]:
    """The doc as another replica sees it after sync."""
    other: Doc[Any] = Doc()
    other.apply_update(doc.get_update())
    return other


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_round_trips_through_a_replica(kind: str) -> None:
    rec = samples.SAMPLES[kind]()
    record, violations = read_record(_roundtrip(new_doc(kind, rec)), kind)
    assert violations == []
    assert record == rec


def test_declared_y_types_are_used() -> None:
    doc = new_doc("customer", samples.customer())
    root = doc.get("record", type=Map)
    assert isinstance(root["profile"], Text)
    assert isinstance(root["contacts"], Array)
    assert isinstance(root["contacts"][0], Map)
    assert isinstance(root["name"], str)


def test_numbers_are_coerced_to_declared_types() -> None:
    doc: Doc[Any] = Doc()
    root = doc.get("record", type=Map)
    # What a JS client writes arrives as floats on the Python side.
    root["created_at"] = 1_710_000_000_000.0
    root["stage"] = 4.0
    root["products"] = Array([Map({"name": "x", "quantity": 5.0, "unit_price": 100})])
    assert type(root["stage"]) is float
    record, violations = read_record(doc, "deal")
    assert violations == []
    assert record["created_at"] == 1_710_000_000_000
    assert type(record["created_at"]) is int
    assert type(record["stage"]) is int
    assert type(record["products"][0]["quantity"]) is int
    assert record["products"][0]["unit_price"] == 100.0
    assert type(record["products"][0]["unit_price"]) is float


def test_fractional_value_for_an_integer_is_kept_for_validation() -> None:
    doc = new_doc("customer", {"level": 2.5, "created_at": 1, "created_by": "u"})
    record, _ = read_record(doc, "customer")
    assert record["level"] == 2.5


def test_null_counts_as_absent() -> None:
    doc = new_doc("customer", {"created_at": 1, "created_by": "u"})
    doc.get("record", type=Map)["phone"] = None
    record, violations = read_record(doc, "customer")
    assert "phone" not in record
    assert violations == []


def _rules(doc: Doc[Any], kind: str = "customer") -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in read_record(doc, kind)[1]]


def test_unknown_root_is_a_layout_violation() -> None:
    doc = new_doc("customer", samples.customer())
    doc.get("extra", type=Map)["x"] = 1
    assert _rules(_roundtrip(doc)) == [("extra", "layout.root")]


def test_root_written_as_an_array_is_a_layout_violation() -> None:
    bad: Doc[Any] = Doc()
    bad.get("record", type=Array).append("name")
    assert ("record", "layout.y_type") in _rules(_roundtrip(bad))


def test_plain_string_where_text_is_declared() -> None:
    doc = new_doc("customer", samples.customer())
    doc.get("record", type=Map)["profile"] = "plain"
    record, violations = read_record(doc, "customer")
    assert [(v.field, v.rule) for v in violations] == [("profile", "layout.y_type")]
    assert "profile" not in record
    assert "Y.Text" in violations[0].message


def test_plain_list_where_array_is_declared() -> None:
    doc = new_doc("customer", samples.customer())
    doc.get("record", type=Map)["contacts"] = [{"name": "张宏"}]
    assert _rules(doc) == [("contacts", "layout.y_type")]
    doc.get("record", type=Map)["contacts"] = {"name": "张宏"}
    assert _rules(doc) == [("contacts", "layout.y_type")]


def test_y_type_where_scalar_is_declared() -> None:
    doc = new_doc("customer", samples.customer())
    root = doc.get("record", type=Map)
    root["name"] = Text("北京友好")
    root["level"] = Array([1])
    root["phone"] = {"area": "010"}
    assert sorted(_rules(doc)) == [
        ("level", "layout.y_type"),
        ("name", "layout.y_type"),
        ("phone", "layout.y_type"),
    ]


def test_array_items_must_be_maps_and_item_fields_are_checked() -> None:
    doc = new_doc("customer", samples.customer())
    contacts = doc.get("record", type=Map)["contacts"]
    contacts.append({"name": "李四"})  # a plain dict, not a Y.Map
    contacts.append(Map({"name": Text("王五")}))
    assert _rules(doc) == [("contacts[1]", "layout.item"), ("contacts[2].name", "layout.y_type")]


def test_shared_with_reads_as_a_set() -> None:
    a = new_doc("customer", samples.customer(shared_with=["u2"]))
    b = _roundtrip(a)
    # Two devices share with the same user concurrently.
    append_item(a, "customer", "shared_with", "u3")
    append_item(b, "customer", "shared_with", "u3")
    a.apply_update(b.get_update())
    assert len(a.get("record", type=Map)["shared_with"]) == 3
    assert read_record(a, "customer")[0]["shared_with"] == ["u2", "u3"]


def test_update_fields_edits_text_in_place_so_concurrent_edits_merge() -> None:
    a = new_doc("visit", samples.visit(result="客户要求报价"))
    b = _roundtrip(a)
    update_fields(a, "visit", {"result": "客户明天要求报价"})
    update_fields(b, "visit", {"result": "客户要求报价,预算五十万"})
    a.apply_update(b.get_update())
    b.apply_update(a.get_update())
    merged = read_record(a, "visit")[0]["result"]
    assert merged == read_record(b, "visit")[0]["result"]
    assert merged == "客户明天要求报价,预算五十万"


def test_update_fields_none_deletes_and_unknown_field_is_refused() -> None:
    doc = new_doc("customer", samples.customer())
    update_fields(doc, "customer", {"phone": None, "level": 5})
    record, _ = read_record(doc, "customer")
    assert "phone" not in record and record["level"] == 5
    with pytest.raises(KeyError):
        update_fields(doc, "customer", {"nonsense": 1})


def test_write_record_replaces_the_whole_record() -> None:
    doc = new_doc("customer", samples.customer())
    write_record(doc, "customer", {"name": "新名称", "created_at": 1, "created_by": "u"})
    assert read_record(doc, "customer")[0] == {"name": "新名称", "created_at": 1, "created_by": "u"}


def test_append_item_adds_a_contact() -> None:
    doc = new_doc("customer", samples.customer())
    append_item(doc, "customer", "contacts", {"name": "李四", "mobile": "13900001111"})
    contacts = read_record(doc, "customer")[0]["contacts"]
    assert [c["name"] for c in contacts] == ["张宏", "李四"]


def test_unknown_field_is_kept_for_validation_to_name() -> None:
    doc = new_doc("customer", samples.customer())
    doc.get("record", type=Map)["colour"] = "red"
    record, violations = read_record(doc, "customer")
    assert record["colour"] == "red" and violations == []
