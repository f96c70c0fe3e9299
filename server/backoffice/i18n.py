"""The back office's words: English keys, Simplified Chinese first; and how times read.

Pages are zh-CN unless the viewer chose English (`?lang=en`, remembered in a cookie).
Record field and enum labels come from the schema (`schema.kinds`), not from here.
"""

from __future__ import annotations

import datetime
from typing import Any

from schema import duties
from schema.derive import CST
from schema.kinds import get_kind

LANGS = ("zh", "en")

ZH: dict[str, str] = {
    "Back office": "后台管理",
    "Waiqin back office": "外勤 · 后台管理",
    "Log in": "登录",
    "Log out": "退出",
    "Login": "账号",
    "Password": "密码",
    "Wrong login or password.": "账号或密码错误。",
    "The form expired; please try again.": "表单已过期,请重试。",
    "Too many failed attempts; try again in 15 minutes.": "失败次数过多,请 15 分钟后再试。",
    "Home": "首页",
    "Customers": "客户",
    "Visits": "拜访记录",
    "Service sheets": "服务单",
    "Deals": "跟单",
    "Reports": "报表",
    "Contact frequency": "联络频次",
    "Deals pipeline": "跟单漏斗",
    "Service rankings": "服务排名",
    "Activity": "拜访活动",
    "Duplicates": "重复客户",
    "Merges": "合并记录",
    "Users": "用户",
    "Audit trail": "审计日志",
    "Refused changes": "被拒绝的修改",
    "Changes the server refused; the device keeps each one until it is fixed.":
        "服务器拒绝的修改;设备会保留每一条,直到修正后重新提交。",
    "Administration": "系统管理",
    "Team member": "人员",
    "Everyone": "全部人员",
    "Customer": "客户",
    "Customer name or code": "客户名称或代码",
    "Kind": "类型",
    "Status": "状态",
    "Any": "全部",
    "From": "起始日期",
    "To": "截止日期",
    "Synced since": "同步时间晚于",
    "Filter": "筛选",
    "Clear": "清除",
    "Export": "导出",
    "Previous": "上一页",
    "Next": "下一页",
    "Page": "第",
    "of": "页,共",
    "records": "条记录",
    "No records.": "没有记录。",
    "Synced": "同步时间",
    "Updated": "更新时间",
    "Sync lag": "同步延迟",
    "Author": "创建人",
    "Owner": "客户经理",
    "Photos": "照片",
    "Attachments": "附件",
    "Field history": "修改记录",
    "When": "时间",
    "Who": "人员",
    "Device": "设备",
    "Field": "字段",
    "Old value": "原值",
    "New value": "新值",
    "Timeline": "客户时间线",
    "Record": "记录",
    "Open": "打开",
    "Value": "金额",
    "Weighted value": "加权金额",
    "Stage": "阶段",
    "Count": "数量",
    "Probability": "阶段评估",
    "Follow-ups due": "待跟进",
    "Last follow-up": "上次跟进",
    "Due": "应跟进日期",
    "Days overdue": "逾期天数",
    "Deals without an expected close date": "未填写预计成交日期的跟单",
    "Cadence (days)": "跟进周期(天)",
    "As of": "统计日期",
    "Rep": "业务员",
    "Duty customers": "须联络客户",
    "Overdue": "逾期",
    "Compliance": "达标率",
    "Core": "核心",
    "High-growth": "高成长",
    "Minimum": "最低数量",
    "Duty": "联络要求",
    "Last contact": "最近联络",
    "never": "从未",
    "weekly": "每周",
    "every two weeks": "每两周",
    "monthly": "每月",
    "Overdue customers": "逾期未联络的客户",
    "Per rep": "按业务员",
    "By product": "按产品",
    "By customer": "按客户",
    "By engineer": "按服务人员",
    "Product": "产品",
    "Model": "型号",
    "Repairs": "维修次数",
    "Units": "设备台数",
    "Repairs per unit": "单台维修次数",
    "Customers served": "服务客户数",
    "Requests": "请求次数",
    "Last service": "最近服务",
    "Engineer": "服务人员",
    "Services": "服务次数",
    "Completed": "完成",
    "Completion rate": "完成率",
    "Avg. response (h)": "平均响应(小时)",
    "Avg. time to complete (h)": "平均完成用时(小时)",
    "Week": "周",
    "Avg. sync lag": "平均同步延迟",
    "Max. sync lag": "最大同步延迟",
    "Synced within a day": "一天内同步",
    "Visits per week": "每周拜访次数",
    "Visits per rep per week": "每人每周拜访次数",
    "Total": "合计",
    "Candidates": "候选",
    "Reason": "原因",
    "Score": "相似度",
    "Merge": "合并",
    "Keep this one": "保留此客户",
    "Will be kept (created first)": "将保留(最早创建)",
    "manual": "人工合并",
    "same_name": "名称相同",
    "same_credit_code": "信用代码相同",
    "Dismiss": "不是重复",
    "Undo": "撤销",
    "Undone": "已撤销",
    "Survivor": "保留客户",
    "Duplicate": "被合并客户",
    "Rule": "规则",
    "By": "操作人",
    "similar_name": "名称相似",
    "same_phone": "电话相同",
    "same_address": "地址相同",
    "No open candidates.": "没有待处理的重复客户。",
    "Name": "姓名",
    "Role": "角色",
    "Manager": "上级",
    "none": "无",
    "Disabled": "已停用",
    "Active": "正常",
    "Create user": "新建用户",
    "Create": "创建",
    "Save": "保存",
    "Disable account": "停用账号",
    "Reset password": "重置密码",
    "New password": "新密码",
    "Set role": "设置角色",
    "Set manager": "设置上级",
    "Devices": "设备",
    "First seen": "首次连接",
    "Last contact (device)": "最近连接",
    "Revoked": "已吊销",
    "Revoke": "吊销",
    "Reassign customers": "移交客户",
    "Reassign all customers of this user to": "将此用户的全部客户移交给",
    "Reassign": "移交",
    "Reassign customer": "移交客户",
    "Hand this customer to": "将此客户移交给",
    "The customer now belongs to": "客户现归属于",
    "Its visits, service sheets and deals follow it; the new owner's devices receive it at "
    "their next sync.": "其拜访记录、服务单和跟单随之移交;新归属人的设备在下次同步时收到此客户。",
    "My team": "我的团队",
    "Every customer of": "此成员的全部客户",
    "Hand them to": "移交给",
    "Customers reassigned": "已移交客户数",
    "Their visits, service sheets and deals follow them; the new owner's devices receive "
    "them at their next sync.":
        "其拜访记录、服务单和跟单随之移交;新归属人的设备在下次同步时收到这些客户。",
    "Only supervisors and administrators can reassign customers.":
        "只有上级主管和管理员可以移交客户。",
    "Choose an active user to hand the customers to.": "请选择一位在职用户来接收客户。",
    "{name} is not in your team: you can hand customers only to yourself or to someone who "
    "reports to you.": "{name} 不在您的团队中:您只能把客户移交给自己或您的下属。",
    "You cannot reassign this customer: it is not among the customers you can see.":
        "您不能移交此客户:它不在您可查看的客户之中。",
    "This customer belongs to {name}, who is not in your team: only their supervisor or an "
    "administrator can reassign it.":
        "此客户归属于 {name},此人不在您的团队中:只有其上级主管或管理员可以移交。",
    "This card was merged into another; reassign that one.":
        "此客户卡片已合并到另一张卡片,请移交那一张。",
    "Someone else reassigned this customer meanwhile; reload the page.":
        "此客户刚被他人移交,请刷新页面。",
    "The server refused the change; see refused changes.":
        "服务器拒绝了此修改,请查看被拒绝的修改。",
    "Choose whose customers to hand over.": "请选择要移交谁的客户。",
    "{name} is not in your team: you can reassign only the customers of yourself or of "
    "someone who reports to you.": "{name} 不在您的团队中:您只能移交自己或下属的客户。",
    "Choose someone else to hand the customers to.": "请选择另一位用户来接收客户。",
    "Action": "操作",
    "Detail": "详情",
    "Done.": "已完成。",
    "Not found": "未找到",
    "Not allowed": "无权访问",
    "Language": "语言",
    "Customers owned": "名下客户",
    "Overdue contact": "逾期联络",
    "Open deals": "进行中的跟单",
    "Follow-ups due now": "待跟进跟单",
    "Visits this week": "本周拜访",
    "Doc": "记录",
    "Open candidates": "待处理候选",
    "Merged into": "已合并至",
    "This customer was merged into another card.": "此客户已合并到另一张客户卡片。",
    "Total value": "总金额",
    "The report took": "报表用时",
    "Top products by repairs": "维修次数最多的产品",
    "hours": "小时",
    "Period": "期间",
    "Service type": "服务类型",
    "Repair types": "维修类型",
    "in progress": "处理中",
    "Complete": "完整度",
    "Code": "客户代码",
    "created": "创建",
    "Previous visit": "上次拜访",
    "Tasks": "日程",
    "Week view": "周日程",
    "Overdue tasks": "逾期日程",
    "Per assignee": "按执行人",
    "Assignee": "执行人",
    "Open tasks": "待办",
    "Done in the period": "期间完成",
    "Due at": "应完成时间",
    "Open and overdue tasks per assignee": "各执行人的待办与逾期日程",
    "Week of": "所在周",
    "Show": "显示",
    "Previous week": "上一周",
    "This week": "本周",
    "Next week": "下一周",
    "Mon": "周一",
    "Tue": "周二",
    "Wed": "周三",
    "Thu": "周四",
    "Fri": "周五",
    "Sat": "周六",
    "Sun": "周日",
    "d": "天",
    "Visit recorded": "拜访记录",
    "Draft": "草稿",
    "Completes the task": "完成的日程",
    "Expenses": "费用",
    "Expense": "费用",
    "Expense type": "费用类型",
    "Amount (yuan)": "金额(元)",
    "Approved (yuan)": "已通过(元)",
    "By rep": "按业务员",
    "By month": "按月份",
    "By type": "按费用类型",
    "Month": "月份",
    "No customer": "未关联客户",
    "Trip calendar": "出差日历",
    "Trip plan": "出差计划",
    "Trip reports": "出差报告",
    "Previous month": "上个月",
    "This month": "本月",
    "Next month": "下个月",
    "customers": "家客户",
    "No trips this month.": "本月没有出差计划。",
    "Approvals": "审批",
    "Approval": "审批",
    "Approvers": "审批人",
    "current step": "当前步骤",
    "Approval log": "流程信息",
    "Not submitted yet.": "尚未提交。",
    "Comment": "意见",
    "required to return": "退回时必填",
    "Approve": "通过",
    "Return for changes": "退回修改",
    "Reject": "拒绝",
    "Customers to visit": "拜访客户",
    "Purpose": "目的",
    "This trip": "本次出差",
    "Planned visits": "计划拜访",
    "Waiting for your decision": "待您审批",
    "Submitted at": "提交时间",
    "Subject": "主题",
    "Step": "步骤",
    "Nothing is waiting for your decision.": "没有待您审批的记录。",
    "Settings": "系统设置",
    "Saved.": "已保存。",
    "Expense second approval": "费用二级审批",
    "Threshold (yuan)": "金额上限(元)",
    "Current": "当前",
    "Enter an amount in yuan from 0 to 100,000, with at most two decimals.":
        "请输入 0 至 100,000 元之间的金额,最多两位小数。",
}

