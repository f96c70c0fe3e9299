"""pwa/src/roster.ts in Node: the customer list's order kept up to date incrementally must
equal sorting the whole briefcase, whatever order cards arrive, change or leave in; and its
snapshot reopens to the same list before the records are read."""

from __future__ import annotations

from pathlib import Path

from schema.duties import duties_json

from .node import run_ts

SCRIPT = r"""
import { useDuties } from "./src/duties";
import { Roster, compareCustomers } from "./src/roster";
(async () => {
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
useDuties(input.duties); // as the app does once the schema is loaded
// A stand-in for the Briefcase: the roster reads `infos` and listens to `subscribeDocs`.
const listeners = new Set();
const fake = (loaded) => ({
  infos: new Map(), isLoaded: loaded, loaded: Promise.resolve(), listRows: undefined,
  resolve: (id) => id, setMeta: async () => {},
  subscribeDocs: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
});
const schema = { customer_completeness: [{ item: "name" }, { item: "phone" }] };
const b = fake(true);
const put = (id, record) => {
  b.infos.set(id, { id, kind: id.split(":")[0], record, updatedAt: 0 });
  listeners.forEach((fn) => fn(id));
};
const del = (id) => { b.infos.delete(id); listeners.forEach((fn) => fn(id)); };
const roster = new Roster(b, schema);
const expected = () => [...b.infos.values()]
  .filter((i) => i.kind === "customer" && !i.record.merged_into)
  .sort(compareCustomers).map((i) => i.id);
const same = (xs, ys) => xs.length === ys.length && xs.every((x, k) => x === ys[k]);
let seed = 7;
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor(seed / 65536) % n;
};
const names = input.names;
const checks = [];
roster.list();
for (let step = 0; step < 60; step++) {
  // A batch of arrivals, renames, merges and drops, in random order.
  for (let k = 0; k < 1 + rnd(200); k++) {
    const id = "customer:" + rnd(3000);
    const op = rnd(10);
    if (op < 6) put(id, { name: names[rnd(names.length)] + rnd(50) });
    else if (op < 7) {
      put(id, { ...(b.infos.get(id)?.record ?? { name: "新" }), phone: String(rnd(9999)) });
    }
    else if (op < 8) put(id, { name: "被合并", merged_into: "customer:1" });
    else if (op < 9) del(id);
    else put("visit:" + rnd(100), { customer_id: id });
  }
  const got = roster.list().map((i) => i.id);
  checks.push(same(got, expected()));
}
const list = roster.list();
const probe = list[Math.floor(list.length / 2)];
const stale = list.every((i) => b.infos.get(i.id) === i);
// A reopen: the list from the snapshot alone (stand-ins), then the records as they are read,
// one of them gone meanwhile.
const snapshot = roster.snapshot();
listeners.clear();
const b2 = fake(false);
b2.listRows = snapshot;
let finish;
b2.loaded = new Promise((r) => (finish = r));
const r2 = new Roster(b2, schema);
const fromSnapshot = r2.list().map((i) => i.id);
const standIns = r2.list().every((i) => i.snap && i.snap.comp.length === 2);
const gone = list[3].id;
for (const info of b.infos.values()) {
  if (info.id === gone) continue;
  b2.infos.set(info.id, info);
  listeners.forEach((fn) => fn(info.id));
}
b2.isLoaded = true;
finish();
await b2.loaded;
await new Promise((r) => setTimeout(r, 0));
const afterLoad = r2.list();
const reopen = {
  same: same(fromSnapshot, list.map((i) => i.id)),
  standIns,
  loaded: same(afterLoad.map((i) => i.id), list.map((i) => i.id).filter((id) => id !== gone)),
  full: afterLoad.every((i) => !i.snap && b2.infos.get(i.id) === i),
};
console.log(JSON.stringify({ checks, size: list.length, indexOf: roster.indexOf(probe.id),
  at: list.indexOf(probe), fresh: stale, missing: roster.indexOf("customer:none"), reopen }));
process.exit(0); // the rosters' save timers would keep Node waiting
})();
"""


def test_the_incremental_order_equals_a_full_sort(tmp_path: Path) -> None:
    names = ["北京友好创达科技有限公司", "上海精工机械有限公司", "阿里巴巴", "重庆长安",
             "厦门海洋", "Alpha Ltd", "天津", "广州", "深圳华强", "成都", "武汉光谷"]
    out = run_ts(tmp_path, SCRIPT, {"names": names, "duties": duties_json()})
    assert all(out["checks"]), out["checks"]
    assert out["size"] > 500
    assert out["indexOf"] == out["at"]
    assert out["missing"] == -1
    assert out["fresh"], "a listed row must show its record as it is now"
    reopen = out["reopen"]
    assert reopen["same"], "the snapshot alone gives the same list"
    assert reopen["standIns"]
    assert reopen["loaded"], "once read, the records replace the stand-ins; a gone card goes"
    assert reopen["full"]
