"""Similar customers, found through indexes instead of a scan: the live customers' directory
(exact maps of name key, credit code, phone, address; an n-gram name index) and the
background finder that records likely duplicates for the back office through it.

Finding the names like one name costs what its blocks hold, not the number of customers;
the rules (numbers, caps, ties, dropped blocks) are in docs/duplicates.md "Similar names".
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from rapidfuzz.fuzz import ratio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema import tables as st
from schema.names import SIMILAR_THRESHOLD, normalize_name, normalize_phone
from sync import tables as t
from sync.log import now_ms, upsert

from . import tables as tt

log = logging.getLogger(__name__)

__all__ = [
    "CAP",
    "EXAMINED",
    "MAX_BLOCK",
    "PROBE_BUDGET",
    "CandidateFinder",
    "Directory",
    "Entry",
    "Match",
    "NameIndex",
    "NameShape",
    "best",
    "shape",
]

CAP = 5
"""Candidates recorded per examined customer: more than a reviewer can weigh for one card."""
MAX_BLOCK = 1000
"""A gram (or phone, or address) shared by more customers tells them apart from nothing."""
PROBE_BUDGET = 4000
"""Posting entries read to answer one name, rarest grams first."""
SHORTLIST = 64
"""Customers sharing the most grams with a name that are scored with rapidfuzz."""

_PLACEHOLDER = "#"
_NUMBER_TOKEN = "\x00"  # prefix of a number's token: no bigram of a name starts with it
# A number is a run of digits, or of Chinese numerals after 第 (第一分公司, 第十二中学).
# Numerals elsewhere are parts of words: 万科, 百度, 三一重工, 统一.
_NUMBER = re.compile(r"[0-9]+|(?<=第)[〇零一二三四五六七八九十百千两]+")
_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_UNIT = {"十": 10, "百": 100, "千": 1000}


def _number_value(run: str) -> str:
    """A number's value as decimal digits: "007" -> "7", "十二" -> "12", "一百零三" -> "103"."""
    if run.isdigit() and run.isascii():
        return run.lstrip("0") or "0"
    if not any(c in _UNIT for c in run):  # "一二" read digit by digit
        return str(int("".join(str(_DIGIT[c]) for c in run)))
    total, digit = 0, 0
    for c in run:
        if c in _UNIT:
            total += (digit or 1) * _UNIT[c]
            digit = 0
        else:
            digit = _DIGIT[c]
    return str(total + digit)


@dataclass(frozen=True, slots=True)
class NameShape:
    """A canonical name seen as words and numbers: "…第12分公司" is "…第#分公司" and (12,)."""

    key: str
    skeleton: str
    numbers: tuple[str, ...]

    def numbered_apart(self, other: NameShape) -> bool:
        """Both names carry numbers, and not the same ones: two branches, shops, schools
        (第1分公司 and 第2分公司 stay apart even with a typo elsewhere; 第1 and 第一 agree)."""
        return bool(self.numbers) and bool(other.numbers) and self.numbers != other.numbers

    def grams(self) -> set[str]:
        sk = self.skeleton
        out = {sk[i : i + 2] for i in range(len(sk) - 1)} if len(sk) > 1 else {sk}
        out.update(_NUMBER_TOKEN + n for n in self.numbers)
        return out


def shape(key: str) -> NameShape:
    """The shape of a canonical name (`schema.names.canonical_name`)."""
    numbers = tuple(_number_value(m.group()) for m in _NUMBER.finditer(key))
    return NameShape(key, _NUMBER.sub(_PLACEHOLDER, key), numbers)


@dataclass(frozen=True, slots=True)
class Match:
    doc_id: str
    score: float  # rapidfuzz Indel similarity of the canonical names, in [0, 1]


