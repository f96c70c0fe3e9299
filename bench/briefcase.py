"""A big briefcase made on the server side: N customer cards created by one rep through the
real apply path (validation, the log, projections, grants), with the server's own edits
giving each its customer code and owner. Used by the PWA scale test and bench/pwa_scale.py.

    .venv/bin/python -m bench.briefcase --data /tmp/wq --customers 50000 [--login rep1]

The duplicate rule is not run: the generated names are distinct by construction, and the
rule's similar-card scan is O(customers) per card (it would make the fill quadratic).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema.names import canonical_name
from schema.ydoc import new_doc, update_fields
from server.accounts import Accounts
from server.attachments import reference_blobs
from server.cli import _demo
from server.config import Config
from server.db import make_engine, migrate
from server.duplicates import Duplicates
from server.history import record_history
from server.records import (
    SERVER_DEVICE,
    RecordPolicy,
    SchemaRules,
    ServerEdits,
    format_code,
    project_appends,
    reserve_codes,
)
from sync import tables as t
from sync.hub import Hub
from sync.log import Append, Log, NewDoc, now_ms
from sync.scope import SYSTEM, DocFacts, Principal

log = logging.getLogger(__name__)

CITIES = [
    ("北京", "华北"), ("天津", "华北"), ("石家庄", "华北"), ("太原", "华北"), ("上海", "华东"),
    ("南京", "华东"), ("杭州", "华东"), ("苏州", "华东"), ("宁波", "华东"), ("合肥", "华东"),
    ("济南", "华东"), ("青岛", "华东"), ("福州", "华东"), ("厦门", "华东"), ("广州", "华南"),
    ("深圳", "华南"), ("东莞", "华南"), ("南宁", "华南"), ("武汉", "华中"), ("长沙", "华中"),
    ("郑州", "华中"), ("成都", "西南"), ("重庆", "西南"), ("昆明", "西南"), ("西安", "西北"),
    ("兰州", "西北"), ("沈阳", "东北"), ("大连", "东北"), ("长春", "东北"), ("哈尔滨", "东北"),
]
# Characters of a trade name, with the pinyin a rep would type for the short name.
WORDS = {
    "华": "Hua", "信": "Xin", "达": "Da", "通": "Tong", "恒": "Heng", "瑞": "Rui", "丰": "Feng",
    "鑫": "Xin", "泰": "Tai", "和": "He", "宏": "Hong", "远": "Yuan", "新": "Xin", "创": "Chuang",
    "科": "Ke", "美": "Mei", "金": "Jin", "安": "An", "盛": "Sheng", "德": "De", "海": "Hai",
    "天": "Tian", "明": "Ming", "光": "Guang", "嘉": "Jia", "博": "Bo", "智": "Zhi", "东": "Dong",
    "中": "Zhong", "联": "Lian", "永": "Yong", "正": "Zheng", "佳": "Jia", "祥": "Xiang",
    "晨": "Chen", "立": "Li", "腾": "Teng", "凯": "Kai", "益": "Yi", "峰": "Feng",
}
TRADES = [
    ("科技", "信息技术"), ("电子", "电子制造"), ("机械", "装备制造"), ("医疗器械", "医疗"),
    ("教育科技", "教育"), ("物流", "物流"), ("建设工程", "建筑"), ("化工", "化工"),
    ("食品", "食品"), ("环保科技", "环保"), ("软件", "信息技术"), ("印务", "印刷"),
    ("档案服务", "档案"), ("医药", "医疗"), ("贸易", "商贸"), ("能源", "能源"),
]
SUFFIXES = ["有限公司", "股份有限公司", "有限责任公司"]
TIERS = (["core"] * 1) + (["high_growth"] * 2) + (["ordinary"] * 4)
STREETS = ["中山路", "人民路", "解放大道", "建设路", "长江路", "新华街"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
TITLES = ["主任", "经理", "采购经理", "总工程师", "副总经理", "科长"]


@dataclass(frozen=True, slots=True)
class Card:
    """One generated customer: its doc id and the fields a search would look for."""

    doc_id: str
    name: str
    short_name: str


def cards(n: int, *, seed: int = 14) -> Iterator[tuple[Card, dict[str, Any]]]:
    """`n` distinct, valid customer records as a rep's phone would write them."""
    rnd = random.Random(seed)
    words = list(WORDS)
    seen: set[str] = set()
    made = 0
    while made < n:
        city, region = rnd.choice(CITIES)
        a, b = rnd.sample(words, 2)
        trade, industry = rnd.choice(TRADES)
        name = f"{city}{a}{b}{trade}{rnd.choice(SUFFIXES)}"
        key = canonical_name(name)
        if key in seen:
            continue  # distinct names: the duplicate rule would merge a repeat
        seen.add(key)
        made += 1
        short = f"{WORDS[a]}{WORDS[b].lower()}"
        contact = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + (rnd.choice(GIVEN) if made % 3 else "")
        rec: dict[str, Any] = {
            "name": name,
            "short_name": short,
            "address": f"{city}市{rnd.choice(STREETS)}{rnd.randint(1, 999)}号",
            "postcode": f"{rnd.randint(100000, 859999)}",
            "city": city,
            "region": region,
            "phone": f"0{rnd.randint(10, 999)}-{rnd.randint(2000000, 89999999)}",
            "industry": industry,
            "type": "企业",
            "source": rnd.choice(["trade_show", "referral", "web", "call_in"]),
            "category": "distributor" if rnd.random() < 0.2 else "direct",
            "tier": rnd.choice(TIERS),
            "status": "potential",
            "level": rnd.randint(1, 7),
            "contacts": [{
                "id": f"c-{made}",
                "name": contact,
                "title": rnd.choice(TITLES),
                "mobile": f"13{rnd.randint(100000000, 999999999)}",
            }],
            "created_at": 1_780_000_000_000 + made * 60_000,
            "submitted_at": 1_780_000_000_000 + made * 60_000 + 30_000,
        }
        yield Card(f"customer:{uuid.UUID(int=rnd.getrandbits(128), version=4)}", name, short), rec


