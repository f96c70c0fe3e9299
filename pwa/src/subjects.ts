// The automatic subjects of trip plans, trip reports, expenses and work reports (seed 000
// §1.1, §2.1, §2.2, §6.1), filled on the phone; the server checks them (spec of issue 16).

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2026年11月3日-华东-出差计划—李明": the start date without zero padding. */
export function tripPlanSubject(startDate: unknown, region: unknown, name: string): string {
  const m = typeof startDate === "string" ? DAY.exec(startDate) : null;
  const r = typeof region === "string" ? region.trim() : "";
  if (!m || !r || !name) return "";
  return `${Number(m[1])}年${Number(m[2])}月${Number(m[3])}日-${r}-出差计划—${name}`;
}

/** "出差报告+李明". */
export function tripReportSubject(name: string): string {
  return name ? `出差报告+${name}` : "";
}

/** "2026年11月03日交通费用—李明": zero padded; the type's Chinese label loses its trailing
 *  费 (交通费 → 交通, 其他 stays), so that "<word>费用" reads right (schema.kinds). */
export function expenseSubject(date: unknown, typeLabelZh: string, name: string): string {
  const m = typeof date === "string" ? DAY.exec(date) : null;
  const word = typeLabelZh.replace(/费$/, "");
  if (!m || !word || !name) return "";
  return `${m[1]}年${m[2]}月${m[3]}日${word}费用—${name}`;
}

/** ISO 8601 week of a calendar day: the week-year and week number (weeks start on Monday). */
export function isoWeek(day: string): { year: number; week: number } {
  const d = new Date(`${day}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = new Date(d.getTime() + (3 - dow) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  return { year, week: Math.floor((thursday.getTime() - jan1) / 86_400_000 / 7) + 1 };
}

/** "2026年第45周工作周报—李明" (ISO week-year and week) or "2026年11月工作月报—李明". */
export function workReportSubject(period: unknown, periodStart: unknown, name: string): string {
  const m = typeof periodStart === "string" ? DAY.exec(periodStart) : null;
  if (!m || !name) return "";
  if (period === "week") {
    const w = isoWeek(periodStart as string);
    return `${w.year}年第${w.week}周工作周报—${name}`;
  }
  if (period === "month") return `${Number(m[1])}年${Number(m[2])}月工作月报—${name}`;
  return "";
}
