"""`pwa/src/approval.ts` in Node: which edits the phone refuses in which approval state (the
server's rule names), when submit and withdraw are offered, whose turn it is, the comment of
the latest return and the author's name from a subject."""

from __future__ import annotations

from pathlib import Path

from .node import run_ts

SCRIPT = r"""
import * as A from "./src/approval";
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(input.records.map((r) => ({
  rep: A.editRefusal(r, "rep")?.rule ?? null,
  admin: A.editRefusal(r, "admin")?.rule ?? null,
  submit: A.canSubmit(r),
  withdraw: A.canWithdraw(r),
  turn: A.currentApprover(r),
  comment: A.returnComment(r),
  name: A.subjectName(r.subject),
}))));
"""


def test_approval_states_on_the_phone(tmp_path: Path) -> None:
    log = [
        {"action": "submit", "by": "u-rep", "at": 1},
        {"action": "open", "by": "u-m", "at": 2},
        {"action": "return", "by": "u-m", "at": 3, "comment": "票据不清"},
        {"action": "submit", "by": "u-rep", "at": 4},
        {"action": "return", "by": "u-m", "at": 5, "comment": "金额不符"},
    ]
    records = [
        {"subject": "2026年12月01日交通费用—李明"},
        {"approval_status": "draft", "subject": "出差报告+王芳"},
        {"approval_status": "submitted", "approvers": ["u-m", "u-d"], "approval_step": 1},
        {"approval_status": "submitted", "approvers": ["u-m", "u-d"], "approval_step": 0},
        {"approval_status": "submitted", "approvers": ["u-m"], "approval_step": 0,
         "opened_at": 5},
        {"approval_status": "returned", "approval_log": log},
        {"approval_status": "withdrawn"},
        {"approval_status": "approved", "approvers": ["u-m"], "approval_step": 0},
        {"approval_status": "rejected"},
    ]
    got = run_ts(tmp_path, SCRIPT, {"records": records})
    rows = [(g["rep"], g["admin"], g["submit"], g["withdraw"], g["turn"]) for g in got]
    assert rows == [
        (None, None, True, False, None),  # no status yet is a draft
        (None, None, True, False, None),
        ("approval.pending_locked", None, False, False, "u-d"),  # past step 1: decided once
        ("approval.pending_locked", None, False, True, "u-m"),  # not opened yet
        ("approval.pending_locked", None, False, False, "u-m"),  # opened: no withdraw
        (None, None, True, False, None),
        (None, None, True, False, None),
        ("approval.approved_immutable", None, False, False, None),
        ("approval.rejected_final", None, False, False, None),
    ]
    assert got[5]["comment"] == "金额不符", "the latest return's comment"
    assert [g["name"] for g in got[:3]] == ["李明", "王芳", ""]