async def fill(cfg: Config, login: str, n: int, *, window: int = 2048) -> list[Card]:
    """Create the demo team where missing, then `n` customers of `login`, each committed
    with its code and owner; returns the cards in creation order.

    Each card is two log entries, as on a live server: the rep's phone creates it, then the
    server completes it with its code and owner (`ServerEdits._complete_customer`). Both
    are validated and given their grantees by the server's own rules and committed by the
    real log writer; only the hub's per-doc loading is skipped (these ids are new)."""
    await _demo(cfg)
    engine = make_engine(cfg.database)
    out: list[Card] = []
    rules, policy = SchemaRules(), RecordPolicy()
    try:
        user = await Accounts(engine).by_login(login)
        if user is None:
            raise SystemExit(f"no user {login!r}")
        rep = Principal(user.id, user.role, frozenset({user.id}))
        device = f"briefcase-{uuid.uuid4().hex[:8]}"
        first = await _reserve_codes(engine, n)
        t0 = time.perf_counter()
        async with Log(engine, on_commit=bulk_commit_hooks) as log_:
            clock = int(time.time() * 1000) * 1000  # as `ServerEdits.next_clock`
            writer = Writer(log_, window)
            for i, (card, rec) in enumerate(cards(n)):
                rec["created_by"] = user.id
                doc = new_doc("customer", rec)
                record, layout = rules.read("customer", doc, whole=True)
                if layout:
                    raise RuntimeError(f"a generated customer is invalid: {layout[0].message}")
                created = _append(rules, policy, rep, device, card.doc_id, record, i + 1,
                                  doc.get_update(), None, new=True)
                before = doc.get_state()
                done = {"code": format_code(first + i), "owner": user.id}
                update_fields(doc, "customer", done)
                assert created.record is not None
                completed = _append(rules, policy, SYSTEM, SERVER_DEVICE, card.doc_id,
                                    {**created.record, **done}, clock + i + 1,
                                    doc.get_update(before), created.record)
                await writer.add(created, completed)
                out.append(card)
            await writer.settle()
            log.info("%s appends in %s group commits, %.1f s", log_.appended, log_.batches,
                     time.perf_counter() - t0)
            # The server's background finder of likely duplicates, run to the end here, so
            # that the server starts with nothing to examine (as after it had run).
            t1 = time.perf_counter()
            hub = Hub(log_, policy=policy, rules=rules)
            edits = ServerEdits(hub)
            duplicates = Duplicates(hub, edits, cfg.secret())
            async with duplicates:
                await duplicates.finder.examined(log_.head)
            await edits.settle()
            log.info("examined for likely duplicates in %.1f s", time.perf_counter() - t1)
    finally:
        await engine.dispose()
    return out