class NameIndex:
    """Canonical names of live customers by character bigram (numbers folded into one
    placeholder, plus one token per number), kept incrementally."""

    def __init__(self) -> None:
        self._shapes: dict[str, NameShape] = {}
        self._postings: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._shapes)

    def add(self, doc_id: str, key: str) -> None:
        """Index (or re-index, after a rename) a customer under its canonical name."""
        old = self._shapes.get(doc_id)
        if old is not None and old.key == key:
            return
        self.remove(doc_id)
        if not key:
            return
        s = shape(key)
        self._shapes[doc_id] = s
        for g in s.grams():
            self._postings.setdefault(g, set()).add(doc_id)

    def remove(self, doc_id: str) -> None:
        s = self._shapes.pop(doc_id, None)
        if s is None:
            return
        for g in s.grams():
            posting = self._postings.get(g)
            if posting is not None:
                posting.discard(doc_id)
                if not posting:
                    del self._postings[g]

    def key_of(self, doc_id: str) -> str:
        s = self._shapes.get(doc_id)
        return s.key if s is not None else ""

    def similar(self, key: str, *, exclude: str = "", limit: int = CAP) -> list[Match]:
        """The customers whose names score at least `SIMILAR_THRESHOLD` against `key`, best
        first (ties by doc id), at most `limit`; names numbered apart are not similar. Reads
        at most `PROBE_BUDGET` posting entries, rarest grams first, and skips grams shared
        by more than `MAX_BLOCK` customers."""
        if not key:
            return []
        q = shape(key)
        blocks = sorted(
            (len(p), g) for g in q.grams()
            if (p := self._postings.get(g)) is not None and len(p) <= MAX_BLOCK
        )
        overlap: Counter[str] = Counter()
        read = 0
        for size, g in blocks:
            if read + size > PROBE_BUDGET:
                break
            overlap.update(self._postings[g])
            read += size
        overlap.pop(exclude, None)
        if len(overlap) > SHORTLIST:
            shortlist = [d for _, d in heapq.nsmallest(
                SHORTLIST, [(-n, d) for d, n in overlap.items()])]
        else:
            shortlist = list(overlap)
        cutoff = SIMILAR_THRESHOLD * 100
        found: list[Match] = []
        for doc_id in shortlist:
            other = self._shapes[doc_id]
            if other.key == key or q.numbered_apart(other):
                continue  # the same key is the exact rule's; numbered siblings are not alike
            score = ratio(key, other.key, score_cutoff=cutoff)
            if score:
                found.append(Match(doc_id, round(score / 100, 3)))
        found.sort(key=lambda m: (-m.score, m.doc_id))
        return found[:limit]


def best(ranked: Iterable[tuple[float, str]], cap: int = CAP) -> list[str]:
    """The doc ids of the `cap` highest ranks (ties by doc id), except that a tie across the
    cut is dropped whole: among equally likely duplicates, any choice would be arbitrary."""
    order = sorted(ranked, key=lambda rd: (-rd[0], rd[1]))
    if len(order) <= cap:
        return [d for _, d in order]
    edge = order[cap][0]
    return [d for r, d in order[:cap] if r != edge]


@dataclass(slots=True)
class Entry:
    doc_id: str
    name: str
    name_key: str
    phone: str  # normalised
    address: str  # normalised
    code: str
    owner: str
    credit_code: str  # upper case


class Directory:
    """Live customers in memory, brought up to date incrementally (by the projection's
    sequence numbers) on every use, with exact maps and the n-gram name index."""

    def __init__(self, engine: AsyncEngine, *, head: Callable[[], int] | None = None) -> None:
        self.engine = engine
        # The log's head, when known: while it has not moved, no projection row has either,
        # and a lookup (a rep typing) costs no query at all.
        self._head = head
        self._seen_head = -1
        self.names = NameIndex()
        self.owner_names: dict[str, str] = {}
        self._by_id: dict[str, Entry] = {}
        self._by_field: dict[str, dict[str, set[str]]] = {
            "name_key": {}, "credit_code": {}, "phone": {}, "address": {},
        }
        self._seq = 0
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, doc_id: str) -> Entry | None:
        return self._by_id.get(doc_id)

    def same(self, field: str, value: str) -> set[str]:
        """Live customers whose `field` (name_key, credit_code, phone, address) is `value`."""
        return self._by_field[field].get(value, set()) if value else set()

    async def refresh(self) -> None:
        """Fold in every projection row changed since the last refresh."""
        async with self._lock:
            if self._head is not None:
                head = self._head()
                if head == self._seen_head:
                    return
                self._seen_head = head
            c = st.rec_customer
            async with self.engine.connect() as conn:
                rows = list(await conn.execute(
                    select(c.c.seq, c.c.doc_id, c.c.name, c.c.name_key, c.c.phone, c.c.address,
                           c.c.code, c.c.owner, c.c.credit_code, c.c.merged_into,
                           c.c.binned_at)
                    .where(c.c.seq > self._seq).order_by(c.c.seq)
                ))
                if rows or not self.owner_names:
                    users = await conn.execute(select(tt.users.c.id, tt.users.c.name))
                    self.owner_names = {u.id: u.name for u in users}
            for i, r in enumerate(rows):
                self._drop(r.doc_id)
                if not r.merged_into and not r.binned_at:  # the recycle bin is not looked up
                    self._put(Entry(
                        r.doc_id, r.name or "", r.name_key or "", _phone(r.phone),
                        _address(r.address), r.code or "", r.owner or "",
                        (r.credit_code or "").upper()))
                if i % 2000 == 1999:
                    await asyncio.sleep(0)  # a first load of many customers yields
            if rows:
                self._seq = rows[-1].seq

    def _put(self, e: Entry) -> None:
        self._by_id[e.doc_id] = e
        for field, index in self._by_field.items():
            value = getattr(e, field)
            if value:
                index.setdefault(value, set()).add(e.doc_id)
        self.names.add(e.doc_id, e.name_key)

    def _drop(self, doc_id: str) -> None:
        e = self._by_id.pop(doc_id, None)
        if e is None:
            return
        for field, index in self._by_field.items():
            docs = index.get(getattr(e, field))
            if docs is not None:
                docs.discard(doc_id)
                if not docs:
                    del index[getattr(e, field)]
        self.names.remove(doc_id)

    def candidates_of(self, doc_id: str, cap: int = CAP) -> list[tuple[str, str, float]]:
        """(other doc id, reason, score) of the likely duplicates of a live customer: the
        same phone, the same address, or a similar name; at most `cap`, by `best`.

        A shared phone or address ranks above any name, and among themselves such matches
        rank by their names' similarity. A phone or address shared by more than `MAX_BLOCK`
        customers (a switchboard, a business park) is not a sign of anything."""
        e = self._by_id.get(doc_id)
        if e is None:
            return []
        found: dict[str, tuple[str, float, float]] = {}  # doc -> (reason, score, rank)
        for field, reason, min_len in (("phone", "same_phone", 7), ("address", "same_address", 6)):
            value = getattr(e, field)
            docs = self.same(field, value)
            if len(value) < min_len or len(docs) > MAX_BLOCK:
                continue
            for other in docs:
                if other != doc_id and other not in found:
                    rank = 1.0 + ratio(e.name_key, self.names.key_of(other)) / 100
                    found[other] = (reason, 1.0, rank)
        for m in self.names.similar(e.name_key, exclude=doc_id, limit=cap + 1):
            if m.doc_id not in found:
                found[m.doc_id] = ("similar_name", m.score, m.score)
        keep = best(((rank, d) for d, (_, _, rank) in found.items()), cap)
        return [(d, found[d][0], found[d][1]) for d in keep]


