"""The record kinds of the field CRM, declared once.

Everything else in `schema/` (the Y doc layout, validation, SQL projections, the JSON schema
and `docs/records.md`) is derived from the `Kind` and `Field` declarations in this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal[
    "string",  # str
    "integer",  # int
    "number",  # int or float
    "boolean",  # bool
    "timestamp",  # int, milliseconds since the Unix epoch
    "date",  # str, "YYYY-MM-DD" (a calendar day, China Standard Time)
    "doc_id",  # str, "<kind>:<uuid>"
    "user_id",  # str, an account id
    "list",  # Y.Array of Y.Maps, each holding `items`
]
YType = Literal["scalar", "text", "array"]
Required = Literal["no", "on_submit", "always"]

USER_ROLES = ("rep", "engineer", "manager", "admin")  # what an account may be
ROLES = (*USER_ROLES, "system")  # who may make a change: an account, or the server itself

# Plausible device clocks: catches seconds-for-milliseconds and zeroed clocks.
MIN_TIMESTAMP = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIMESTAMP = 4_102_444_800_000  # 2100-01-01T00:00:00Z


@dataclass(frozen=True)
class EnumValue:
    """One allowed value of an enumerated field, with the labels the app shows."""

    value: str | int
    label_zh: str
    label_en: str
    note_zh: str = ""
    note_en: str = ""


@dataclass(frozen=True)
class Field:
    """One field of a record (or of an item of a list field).

    `y_type` says how the field sits in the record's Y.Map: a plain map entry ("scalar"), a
    `Y.Text` ("text"), or a `Y.Array` ("array": of Y.Maps when `items` is set, else of
    scalars of `type`). `writers` limits which roles may set or change the field (None: any
    role that may edit the record); `system` may always write.
    """

    name: str
    type: FieldType
    label_zh: str
    label_en: str
    y_type: YType = "scalar"
    required: Required = "no"
    enum: tuple[EnumValue, ...] = ()
    format: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    max_items: int | None = None
    ref_kind: str | None = None
    items: tuple[Field, ...] = ()
    table: str | None = None
    server_only: bool = False
    writers: frozenset[str] | None = None
    immutable_after_create: bool = False
    immutable_exempt: frozenset[str] = frozenset({"system"})
    ordered: bool = False  # a list of scalars whose order matters (kept by position)
    default: str | int | float | bool | None = None
    help_zh: str = ""
    help_en: str = ""

    @property
    def enum_values(self) -> tuple[str | int, ...]:
        return tuple(e.value for e in self.enum)

    def enum_label(self, value: object) -> EnumValue | None:
        for e in self.enum:
            if e.value == value:
                return e
        return None

    def item(self, name: str) -> Field:
        for f in self.items:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Rule:
    """A rule that involves more than one field or record, for the docs and the JSON schema."""

    id: str
    fields: tuple[str, ...]
    en: str
    zh: str
    when: Required = "always"  # "on_submit": not checked on drafts


@dataclass(frozen=True)
class Whose:
    """Whose a record is, which decides who sees it (their managers see it through the tree;
    admins see everything). `schema.whose.grantees` reads it; nothing else decides.

    The user named in `owner` (while it is empty: the creator); the creator always when
    `author`; the users listed in `shared` unless `private` is set (non-zero); and whoever the
    record named in each `via` field belongs to. A record whose `gone` field is set (a merged
    card) belongs to nobody: it leaves every briefcase. So does one with an `away` field set
    (a customer in the pool or the recycle bin: `server.pool` lists those).
    """

    owner: str | None = None
    author: bool = True
    shared: str | None = None
    private: str | None = None
    via: tuple[str, ...] = ()
    gone: str | None = None
    away: tuple[str, ...] = ()  # set (non-empty): in no briefcase, no redirect (pool, bin)


@dataclass(frozen=True)
class Kind:
    """A record kind: one Y doc per record, id `<name>:<uuid>`."""

    name: str
    label_zh: str
    label_en: str
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    description_en: str = ""
    description_zh: str = ""
    table: str = ""
    parents: tuple[str, ...] = field(default=())
    whose: Whose = Whose()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}.{name}")

    def has_field(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)


def _e(value: str | int, zh: str, en: str, note_zh: str = "", note_en: str = "") -> EnumValue:
    return EnumValue(value, zh, en, note_zh, note_en)


# --- shared pieces -----------------------------------------------------------------------

ACTOR_WRITERS = frozenset({"manager", "admin", "system"})

COMMON_FIELDS: tuple[Field, ...] = (
    Field(
        "created_at",
        "timestamp",
        "创建时间",
        "Created at",
        required="always",
        min_value=MIN_TIMESTAMP,
        max_value=MAX_TIMESTAMP,
        immutable_after_create=True,
        help_en="Device clock when the record was made, in ms.",
        help_zh="记录创建时设备的时间(毫秒)。",
    ),
    Field(
        "created_by",
        "user_id",
        "创建人",
        "Created by",
        required="always",
        max_length=64,
        immutable_after_create=True,
        help_en="Must be the author at creation.",
        help_zh="创建时必须是作者本人。",
    ),
    Field(
        "submitted_at",
        "timestamp",
        "提交时间",
        "Submitted at",
        min_value=MIN_TIMESTAMP,
        max_value=MAX_TIMESTAMP,
        help_en="Set when the author submits; required fields are enforced from then on. "
        "Cannot be removed once set.",
        help_zh="作者提交时填写;此后必填项才被强制检查。设置后不能删除。",
    ),
)

GPS_FIELDS: tuple[Field, ...] = (
    Field("gps_lat", "number", "纬度", "Latitude", min_value=-90, max_value=90),
    Field("gps_lon", "number", "经度", "Longitude", min_value=-180, max_value=180),
    Field("gps_accuracy", "number", "定位精度(米)", "GPS accuracy (m)", min_value=0),
)

MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

ATTACHMENT_CATEGORY = (
    _e("service_sheet", "服务单", "Signed service sheet"),
    _e("acceptance_report", "验收报告", "Acceptance report"),
    _e("commissioning_record", "调试记录", "Commissioning record"),
    _e("site_photo", "现场照片", "Site photo"),
    _e("other", "其他", "Other"),
)

ATTACHMENTS = Field(
    "attachments",
    "list",
    "附件",
    "Attachments",
    y_type="array",
    table="rec_attachment",
    max_items=200,
    help_en="References to photos and scans; the bytes are blobs addressed by SHA-256.",
    help_zh="照片和扫描件的引用;文件内容按 SHA-256 存为独立文件。",
    items=(
        Field("sha256", "string", "SHA-256", "SHA-256", required="always", format="sha256"),
        Field(
            "media_type",
            "string",
            "文件类型",
            "Media type",
            required="always",
            enum=tuple(_e(t, t, t) for t in MEDIA_TYPES),
        ),
        Field(
            "size",
            "integer",
            "大小(字节)",
            "Size (bytes)",
            required="always",
            min_value=1,
            max_value=MAX_ATTACHMENT_BYTES,
        ),
        Field("width", "integer", "宽度", "Width (px)", min_value=1, max_value=100_000),
        Field("height", "integer", "高度", "Height (px)", min_value=1, max_value=100_000),
        Field("caption", "string", "说明", "Caption", max_length=200),
        Field("category", "string", "附件类别", "Category", enum=ATTACHMENT_CATEGORY),
        Field(
            "captured_at",
            "timestamp",
            "拍摄时间",
            "Captured at",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        *GPS_FIELDS,
    ),
)


TRIP_REF = Field(
    "trip_id",
    "doc_id",
    "出差计划",
    "Trip",
    ref_kind="trip_plan",
    help_en="The trip plan this record was part of; the trip report lists it.",
    help_zh="所属出差计划;出差报告据此列出。",
)


def _customer_ref(immutable: bool = True) -> Field:
    return Field(
        "customer_id",
        "doc_id",
        "客户",
        "Customer",
        required="always",
        ref_kind="customer",
        immutable_after_create=immutable,
        immutable_exempt=frozenset({"system", "admin"}),
        help_en="The customer this record belongs to; only the server (merges) or an admin "
        "moves it.",
        help_zh="所属客户;只有服务器(合并)或管理员可以更改。",
    )


# --- customer ----------------------------------------------------------------------------

CUSTOMER_CATEGORY = (
    _e("direct", "直接客户", "Direct customer"),
    _e("distributor", "分销商", "Distributor"),
)
CUSTOMER_TIER = (
    _e("core", "核心", "Core"),
    _e("high_growth", "高成长", "High-growth"),
    _e("ordinary", "普通", "Ordinary"),
)
CUSTOMER_STATUS = (
    _e("invalid", "无效", "Invalid"),
    _e("basic", "基础", "Basic"),
    _e("potential", "潜在", "Potential"),
    _e("successful", "成功", "Successful"),
)
CUSTOMER_SOURCE = (
    _e("trade_show", "展会", "Trade show"),
    _e("referral", "介绍", "Referral"),
    _e("web", "网络", "Web"),
    _e("call_in", "来电咨询", "Call-in"),
    _e("email", "邮件", "E-mail"),
    _e("trial", "试用申请", "Trial request"),
    _e("other", "其他", "Other"),
)
CUSTOMER_POOL = (
    _e("released", "主动释放", "Released"),
    _e("departed", "离职释放", "Owner left"),
    _e("uncontacted", "超期未联系", "Not contacted in time"),
)
SALUTATION = (
    _e("mr", "先生", "Mr"),
    _e("ms", "女士", "Ms"),
    _e("dr", "博士", "Dr"),
    _e("prof", "教授", "Prof."),
)

CUSTOMER = Kind(
    name="customer",
    label_zh="客户",
    label_en="Customer",
    table="rec_customer",
    whose=Whose(owner="owner", author=False, shared="shared_with", private="security_level",
                gone="merged_into", away=("pool", "binned_at")),
    description_en="One card per legal entity, with its contacts inside.",
    description_zh="每个法人实体一张客户卡片,联系人在卡片内。",
    fields=(
        Field(
            "name",
            "string",
            "客户名称",
            "Name",
            required="on_submit",
            max_length=200,
            help_en="Full registered name, never an abbreviation.",
            help_zh="填写全称,不允许填写简称。",
        ),
        Field(
            "short_name",
            "string",
            "简称",
            "Short name",
            max_length=50,
            help_en="English name, or pinyin of the most telling characters.",
            help_zh="英文名称,或取最具代表性的几个字的拼音。",
        ),
        Field(
            "credit_code",
            "string",
            "统一社会信用代码",
            "Unified social credit code",
            format="credit_code",
        ),
        Field("address", "string", "地址", "Address", max_length=200),
        Field("postcode", "string", "邮编", "Postcode", format="postcode"),
        Field("province", "string", "省", "Province", max_length=50),
        Field("city", "string", "城市", "City", max_length=50),
        Field("county", "string", "县", "County", max_length=50),
        Field("region", "string", "地区", "Region", max_length=50),
        Field(
            "phone",
            "string",
            "电话",
            "Phone",
            format="phone",
            help_en="Area code-number-extension, e.g. 021-63539330-1010.",
            help_zh="区号-号码-分机,如 021-63539330-1010。",
        ),
        Field("email", "string", "电子邮件", "E-mail", format="email", max_length=254),
        Field(
            "website",
            "string",
            "网站",
            "Website",
            format="website",
            max_length=200,
            help_en="Without a scheme: www.example.com.cn.",
            help_zh="前面不要加 http:,如 www.example.com.cn。",
        ),
        Field("industry", "string", "行业", "Industry", max_length=50),
        Field("type", "string", "类型", "Type", max_length=50),
        Field("source", "string", "客户来源", "Source", enum=CUSTOMER_SOURCE),
        Field(
            "profile",
            "string",
            "单位概况",
            "Profile",
            y_type="text",
            max_length=50,
            help_en="At most 50 characters.",
            help_zh="限 50 字内。",
        ),
        Field("notes", "string", "备注", "Notes", y_type="text", max_length=5000),
        Field(
            "category",
            "string",
            "客户分类",
            "Category",
            required="on_submit",
            enum=CUSTOMER_CATEGORY,
        ),
        Field("tier", "string", "客户主分类", "Tier", enum=CUSTOMER_TIER),
        Field("status", "string", "状况", "Status", enum=CUSTOMER_STATUS),
        Field("level", "integer", "级别", "Level", min_value=1, max_value=7),
        Field(
            "owner",
            "user_id",
            "客户经理",
            "Owner",
            max_length=64,
            writers=ACTOR_WRITERS,
            help_en="Defaults to the creator; at creation a rep may leave it out or name "
            "themselves. Moved by a manager, an admin or a merge.",
            help_zh="默认为创建人;创建时业务员只能不填或填自己。由上级、管理员或合并更改。",
        ),
        Field(
            "code",
            "string",
            "客户代码",
            "Customer code",
            max_length=20,
            server_only=True,
            help_en="Assigned by the server.",
            help_zh="由服务器分配。",
        ),
        Field(
            "security_level",
            "integer",
            "安全级别",
            "Security level",
            min_value=0,
            max_value=9,
            default=0,
            writers=ACTOR_WRITERS,
            help_en="Absent means 0.",
            help_zh="默认为 0。",
        ),
        Field(
            "merged_into",
            "doc_id",
            "合并至",
            "Merged into",
            ref_kind="customer",
            writers=frozenset({"admin", "system"}),
            help_en="Set when this card was merged into another; it is then a redirect.",
            help_zh="被合并后指向保留的客户卡片。",
        ),
        Field(
            "pool",
            "string",
            "公海",
            "In the pool",
            enum=CUSTOMER_POOL,
            writers=frozenset({"system"}),
            help_en="Set while the customer has no owner and any rep may claim it: why it "
            "entered the pool. Set and cleared by the server (server/pool.py).",
            help_zh="客户在公海中(无归属人,业务员可领取)时填写进入公海的原因;由服务器设置和清除。",
        ),
        Field(
            "binned_at",
            "timestamp",
            "移入回收站时间",
            "Binned at",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
            writers=frozenset({"system"}),
            help_en="Set while an invalid customer is in the recycle bin; set and cleared by "
            "the server.",
            help_zh="无效客户在回收站中时填写;由服务器设置和清除。",
        ),
        Field(
            "shared_with",
            "user_id",
            "共享给",
            "Shared with",
            y_type="array",
            table="rec_customer_share",
            max_items=200,
            max_length=64,
            help_en="Y.Array of user ids. Changed only by the owner, a manager or an admin; "
            "read as a set (duplicates from concurrent adds collapse).",
            help_zh="用户 id 的 Y.Array;只有客户经理、上级或管理员可以更改。",
        ),
        Field(
            "contacts",
            "list",
            "联系人",
            "Contacts",
            y_type="array",
            table="rec_customer_contact",
            max_items=500,
            items=(
                Field(
                    "id",
                    "string",
                    "编号",
                    "Id",
                    max_length=64,
                    help_en="Stable id made by the device (a uuid).",
                    help_zh="设备生成的固定编号(uuid)。",
                ),
                Field("salutation", "string", "称呼", "Salutation", enum=SALUTATION),
                Field("name", "string", "姓名", "Name", required="on_submit", max_length=50),
                Field("department", "string", "部门", "Department", max_length=100),
                Field("title", "string", "职位", "Title", max_length=100),
                Field("office_phone", "string", "办公电话", "Office phone", format="phone"),
                Field("home_phone", "string", "住宅电话", "Home phone", format="phone"),
                Field("mobile", "string", "手机", "Mobile", format="mobile"),
                Field("email", "string", "电子邮件", "E-mail", format="email", max_length=254),
            ),
        ),
        ATTACHMENTS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule(
            "permission",
            ("owner", "security_level", "merged_into", "shared_with"),
            "A rep or engineer cannot set owner, security level or merged-into; at creation "
            "owner may only be absent or the author. shared_with is changed by the owner, "
            "a manager or an admin.",
            "业务员/工程师不能设置客户经理、安全级别或合并至;创建时客户经理只能不填或为本人。"
            "共享设置只能由客户经理、上级或管理员更改。",
        ),
        Rule(
            "server_only",
            ("code",),
            "The customer code is assigned by the server.",
            "客户代码由服务器分配。",
        ),
    ),
)

# --- visit -------------------------------------------------------------------------------

VISIT_TYPE = (
    _e("visit_out", "去访", "Visit to the customer"),
    _e("visit_in", "来访", "Customer visited us"),
    _e("call_out", "致电", "We called"),
    _e("call_in", "来电", "They called"),
)

VISIT = Kind(
    name="visit",
    label_zh="拜访记录",
    label_en="Visit",
    table="rec_visit",
    whose=Whose(via=("customer_id",)),  # its author's, and its customer's people
    parents=("customer",),
    description_en="A real exchange with a customer, written right after it (关联日程).",
    description_zh="与客户的真实有效交流,交流结束后马上记录(关联日程)。",
    fields=(
        _customer_ref(),
        Field("visit_type", "string", "方式", "Kind", required="on_submit", enum=VISIT_TYPE),
        Field(
            "started_at",
            "timestamp",
            "开始时间",
            "Start",
            required="on_submit",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        Field(
            "ended_at",
            "timestamp",
            "结束时间",
            "End",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        Field("place", "string", "地点", "Place", max_length=200),
        *GPS_FIELDS,
        Field("met_name", "string", "访问对象", "Person met", required="on_submit", max_length=100),
        Field("met_title", "string", "职位", "Their title", max_length=100),
        Field(
            "purpose",
            "string",
            "目的",
            "Purpose",
            y_type="text",
            required="on_submit",
            max_length=2000,
        ),
        Field(
            "result",
            "string",
            "结果",
            "Result",
            y_type="text",
            required="on_submit",
            max_length=5000,
        ),
        Field(
            "next_step",
            "string",
            "下一步计划",
            "Next step",
            y_type="text",
            required="on_submit",
            max_length=2000,
        ),
        Field(
            "previous_visit_id",
            "doc_id",
            "上次拜访",
            "Previous visit",
            ref_kind="visit",
            help_en="The visit of the same customer before this one.",
            help_zh="同一客户的上一条拜访记录。",
        ),
        TRIP_REF,
        ATTACHMENTS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule(
            "time_order",
            ("started_at", "ended_at"),
            "The end is not before the start.",
            "结束时间不能早于开始时间。",
            when="on_submit",
        ),
        Rule(
            "gps.incomplete",
            ("gps_lat", "gps_lon", "gps_accuracy"),
            "A GPS fix has latitude, longitude and accuracy, or none of them.",
            "定位须同时有纬度、经度和精度,或都不填。",
        ),
        Rule(
            "no_answer",
            ("result",),
            'Only substantive contact counts: "no answer" and the like is not a visit.',
            "只有实质交流才算拜访:“未接通”“无人接听”等不算。",
            when="on_submit",
        ),
        Rule(
            "visit.previous_same_customer",
            ("previous_visit_id",),
            "The previous visit belongs to the same customer.",
            "上次拜访必须属于同一客户。",
        ),
    ),
)

# --- service sheet -----------------------------------------------------------------------

SERVICE_TYPE = (
    _e("warranty_repair", "保内维修", "In-warranty repair"),
    _e("paid_repair", "保外维修", "Out-of-warranty repair"),
    _e("installation", "初始安装", "Initial installation"),
    _e("online_support", "在线支持", "Online support"),
    _e("follow_up", "回访服务", "Follow-up visit"),
    _e("training", "培训服务", "Training"),
)
# The subject reads "<date> <stem>服务"; 回访服务 and 培训服务 already end in 服务.
SERVICE_SUBJECT_STEM = {
    "warranty_repair": "保内维修",
    "paid_repair": "保外维修",
    "installation": "初始安装",
    "online_support": "在线支持",
    "follow_up": "回访",
    "training": "培训",
}
SERVICE_STATUS = (
    _e("in_progress", "处理中", "In progress"),
    _e("completed", "完成", "Completed"),
    _e("abandoned", "放弃", "Abandoned"),
)

SERVICE = Kind(
    name="service",
    label_zh="服务单",
    label_en="Service sheet",
    table="rec_service",
    whose=Whose(via=("customer_id",)),  # its author's, and its customer's people
    parents=("customer",),
    description_en="Work done for a customer by a service engineer.",
    description_zh="服务工程师为客户完成的服务。",
    fields=(
        _customer_ref(),
        Field(
            "service_type", "string", "服务主分类", "Type", required="on_submit", enum=SERVICE_TYPE
        ),
        Field(
            "service_date",
            "date",
            "服务日期",
            "Service date",
            required="on_submit",
            help_en="The day of the service (China Standard Time); dates the subject.",
            help_zh="服务日期(北京时间),用于服务主题。",
        ),
        Field(
            "subject",
            "string",
            "服务主题",
            "Subject",
            max_length=100,
            help_en='Filled automatically: "YYYY年M月D日 <type>服务". May be absent; '
            "if present it must equal the computed subject.",
            help_zh="自动填写:“YYYY年M月D日 XXX服务”。可不填;填写时须与自动生成的一致。",
        ),
        Field("status", "string", "服务状态", "Status", required="on_submit", enum=SERVICE_STATUS),
        Field("description", "string", "描述", "Description", y_type="text", max_length=5000),
        Field(
            "responded_at",
            "timestamp",
            "响应时间",
            "Response time",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        Field("content", "string", "服务内容", "Service content", y_type="text", max_length=10000),
        Field(
            "completed_at",
            "timestamp",
            "完成时间",
            "Completion time",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        Field(
            "reminder_at",
            "timestamp",
            "服务提醒",
            "Reminder",
            min_value=MIN_TIMESTAMP,
            max_value=MAX_TIMESTAMP,
        ),
        Field("reminder_note", "string", "提醒内容", "Reminder note", max_length=200),
        Field(
            "products",
            "list",
            "服务产品",
            "Products",
            y_type="array",
            table="rec_service_product",
            max_items=100,
            items=(
                Field(
                    "name", "string", "产品名称", "Product", required="on_submit", max_length=100
                ),
                Field("model", "string", "型号", "Model", max_length=100),
                Field("serial_no", "string", "序列号", "Serial number", max_length=100),
            ),
        ),
        TRIP_REF,
        ATTACHMENTS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule(
            "service.subject",
            ("subject", "service_type", "service_date"),
            'The subject is absent or equals "YYYY年M月D日 <type>服务" for the current '
            "type and date.",
            "服务主题不填,或等于按当前类型和日期生成的“YYYY年M月D日 XXX服务”。",
        ),
        Rule(
            "service.completed_needs_time",
            ("status", "completed_at"),
            "A completed service has a completion time.",
            "完成的服务须填写完成时间。",
            when="on_submit",
        ),
        Rule(
            "time_order",
            ("responded_at", "completed_at"),
            "Completion is not before the response.",
            "完成时间不能早于响应时间。",
            when="on_submit",
        ),
    ),
)

# --- deal --------------------------------------------------------------------------------

DEAL_STAGE = (
    _e(0, "中途放弃或失败", "Abandoned or lost", "中途放弃或失败", "Abandoned or lost"),
    _e(1, "有业务需求", "Has a business need", "口头承诺合作", "Verbal commitment"),
    _e(
        2,
        "确定客户已报财务计划的大致时间安排",
        "Budget timeline filed",
        "对代理培训并已了解了产品",
        "Partner trained on the product",
    ),
    _e(
        3,
        "了解到预算的大小和执行时间",
        "Budget size and timing known",
        "已开始实际销售集成或推动产品",
        "Partner actively selling",
    ),
    _e(
        4,
        "确定财务计划已批准",
        "Budget approved",
        "代理商接受我公司的价格政策",
        "Partner accepts our pricing",
    ),
    _e(
        5,
        "锁定技术负责人并被认可",
        "Technical lead won over",
        "代理商接受我公司的价格政策",
        "Partner accepts our pricing",
    ),
    _e(
        6,
        "锁定决策领导者并被认可",
        "Decision maker won over",
        "产品排他性并与我公司合作",
        "Exclusive with us",
    ),
    _e(
        7,
        "已排除竞争对手",
        "Competitors excluded",
        "投标中标开始协议供货",
        "Tender won, supply agreed",
    ),
    _e(8, "签订合同", "Contract signed", "签订合同", "Contract signed"),
    _e(
        9,
        "开始执行合同发货实施",
        "Delivery under way",
        "开始执行合同发货实施",
        "Delivery under way",
    ),
    _e(10, "实施完毕并成功收款", "Delivered and paid", "实施完毕并成功收款", "Delivered and paid"),
)
DEAL_CLASS = (
    _e(
        "short",
        "短线",
        "Short-term",
        "3 个月内成交,阶段 ≥ 3,每 7 天跟进",
        "Closes within 3 months, stage >= 3, follow up every 7 days",
    ),
    _e(
        "medium",
        "中线",
        "Medium-term",
        "1 年内成交,阶段 ≥ 2,每 15 天跟进",
        "Closes within a year, stage >= 2, follow up every 15 days",
    ),
    _e(
        "lead",
        "线索",
        "Lead",
        "采购时间不明或 1 年以上,阶段 1,每 15 天跟进",
        "Timing unknown or over a year, stage 1, follow up every 15 days",
    ),
    _e("won", "已成交", "Won", "收款完毕,阶段 10", "Paid in full, stage 10"),
    _e(
        "lost",
        "放弃/丢单",
        "Lost",
        "确认不能成交,阶段 0,须写明原因",
        "Cannot close, stage 0, reason required",
    ),
)
# Days between follow-ups per class (000 §4.1.3); won and lost need none.
FOLLOW_UP_DAYS: dict[str, int] = {"short": 7, "medium": 15, "lead": 15}
# Stages allowed per class (000 §4.1.3).
CLASS_STAGES: dict[str, tuple[int, ...]] = {
    "short": tuple(range(3, 10)),
    "medium": tuple(range(2, 10)),
    "lead": (1,),
    "won": (10,),
    "lost": (0,),
}
DEAL_INTENT = (
    _e("scanner", "扫描仪", "Scanners"),
    _e("storage", "存储系统", "Storage systems"),
    _e("software", "软件", "Software"),
    _e("printer", "打印机", "Printers"),
    _e("consumables", "耗材", "Consumables"),
    _e("integrated", "综合设备", "Integrated equipment"),
)


def _detail(name: str, zh: str, en: str) -> Field:
    return Field(name, "string", zh, en, y_type="text", required="on_submit", max_length=2000)


DEAL = Kind(
    name="deal",
    label_zh="跟单",
    label_en="Deal",
    table="rec_deal",
    whose=Whose(via=("customer_id",)),  # its author's, and its customer's people
    parents=("customer",),
    description_en="A sales opportunity with a direct customer, followed in stages 0-10.",
    description_zh="与直接客户的销售机会,按 0-10 阶段跟进。",
    fields=(
        _customer_ref(),
        Field("title", "string", "跟单名称", "Title", required="on_submit", max_length=200),
        Field("deal_class", "string", "跟单主分类", "Class", required="on_submit", enum=DEAL_CLASS),
        Field(
            "stage",
            "integer",
            "跟单阶段",
            "Stage",
            required="on_submit",
            enum=DEAL_STAGE,
            help_en="Labels: towards the customer; notes: towards a partner.",
            help_zh="名称针对客户;备注针对代理商。",
        ),
        Field(
            "probability",
            "integer",
            "阶段评估",
            "Probability (%)",
            min_value=0,
            max_value=100,
            help_en="Absent, or 10 × stage.",
            help_zh="不填,或等于阶段 × 10。",
        ),
        Field("intent", "string", "跟单意向", "Intent", required="on_submit", enum=DEAL_INTENT),
        Field(
            "expected_close_date",
            "date",
            "预计成交日期",
            "Expected close date",
            required="on_submit",
            help_en="Set explicitly by the rep; there is no default.",
            help_zh="务必如实填写,没有默认值。",
        ),
        _detail("purchase_reason", "采购原因", "Reason for purchase"),
        _detail("purchase_form", "采购形式", "Form of purchase"),
        _detail("budget", "项目预算", "Project budget"),
        _detail("requirements", "项目要求", "Project requirements"),
        _detail("schedule", "项目执行时间", "Project schedule"),
        _detail("competitors", "竞争对手情况", "Competitors"),
        Field("lost_reason", "string", "丢单原因", "Reason lost", y_type="text", max_length=2000),
        Field(
            "products",
            "list",
            "跟单产品",
            "Products",
            y_type="array",
            table="rec_deal_product",
            required="on_submit",
            max_items=100,
            items=(
                Field(
                    "name", "string", "产品名称", "Product", required="on_submit", max_length=100
                ),
                Field("model", "string", "产品型号", "Model", max_length=100),
                Field(
                    "quantity",
                    "integer",
                    "数量",
                    "Quantity",
                    required="on_submit",
                    min_value=1,
                    max_value=1_000_000,
                ),
                Field("unit_price", "number", "单价", "Unit price", min_value=0, max_value=1e12),
            ),
        ),
        *COMMON_FIELDS,
    ),
    rules=(
        Rule(
            "deal.direct_customer_only",
            ("customer_id",),
            "Deals are only for direct customers, never distributors.",
            "只允许直接客户建立跟单,分销商客户不能建立跟单。",
        ),
        Rule(
            "deal.probability",
            ("stage", "probability"),
            "The probability is absent or 10 × the stage.",
            "阶段评估不填或等于阶段 × 10%。",
        ),
        Rule(
            "deal.class_stage",
            ("deal_class", "stage"),
            "Short: stage 3-9; medium: 2-9; lead: 1; won: 10; lost: 0.",
            "短线:阶段 3-9;中线:2-9;线索:1;已成交:10;放弃/丢单:0。",
            when="on_submit",
        ),
        Rule(
            "deal.lost_reason",
            ("deal_class", "lost_reason"),
            "A lost deal states why.",
            "放弃或丢单须写明原因。",
            when="on_submit",
        ),
    ),
)

# --- progress ----------------------------------------------------------------------------

PROGRESS = Kind(
    name="progress",
    label_zh="进展记录",
    label_en="Progress record",
    table="rec_progress",
    whose=Whose(via=("customer_id",)),  # its author's, and its customer's people
    parents=("customer", "deal"),
    description_en="Where a deal stands and what comes next.",
    description_zh="描述项目当前阶段的状态和下一步要做的事情。",
    fields=(
        _customer_ref(),
        Field(
            "deal_id",
            "doc_id",
            "跟单",
            "Deal",
            required="always",
            ref_kind="deal",
            immutable_after_create=True,
            immutable_exempt=frozenset({"system", "admin"}),
        ),
        Field(
            "detail",
            "string",
            "进展详情",
            "Progress detail",
            y_type="text",
            required="on_submit",
            max_length=5000,
            help_en='Real progress; "no answer", "did not meet" and the like are refused.',
            help_zh="须填写有效联系和实际进展,不允许填写“电话未接通”“未见到本人”等。",
        ),
        Field(
            "next_step",
            "string",
            "下一步计划",
            "Next step",
            y_type="text",
            required="on_submit",
            max_length=2000,
        ),
        Field("stage", "integer", "进展阶段", "Stage", enum=DEAL_STAGE,
              help_en="Carried to the deal by the server (000 §4.3.5).",
              help_zh="由服务器同步到跟单(000 §4.3.5)。"),
        Field("deal_class", "string", "跟单主分类", "Deal class", enum=DEAL_CLASS,
              help_en="Set when the deal's class changes; carried to the deal by the server.",
              help_zh="跟单主分类变更时填写;由服务器同步到跟单。"),
        Field(
            "count_as_contact",
            "boolean",
            "转为日程",
            "Counts as a contact",
            help_en="Counted as a customer contact in the reports.",
            help_zh="计入与客户联络次数的统计。",
        ),
        *COMMON_FIELDS,
    ),
    rules=(
        Rule(
            "progress.customer_matches_deal",
            ("customer_id", "deal_id"),
            "The customer is the deal's customer.",
            "客户必须是该跟单的客户。",
        ),
        Rule(
            "no_answer",
            ("detail",),
            'Empty or "no answer"-style progress is refused.',
            "不允许填写“电话未接通”“未见到本人”等没有实际内容的信息。",
            when="on_submit",
        ),
        Rule(
            "progress.class_stage",
            ("stage", "deal_class"),
            "The stage fits the deal's class (the new class when it changes).",
            "进展阶段须符合跟单主分类(变更时按新的主分类)。",
            when="on_submit",
        ),
    ),
)

# --- task / schedule (日程 / 任务) ----------------------------------------------------------

TASK_TYPE = (
    _e("visit", "拜访", "Visit"),
    _e("call", "电话", "Call"),
    _e("follow_up", "跟进", "Follow-up"),
    _e("service", "服务", "Service"),
    _e("other", "其他", "Other"),
)
TASK_PRIORITY = (
    _e("high", "高", "High"),
    _e("normal", "中", "Normal"),
    _e("low", "低", "Low"),
)
TASK_STATUS = (
    _e("open", "待办", "To do"),
    _e("done", "完成", "Done"),
    _e("cancelled", "取消", "Cancelled"),
)


def _link(name: str, ref_kind: str, zh: str, en: str) -> Field:
    return Field(name, "doc_id", zh, en, ref_kind=ref_kind)


TASK = Kind(
    name="task",
    label_zh="日程",
    label_en="Task",
    table="rec_task",
    # the assignee's (a manager's assignment reaches the rep), its author's, its customer's
    whose=Whose(owner="assignee", author=True, via=("customer_id",)),
    description_en="Planned field work: a visit, call, follow-up or service to do, with a "
    "reminder; done by the record that did it.",
    description_zh="计划的外勤工作:要做的拜访、电话、跟进或服务,带提醒;由完成它的记录完成。",
    fields=(
        Field("subject", "string", "主题", "Subject", required="always", min_length=1,
              max_length=200),
        Field("task_type", "string", "类型", "Type", required="always", enum=TASK_TYPE),
        Field("customer_id", "doc_id", "客户", "Customer", ref_kind="customer",
              help_en="Optional; tasks of a customer are seen by its owner too.",
              help_zh="可选;客户的日程其客户经理也能看到。"),
        _link("deal_id", "deal", "跟单", "Deal"),
        _link("service_id", "service", "服务单", "Service sheet"),
        _link("visit_id", "visit", "拜访记录", "Visit"),
        Field("planned_start", "timestamp", "计划开始", "Planned start", required="always",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP),
        Field("planned_end", "timestamp", "计划结束", "Planned end",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP),
        Field("remind_at", "timestamp", "提醒时间", "Remind at",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP,
              help_en="The phone notifies at this time; not after the planned end.",
              help_zh="手机在此时提醒;不能晚于计划结束时间。"),
        Field("assignee", "user_id", "执行人", "Assignee", required="always", max_length=64,
              help_en="The author, or for a manager one of their reports.",
              help_zh="创建人本人,或上级主管的下属。"),
        Field("priority", "string", "优先级", "Priority", enum=TASK_PRIORITY, default="normal"),
        Field("status", "string", "状态", "Status", required="always", enum=TASK_STATUS,
              default="open"),
        Field("completed_at", "timestamp", "完成时间", "Completed at",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP),
        Field("done_with", "doc_id", "完成记录", "Done with",
              help_en="The visit, progress record or service sheet that did it.",
              help_zh="完成该日程的拜访记录、进展记录或服务单。"),
        Field("notes", "string", "备注", "Notes", y_type="text", max_length=2000),
        TRIP_REF,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule("time_order", ("planned_start", "planned_end"),
             "The planned end is not before the start.", "计划结束不能早于计划开始。"),
        Rule("task.remind_after_end", ("remind_at", "planned_end"),
             "The reminder is not after the planned end.", "提醒时间不能晚于计划结束时间。"),
        Rule("task.completed_needs_done", ("completed_at", "status"),
             "Only a done task has a completion time, and a done task has one.",
             "只有已完成的日程有完成时间,已完成的日程必须有完成时间。"),
        Rule("task.assignee_outside_tree", ("assignee",),
             "The assignee is the author or, for a manager, one of their reports.",
             "执行人须为创建人本人,或上级主管的下属。"),
        Rule("task.not_yours_to_complete", ("status", "completed_at"),
             "Only the assignee, their manager or an admin completes or cancels a task.",
             "只有执行人、其上级或管理员可以完成或取消日程。"),
    ),
)

# --- approvals (审批, seed 004 §3.2) --------------------------------------------------------

APPROVAL_STATUS = (
    _e("draft", "草稿", "Draft"),
    _e("submitted", "审批中", "Submitted"),
    _e("approved", "已通过", "Approved"),
    _e("rejected", "已拒绝", "Rejected"),
    _e("returned", "已退回", "Returned"),
    _e("withdrawn", "已撤销", "Withdrawn"),
)
# What a device may set; the rest are decisions, made by the server (server.approvals).
AUTHOR_STATUSES = ("draft", "submitted", "withdrawn")
APPROVAL_ACTION = (
    _e("submit", "提交", "Submitted"),
    _e("open", "查看", "Opened"),
    _e("approve", "通过", "Approved"),
    _e("reject", "拒绝", "Rejected"),
    _e("return", "退回", "Returned"),
    _e("withdraw", "撤销", "Withdrawn"),
)

APPROVAL_FIELDS: tuple[Field, ...] = (
    Field(
        "approval_status",
        "string",
        "审批状态",
        "Approval status",
        enum=APPROVAL_STATUS,
        default="draft",
        help_en="The author sets submitted (from draft, returned or withdrawn) and withdrawn "
        "(until the approver opens it); approved, rejected and returned are decisions, set "
        "by the server.",
        help_zh="作者可设为审批中(从草稿、已退回或已撤销)和已撤销(审批人查看之前);"
        "已通过、已拒绝、已退回是审批决定,由服务器设置。",
    ),
    Field(
        "approvers",
        "user_id",
        "审批人",
        "Approvers",
        y_type="array",
        table="rec_approver",
        ordered=True,
        max_items=10,
        max_length=64,
        server_only=True,
        help_en="Set by the server at submit: the author's manager, then (an expense above "
        "the admin's threshold) the manager's manager.",
        help_zh="提交时由服务器设置:作者的上级;费用超过管理员设定的金额时,再加上级的上级。",
    ),
    Field(
        "approval_step",
        "integer",
        "当前审批步骤",
        "Approval step",
        min_value=0,
        max_value=10,
        server_only=True,
        help_en="Index of the current approver in approvers.",
        help_zh="当前审批人在审批人列表中的位置。",
    ),
    Field(
        "opened_at",
        "timestamp",
        "审批人查看时间",
        "Opened at",
        min_value=MIN_TIMESTAMP,
        max_value=MAX_TIMESTAMP,
        server_only=True,
        help_en="When the current approver first opened it; the author cannot withdraw after.",
        help_zh="当前审批人首次查看的时间;此后作者不能撤销。",
    ),
    Field(
        "approval_log",
        "list",
        "流程信息",
        "Approval history",
        y_type="array",
        table="rec_approval_step",
        max_items=500,
        server_only=True,
        help_en="Every step of the flow, written by the server.",
        help_zh="审批流程的每一步,由服务器记录。",
        items=(
            Field("action", "string", "操作", "Action", required="always",
                  enum=APPROVAL_ACTION),
            Field("by", "user_id", "操作人", "By", required="always", max_length=64),
            Field("at", "timestamp", "时间", "At", required="always",
                  min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP),
            Field("comment", "string", "意见", "Comment", max_length=2000),
            Field("device", "string", "设备", "Device", max_length=200),
        ),
    ),
)

APPROVAL_RULES: tuple[Rule, ...] = (
    Rule("approval.status_by_server", ("approval_status",),
         "Approved, rejected and returned are set by the server (a decision), never by a "
         "device.", "已通过、已拒绝、已退回由服务器(审批决定)设置,设备不能设置。"),
    Rule("approval.transition", ("approval_status", "submitted_at"),
         "Only the author submits (from draft, returned or withdrawn, with submitted_at set) "
         "or withdraws (a submitted record).",
         "只有作者可以提交(从草稿、已退回或已撤销,并填写提交时间)或撤销(审批中的记录)。"),
    Rule("approval.pending_locked", ("approval_status",),
         "A record waiting for approval is not changed, except to withdraw it.",
         "审批中的记录不能修改,只能撤销。"),
    Rule("approval.opened", ("approval_status", "opened_at"),
         "The author withdraws only until an approver has opened the record.",
         "审批人查看后作者不能再撤销。"),
    Rule("approval.approved_immutable", ("approval_status",),
         "An approved record is changed by an admin only.", "已通过的记录只有管理员可以修改。"),
    Rule("approval.rejected_final", ("approval_status",),
         "A rejected record is final.", "已拒绝的记录不能再修改。"),
)


def _subject(help_en: str, help_zh: str) -> Field:
    return Field("subject", "string", "主题", "Subject", required="always", min_length=1,
                 max_length=200, help_en=help_en, help_zh=help_zh)


def _text(name: str, zh: str, en: str, required: Required = "on_submit") -> Field:
    return Field(name, "string", zh, en, y_type="text", required=required, max_length=5000)


# --- trip plan 出差计划 (000 §2.1) -----------------------------------------------------------

TRIP_PLAN = Kind(
    name="trip_plan",
    label_zh="出差计划",
    label_en="Trip plan",
    table="rec_trip_plan",
    whose=Whose(author=True),  # its author's; their managers (the approvers) see it too
    description_en="A business trip planned: region, dates, the customers to visit and why, "
    "budget; approved by the author's manager. Its stops become planned tasks at submit.",
    description_zh="出差计划:地区、日期、拜访的客户及目的、预算;由上级审批。"
    "提交时每个拜访客户生成一条计划日程。",
    fields=(
        _subject('"YYYY年M月D日-<地区>-出差计划—<姓名>", the date of the start; filled by the '
                 "phone.", "“YYYY年M月D日-地区-出差计划—姓名”,日期为出发日期;手机自动填写。"),
        Field("region", "string", "地区", "Region", required="always", min_length=1,
              max_length=50),
        Field("start_date", "date", "出发日期", "Start date", required="always"),
        Field("end_date", "date", "返回日期", "End date", required="always"),
        Field(
            "stops",
            "list",
            "拜访客户",
            "Customers to visit",
            y_type="array",
            table="rec_trip_stop",
            max_items=100,
            items=(
                Field("customer_id", "doc_id", "客户", "Customer", required="always",
                      ref_kind="customer"),
                Field("purpose", "string", "目的", "Purpose", required="always", min_length=1,
                      max_length=500),
            ),
        ),
        Field("budget_fen", "integer", "预算(分)", "Budget (fen)", min_value=0,
              max_value=1_000_000_000, help_en="Yuan × 100, exactly.", help_zh="元 × 100,整数。"),
        Field("notes", "string", "备注", "Notes", y_type="text", max_length=5000),
        *APPROVAL_FIELDS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule("trip_plan.subject", ("subject", "start_date", "region"),
             'The subject is "YYYY年M月D日-<region>-出差计划—<name>" for the start date.',
             "主题为按出发日期和地区生成的“YYYY年M月D日-地区-出差计划—姓名”。"),
        Rule("time_order", ("start_date", "end_date"), "The end is not before the start.",
             "返回日期不能早于出发日期。"),
        *APPROVAL_RULES,
    ),
)

# --- trip report 出差报告 (000 §2.2) ---------------------------------------------------------

TRIP_REPORT = Kind(
    name="trip_report",
    label_zh="出差报告",
    label_en="Trip report",
    table="rec_trip_report",
    whose=Whose(author=True),
    description_en="What a trip achieved; its visits, service sheets and expenses are those "
    "whose trip is its plan (listed, never copied).",
    description_zh="出差的结果;其拜访、服务单和费用为关联到该出差计划的记录(列出,不复制)。",
    fields=(
        _subject('"出差报告+<姓名>".', "“出差报告+姓名”。"),
        Field("plan_id", "doc_id", "出差计划", "Trip plan", required="always",
              ref_kind="trip_plan"),
        Field("started_at", "timestamp", "行动开始", "Started at", required="on_submit",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP,
              help_en="When the trip really started.", help_zh="实际出发时间。"),
        Field("ended_at", "timestamp", "行动结束", "Ended at", required="on_submit",
              min_value=MIN_TIMESTAMP, max_value=MAX_TIMESTAMP,
              help_en="When the trip really ended.", help_zh="实际返回时间。"),
        _text("purpose", "目的", "Purpose"),
        _text("result", "结果", "Result"),
        _text("next_step", "下一步计划", "Next step"),
        *COMMON_FIELDS,
    ),
    rules=(
        Rule("trip_report.subject", ("subject",), 'The subject is "出差报告+<name>".',
             "主题为“出差报告+姓名”。"),
        Rule("time_order", ("started_at", "ended_at"), "The end is not before the start.",
             "结束时间不能早于开始时间。"),
    ),
)

# --- expense 费用 (000 §6.1) ------------------------------------------------------------------

EXPENSE_TYPE = (
    _e("transport", "交通费", "Transport"),
    _e("lodging", "住宿费", "Lodging"),
    _e("meals", "餐饮费", "Meals"),
    _e("entertainment", "招待费", "Entertainment"),
    _e("communication", "通讯费", "Communication"),
    _e("office", "办公费", "Office"),
    _e("other", "其他", "Other", "没有合适的类型时选择", "When no other type fits"),
)
MAX_EXPENSE_FEN = 10_000_000  # ¥100,000 in one expense


def expense_type_word(value: str) -> str | None:
    """The type as the subject reads it: the label without its trailing 费 (交通费 → 交通,
    其他 → 其他), so that "<word>费用" reads right."""
    for e in EXPENSE_TYPE:
        if e.value == value:
            return e.label_zh.removesuffix("费")
    return None


EXPENSE = Kind(
    name="expense",
    label_zh="费用",
    label_en="Expense",
    table="rec_expense",
    whose=Whose(author=True, via=("customer_id",)),
    parents=("customer",),
    description_en="One expense, in integer fen, tied to the CRM records of the work it served "
    "(应用管理制度 §三.4); receipts as attachments; approved by the manager (and theirs above "
    "the admin's threshold).",
    description_zh="一笔费用,金额以分为单位;关联其服务的客户、拜访、跟单或出差(应用管理制度 §三.4);"
    "票据作为附件;由上级审批(超过管理员设定金额时再由上级的上级审批)。",
    fields=(
        _subject('"YYYY年MM月DD日<类型>费用—<姓名>", zero padded, the type without its '
                 "trailing 费 (交通费 → 交通费用).",
                 "“YYYY年MM月DD日XX费用—姓名”,月日补零,类型去掉末尾的“费”(交通费 → 交通费用)。"),
        Field("expense_date", "date", "费用日期", "Date", required="always",
              help_en="Not after today (China Standard Time).", help_zh="不能晚于今天(北京时间)。"),
        Field("expense_type", "string", "费用类型", "Type", required="always",
              enum=EXPENSE_TYPE),
        Field("amount_fen", "integer", "金额(分)", "Amount (fen)", required="always",
              min_value=1, max_value=MAX_EXPENSE_FEN,
              help_en="Yuan × 100, exactly: ¥0.01 to ¥100,000.",
              help_zh="元 × 100,整数:0.01 元至 100,000 元。"),
        Field("description", "string", "描述", "Description", y_type="text", max_length=5000),
        TRIP_REF,
        _link("visit_id", "visit", "拜访记录", "Visit"),
        Field("customer_id", "doc_id", "客户", "Customer", ref_kind="customer"),
        _link("deal_id", "deal", "跟单", "Deal"),
        ATTACHMENTS,
        *APPROVAL_FIELDS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule("expense.subject", ("subject", "expense_date", "expense_type"),
             'The subject is "YYYY年MM月DD日<type>费用—<name>" for the date and type.',
             "主题为按日期和类型生成的“YYYY年MM月DD日XX费用—姓名”。"),
        Rule("expense.future_date", ("expense_date",), "The date is not after today.",
             "费用日期不能晚于今天。"),
        *APPROVAL_RULES,
    ),
)

# --- work report 工作报告 (000 §1.1) ----------------------------------------------------------

REPORT_PERIOD = (
    _e("week", "周报", "Weekly report"),
    _e("month", "月报", "Monthly report"),
)

WORK_REPORT = Kind(
    name="work_report",
    label_zh="工作报告",
    label_en="Work report",
    table="rec_work_report",
    whose=Whose(author=True),
    description_en="A weekly or monthly report to the author's manager; the phone pre-fills a "
    "draft from the period's records, the text is the rep's.",
    description_zh="交给上级的周报或月报;手机按该期间的记录预填草稿,内容由作者编写。",
    fields=(
        Field("period", "string", "报告类型", "Period", required="always", enum=REPORT_PERIOD),
        Field("period_start", "date", "期间开始", "Period start", required="always",
              help_en="A Monday for a week, the 1st for a month.",
              help_zh="周报为周一,月报为当月 1 日。"),
        _subject('"YYYY年第W周工作周报—<姓名>" (ISO week) or "YYYY年M月工作月报—<姓名>".',
                 "“YYYY年第W周工作周报—姓名”(ISO 周)或“YYYY年M月工作月报—姓名”。"),
        Field("addressed_to", "user_id", "呈报", "Addressed to", max_length=64,
              help_en="The author's manager; set by the server at submit.",
              help_zh="作者的上级;提交时由服务器确定。"),
        _text("body", "内容", "Report"),
        ATTACHMENTS,
        *APPROVAL_FIELDS,
        *COMMON_FIELDS,
    ),
    rules=(
        Rule("work_report.period_start", ("period", "period_start"),
             "A week starts on a Monday, a month on the 1st.", "周报从周一开始,月报从 1 日开始。"),
        Rule("work_report.subject", ("subject", "period", "period_start"),
             'The subject is "YYYY年第W周工作周报—<name>" or "YYYY年M月工作月报—<name>".',
             "主题为“YYYY年第W周工作周报—姓名”或“YYYY年M月工作月报—姓名”。"),
        *APPROVAL_RULES,
    ),
)

APPROVAL_KINDS = frozenset({"trip_plan", "expense", "work_report"})

KINDS: dict[str, Kind] = {k.name: k for k in (
    CUSTOMER, VISIT, SERVICE, DEAL, PROGRESS, TASK, TRIP_PLAN, TRIP_REPORT, EXPENSE, WORK_REPORT)}


def get_kind(name: str) -> Kind:
    """The declared kind called `name`; KeyError if there is none."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown record kind {name!r}") from None


def iter_fields(kind: Kind) -> Iterator[tuple[str, Field]]:
    """Every field of a kind with its path (`contacts.mobile` for list items)."""
    for f in kind.fields:
        yield f.name, f
        for item in f.items:
            yield f"{f.name}.{item.name}", item
