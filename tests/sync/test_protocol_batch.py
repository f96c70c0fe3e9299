"""Protocol version 2: many frames in one BATCH message, packed only from what is waiting,
bounded in frames and bytes; a version-1 device is refused by name."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import protocol as p
from sync.client import SyncClient
from sync.session import SessionLimits
from sync.transport import Disconnected, MemoryTransport, SendQueue, memory_pair
from tests.conftest import make_team

from .harness import harness, new_id
from .test_protocol import frames

# What a batch may carry: any frame but HELLO and BATCH.
inner = frames.filter(lambda f: not isinstance(f, p.Hello))


@given(st.lists(inner, max_size=8))
def test_a_batch_round_trips_and_packs_the_same_bytes(parts: list[p.Frame]) -> None:
    batch = p.Batch(tuple(parts))
    data = p.encode(batch)
    assert p.decode(data) == batch
    assert p.pack([p.encode(f) for f in parts]) == data
    assert [p.decode(x) for x in p.split(data)] == parts
    assert p.unpack(p.decode(data)) == tuple(parts)


def test_a_single_frame_unpacks_to_itself() -> None:
    f = p.Cursor(7)
    assert p.unpack(f) == (f,)
    assert p.split(p.encode(f)) == [p.encode(f)]


def test_known_layout_of_a_batch() -> None:
    """docs/protocol.md's worked example: a BATCH of CURSOR 5 and ACK 3."""
    assert p.encode(p.Batch((p.Cursor(5), p.Ack(3)))) == bytes(
        [p.FrameType.BATCH, 2, 2, p.FrameType.CURSOR, 5, 2, p.FrameType.ACK, 3]
    )
    assert p.FrameType.BATCH == 11 and p.PROTOCOL_VERSION == 2


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (bytes([p.FrameType.BATCH]), "ends inside a var-uint"),
        (bytes([p.FrameType.BATCH, 1]), "ends inside a var-uint"),
        (bytes([p.FrameType.BATCH, 1, 5, 3]), "runs past the end"),
        (bytes([p.FrameType.BATCH, 100, 0]), "batch of 100 frames in 3 bytes"),
        (bytes([p.FrameType.BATCH, 1, 2, p.FrameType.ACK, 1, 9]), "trailing"),
        (bytes([p.FrameType.BATCH, 2, 2, p.FrameType.ACK, 1, 1, 99]),
         "frame 1 of a batch: unknown frame type 99"),
        (bytes([p.FrameType.BATCH, 1, 0]), "frame 0 of a batch: empty frame"),
        (p.pack([p.encode(p.Hello(2, "d", 0))]), "frame 0 of a batch is a HELLO"),
        (p.pack([p.pack([p.encode(p.Ack(1))])]), "frame 0 of a batch is a BATCH"),
    ],
)
def test_malformed_batches_are_named(data: bytes, words: str) -> None:
    with pytest.raises(p.ProtocolError) as e:
        p.decode(data)
    assert words in str(e.value)
    assert e.value.close_code == p.CloseCode.MALFORMED_FRAME


@given(st.binary(max_size=64))
def test_random_batches_never_crash_the_decoder(data: bytes) -> None:
    try:
        p.decode(bytes([p.FrameType.BATCH]) + data)
    except p.ProtocolError as e:
        assert str(e)


uuids = st.uuids().map(str)
record_kinds = st.sampled_from(["customer", "visit", "service", "deal", "progress", "trip_plan"])


@given(record_kinds, uuids, st.integers(0, 2**63 - 1), st.sampled_from(list(p.SyncMessageType)),
       st.binary(max_size=100))
def test_a_sync_with_a_uuid_doc_id_is_21_bytes_shorter_and_the_same(
    kind: str, uuid: str, n: int, sync_type: p.SyncMessageType, payload: bytes
) -> None:
    frame = p.Sync(f"{kind}:{uuid}", n, sync_type, payload)
    short = p.encode_sync(frame)
    assert short[0] == p.FrameType.SYNC_UUID
    assert p.decode(short) == frame
    assert len(p.encode(frame)) - len(short) == 36 + 1 - 16  # uuid text and its length
    assert p.decode(p.pack([short, short])) == p.Batch((frame, frame))


def test_a_sync_whose_doc_id_is_not_a_uuid_stays_a_sync() -> None:
    frame = p.Sync("visit:not-a-uuid", 3, p.SyncMessageType.UPDATE, b"\x01")
    assert p.encode_sync(frame) == p.encode(frame)


def test_known_layout_of_sync_uuid() -> None:
    frame = p.Sync("visit:0b7d1c1e-2f7a-4c55-9a0e-4d2b9f3f7c11", 300, p.SyncMessageType.UPDATE,
                   b"\x01\x02")
    assert p.encode_sync(frame) == (
        bytes([p.FrameType.SYNC_UUID, 5]) + b"visit"
        + bytes.fromhex("0b7d1c1e2f7a4c559a0e4d2b9f3f7c11") + bytes([0xAC, 0x02, 2, 2, 1, 2])
    )
    with pytest.raises(p.ProtocolError, match="inside a uuid"):
        p.decode(bytes([p.FrameType.SYNC_UUID, 1, 65]) + bytes(15))