ROLE_LABELS = {
    "rep": ("业务员", "Sales rep"),
    "engineer": ("服务工程师", "Service engineer"),
    "manager": ("上级主管", "Manager"),
    "admin": ("后台管理员", "Admin"),
    "system": ("系统", "System"),
}


def gettext(lang: str, key: str) -> str:
    return ZH.get(key, key) if lang == "zh" else key


def role_label(lang: str, role: str) -> str:
    zh, en = ROLE_LABELS.get(role, (role, role))
    return zh if lang == "zh" else en


def cst(ms: int | None) -> datetime.datetime | None:
    """A server or device timestamp as a naive China Standard Time datetime."""
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=CST).replace(tzinfo=None)


def fmt_ms(ms: Any) -> str:
    if not isinstance(ms, int):
        return ""
    dt = cst(ms)
    return "" if dt is None else dt.strftime("%Y-%m-%d %H:%M")


def fmt_duration(ms: Any, lang: str) -> str:
    """A lag or a wait: 3 min, 5.2 h, 3.1 d (分钟/小时/天)."""
    if not isinstance(ms, (int, float)):
        return ""
    s = ms / 1000
    zh = lang == "zh"
    if s < 3600:
        return f"{s / 60:.0f} {'分钟' if zh else 'min'}"
    if s < 86400 * 2:
        return f"{s / 3600:.1f} {'小时' if zh else 'h'}"
    return f"{s / 86400:.1f} {'天' if zh else 'd'}"


