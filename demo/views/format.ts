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

export function ago(date: Date, now = Date.now()): string {
  const seconds = Math.round((now - date.getTime()) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  const days = Math.round(hours / 24);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** `29:41`, or `1:05:00` past an hour; the page script formats the same way as it counts down. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A `<time>` element: the exact instant for machines, a readable one for people. */
export function time(date: Date, text: string = clock(date)): Html {
  return html`<time datetime="${date.toISOString()}" title="${clock(date)}">${text}</time>`;
}
