// How times and durations read on the pages: UTC clock times, "3 minutes ago", "29:41".
import { type Html, html } from './html.js';

const CLOCK = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

export function clock(date: Date): string {
  return `${CLOCK.format(date)} UTC`;
}

/** "now", "3 minutes ago", "yesterday": the wording, plurals and future tense come from the platform's ICU data. */
const RELATIVE = new Intl.RelativeTimeFormat('en-GB', { numeric: 'auto' });

/**
 * The nearest whole unit; under 45 seconds is "now", as in moment.js and Day.js (the
 * registry stamps last-seen in whole seconds, throttled, so seconds would only be noise). A time a
 * little in the future, from another machine's clock, reads "in 2 minutes" rather than going negative.
 */
export function ago(date: Date, now = Date.now()): string {
  const elapsed = now - date.getTime();
  const direction = elapsed < 0 ? 1 : -1;
  const seconds = Math.round(Math.abs(elapsed) / 1000);
  if (seconds < 45) return RELATIVE.format(0, 'second');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return RELATIVE.format(direction * minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours < 24) return RELATIVE.format(direction * hours, 'hour');
  return RELATIVE.format(direction * Math.round(hours / 24), 'day');
}

/**
 * `29:41`, `1:05:00` past an hour, `29d 23:59:41` past a day (a remembered sign-in); the page
 * script formats the same way as it counts down.
 */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  const mm = String(m).padStart(2, '0');
  if (d > 0) return `${d}d ${String(h).padStart(2, '0')}:${mm}:${s}`;
  return h > 0 ? `${h}:${mm}:${s}` : `${m}:${s}`;
}

const UNITS = [
  { ms: 86_400_000, unit: 'day' },
  { ms: 3_600_000, unit: 'hour' },
  { ms: 60_000, unit: 'minute' },
  { ms: 1000, unit: 'second' },
] as const;

/** A configured length of time in words: "30 days", "10 minutes", "90 seconds". */
export function duration(ms: number): string {
  const { ms: size, unit } = UNITS.find((u) => ms >= u.ms && ms % u.ms === 0) ?? UNITS[3];
  const count = Math.max(1, Math.round(ms / size));
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** A `<time>` element: the exact instant for machines, a readable one for people. */
export function time(date: Date, text: string = clock(date)): Html {
  return html`<time datetime="${date.toISOString()}" title="${clock(date)}">${text}</time>`;
}