def _enum_label(kind: str, field: str, value: Any, lang: str) -> str:
    e = get_kind(kind).field(field).enum_label(value)
    return str(value) if e is None else (e.label_zh if lang == "zh" else e.label_en)


def duty_note(lang: str) -> str:
    """The contact-duty rules as the contact report states them, from `schema.duties`'s own
    numbers (one definition: change a number there and this sentence follows)."""
    d = duties.duties_json()["contact"]
    cats = (" 、" if lang == "zh" else ", ").join(
        _enum_label("customer", "category", c, lang) for c in d["categories"])
    short, core, growth = d["core_with_short_deal_days"], d["core_days"], d["high_growth_days"]
    if lang == "zh":
        return (f"只有{cats}有联络频次要求。核心客户:有短线跟单时每 {short} 天至少联络一次,"
                f"否则每 {core} 天一次;高成长客户每 {growth} 天至少一次。联络 = 已提交的拜访"
                "记录(按拜访开始时间),或勾选“转为日程”的已提交进展记录;草稿不计。"
                "从未联络的客户从创建时起计算。超过期限即为逾期,不足一天按一天计。")
    return (f"Only {cats.lower()}s carry a contact duty. Core customers: at least every "
            f"{short} days while they have a short-term deal, otherwise every {core} days; "
            f"high-growth customers every {growth} days. A contact is a submitted visit (at "
            "its start) or a submitted progress record marked \u201ccounts as a contact\u201d; "
            "drafts never count. A customer never contacted is counted from its creation. "
            "Past the limit is overdue; part of a day counts as a whole day.")


def cadence_note(lang: str) -> str:
    """The deal follow-up cadence by class, from `schema.duties` (as `duty_note`)."""
    by_days: dict[int, list[str]] = {}
    for cls, days in duties.duties_json()["deal_follow_up_days"].items():
        by_days.setdefault(days, []).append(_enum_label("deal", "deal_class", cls, lang))
    if lang == "zh":
        parts = ",".join(f"{'、'.join(c)}每 {n} 天" for n, c in sorted(by_days.items()))
        return f"跟进周期:{parts}须有已提交的进展记录(无进展记录时从跟单创建时起计算)。"
    parts = "; ".join(f"{', '.join(c)} every {n} days" for n, c in sorted(by_days.items()))
    return (f"Follow-up cadence: {parts}, by a submitted progress record (counted from the "
            "deal's creation while it has none).")


def day_start_ms(day: datetime.date) -> int:
    """Midnight in China at the start of `day`, in ms."""
    return int(datetime.datetime.combine(day, datetime.time(), tzinfo=CST).timestamp() * 1000)


def today_cst() -> datetime.date:
    return datetime.datetime.now(tz=CST).date()
