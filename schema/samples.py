"""Example records of every kind, valid and submitted, to build tests and docs from.

Tests break one rule at a time by overriding fields: `samples.deal(stage=1)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

T0 = 1_710_000_000_000  # 2024-03-09T16:00:00Z
USER = "u-rep-1"

CUSTOMER_ID = "customer:00000000-0000-4000-8000-000000000001"
DEAL_ID = "deal:00000000-0000-4000-8000-000000000002"
VISIT_ID = "visit:00000000-0000-4000-8000-000000000003"
SHA = "ab" * 32


def new_id(kind: str) -> str:
    return f"{kind}:{uuid.uuid4()}"


def attachment(**over: Any) -> dict[str, Any]:
    return {
        "sha256": SHA,
        "media_type": "image/jpeg",
        "size": 123_456,
        "width": 1600,
        "height": 1200,
        "caption": "签字的服务单",
        "category": "service_sheet",
        "captured_at": T0,
        "gps_lat": 31.23,
        "gps_lon": 121.47,
        "gps_accuracy": 12.0,
        **over,
    }


def customer(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": "北京友好创达科技有限公司",
        "short_name": "Youhao",
        "credit_code": "91350100M000100Y43",
        "address": "北京市海淀区中关村大街1号",
        "postcode": "100080",
        "province": "北京",
        "city": "北京",
        "region": "华北",
        "phone": "010-62345678-101",
        "email": "contact@youhao.com.cn",
        "website": "www.youhao.com.cn",
        "industry": "教育",
        "type": "企业",
        "source": "referral",
        "profile": "主营扫描仪及存储系统,员工两百人",
        "notes": "初步需求:档案数字化",
        "category": "direct",
        "tier": "core",
        "status": "potential",
        "level": 3,
        "contacts": [
            {
                "id": "c-1",
                "salutation": "mr",
                "name": "张宏",
                "department": "信息中心",
                "title": "主任",
                "office_phone": "010-62345678-102",
                "home_phone": "010-87654321",
                "mobile": "13812345678",
                "email": "zh@youhao.com.cn",
            }
        ],
        "attachments": [attachment(category="site_photo")],
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 60_000,
    }
    rec.update(over)
    return rec


def visit(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "visit_type": "visit_out",
        "started_at": T0,
        "ended_at": T0 + 3_600_000,
        "place": "客户办公室",
        "gps_lat": 39.98,
        "gps_lon": 116.31,
        "gps_accuracy": 25.0,
        "met_name": "张宏",
        "met_title": "主任",
        "purpose": "介绍新款扫描仪",
        "result": "客户对高速扫描仪感兴趣,要求下周报价",
        "next_step": "周一发送报价单",
        "attachments": [attachment(category="site_photo")],
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 3_700_000,
    }
    rec.update(over)
    return rec


def service(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "service_type": "warranty_repair",
        "service_date": "2024-03-10",
        "subject": "2024年3月10日 保内维修服务",
        "status": "completed",
        "description": "扫描仪卡纸",
        "responded_at": T0,
        "content": "更换搓纸轮,测试正常",
        "completed_at": T0 + 7_200_000,
        "reminder_at": T0 + 30 * 86_400_000,
        "reminder_note": "一个月后回访",
        "products": [{"name": "高速扫描仪", "model": "FS-9000", "serial_no": "SN123456"}],
        "attachments": [attachment()],
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 7_300_000,
    }
    rec.update(over)
    return rec


def deal(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "title": "档案数字化扫描仪采购",
        "deal_class": "short",
        "stage": 4,
        "probability": 40,
        "intent": "scanner",
        "expected_close_date": "2024-05-31",
        "purchase_reason": "档案数字化项目",
        "purchase_form": "公开招标",
        "budget": "50 万元",
        "requirements": "每分钟 100 页",
        "schedule": "2024 年第二季度",
        "competitors": "富士通",
        "products": [
            {"name": "高速扫描仪", "model": "FS-9000", "quantity": 5, "unit_price": 89_000.0}
        ],
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


def progress(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "customer_id": CUSTOMER_ID,
        "deal_id": DEAL_ID,
        "detail": "与信息中心张主任确认了预算已批准,技术参数已认可",
        "next_step": "下周约见分管副院长",
        "stage": 4,
        "count_as_contact": True,
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


def task(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "subject": "拜访张主任,演示高速扫描仪",
        "task_type": "visit",
        "customer_id": CUSTOMER_ID,
        "deal_id": DEAL_ID,
        "planned_start": T0 + 86_400_000,
        "planned_end": T0 + 86_400_000 + 3_600_000,
        "remind_at": T0 + 86_400_000 - 1_800_000,
        "assignee": USER,
        "priority": "high",
        "status": "open",
        "notes": "带样机",
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


TRIP_PLAN_ID = "trip_plan:00000000-0000-4000-8000-000000000004"
NAME = "王小明"  # the author's display name, as subjects carry it


def trip_plan(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "subject": f"2024年3月11日-华北-出差计划—{NAME}",
        "region": "华北",
        "start_date": "2024-03-11",
        "end_date": "2024-03-13",
        "stops": [{"customer_id": CUSTOMER_ID, "purpose": "演示高速扫描仪"}],
        "budget_fen": 300_000,
        "notes": "与工程师同行",
        "approval_status": "submitted",
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


def trip_report(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "subject": f"出差报告+{NAME}",
        "plan_id": TRIP_PLAN_ID,
        "started_at": T0 + 86_400_000,
        "ended_at": T0 + 3 * 86_400_000,
        "purpose": "拜访华北区重点客户",
        "result": "两家客户确认采购意向",
        "next_step": "下周发送报价",
        "created_at": T0 + 3 * 86_400_000,
        "created_by": USER,
        "submitted_at": T0 + 3 * 86_400_000 + 1000,
    }
    rec.update(over)
    return rec


def expense(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "subject": f"2024年03月11日交通费用—{NAME}",
        "expense_date": "2024-03-11",
        "expense_type": "transport",
        "amount_fen": 55_350,
        "description": "北京—天津高铁往返",
        "trip_id": TRIP_PLAN_ID,
        "visit_id": VISIT_ID,
        "customer_id": CUSTOMER_ID,
        "deal_id": DEAL_ID,
        "attachments": [attachment(category="other", caption="车票")],
        "approval_status": "submitted",
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


def work_report(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "period": "week",
        "period_start": "2024-03-11",
        "subject": f"2024年第11周工作周报—{NAME}",
        "addressed_to": "u-manager-1",
        "body": "本周拜访客户三家,完成服务单两张。",
        "attachments": [attachment(category="other", media_type="application/pdf")],
        "approval_status": "submitted",
        "created_at": T0,
        "created_by": USER,
        "submitted_at": T0 + 1000,
    }
    rec.update(over)
    return rec


SAMPLES: dict[str, Callable[..., dict[str, Any]]] = {
    "customer": customer,
    "visit": visit,
    "service": service,
    "deal": deal,
    "progress": progress,
    "task": task,
    "trip_plan": trip_plan,
    "trip_report": trip_report,
    "expense": expense,
    "work_report": work_report,
}
