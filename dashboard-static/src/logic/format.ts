/** Display forms of times and durations. */

/** A duration in ms as "2h 5m", "3m 4s", "12s" ("-" when unknown). */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** How long ago a time was, relative to now: "5 min ago", "3 h ago", "2 d ago". */
export function ago(at: number | undefined, now: number): string {
  if (at === undefined || !Number.isFinite(at) || at <= 0) return '-';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** A time as local "YYYY-MM-DD HH:MM:SS". */
export function timestamp(at: number | undefined): string {
  if (at === undefined || !Number.isFinite(at) || at <= 0) return '-';
  const d = new Date(at);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Autostop as the CLI shows it: "30m", "30m (down)", or "-". */
export function autostopText(a: { idleMinutes: number; down: boolean } | undefined | null): string {
  if (a === undefined || a === null) return '-';
  return `${a.idleMinutes}m${a.down ? ' (down)' : ''}`;
}