def _phone(v: str | None) -> str:
    return normalize_phone(v) if v else ""


def _address(v: str | None) -> str:
    return normalize_name(v) if v else ""


EXAMINED = "similar_examined"
"""The finder's cursor, a row of `sync_counters`: the projection seq examined so far."""
_BATCH = 500
_YIELD_EVERY = 50  # customers examined between two turns of the event loop
_RETRY = 5.0  # seconds after a failed batch (the database went away, say)
LINGER = 0.05
"""Seconds the finder lets commits gather after a wake-up: a device streaming new cards
wakes it with every group commit, and each step is queries and a write transaction."""


class CandidateFinder:
    """Examines, in the background, every customer changed after its cursor: whether an
    exact duplicate slipped past the commit's own check before this process started (then
    `resolve`, the exact rule), then its likely duplicates (`Directory.candidates_of`),
    written as open candidate pairs.

    The cursor lives in the database and moves in the transaction that writes a batch's
    pairs, so a restart resumes where the last run stopped. A long-lived service: `async
    with` starts it, leaving stops it at once (a batch cut short is examined again).
    """

    def __init__(
        self, directory: Directory, *, resolve: Callable[[str], Awaitable[object]],
        head: Callable[[], int] | None = None, batch: int = _BATCH, cap: int = CAP,
        linger: float = LINGER,
        writer: Callable[[Callable[[AsyncConnection], Awaitable[object]]],
                         Awaitable[object]] | None = None,
    ) -> None:
        self.directory = directory
        self.engine = directory.engine
        self.resolve = resolve
        # The exact rule is the commit's own check, on the instance that took the commit;
        # the finder runs it only for changes from before this process started (a check a
        # stop cut short), so that two instances never race to merge the same live pair.
        self._head = head
        self._backstop_upto = 0
        self.batch = batch
        self.cap = cap
        self.linger = linger
        # Where a batch's pairs are written: the log's writer (`sync.log.Log.write`, its
        # group commit) in the server; a transaction of its own when none is given.
        self.writer = writer
        self.cursor = 0
        self.examined_count = 0  # customers examined by this process (for logs and benches)
        self._examined: dict[str, tuple[str, str, str, str]] = {}  # doc -> what was examined
        self._wake = asyncio.Event()
        self._woken = 0  # customers changed since the last step began
        self._progress = asyncio.Event()
        self._running = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CandidateFinder:
        async with self.engine.begin() as conn:
            await upsert(conn, t.counters, {"name": EXAMINED, "value": 0}, ["name"])
            self.cursor = int(await conn.scalar(
                select(t.counters.c.value).where(t.counters.c.name == EXAMINED)) or 0)
        self._backstop_upto = self._head() if self._head is not None else 1 << 62
        self._running = True
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="waiqin-similar-finder")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._running = False
        self._stopping = True
        self._progress.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            # It stops at its next turn of the event loop, dropping the batch it was on; a
            # merge in progress is given a moment, then cancelled (its edits are each whole).
            # The batch's write is shielded: never cut inside a transaction.
            if not (await asyncio.wait([task], timeout=0.25))[0]:
                task.cancel()
                await asyncio.wait([task], timeout=0.25)

    def wake(self, changed: int = 1) -> None:
        """`changed` customers changed: look for customers after the cursor."""
        self._woken += changed
        self._wake.set()

    async def examined(self, seq: int) -> None:
        """Wait until every customer change up to `seq` has been examined (or the finder
        stopped)."""
        while self._running and self.cursor < seq:
            await self._progress.wait()

    async def _run(self) -> None:
        started, count = 0.0, 0
        while not self._stopping:
            self._wake.clear()
            self._woken = 0
            try:
                n = await self.step()
            except Exception:
                log.exception("finding likely duplicate customers failed; again in %s s",
                              _RETRY)
                await asyncio.sleep(_RETRY)
                continue
            if n == self.batch and not started:
                started, count = time.monotonic(), 0
                log.info("examining customers for likely duplicates, from seq %s", self.cursor)
            count += n
            if n < self.batch:
                if started:
                    log.info("examined %s customer changes for likely duplicates in %.1f s",
                             count, time.monotonic() - started)
                    started = 0.0
                if n == 0:
                    await self._wake.wait()
                    if self.linger > 0 and not self._stopping and self._woken < self.batch:
                        # Cards of the next commits join this step (woken again meanwhile:
                        # one step for all of them). A commit of a whole batch (an import)
                        # has nothing to wait for.
                        await asyncio.sleep(self.linger)

    async def step(self) -> int:
        """Examine the next batch of changed customers; returns how many rows it read."""
        c = st.rec_customer
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(
                select(c.c.seq, c.c.doc_id).where(c.c.seq > self.cursor)
                .order_by(c.c.seq).limit(self.batch)))
        if not rows:
            return 0
        directory = self.directory
        await directory.refresh()
        pairs: dict[tuple[str, str], tuple[str, float]] = {}
        for i, r in enumerate(rows):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            if self._stopping:
                return 0  # the batch is examined again at the next start
            e = directory.get(r.doc_id)
            if e is None:  # merged away (an undo brings it back with a new seq)
                self._examined.pop(r.doc_id, None)
                continue
            seen = (e.name_key, e.phone, e.address, e.credit_code)
            if self._examined.get(r.doc_id) == seen:
                continue  # a code, an owner, a note changed: nothing that makes a duplicate
            if r.seq <= self._backstop_upto and (directory.same("name_key", e.name_key) | (
                    directory.same("credit_code", e.credit_code))) - {e.doc_id}:
                # The commit's own check has usually merged it already; after a restart
                # it may never have run. A merge changes the rows: they come round again.
                if await self.resolve(e.doc_id) is not None:
                    continue
                await directory.refresh()
                if directory.get(r.doc_id) is None:
                    continue  # merged meanwhile by the commit's own check
            self._examined[r.doc_id] = seen
            self.examined_count += 1
            for other, reason, score in directory.candidates_of(r.doc_id, self.cap):
                pairs[(min(r.doc_id, other), max(r.doc_id, other))] = (reason, score)
        if self._stopping:
            return 0
        last = int(rows[-1].seq)
        await asyncio.shield(self._write(pairs, last))
        self.cursor = last
        self._progress.set()
        self._progress = asyncio.Event()
        return len(rows)

    async def _write(self, pairs: dict[tuple[str, str], tuple[str, float]], last: int) -> None:
        """A batch's pairs and the cursor past it, in one transaction."""
        at = now_ms()

        async def write(conn: AsyncConnection) -> None:
            # An existing pair is left as it is: open, merged or dismissed by someone.
            await upsert(conn, tt.duplicate_candidates, [
                {"doc_a": a, "doc_b": b, "reason": reason, "score": score, "created_at": at,
                 "status": "open", "decided_by": None, "decided_at": None}
                for (a, b), (reason, score) in pairs.items()
            ], ["doc_a", "doc_b"])
            await conn.execute(update(t.counters).where(
                t.counters.c.name == EXAMINED, t.counters.c.value < last).values(value=last))

        if self.writer is not None:
            await self.writer(write)
            return
        async with self.engine.begin() as conn:
            await write(conn)
