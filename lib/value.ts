// The stored session value: koa-session's JSON without `_expire`, plus a short device header when the registry is on.
import { createHash } from 'node:crypto';

/**
 * Two layouts, told apart by the first byte:
 *
 *   registry off: `{...data}`                                    (koa-session's JSON, minus `_expire`)
 *   registry on:  `<lastSeen:7><createdAt:7><device:6>{...data}`  (times in base36 Unix seconds)
 *
 * `_expire` is not stored: it is derived from the key's PTTL on read, so a rolling touch of
 * unchanged data is a PEXPIRE, not a rewrite (SPEC section 6). The last-seen stamp has a fixed
 * width at offset 0 so the read script can refresh it with SETRANGE, which keeps the TTL and
 * costs no extra round trip. The IP and user agent live once per user and device in the
 * registry's device hash, named here by a 6-character reference: a user agent is ~120 bytes,
 * and most of a user's sessions share one. The header is kept this short because it is paid once
 * per session: seconds are precise enough for a devices page, 7 base36 digits of them last until
 * the year 4434, and a 36-bit reference only has to tell apart one user's devices. It needs no
 * separator: it has a fixed width, and the JSON after it starts with `{`.
 */
export type SessionData = Record<string, unknown>;

/** What a write records about the device, from the request. */
export interface DeviceMeta {
  createdAt: number;
  ip: string;
  userAgent: string;
}

export interface StoredValue {
  /** The data part exactly as stored, to detect an unchanged session without re-serialising it. */
  dataJson: string;
  data: SessionData;
  header: StoredHeader | undefined;
}

export interface StoredHeader {
  lastSeenAt: number;
  createdAt: number;
  deviceRef: string;
}

export const STAMP_LENGTH = 7;
export const DEVICE_REF_LENGTH = 6;
export const HEADER_LENGTH = 2 * STAMP_LENGTH + DEVICE_REF_LENGTH;
const MAX_USER_AGENT = 256;
const MAX_IP = 64;
const STAMP = /^[0-9a-z]{7}$/;
const REF = /^[A-Za-z0-9_-]{6}$/;

/** A time in ms as the header stores it: whole Unix seconds, base36, fixed width. */
export function stamp(time: number): string {
  return Math.floor(time / 1000)
    .toString(36)
    .padStart(STAMP_LENGTH, '0');
}

/** The time a stamp stands for, in ms: the start of its second. */
function unstamp(text: string): number {
  return Number.parseInt(text, 36) * 1000;
}

/** The data as koa-session hands it to `set`, minus the expiry we derive from the TTL. */
export function dataJson(sessionData: SessionData): string {
  const { _expire, ...data } = sessionData;
  return JSON.stringify(data);
}

/** The device hash entry for this IP and user agent: a reference, and the value stored under it. */
export function deviceRecord(meta: DeviceMeta): { ref: string; value: string } {
  const value = JSON.stringify([meta.ip.slice(0, MAX_IP), meta.userAgent.slice(0, MAX_USER_AGENT)]);
  const ref = createHash('sha256').update(value).digest('base64url').slice(0, DEVICE_REF_LENGTH);
  return { ref, value };
}

export function encodeValue(json: string, meta: DeviceMeta | undefined, now: number): string {
  if (meta === undefined) return json;
  return `${stamp(now)}${stamp(meta.createdAt)}${deviceRecord(meta).ref}${json}`;
}

/** Parses a stored value; anything malformed gives `undefined` (a fresh session), never a throw. */
export function decodeValue(raw: string): StoredValue | undefined {
  try {
    if (raw.startsWith('{')) return { dataJson: raw, data: asObject(JSON.parse(raw)), header: undefined };
    const header = decodeHeader(raw.slice(0, HEADER_LENGTH));
    if (header === undefined || raw[HEADER_LENGTH] !== '{') return undefined;
    const json = raw.slice(HEADER_LENGTH);
    return { dataJson: json, data: asObject(JSON.parse(json)), header };
  } catch {
    return undefined;
  }
}

export function decodeHeader(header: string): StoredHeader | undefined {
  const lastSeen = header.slice(0, STAMP_LENGTH);
  const created = header.slice(STAMP_LENGTH, 2 * STAMP_LENGTH);
  const deviceRef = header.slice(2 * STAMP_LENGTH);
  if (!STAMP.test(lastSeen) || !STAMP.test(created) || !REF.test(deviceRef)) return undefined;
  return { lastSeenAt: unstamp(lastSeen), createdAt: unstamp(created), deviceRef };
}

/** A device hash entry: `[ip, userAgent]`, or empty strings when it is missing or malformed. */
export function decodeDevice(value: string | undefined): { ip: string; userAgent: string } {
  try {
    const parsed: unknown = value === undefined ? undefined : JSON.parse(value);
    if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') {
      return { ip: parsed[0], userAgent: parsed[1] };
    }
  } catch {
    // fall through: the registry is advisory, a lost device entry only blanks the list
  }
  return { ip: '', userAgent: '' };
}

function asObject(value: unknown): SessionData {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError('not an object');
  return value as SessionData;
}
