// A short confirmation at the bottom of the screen ("已保存在本机" after 保存): it survives
// the route change that follows a save, and goes by itself.
import { useEffect, useState } from "preact/hooks";

let current: { text: string; at: number; moves: number } | null = null;
const listeners = new Set<() => void>();
const SHOWN_MS = 2500;

/** Show `text` for a moment, on the screen that comes next (and not on the one after). */
export function flash(text: string): void {
  current = { text, at: Date.now(), moves: 0 };
  for (const fn of listeners) fn();
}

addEventListener("hashchange", () => {
  if (current && ++current.moves > 1) {
    current = null;
    for (const fn of listeners) fn();
  }
});

export function Toast() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const on = () => setTick((n) => n + 1);
    listeners.add(on);
    return () => void listeners.delete(on);
  }, []);
  useEffect(() => {
    if (!current) return;
    const left = current.at + SHOWN_MS - Date.now();
    const timer = setTimeout(() => {
      current = null;
      setTick((n) => n + 1);
    }, Math.max(0, left));
    return () => clearTimeout(timer);
  });
  if (!current) return null;
  return (
    <div class="toast" id="toast" role="status">
      {current.text}
    </div>
  );
}
