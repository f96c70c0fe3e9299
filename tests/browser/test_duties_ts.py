"""pwa/src/duties.ts in Node against the shared vectors of tests/data/duties.json, with the
numbers the server publishes (`schema_json()["duties"]`): the phone's Today follows the same
contact-duty and deal-cadence rules as the back office (schema/duties.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schema.export import schema_json

from .node import run_ts

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads((ROOT / "tests/data/duties.json").read_text("utf-8"))

SCRIPT = r"""
import * as D from "./src/duties";
import { cadenceDays, overdueDays } from "./src/records";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const d = input.duties;
const out = {
  customers: input.customers.map((c) => ({
    duty_days: D.contactDutyDays(d, c.customer, c.deals),
    last_contact: D.lastContact(c.contacts),
    overdue_days: D.customerOverdueDays(d, c.customer, c.deals, c.contacts, c.now),
  })),
  deals: input.deals.map((c) => ({
    cadence_days: D.dealCadenceDays(d, c.deal),
    last_follow_up: D.dealLastFollowUp(c.deal, c.progress),
    overdue_days: D.dealOverdueDays(d, c.deal, c.progress, c.now),
  })),
};
// The customer list's badge (records.ts) through the same rule, once the numbers are set.
const info = (kind, record) => ({ id: kind + ":x", kind, record, updatedAt: 0 });
const before = (() => { try { D.duties(); return "no error"; } catch (e) { return "error"; } })();
D.useDuties(d);
out.badges = input.customers.map((c) => {
  const deals = c.deals.map((x) => info("deal", x));
  const ch = { visits: [], services: [], progress: [], deals };
  for (const [k, r] of c.contacts) (k === "visit" ? ch.visits : ch.progress).push(info(k, r));
  return [cadenceDays(c.customer, ch), overdueDays(c.customer, ch, c.now)];
});
out.unloaded = before;
process.stdout.write(JSON.stringify(out));
"""


def test_duties_ts_follows_the_shared_vectors(tmp_path: Path) -> None:
    payload = {"duties": schema_json()["duties"], **VECTORS}
    got = run_ts(tmp_path, SCRIPT, payload)
    # Before the schema is read there are no numbers to guess with.
    assert got["unloaded"] == "error"
    for case, res in zip(VECTORS["customers"], got["customers"], strict=True):
        assert res["duty_days"] == case["duty_days"], case["name"]
        if case["duty_days"] is not None:
            assert res["last_contact"] == case["last_contact"], case["name"]
        assert res["overdue_days"] == case["overdue_days"], case["name"]
    for case, (cadence, overdue) in zip(VECTORS["customers"], got["badges"], strict=True):
        assert (cadence, overdue) == (case["duty_days"], case["overdue_days"]), case["name"]
    for case, res in zip(VECTORS["deals"], got["deals"], strict=True):
        assert res["cadence_days"] == case["cadence_days"], case["name"]
        assert res["last_follow_up"] == case["last_follow_up"], case["name"]
        assert res["overdue_days"] == case["overdue_days"], case["name"]
