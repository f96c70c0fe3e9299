"""Photos in the field app: EXIF read before compression, resumable (tus) uploads, eviction.

`pwa/src/exif.ts` and the attachment entry run in Node against EXIF written here (both byte
orders) and by Pillow; the rest drives the built PWA in headless Chromium against a real
server, as tests/browser/test_pwa.py does.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import struct
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sync.client import SyncClient

from .conftest import PASSWORD, LiveServer, run_async
from .node import run_ts

pytestmark = pytest.mark.browser

CHUNK = 256 * 1024  # DEFAULT_QUEUE_OPTIONS.chunkBytes

# -- EXIF written by hand: a TIFF block in either byte order ------------------------------

ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 2, 3, 4, 5, 10


def _raw(typ: int, value: Any, e: str) -> tuple[bytes, int]:
    if typ == ASCII:
        b = value.encode() + b"\0"
        return b, len(b)
    if typ in (RATIONAL, SRATIONAL):
        code = "II" if typ == RATIONAL else "ii"
        return b"".join(struct.pack(e + code, n, d) for n, d in value), len(value)
    code = {SHORT: "H", LONG: "I"}[typ]
    return b"".join(struct.pack(e + code, v) for v in value), len(value)


def _ifd(entries: dict[int, tuple[int, Any]], start: int, e: str) -> bytes:
    """An IFD placed at `start`, its out-of-line values right after it."""
    head = struct.pack(e + "H", len(entries))
    data = b""
    data_at = start + 2 + 12 * len(entries) + 4
    for tag in sorted(entries):
        typ, value = entries[tag]
        raw, count = _raw(typ, value, e)
        if len(raw) <= 4:
            field = raw.ljust(4, b"\0")
        else:
            field = struct.pack(e + "I", data_at + len(data))
            data += raw + b"\0" * (len(raw) % 2)
        head += struct.pack(e + "HHI", tag, typ, count) + field
    return head + struct.pack(e + "I", 0) + data


def tiff(order: str, exif: dict[int, tuple[int, Any]], gps: dict[int, tuple[int, Any]]) -> bytes:
    e = "<" if order == "II" else ">"
    exif_at = 8 + 2 + 2 * 12 + 4
    exif_b = _ifd(exif, exif_at, e)
    gps_at = exif_at + len(exif_b)
    ifd0 = _ifd({0x8769: (LONG, [exif_at]), 0x8825: (LONG, [gps_at])}, 8, e)
    return order.encode() + struct.pack(e + "HI", 42, 8) + ifd0 + exif_b + _ifd(gps, gps_at, e)


def jpeg_with(app1: bytes, *, xmp_first: bool = False) -> bytes:
    """SOI, JFIF APP0, (an XMP APP1), the EXIF APP1, then the start of the image data."""
    jfif = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"
    xmp_seg = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    exif_seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 8) + b"Exif\0\0" + app1
    return (
        b"\xff\xd8"
        + jfif
        + (xmp_seg if xmp_first else b"")
        + exif_seg
        + b"\xff\xda\0\x08\x01\x01\0\0\x3f\0"
    )


def dms(value: float) -> list[tuple[int, int]]:
    """Degrees as EXIF writes them: d/1, m/1, s*1000/1000."""
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 1000)
    return [(d, 1), (m, 1), (s, 1000)]


def gps_ifd(lat: float, lon: float, **extra: tuple[int, Any]) -> dict[int, tuple[int, Any]]:
    out: dict[int, tuple[int, Any]] = {
        1: (ASCII, "N" if lat >= 0 else "S"),
        2: (RATIONAL, dms(abs(lat))),
        3: (ASCII, "E" if lon >= 0 else "W"),
        4: (RATIONAL, dms(abs(lon))),
    }
    for k, v in extra.items():
        out[int(k.removeprefix("t"))] = v
    return out


SHANGHAI = {0x9003: (ASCII, "2025:11:23 14:05:09"), 0x9011: (ASCII, "+08:00")}
T_SHANGHAI = int(datetime(2025, 11, 23, 6, 5, 9, tzinfo=UTC).timestamp() * 1000)

NODE_SCRIPT = """
import { readExif } from "./src/exif.ts";
import { attachmentEntry } from "./src/photos.ts";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bytes = (b64) => new Uint8Array(Buffer.from(b64, "base64"));
const out = { cases: {}, fuzz: null, entries: {} };
for (const [name, b64] of Object.entries(input.cases)) out.cases[name] = readExif(bytes(b64));
// Damaged EXIF: flip bytes of a good file; readExif must return, with only plausible values.
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const good = bytes(input.cases.le_north_east);
let bad = 0, found = 0;
for (let i = 0; i < 3000; i++) {
  const b = good.slice(0, 1 + Math.floor(rand() * good.length));
  const flips = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
  let r;
  try { r = readExif(b); } catch (e) { bad++; continue; }
  const keys = Object.keys(r);
  if (keys.some((k) => !["capturedAt", "lat", "lon", "accuracy"].includes(k))) bad++;
  if (r.lat !== undefined && !(Math.abs(r.lat) <= 90 && Math.abs(r.lon) <= 180)) bad++;
  if ((r.lat === undefined) !== (r.lon === undefined)) bad++;
  const t = r.capturedAt;
  if (t !== undefined && !(t >= 946684800000 && t < 4102444800000)) bad++;
  if (r.lat !== undefined) found++;
}
out.fuzz = { bad, found };
const photo = (exif) => ({ blob: { size: 1234 }, width: 640, height: 480,
                           sha256: "ab".repeat(32), exif });