# -- the send queue packs what waits --------------------------------------------------------


async def _drain(t: MemoryTransport, messages: int) -> list[bytes]:
    async with asyncio.timeout(5):
        return [await t.recv() for _ in range(messages)]


@pytest.mark.asyncio
async def test_the_send_queue_packs_waiting_frames_within_its_bounds() -> None:
    device, server = memory_pair()
    q = SendQueue(server, 100, pack=p.pack, pack_frames=3, pack_bytes=40)
    small = [p.encode(p.Cursor(i)) for i in range(1, 8)]  # 2 bytes each
    big = p.encode(p.Bye("x" * 50))  # over pack_bytes: alone
    for data in [*small[:5], big, small[5], small[6]]:
        await q.put(data)
    sender = asyncio.create_task(q.run())
    try:
        got = await _drain(device, 4)
        assert [p.split(m) for m in got] == [
            small[0:3], small[3:5], [big], small[5:7]
        ]
        assert got[2] == big  # a frame too large to pack goes as itself, not in a batch
        # a frame queued alone goes alone, at once (nothing waits to be packed)
        await q.put(small[0])
        assert await _drain(device, 1) == [small[0]]
        # by bytes: 20 bytes each, 40 at most per batch
        mid = [p.encode(p.Bye("y" * 18)) for _ in range(3)]
        assert all(len(m) == 20 for m in mid)
        for m in mid:
            await q.put(m)
        got = await _drain(device, 2)
        assert [p.split(m) for m in got] == [mid[:2], mid[2:]]
        assert q.sent_messages == 7
    finally:
        sender.cancel()
        await server.close()
        await device.close()


# -- sessions -------------------------------------------------------------------------------

async def _closed_with(t: MemoryTransport) -> tuple[list[p.Frame], Disconnected]:
    got: list[p.Frame] = []
    with pytest.raises(Disconnected) as e:
        async with asyncio.timeout(5):
            while True:
                got.extend(p.unpack(p.decode(await t.recv())))
    return got, e.value


@pytest.mark.asyncio
async def test_a_version_1_device_is_refused_by_name(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        t, _ = await h.transport_for(team.rep1)
        await t.send(p.encode(p.Hello(1, "old-phone", 0)))
        got, closed = await _closed_with(t)
        assert closed.code == p.CloseCode.BAD_VERSION
        assert "version 1 is not supported" in closed.reason
        assert "speaks 2" in closed.reason
        # the ERROR before the close says the same, in a frame a version-1 client decodes
        assert len(got) == 1 and isinstance(got[0], p.Error)
        assert got[0].code == p.ErrorCode.BAD_VERSION
        assert got[0].extra == {"version": 1, "supported": [2]}
        assert "版本 2" in got[0].message_zh


@pytest.mark.asyncio
async def test_a_first_download_comes_in_bounded_batches(engine: Any) -> None:
    """450 docs reach a new device in a handful of messages (not 450+), none over the
    bound, in order: PROGRESS, the docs, CAUGHT_UP; the device holds every doc."""
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        writer = SyncClient("w")
        docs = [new_id("customer") for _ in range(450)]
        async with h.online(writer, team.rep1):
            for i, d in enumerate(docs):
                writer.set_fields(d, {"name": f"客户 {i}", "note": "长" * 200})
            await writer.wait_flushed()
        limits = SessionLimits(batch_frames=100, batch_bytes=64 * 1024)
        t, session = await h.transport_for(team.rep1, limits)
        await t.send(p.encode(p.Hello(p.PROTOCOL_VERSION, "new-phone", 0)))
        messages: list[bytes] = []
        frames_in: list[p.Frame] = []
        async with asyncio.timeout(30):
            while not frames_in or not isinstance(frames_in[-1], p.CaughtUp):
                messages.append(await t.recv())
                frames_in.extend(p.unpack(p.decode(messages[-1])))
        assert isinstance(frames_in[0], p.Welcome) and frames_in[0].version == 2
        synced = [f.doc for f in frames_in if isinstance(f, p.Sync)]
        assert sorted(synced) == sorted(docs)
        parts = [x for m in messages for x in p.split(m)]
        assert sum(x[0] == p.FrameType.SYNC_UUID for x in parts) == len(docs)
        batches = [m for m in messages if m[0] == p.FrameType.BATCH]
        assert len(messages) < 30, len(messages)
        assert all(len(p.split(m)) <= 100 for m in batches)
        assert all(sum(len(x) for x in p.split(m)) <= 64 * 1024 for m in batches)
        kinds = [type(f).__name__ for f in frames_in]
        assert kinds[1] == "Progress" and kinds[-2] == "Progress" and kinds[-1] == "CaughtUp"
        assert session.stats_sent == sum(len(m) for m in messages[1:])  # WELCOME goes direct
        await t.close()
        # and the Python client reads them as it read single frames
        late = SyncClient("late")
        async with h.online(late, team.rep1):
            assert all(late.read(d)["name"] == f"客户 {i}" for i, d in enumerate(docs))
