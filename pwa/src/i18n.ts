// UI strings, Chinese first and English second. Field and enum labels come from the schema.

export type Lang = "zh" | "en";

let lang: Lang = (localStorage.getItem("waiqin.lang") as Lang | null) ?? "zh";

export function getLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem("waiqin.lang", l);
  document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
}

const STRINGS = {
  app: ["外勤", "Waiqin"],
  login: ["登录", "Log in"],
  login_again: ["登录已失效,请重新登录。未同步的修改会保留。", "Your session ended. Log in again; unsent changes are kept."],
  device_revoked: ["此设备已被停用,请重新登录。未同步的修改会保留。", "This device was revoked. Log in again; unsent changes are kept."],
  username: ["用户名", "Login"],
  password: ["密码", "Password"],
  login_failed: ["登录失败", "Login failed"],
  login_needs_network: ["首次登录需要网络", "The first login needs a network connection"],
  logout: ["退出登录", "Log out"],
  logout_unsent: ["还有 {n} 项修改未同步。退出后它们仍保存在本机,重新登录后继续同步。", "{n} changes are not sent yet. They stay on this device and go out after the next login."],
  other_user: ["本机保存的是另一位用户的数据,登录后将清除。", "This device holds another user's data; it is cleared on login."],
  other_user_unsent: ["另一位用户还有 {n} 项未同步的修改,不能切换用户。", "Another user has {n} unsent changes here; switch users after they sync."],
  customers: ["我的客户", "My customers"],
  show_more: ["显示更多(还有 {n} 个)", "Show more ({n} left)"],
  other_tab: ["外勤已在另一个标签页或窗口中打开,请在那里继续。", "Waiqin is open in another tab or window; carry on there."],
  photos_pending: ["待上传 {p} / 共 {n}", "{p} to upload of {n}"],
  storage: ["本机存储", "Storage on this device"],
  persisted_yes: ["持久保存", "persistent"],
  persisted_no: ["可能被浏览器清理", "may be cleared by the browser"],
  search: ["搜索客户名称、简称、代码", "Search name, short name, code"],
  all_categories: ["全部分类", "All categories"],
  all_statuses: ["全部状况", "All statuses"],
  new_customer: ["新建客户", "New customer"],
  edit: ["编辑", "Edit"],
  save: ["保存", "Save"],
  save_draft: ["存草稿", "Save draft"],
  cancel: ["取消", "Cancel"],
  back: ["返回", "Back"],
  saved: ["已保存在本机", "Saved on this device"],
  no_customers: ["还没有客户。点“新建客户”开始。", "No customers yet. Tap “New customer” to start."],
  overdue: ["逾期 {n} 天", "{n} days overdue"],
  never_visited: ["未拜访", "Never visited"],
  last_visit: ["最近联系", "Last contact"],
  completeness: ["完整度", "Completeness"],
  missing: ["缺少", "Missing"],
  complete: ["资料完整", "Complete"],
  contacts: ["联系人", "Contacts"],
  add_contact: ["添加联系人", "Add contact"],
  add_product: ["添加产品", "Add product"],
  remove: ["删除", "Remove"],
  timeline: ["记录", "Timeline"],
  nothing_yet: ["暂无记录", "Nothing yet"],
  new_visit: ["新建拜访", "New visit"],
  new_service: ["新建服务单", "New service sheet"],
  new_deal: ["新建跟单", "New deal"],
  new_progress: ["新建进展", "New progress"],
  today: ["今日", "Today"],
  new_task: ["新建日程", "New task"],
  today_tasks: ["待办日程", "Tasks due"],
  today_customers: ["逾期未联系的客户", "Customers overdue for contact"],
  today_deals: ["待跟进的跟单", "Deals due for follow-up"],
  today_reminders: ["服务提醒", "Service reminders"],
  today_open_services: ["处理中的服务单", "Open service sheets"],
  today_empty: ["今天没有待办事项", "Nothing due today"],
  today_loading: ["正在读取本机记录,列表稍后完整", "Reading the records on this device; the list completes shortly"],
  today_no_schema: ["请联网一次以下载表单定义", "Connect once to download the forms"],
  task_start: ["开始", "Start"],
  last_contact_at: ["上次联系 {t}", "Last contact {t}"],
  never_contacted: ["从未联系", "Never contacted"],
  service_reminder: ["服务提醒", "Service reminder"],
  next_task_make: ["把下一步计划设为日程", "Make the next step a task"],
  next_task_subject: ["下一步计划", "Next step"],
  team_member: ["成员", "Member"],
  reminder: ["日程提醒", "Reminder"],
  reminder_snooze: ["稍后提醒", "Snooze"],
  reminder_done: ["完成", "Done"],
  progress_records: ["进展记录", "Progress records"],
  customer: ["客户", "Customer"],
  choose_customer: ["选择客户", "Choose a customer"],
  gps_checkin: ["GPS 签到", "GPS check-in"],
  gps_locating: ["正在定位…", "Locating…"],
  gps_accuracy: ["精度 ±{n} 米", "accuracy ±{n} m"],
  gps_failed: ["定位失败:{e}", "Location failed: {e}"],
  gps_clear: ["清除定位", "Clear"],
  gps_again: ["重新签到", "Check in again"],
  gps_checked_at: ["已签到 {t}", "Checked in at {t}"],
  picker_placeholder: ["输入客户名称、简称、代码或拼音首字母", "Type a name, short name, code or pinyin initials"],
  picker_first: ["今天和最近的客户", "Today's and recent customers"],
  picker_type: ["输入几个字搜索客户", "Type to search your customers"],
  picker_none: ["没有找到客户", "No customer found"],
  picker_today: ["今天", "today"],
  picker_recent: ["最近", "recent"],
  picker_change: ["更换", "Change"],
  first_contact: ["联系人", "Contact"],
  first_contact_more: ["{n}:更多信息", "{n}: more"],
  more_fields: ["更多资料", "More details"],
  more_fields_hint: ["简称、状况、地址、行业、概况…", "short name, status, address, industry, profile…"],
  saved_draft: ["草稿已保存在本机", "Draft saved on this device"],
  photo_held: ["保存后上传", "Uploads after saving"],
  photo_no_caption: ["无说明", "no caption"],
  photos: ["照片", "Photos"],
  take_photo: ["拍照 / 选择照片", "Take or choose a photo"],
  photo_queued: ["等待上传", "Waiting to upload"],
  photo_uploading: ["上传中", "Uploading"],
  photo_uploaded: ["已上传", "Uploaded"],
  photo_failed: ["上传失败,将重试", "Upload failed; will retry"],
  photo_waiting_server: ["服务器暂不接收照片,稍后重试", "The server does not take photos yet; will retry"],
  photo_missing: ["照片在其他设备上", "Photo is on another device"],
  photo_rejected: ["服务器拒收此照片", "The server refused this photo"],
  photo_progress: ["{p}%", "{p}%"],
  photo_thumb_only: ["本机仅存缩略图", "Only a thumbnail on this device"],
  photo_view_offline: ["在线时可查看原图", "The full photo can be viewed when online"],
  photo_loading: ["正在加载原图…", "Loading the full photo…"],
  photo_load_failed: ["原图加载失败:{e}", "Could not load the full photo: {e}"],
  photo_exif_fix: ["照片自带定位", "Location from the photo"],
  close: ["关闭", "Close"],
  online: ["在线", "Online"],
  offline: ["离线", "Offline"],
  connecting: ["连接中", "Connecting"],
  syncing: ["同步中", "Syncing"],
  needs_fixing: ["有待修改", "Needs fixing"],
  synced: ["已同步", "Synced"],
  waiting: ["等待重连", "Reconnecting soon"],
  needs_login: ["需要登录", "Log in needed"],
  stopped: ["已停止", "Stopped"],
  needs_update: [
    "应用版本过旧,暂停同步:正在获取新版本,请重新打开应用",
    "This app is too old for the server: fetching the new version, then reopen the app",
  ],
  unsent: ["未同步 {n}", "{n} unsent"],
  unsent_photos: ["照片 {n}", "{n} photos"],
  refused_n: ["被拒 {n}", "{n} refused"],
  last_sync: ["上次同步 {t}", "Last sync {t}"],
  never_synced: ["尚未同步", "Never synced"],
  sync_now: ["立即同步", "Sync now"],
  sync_status: ["同步状态", "Sync status"],
  refused_changes: ["被服务器拒绝的修改", "Changes the server refused"],
  fix: ["去修改", "Fix"],
  no_refused: ["没有被拒绝的修改", "No refused changes"],
  storage_error: ["本机存储失败:{e}。数据仍在内存中,请勿关闭应用,并释放存储空间。", "Saving on this device failed: {e}. Data is kept in memory; do not close the app, and free some space."],
  storage_quota: ["存储空间不足", "Storage is full"],
  persist_refused: ["浏览器未授予持久存储:在同步之前清理浏览器数据或空间不足时,未同步的修改和照片可能丢失。", "The browser did not grant persistent storage: if site data is cleared or space runs short before a sync, unsent changes and photos may be lost."],
  persist_howto: ["怎么办:把外勤添加到主屏幕(浏览器菜单 →“添加到主屏幕”或“安装应用”),或在浏览器的网站设置中允许本站保存数据;有网络时尽快同步。", "What to do: add Waiqin to the home screen (browser menu → “Add to Home screen” or “Install app”), or allow this site to keep data in the browser's site settings; sync as soon as there is a network."],
  persist_ok: ["知道了", "Got it"],
  persist_mark: ["存储未持久", "Storage not persistent"],
  dup_title: ["已存在相似客户", "Possible duplicates"],
  dup_owner: ["归属 {o}", "owned by {o}"],
  dup_offline: ["(离线索引)", "(offline index)"],
  required_missing: ["请先填写必填项", "Fill in the required fields first"],
  draft: ["草稿", "Draft"],
  refused_here: ["服务器拒绝了这条记录的修改:", "The server refused a change to this record:"],
  redirected: ["该客户已合并到另一张卡片", "This customer was merged into another card"],
  merged_into: ["您建的“{mine}”与这张卡片是同一客户,已合并到“{name}”(代码 {code},归属 {owner})。", "The card you made, “{mine}”, is the same customer and was merged into “{name}” (code {code}, owned by {owner})."],
  merged_kept: ["您填写的以下内容与这张卡片不同,未写入卡片,已记入合并记录,由后台核对:", "What you entered that differs from this card was not written to it; it is kept in the merge record for the back office to check:"],
  merged_same: ["您填写的其余内容与这张卡片相同。", "Everything else you entered is on this card."],
  merged_ok: ["知道了", "Got it"],
  merged_card_has: ["卡片上为 {v}", "the card has {v}"],
  unknown: ["未知", "unknown"],
  settings: ["设置", "Settings"],
  language: ["English", "中文"],
  not_found: ["本机没有这条记录", "This record is not on this device"],
  code: ["代码", "Code"],
  probability_auto: ["= 阶段 × 10%", "= stage × 10%"],
  subject_auto: ["自动生成", "filled automatically"],
  visit: ["拜访", "Visit"],
  service: ["服务", "Service"],
  deal: ["跟单", "Deal"],
  progress: ["进展", "Progress"],
  loading: ["正在加载…", "Loading…"],
  catching_up: ["下载中 {d}/{t}", "Downloading {d}/{t}"],
  update_ready: ["新版本已就绪,重新打开应用即可使用", "A new version is ready; reopen the app to use it"],
} as const satisfies Record<string, readonly [string, string]>;

export type Key = keyof typeof STRINGS;

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  let s: string = STRINGS[key][lang === "zh" ? 0 : 1];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** The label of a schema object in the current language. */
export function label(x: { label_zh: string; label_en: string }): string {
  return lang === "zh" ? x.label_zh : x.label_en;
}

export function fmtTime(ms: number | null | undefined): string {
  if (!ms) return "";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtAgo(ms: number | null): string {
  if (!ms) return t("never_synced");
  const s = Math.round((Date.now() - ms) / 1000);
  const zh = lang === "zh";
  if (s < 60) return zh ? "刚刚" : "just now";
  if (s < 3600) return zh ? `${Math.floor(s / 60)} 分钟前` : `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return zh ? `${Math.floor(s / 3600)} 小时前` : `${Math.floor(s / 3600)} h ago`;
  return fmtTime(ms);
}