def _append(
    rules: SchemaRules,
    policy: RecordPolicy,
    principal: Principal,
    device: str,
    doc_id: str,
    after: dict[str, Any],
    clock: int,
    update: bytes,
    before: dict[str, Any] | None,
    *,
    new: bool = False,
) -> Append:
    """The `Append` that `Hub.apply` would make of this update (the record `after` it),
    refused as it would be."""
    problems = list(rules.validate("customer", before, after, principal, {}))
    if problems:
        raise RuntimeError(f"a generated customer is invalid: {problems[0].message}")
    created_by = str(after["created_by"])
    grantees = policy.grantees(DocFacts(doc_id, "customer", created_by, after, {}))
    return Append(
        doc_id, "customer", update, principal.user_id, device, clock, now_ms(),
        new_doc=NewDoc("customer", principal.user_id, device, 0) if new else None,
        grantees=grantees,
        record=after, record_before=before,
    )


async def bulk_commit_hooks(conn: AsyncConnection, appends: list[Append]) -> None:
    """`server.app.commit_hooks` (the batched projection, blob references, history), plus the
    new records' grants: these appends skip the hub, which would have put them in
    `Append.grant_add` for the log to write, so they are written here from `grantees`."""
    await project_appends(conn, appends)
    grants = [{"doc_id": a.doc_id, "user_id": u, "since_seq": a.seq}
              for a in appends if a.new_doc is not None for u in sorted(a.grantees)]
    if grants:
        await conn.execute(insert(t.grants), grants)
    await reference_blobs(conn, appends)
    await record_history(conn, appends)


class Writer:
    """Appends fed to the real log writer a window at a time (one group commit takes many),
    each checked to have been committed, not refused."""

    def __init__(self, log_: Log, window: int = 2048) -> None:
        self.log, self.window = log_, window
        self.pending: list[asyncio.Future[Any]] = []

    async def add(self, *appends: Append) -> None:
        self.pending += [self.log.submit(a) for a in appends]
        if len(self.pending) >= self.window:
            await self.settle()

    async def settle(self) -> None:
        for item in await asyncio.gather(*self.pending):
            if not isinstance(item, Append):
                raise RuntimeError(f"a generated record was refused: {item!r}")
        self.pending.clear()


async def _reserve_codes(engine: AsyncEngine, n: int) -> int:
    """Take `n` consecutive numbers of the customer-code counter; returns the first."""
    async with engine.begin() as conn:
        return await reserve_codes(conn, n) - n + 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the server's data directory")
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--login", default="rep1")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = Config.from_env(data_dir=Path(args.data))
    migrate(cfg.database)
    t = time.perf_counter()
    made = asyncio.run(fill(cfg, args.login, args.customers))
    print(f"{len(made)} customers for {args.login} in {time.perf_counter() - t:.1f} s "
          f"({cfg.database})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
