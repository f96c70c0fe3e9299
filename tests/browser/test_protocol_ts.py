"""pwa/src/protocol.ts against sync/protocol.py: the same bytes both ways, run in Node.

Bundles the TypeScript module with esbuild from pwa/node_modules (skips when they are not
installed) and feeds it every frame type the server sends; what it encodes, Python decodes.
"""

from __future__ import annotations

import base64
from pathlib import Path

from sync import protocol as p

from .node import run_ts

SERVER_FRAMES: list[p.Frame] = [
    p.Welcome(1, "u-1", 12345, 1 << 20),
    p.Sync(
        "customer:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f",
        300,
        p.SyncMessageType.STEP2,
        bytes(range(256)),
    ),
    p.Sync("visit:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f", 2**40, p.SyncMessageType.UPDATE, b""),
    p.Ack(2**33 + 7),
    p.Error(
        "customer:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f",
        9,
        "invalid",
        "profile too long",
        "profile",
        "max_length",
        "单位概况最多 50 个字",
        {"problems": [{"field": "x"}]},
    ),
    p.Progress(150, 5000),
    p.CaughtUp(987654321),
    p.ScopeEnter("deal:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f"),
    p.ScopeLeave(
        "customer:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f",
        "merged",
        "customer:11111111-2222-4333-8444-555555555555",
    ),
    p.ScopeLeave("*", "reset"),
    p.Bye("服务器关闭"),
    p.Cursor(42),
    p.Batch((
        p.Progress(0, 2),
        p.Sync("customer:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f", 5, p.SyncMessageType.STEP2,
               b"\x01\x02\x03"),
        p.Sync("visit:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f", 6, p.SyncMessageType.STEP2, b"\x04"),
        p.CaughtUp(6),
    )),
]

SCRIPT = """
import { decode, decodeAll, encode, PROTOCOL_VERSION } from "./src/protocol.ts";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const b64 = (u) => Buffer.from(u).toString("base64");
const out = { decoded: [], encoded: [], errors: [] };
const plain = (frame) => {
  if (frame.type === "sync") {
    // a payload inside a batch is its own buffer (IndexedDB stores a view's whole buffer)
    const u = frame.payload;
    frame.own = u.byteOffset === 0 && u.buffer.byteLength === u.length;
    frame.payload = b64(frame.payload);
  }
  if (frame.type === "batch") frame.frames = frame.frames.map(plain);
  return frame;
};
for (const f of input.frames) {
  out.decoded.push(plain(decode(new Uint8Array(Buffer.from(f, "base64")))));
}
out.all = input.frames.map(
  (f) => decodeAll(new Uint8Array(Buffer.from(f, "base64"))).map((x) => x.type));
out.version = PROTOCOL_VERSION;
out.encoded.push(b64(encode({ type: "hello", version: 2, device: "pwa-ü", cursor: 2 ** 40 })));
out.encoded.push(b64(encode({ type: "hello", version: 2, device: "d", cursor: 0,
                                time: 1764000000123 })));
out.encoded.push(b64(encode({ type: "sync", doc: "visit:x", n: 7, kind: 2,
                              payload: new Uint8Array([0, 1, 255]) })));
out.encoded.push(b64(encode({ type: "bye", reason: "再见" })));
for (const bad of input.bad) {
  try { decode(new Uint8Array(Buffer.from(bad, "base64"))); out.errors.push(null); }
  catch (e) { out.errors.push(e.constructor.name + ": " + e.message); }
}
console.log(JSON.stringify(out));
"""


SYNC_UUID = p.Sync("trip_plan:0b7e4f9c-6a44-4f3e-9d7c-1a2b3c4d5e6f", 77,
                   p.SyncMessageType.STEP2, b"\x09\x08")


def test_typescript_protocol_matches_python(tmp_path: Path) -> None:
    frames = [base64.b64encode(p.encode(f)).decode() for f in SERVER_FRAMES]
    frames.append(base64.b64encode(p.pack([p.encode_sync(SYNC_UUID)])).decode())
    bad = [
        base64.b64encode(b).decode()
        for b in (
            b"",
            b"\x63",
            p.encode(p.Ack(1)) + b"\x00",
            bytes([p.FrameType.ERROR]) + b"\x00\x00\x01x",
            p.pack([p.encode(p.Ack(1)), b"\x63"]),
            p.pack([p.encode(p.Hello(2, "d", 0))]),
            p.pack([p.pack([])]),
            bytes([p.FrameType.BATCH, 100, 0]),
            bytes([p.FrameType.SYNC_UUID, 1, 65]) + bytes(15),
        )
    ]
    out = run_ts(tmp_path, SCRIPT, {"frames": frames, "bad": bad})

    got = out["decoded"]
    assert out["version"] == p.PROTOCOL_VERSION == 2
    assert got[0] == {
        "type": "welcome",
        "version": 1,
        "user": "u-1",
        "head": 12345,
        "maxFrame": 1 << 20,
    }
    assert base64.b64decode(got[1]["payload"]) == bytes(range(256)) and got[1]["n"] == 300
    assert got[2]["n"] == 2**40 and got[2]["kind"] == 2
    assert got[3] == {"type": "ack", "clock": 2**33 + 7}
    assert got[4]["detail"]["message_zh"] == "单位概况最多 50 个字"
    assert got[4]["detail"]["problems"] == [{"field": "x"}]
    assert got[8]["redirect"] == "customer:11111111-2222-4333-8444-555555555555"
    assert got[9] == {"type": "scope_leave", "doc": "*", "reason": "reset", "redirect": ""}
    assert got[10] == {"type": "bye", "reason": "服务器关闭"}
    assert got[11] == {"type": "cursor", "cursor": 42}
    assert [g["type"] for g in got[5:8]] == ["progress", "caught_up", "scope_enter"]
    batch = got[12]
    assert batch["type"] == "batch"
    assert [f["type"] for f in batch["frames"]] == ["progress", "sync", "sync", "caught_up"]
    assert base64.b64decode(batch["frames"][1]["payload"]) == b"\x01\x02\x03"
    assert batch["frames"][1]["n"] == 5 and batch["frames"][2]["doc"].startswith("visit:")
    assert batch["frames"][1]["own"] and batch["frames"][2]["own"]
    assert out["all"][12] == ["progress", "sync", "sync", "caught_up"]
    assert out["all"][11] == ["cursor"]
    short = got[13]["frames"][0]
    assert short["doc"] == SYNC_UUID.doc and short["n"] == 77 and short["kind"] == 1
    assert base64.b64decode(short["payload"]) == b"\x09\x08" and short["own"]

    hello, timed, sync, bye = (base64.b64decode(e) for e in out["encoded"])
    assert p.decode(hello) == p.Hello(2, "pwa-ü", 2**40)
    if "time" in p.Hello.__dataclass_fields__:  # the device clock in HELLO (issue 5)
        assert p.decode(timed) == p.Hello(2, "d", 0, 1764000000123)
    assert p.decode(sync) == p.Sync("visit:x", 7, p.SyncMessageType.UPDATE, b"\x00\x01\xff")
    assert p.decode(bye) == p.Bye("再见")
    errors = out["errors"]
    assert [e.split(":")[0] for e in errors] == ["ProtocolError"] * 9
    assert "frame 1 of a batch: unknown frame type 99" in errors[4]
    assert "may not carry a HELLO" in errors[5] and "may not carry a BATCH" in errors[6]
    assert "batch of 100 frames" in errors[7]
    assert "inside a uuid" in errors[8]
