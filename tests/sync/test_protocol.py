"""The wire protocol on bytes: round trips, and every malformed frame named, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import protocol as p

uints = st.integers(min_value=0, max_value=2**63 - 1)
texts = st.text(max_size=60)
blobs = st.binary(max_size=200)

frames = st.one_of(
    st.builds(p.Hello, uints, texts, uints, uints),
    st.builds(p.Welcome, uints, texts, uints, uints),
    st.builds(p.Sync, texts, uints, st.sampled_from(list(p.SyncMessageType)), blobs),
    st.builds(p.Ack, uints),
    st.builds(
        p.Error,
        texts,
        uints,
        texts,
        texts,
        texts,
        texts,
        texts,
        st.dictionaries(
            st.text(min_size=1, max_size=8).filter(
                lambda k: k not in {"code", "message", "message_zh", "field", "rule"}
            ),
            st.one_of(st.integers(-1000, 1000), st.text(max_size=10), st.booleans()),
            max_size=3,
        ),
    ),
    st.builds(p.Progress, uints, uints),
    st.builds(p.CaughtUp, uints),
    st.builds(p.ScopeEnter, texts),
    st.builds(p.ScopeLeave, texts, texts, texts),
    st.builds(p.Bye, texts),
    st.builds(p.Cursor, uints),
)


@given(frames)
def test_every_frame_round_trips(frame: p.Frame) -> None:
    assert p.decode(p.encode(frame)) == frame


@given(uints)
def test_var_uint_round_trips_and_matches_lib0(n: int) -> None:
    encoded = p.write_uint(n)
    r = p.Reader(encoded)
    assert r.uint() == n
    r.done()
    # lib0 writes 7 bits per byte, high bit set on all but the last
    assert all(b & 0x80 for b in encoded[:-1]) and not encoded[-1] & 0x80


def test_known_layout_of_a_sync_frame() -> None:
    """The worked example in docs/protocol.md; changing the layout breaks this test."""
    frame = p.Sync("visit:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11", 300, p.SyncMessageType.UPDATE,
                   b"\x01\x02")
    data = p.encode(frame)
    assert data[0] == p.FrameType.SYNC
    assert data[1] == 42  # length of the doc id
    assert data[2:44] == b"visit:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11"
    assert data[44:46] == bytes([0xAC, 0x02])  # 300 as a var-uint
    assert data[46:] == bytes([2, 2, 1, 2])  # update, length 2, payload


@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        p.decode(data)
    except p.ProtocolError as e:
        assert e.close_code in (p.CloseCode.MALFORMED_FRAME, p.CloseCode.FRAME_TOO_LARGE)
        assert str(e)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (bytes([99]), "unknown frame type 99"),
        (bytes([p.FrameType.ACK]), "ends inside a var-uint"),
        (bytes([p.FrameType.ACK, 1, 0]), "trailing"),
        (bytes([p.FrameType.SCOPE_ENTER, 10, 65]), "runs past the end"),
        (bytes([p.FrameType.SCOPE_ENTER, 2, 0xFF, 0xFE]), "UTF-8"),
        (bytes([p.FrameType.SYNC, 1, 65, 0, 7, 0]), "unknown sync message type 7"),
        (bytes([p.FrameType.ERROR, 0, 0, 3]) + b"xyz", "not JSON"),
        (bytes([p.FrameType.ERROR, 0, 0, 2]) + b"[]", "object"),
        (bytes([p.FrameType.ACK]) + b"\xff" * 10 + b"\x01", "64 bits"),
    ],
)
def test_malformed_frames_are_named(data: bytes, words: str) -> None:
    with pytest.raises(p.ProtocolError) as e:
        p.decode(data)
    assert words in str(e.value)
    assert e.value.close_code == p.CloseCode.MALFORMED_FRAME


def test_oversize_frame_has_its_own_close_code() -> None:
    with pytest.raises(p.ProtocolError) as e:
        p.decode(p.encode(p.Bye("x" * 100)), max_frame=50)
    assert e.value.close_code == p.CloseCode.FRAME_TOO_LARGE


@pytest.mark.parametrize(
    "doc_id",
    [
        "customer",
        "customer:",
        "Customer:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11",
        "customer:0B7D1C1E-2F7A-4C55-9A0E-4D2B9F3F7C11",
        "customer:0b7d1c1e2f7a4c559a0e4d2b9f3f7c11",
        "customer:../../etc/passwd",
        "customer:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11/x",
    ],
)
def test_bad_doc_ids_are_refused(doc_id: str) -> None:
    with pytest.raises(ValueError, match="<kind>:<uuid>"):
        p.check_doc_id(doc_id)


def test_unknown_kind_is_named() -> None:
    with pytest.raises(ValueError, match="unknown kind 'invoice'"):
        p.check_doc_id("invoice:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11", frozenset({"visit"}))


@given(st.sampled_from(list(p.SyncMessageType)), blobs)
def test_y_websocket_messages_round_trip(kind: p.SyncMessageType, payload: bytes) -> None:
    mtype, k, data = p.decode_y_message(p.encode_y_sync(kind, payload))
    assert (mtype, k, data) == (p.YMessage.SYNC, kind, payload)
