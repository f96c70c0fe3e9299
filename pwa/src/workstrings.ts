// UI strings of the work area (trips, expenses, work reports, approvals), zh-CN first and
// English second; kept apart from i18n.ts so the work screens' strings live with them.
import { getLang } from "./i18n";

const W = {
  work: ["工作", "Work"],
  trips: ["出差计划", "Trip plans"],
  trip_reports: ["出差报告", "Trip reports"],
  expenses: ["费用", "Expenses"],
  reports: ["工作报告", "Work reports"],
  approvals: ["待我审批", "Waiting for my decision"],
  new_trip_plan: ["新建出差计划", "New trip plan"],
  new_trip_report: ["新建出差报告", "New trip report"],
  new_expense: ["新建费用", "New expense"],
  new_work_report: ["新建工作报告", "New work report"],
  none: ["暂无", "None yet"],
  not_on_server: ["服务器尚不支持此类记录(需要新版服务器)。", "The server does not take these records yet (it needs a newer version)."],
  subject_auto: ["自动生成", "Filled in automatically"],
  stops: ["拜访客户", "Customers to visit"],
  add_stop: ["添加客户", "Add a customer"],
  purpose: ["目的", "Purpose"],
  amount_yuan: ["金额(元)", "Amount (yuan)"],
  budget_yuan: ["预算(元)", "Budget (yuan)"],
  choose: ["—", "—"],
  submit_approval: ["提交审批", "Submit for approval"],
  resubmit: ["重新提交", "Submit again"],
  withdraw: ["撤销", "Withdraw"],
  edit: ["编辑", "Edit"],
  approval_log: ["流程信息", "Approval log"],
  status: ["审批状态", "Approval status"],
  draft_fill: ["按本期记录生成草稿", "Draft from this period's records"],
  draft_replace: ["正文已有内容,用草稿替换吗?", "The text is not empty; replace it with the draft?"],
  linked: ["本次出差的记录", "This trip's records"],
  visits: ["拜访", "Visits"],
  services: ["服务单", "Service sheets"],
  total: ["合计", "Total"],
  returned_comment: ["已退回:{c}", "Returned: {c}"],
  by_me: ["我", "me"],
  approver: ["审批人", "Approver"],
  author: ["提交人", "Author"],
  step: ["第 {n}/{m} 级审批", "step {n} of {m}"],
  my_manager: ["我的上级", "my manager"],
  device_phone: ["手机", "phone"],
  device_api: ["在线审批", "online (app)"],
  device_backoffice: ["后台", "back office"],
  comment: ["审批意见", "Comment"],
  approve: ["通过", "Approve"],
  return: ["退回", "Return"],
  reject: ["拒绝", "Reject"],
  decided: ["已处理", "Decided"],
  inbox_offline: ["审批需要网络。", "Decisions need a network connection."],
  inbox_empty: ["没有待审批的记录。", "Nothing is waiting for you."],
  submitted: ["已提交审批", "Submitted for approval"],
  submitted_offline: ["已提交,联网后同步给审批人", "Submitted; it reaches the approver when online"],
  withdrawn_done: ["已撤销", "Withdrawn"],
  period_start_bad: ["周报从周一开始,月报从1日开始", "A weekly report starts on a Monday, a monthly one on the 1st"],
  end_before_start: ["结束日期不能早于开始日期", "The end is not before the start"],
  future_date: ["费用日期不能晚于今天", "The expense date cannot be after today"],
  trip: ["出差", "Trip"],
  customer: ["客户", "Customer"],
  addressed_to: ["呈报上级主管(提交时由服务器确定)", "To your manager (the server sets who at submit)"],
  no_manager: ["没有上级主管,无法呈报", "You have no manager to address it to"],
  waiting_for: ["等待 {who} 审批", "Waiting for {who}"],
  add_pdf: ["添加PDF票据", "Add a PDF receipt"],
  pdf_receipt: ["PDF票据", "PDF receipt"],
  pdf_not_pdf: ["“{f}”不是PDF文件;票据请拍照或选择PDF", "“{f}” is not a PDF; photograph the receipt or pick a PDF"],
  pdf_too_big: ["“{f}”超过 {n},无法上传", "“{f}” is larger than {n} and cannot be uploaded"],
  pdf_unavailable: ["无法打开PDF(不在本机,需联网)", "Cannot open the PDF (not on this phone; needs a network)"],
  n_photos: ["{n} 张照片", "{n} photo(s)"],
} as const satisfies Record<string, readonly [string, string]>;

export type WorkKey = keyof typeof W;

/** Both languages of a string, for labels handed to the schema's checks. */
export function both(key: WorkKey): { label_zh: string; label_en: string } {
  return { label_zh: W[key][0], label_en: W[key][1] };
}

export function w(key: WorkKey, vars: Record<string, string | number> = {}): string {
  let s: string = W[key][getLang() === "zh" ? 0 : 1];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}