const visit = { gps_lat: 31.2304, gps_lon: 121.4737, gps_accuracy: 12 };
out.entries.exif = attachmentEntry(photo({ lat: -33.8568, lon: -151.2153, accuracy: 7,
                                           capturedAt: 1764000000000 }),
                                   { category: "site_photo", fileTime: 5, visitFix: visit });
out.entries.noAccuracy = attachmentEntry(photo({ lat: 30.1, lon: 120.2 }),
                                         { fileTime: 5, visitFix: visit });
out.entries.visit = attachmentEntry(photo({}), { fileTime: 1763000000000, visitFix: visit });
out.entries.none = attachmentEntry(photo({}), { fileTime: 1763000000000 });
console.log(JSON.stringify(out));
"""


def _pillow_jpeg(lat: float, lon: float, accuracy: float | None, *, size: tuple[int, int]) -> bytes:
    """A JPEG whose EXIF Pillow writes (big-endian), with a GPS fix and a capture time."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Waiqin test"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = tuple(n / d for n, d in dms(abs(lat)))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = tuple(n / d for n, d in dms(abs(lon)))
    if accuracy is not None:
        gps[ExifTags.GPS.GPSHPositioningError] = accuracy
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2025:11:23 14:05:09"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    img = Image.new("RGB", size)
    img.putdata(
        [
            (x * 255 // size[0], y * 255 // size[1], 90)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def test_exif_reader_and_attachment_entry_in_node(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    lat, lon = 30.274085, 120.15507
    cases = {
        "le_north_east": jpeg_with(
            tiff("II", SHANGHAI, gps_ifd(lat, lon, t31=(RATIONAL, [(8, 1)])))
        ),
        "be_south_west": jpeg_with(
            tiff(
                "MM",
                {
                    0x9003: (ASCII, "2026:01:02 03:04:05"),
                    0x9291: (ASCII, "25"),
                    0x9011: (ASCII, "-03:00"),
                },
                gps_ifd(-33.8568, -70.6483),
            )
        ),
        "xmp_first": jpeg_with(tiff("MM", SHANGHAI, gps_ifd(lat, lon)), xmp_first=True),
        "no_offset": jpeg_with(tiff("II", {0x9003: (ASCII, "2025:11:23 14:05:09")}, {})),
        "no_ref": jpeg_with(tiff("II", {}, {2: (RATIONAL, dms(lat)), 4: (RATIONAL, dms(lon))})),
        "zero_denominator": jpeg_with(
            tiff("II", {}, {**gps_ifd(lat, lon), 2: (RATIONAL, [(30, 0), (16, 1), (0, 1)])})
        ),
        "void": jpeg_with(tiff("II", {}, gps_ifd(lat, lon, t9=(ASCII, "V")))),
        "null_island": jpeg_with(tiff("II", {}, gps_ifd(0.0, 0.0))),
        "blank_time": jpeg_with(tiff("II", {0x9003: (ASCII, "    :  :     :  :  ")}, {})),
        "feb_30": jpeg_with(tiff("II", {0x9003: (ASCII, "2025:02:30 10:00:00")}, {})),
        "out_of_range": jpeg_with(tiff("II", {}, gps_ifd(95.0, 200.0))),
        "truncated": jpeg_with(tiff("II", SHANGHAI, gps_ifd(lat, lon)))[:60],
        "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "empty": b"",
        "pillow": _pillow_jpeg(lat, lon, 8.0, size=(32, 24)),
    }
    payload = {"cases": {k: base64.b64encode(v).decode() for k, v in cases.items()}}
    out = run_ts(
        tmp_path, NODE_SCRIPT, payload, env={"TZ": "Asia/Shanghai", "PATH": "/usr/bin:/bin"}
    )
    got = out["cases"]

    assert got["le_north_east"] == {"capturedAt": T_SHANGHAI, "lat": lat, "lon": lon, "accuracy": 8}
    chile = got["be_south_west"]
    assert (chile["lat"], chile["lon"]) == (-33.8568, -70.6483)
    assert "accuracy" not in chile
    assert chile["capturedAt"] == int(
        datetime(2026, 1, 2, 6, 4, 5, 250000, tzinfo=UTC).timestamp() * 1000
    )
    assert got["xmp_first"] == {"capturedAt": T_SHANGHAI, "lat": lat, "lon": lon}
    # No zone written: the device's own (TZ=Asia/Shanghai here).
    assert got["no_offset"] == {"capturedAt": T_SHANGHAI}
    assert got["pillow"] == {"capturedAt": T_SHANGHAI, "lat": lat, "lon": lon, "accuracy": 8}
    for name in (
        "no_ref",
        "zero_denominator",
        "void",
        "null_island",
        "blank_time",
        "feb_30",
        "out_of_range",
        "truncated",
        "png",
        "empty",
    ):
        assert got[name] == {}, name
    assert out["fuzz"]["bad"] == 0
    assert out["fuzz"]["found"] > 0, "some damaged files still carry their fix"

    entries = out["entries"]
    assert entries["exif"] == {
        "sha256": "ab" * 32,
        "media_type": "image/jpeg",
        "size": 1234,
        "width": 640,
        "height": 480,
        "captured_at": 1764000000000,
        "category": "site_photo",
        "gps_lat": -33.8568,
        "gps_lon": -151.2153,
        "gps_accuracy": 7,
    }
    # A fix without its accuracy gets the stated default: the schema wants all three.
    assert (entries["noAccuracy"]["gps_lat"], entries["noAccuracy"]["gps_accuracy"]) == (30.1, 50)
    assert entries["visit"]["gps_lat"] == 31.2304 and entries["visit"]["gps_accuracy"] == 12
    assert entries["visit"]["captured_at"] == 1763000000000
    assert "gps_lat" not in entries["none"]


# -- the app in Chromium ---------------------------------------------------------------------


def login(page: Any, server: LiveServer, user: str = "rep1") -> None:
    page.goto(server.url + "/app/")
    page.fill("#login", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector(".syncbar .state[data-state='live']")


def create_customer(page: Any) -> str:
    page.click("#nav-customers")
    page.click("#new-customer")
    page.fill("#f-name", f"杭州西湖测绘仪器有限公司 {uuid.uuid4().hex[:6]}")
    page.select_option("#f-category", "direct")
    page.select_option("#f-tier", "core")
    page.click("#more-fields > summary")  # the essentials come first, the rest folded
    page.select_option("#f-status", "potential")
    page.fill("#f-phone", "0571-87654321")
    page.fill("#f-address", "杭州市西湖区文三路 90 号")
    page.fill("#f-postcode", "310012")
    page.fill("#f-profile", "测绘仪器经销")
    page.fill("[id='f-contacts.0.name']", "王芳")
    page.fill("[id='f-contacts.0.title']", "经理")
    page.fill("[id='f-contacts.0.mobile']", "13912345678")
    page.click("#save")
    page.wait_for_selector("h1.customer-name")
    return str(page.get_attribute(".page[data-doc]", "data-doc"))


def fill_visit(page: Any) -> None:
    page.click("#card-new-visit")
    page.select_option("#f-visit_type", "visit_out")
    page.fill("#f-met_name", "王芳")
    page.fill("#f-met_title", "经理")
    page.fill("#f-purpose", "现场查看设备")
    page.fill("#f-result", "设备运行正常")
    page.fill("#f-next_step", "下月回访")


def save_visit(page: Any) -> str:
    page.click("#save")
    page.wait_for_selector("#timeline li[data-kind='visit']")
    return str(page.get_attribute("#timeline li[data-kind='visit']", "data-doc"))


def pick(page: Any, path: Path) -> str:
    """Pick a photo in the open form; returns the hash of its compressed bytes."""
    before = page.eval_on_selector_all(".thumb[data-sha]", "els => els.map(e => e.dataset.sha)")
    page.set_input_files("#photo-input", str(path))
    page.wait_for_function(
        "(n) => document.querySelectorAll('.thumb[data-sha]').length > n", arg=len(before)
    )
    after = page.eval_on_selector_all(".thumb[data-sha]", "els => els.map(e => e.dataset.sha)")
    (sha,) = [s for s in after if s not in before]
    return str(sha)


def wait_synced(page: Any) -> None:
    page.wait_for_function("() => window.waiqin.briefcase.outbox.length === 0")


def wait_uploaded(page: Any, sha: str, *, hurry: bool = False) -> None:
    """Until the photo is on the server; `hurry` taps "sync now" while it waits to retry."""
    page.wait_for_function(
        """([s, hurry]) => {
             const q = window.waiqin.photos, p = q.photos.get(s);
             if (hurry && p && p.state !== 'uploaded' && p.state !== 'uploading') q.kick();
             return p?.state === 'uploaded';
           }""",
        arg=[sha, hurry],
        polling=500,
        timeout=30_000,
    )


def server_record(server: LiveServer, doc: str) -> dict[str, Any]:
    """The record as the server holds it, read by a fresh Python device as the manager."""
    token = server.login("manager")

    async def read() -> dict[str, Any]:
        client = SyncClient(f"pytest-{uuid.uuid4().hex[:8]}")
        async with client.connect(server.url.replace("http://", "ws://") + "/sync", token):
            await client.wait_caught_up()
            await client.wait_for(lambda: doc in client.docs, timeout=20)
            return dict(client.read(doc))

    return run_async(read())


def stored_photo(page: Any, sha: str) -> dict[str, Any]:
    """What IndexedDB holds for a photo: whether the full bytes and a thumbnail are there."""
    return dict(
        page.evaluate(
            """async (s) => {
                 const p = await window.waiqin.store.get('photos', s);
                 return {blob: !!p.blob, thumb: !!p.thumb, state: p.state,
                         confirmed: p.confirmedAt !== undefined};
               }""",
            sha,
        )
    )


def noise_jpeg(path: Path, w: int, h: int, seed: int) -> Path:
    """Random pixels: compresses badly, so the photo stays several chunks long."""
    from PIL import Image

    Image.frombytes("RGB", (w, h), random.Random(seed).randbytes(w * h * 3)).save(
        path, "JPEG", quality=92
    )
    return path


def gradient_png(path: Path, w: int, h: int, shade: int) -> Path:
    from PIL import Image

    img = Image.new("RGB", (w, h))
    img.putdata([(x * 255 // w, y * 255 // h, shade) for y in range(h) for x in range(w)])
    img.save(path, "PNG")
    return path


def test_an_interrupted_upload_resumes_from_the_servers_offset(
    context: Any, live_server: LiveServer, tmp_path: Path, screenshot: Any
) -> None:
    pytest.importorskip("PIL")
    patches: list[dict[str, Any]] = []
    posts: list[str] = []
    heads: list[str] = []
    aborted: list[int] = []

    def uploads(route: Any) -> None:
        req = route.request
        if req.method == "POST":
            posts.append(req.url)
        elif req.method == "HEAD":
            heads.append(req.url)
        elif req.method == "PATCH":
            offset = int(req.headers["upload-offset"])
            if offset > 0 and not aborted:
                aborted.append(offset)  # the connection drops after the first chunk
                route.abort("connectionreset")
                return
            resp = route.fetch()
            patches.append(
                {
                    "offset": offset,
                    "status": resp.status,
                    "server_offset": int(resp.headers.get("upload-offset", -1)),
                }
            )
            route.fulfill(response=resp)
            return
        route.continue_()

    page = context.new_page()
    page.route("**/api/uploads**", uploads)
    login(page, live_server)
    create_customer(page)
    fill_visit(page)
    sha = pick(page, noise_jpeg(tmp_path / "wall.jpg", 1600, 1200, seed=7))
    size = int(page.evaluate("(s) => window.waiqin.photos.photos.get(s).size", sha))
    assert size > 3 * CHUNK, "the photo spans several chunks"
    visit = save_visit(page)

    # The failed PATCH shows on the photo, then the retry (backoff) finishes it.
    page.click("#nav-sync")
    row = f".photo-states li[data-sha='{sha}']"
    wait_uploaded(page, sha)
    assert page.get_attribute(row, "data-state") == "uploaded"
    screenshot(page, "20-photo-resumed")

    assert aborted == [CHUNK]
    assert len(posts) == 1, "one upload, resumed, not a second one"
    assert heads, "the retry asked the server for its offset"
    offsets = [p["offset"] for p in patches]
    assert offsets == list(range(0, size, CHUNK)), offsets
    assert offsets.count(0) == 1, "the second attempt did not restart from 0"
    # What the server acknowledged adds up to the photo exactly once.
    acked = [p["server_offset"] - p["offset"] for p in patches]
    assert all(p["status"] == 204 for p in patches) and sum(acked) == size

    status, body = live_server.get(f"/api/blobs/{sha}", live_server.login("rep1"))
    assert status == 200 and len(body) == size
    assert hashlib.sha256(body).hexdigest() == sha
    wait_synced(page)
    assert server_record(live_server, visit)["attachments"][0]["sha256"] == sha


def test_a_photos_own_gps_and_time_from_exif_go_into_the_attachment(
    context: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    pytest.importorskip("PIL")
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": 31.2304, "longitude": 121.4737, "accuracy": 12})
    page = context.new_page()
    login(page, live_server)
    create_customer(page)
    fill_visit(page)
    page.click("#gps button")
    page.wait_for_selector("#gps-fix")

    lat, lon = 30.274085, 120.15507  # 西湖, not where the rep checked in
    tagged = tmp_path / "tagged.jpg"
    tagged.write_bytes(_pillow_jpeg(lat, lon, 9.0, size=(800, 600)))
    # EXIF that points outside its segment must not stop the photo.
    damaged = tmp_path / "damaged.jpg"
    raw = bytearray(_pillow_jpeg(lat, lon, 9.0, size=(400, 300)))
    tiff_at = raw.index(b"Exif\0\0") + 6
    raw[tiff_at + 4 : tiff_at + 8] = b"\x7f\xff\xff\xf0"  # IFD0 offset far past the end
    damaged.write_bytes(bytes(raw))
    plain = gradient_png(tmp_path / "plain.png", 320, 240, 40)

    sha_tagged = pick(page, tagged)
    sha_damaged = pick(page, damaged)
    sha_plain = pick(page, plain)
    assert page.query_selector(f".thumb[data-sha='{sha_tagged}'] .exif-fix") is not None
    visit = save_visit(page)
    wait_synced(page)
    assert not page.evaluate("window.waiqin.briefcase.refused().length")

    record = server_record(live_server, visit)
    by_sha = {a["sha256"]: a for a in record["attachments"]}
    tagged_entry = by_sha[sha_tagged]
    assert (tagged_entry["gps_lat"], tagged_entry["gps_lon"]) == (lat, lon)
    assert tagged_entry["gps_accuracy"] == 9
    assert tagged_entry["captured_at"] == T_SHANGHAI
    assert (tagged_entry["width"], tagged_entry["height"]) == (800, 600)
    # No usable EXIF: the visit's check-in fix, as before.
    for sha in (sha_damaged, sha_plain):
        entry = by_sha[sha]
        assert (entry["gps_lat"], entry["gps_lon"], entry["gps_accuracy"]) == (
            31.2304,
            121.4737,
            12,
        )
        assert entry["captured_at"] != T_SHANGHAI
    assert (record["gps_lat"], record["gps_lon"]) == (31.2304, 121.4737)


def test_eviction_keeps_unconfirmed_photos_and_evicted_ones_stay_viewable(
    context: Any, live_server: LiveServer, tmp_path: Path, screenshot: Any
) -> None:
    pytest.importorskip("PIL")
    allowed: set[str] = set()

    def blob_sha(req: Any) -> str:
        if "/api/uploads" in req.url:
            meta = dict(p.split(" ") for p in req.headers.get("upload-metadata", "").split(","))
            return base64.b64decode(meta.get("sha256", "")).decode()
        return str(req.url.rsplit("/", 1)[-1])

    def gate(route: Any) -> None:
        req = route.request
        if req.method in ("PUT", "POST") and blob_sha(req) not in allowed:
            route.fulfill(
                status=503,
                content_type="application/json",
                body='{"error": {"code": "unavailable", "message": "held back by the test"}}',
            )
        else:
            route.continue_()

    page = context.new_page()
    page.route("**/api/blobs/*", gate)
    page.route("**/api/uploads", gate)
    login(page, live_server)
    create_customer(page)
    fill_visit(page)
    first = pick(page, gradient_png(tmp_path / "a.png", 640, 480, 10))
    held = pick(page, gradient_png(tmp_path / "b.png", 640, 480, 120))
    third = pick(page, noise_jpeg(tmp_path / "c.jpg", 900, 700, seed=3))
    visit = save_visit(page)
    wait_synced(page)

    allowed.update({first, third})
    wait_uploaded(page, first, hurry=True)
    wait_uploaded(page, third, hurry=True)
    assert page.evaluate("(s) => window.waiqin.photos.photos.get(s).state", held) != "uploaded"

    evict = "(now) => window.waiqin.photos.evict(now ?? undefined)"
    # Fresh and well under the budget: nothing goes.
    assert page.evaluate(evict, None) == []
    # Over the budget by one byte: the photo confirmed first goes, and that is enough.
    page.evaluate(
        """() => { const q = window.waiqin.photos;
                   const held = [...q.photos.values()].filter((p) => p.blob);
                   q.opts.budgetBytes = held.reduce((n, p) => n + p.size, 0) - 1; }"""
    )
    confirmed = page.evaluate(
        "(s) => s.map((x) => window.waiqin.photos.photos.get(x).confirmedAt)", [first, third]
    )
    older, newer = (first, third) if confirmed[0] <= confirmed[1] else (third, first)
    assert page.evaluate(evict, None) == [older]
    page.evaluate(f"window.waiqin.photos.opts.budgetBytes = {200 * 1024 * 1024}")
    # Eight days on, the other confirmed one has been kept long enough; the held one never goes.
    eight_days = int(time.time() * 1000) + 8 * 24 * 3600 * 1000
    assert page.evaluate(evict, eight_days) == [newer]
    assert page.evaluate(evict, eight_days + 365 * 24 * 3600 * 1000) == []

    assert stored_photo(page, first) == {
        "blob": False,
        "thumb": True,
        "state": "uploaded",
        "confirmed": True,
    }
    assert stored_photo(page, third)["blob"] is False
    kept = stored_photo(page, held)
    assert kept["blob"] is True and kept["confirmed"] is False

    # Online, an evicted photo opens from the server at full size.
    page.goto(live_server.url + f"/app/#/edit/{visit}")
    page.wait_for_selector(f".thumb[data-sha='{first}'][data-evicted='1'] img")
    with page.expect_response(lambda r: r.url.endswith(f"/api/blobs/{first}")) as resp:
        page.click(f".thumb[data-sha='{first}'] button.view")
    assert resp.value.status == 200
    page.wait_for_selector("#photo-viewer[data-full='1'] #photo-full")
    assert page.evaluate("document.querySelector('#photo-full').naturalWidth") == 640
    screenshot(page, "21-evicted-photo-online")
    page.click("#photo-close")

    # Offline: its thumbnail and the note; a photo still on the device opens in full.
    context.set_offline(True)
    page.wait_for_selector(".syncbar .state[data-state='offline']")
    page.click(f".thumb[data-sha='{third}'] button.view")
    page.wait_for_selector("#photo-viewer #photo-thumb")
    assert "在线时可查看原图" in page.inner_text("#photo-note")
    assert page.evaluate("document.querySelector('#photo-thumb').naturalWidth") <= 256
    screenshot(page, "22-evicted-photo-offline")
    page.click("#photo-close")
    page.click(f".thumb[data-sha='{held}'] button.view")
    page.wait_for_selector("#photo-viewer[data-full='1'] #photo-full")
    assert page.query_selector("#photo-note") is None
    context.set_offline(False)

    status, body = live_server.get(f"/api/blobs/{third}", live_server.login("rep1"))
    assert status == 200 and hashlib.sha256(body).hexdigest() == third
