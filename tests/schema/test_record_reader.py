"""`RecordReader` (re-reads only the fields a change touched) always equals `read_record`."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, Text, get_state

from schema import samples
from schema.ydoc import ROOT, RecordReader, new_doc, read_record, update_fields
from sync.protocol import decode_state_vector

KIND = "visit"

# Each op edits one device's replica of a visit, through the layout or around it.
ops = st.one_of(
    st.tuples(
        st.just("set"), st.sampled_from(["place", "met_name", "purpose"]), st.text(max_size=6)
    ),
    st.tuples(st.just("set"), st.just("started_at"), st.integers(0, 2**40)),
    st.tuples(st.just("set"), st.just("gps_lat"), st.floats(-90, 90)),
    st.tuples(
        st.just("delete"), st.sampled_from(["place", "result", "gps_lat", "next_step"]), st.none()
    ),
    st.tuples(st.just("text"), st.sampled_from(["result", "next_step"]), st.text(max_size=4)),
    st.tuples(st.just("caption"), st.just("attachments"), st.text(max_size=4)),
    st.tuples(st.just("attach"), st.just("attachments"), st.integers(0, 3)),
    st.tuples(
        st.just("unknown"), st.sampled_from(["zz_extra", "aa_extra"]), st.integers(-(2**31), 2**31)
    ),
    st.tuples(st.just("wrong_type"), st.sampled_from(["result", "attachments"]), st.none()),
)


def apply_op(doc: Doc[Any], op: tuple[str, str, Any]) -> None:
    what, key, value = op
    root = doc.get(ROOT, type=Map)
    if what in ("set", "delete"):
        update_fields(doc, KIND, {key: value})
    elif what == "text":
        current = root.get(key)
        if isinstance(current, Text):
            current += value
        else:
            root[key] = Text(value)
    elif what == "caption":
        items = root.get(key)
        if isinstance(items, Array) and len(items) and isinstance(items[0], Map):
            items[0]["caption"] = value
    elif what == "attach":
        update_fields(doc, KIND, {key: [samples.attachment() for _ in range(value)]})
    elif what == "unknown":
        root[key] = value
    elif what == "wrong_type":
        root[key] = 7  # a scalar where a Y type is declared: a layout violation


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(st.tuples(st.integers(0, 2), ops), min_size=1, max_size=25),
    order=st.randoms(use_true_random=False),
)
def test_reader_equals_a_whole_read_after_every_update(
    steps: list[tuple[int, tuple[str, str, Any]]], order: Any
) -> None:
    origin = new_doc(KIND, samples.visit())
    devices = []
    for _ in range(3):
        d: Doc[Any] = Doc()
        d.apply_update(origin.get_update())
        devices.append(d)
    server: Doc[Any] = Doc()
    reader = RecordReader(server, KIND)
    server.apply_update(origin.get_update())
    assert reader.read(server) == read_record(server, KIND)
    updates = []
    for device, op in steps:
        d = devices[device]
        before = d.get_state()
        apply_op(d, op)
        updates.append(d.get_update(before))
    order.shuffle(updates)  # out of order: some wait for missing structs
    waiting: dict[int, int] = {}
    for update in updates:
        server.apply_update(update)
        # as the hub does: a whole read while structs wait for missing ones, and on the
        # update that lets them in
        had = bool(waiting)
        for client, clock in decode_state_vector(get_state(update)).items():
            waiting[client] = max(waiting.get(client, 0), clock)
        state = decode_state_vector(server.get_state())
        waiting = {c: k for c, k in waiting.items() if k > state.get(c, 0)}
        whole = had or bool(waiting)
        got = reader.read(server, whole=whole)
        assert got == read_record(server, KIND)
        assert list(got[0]) == list(read_record(server, KIND)[0])  # key order


def test_a_dropped_doc_is_freed_with_its_reader() -> None:
    readers: weakref.WeakKeyDictionary[Doc[Any], RecordReader] = weakref.WeakKeyDictionary()
    doc = new_doc(KIND, samples.visit())
    readers[doc] = RecordReader(doc, KIND)
    readers[doc].read(doc)
    gone = weakref.ref(doc)
    del doc
    gc.collect()
    assert gone() is None
    assert len(readers) == 0
