// The stored session value: koa-session's JSON without `_expire`, plus a short device header when the registry is on.
import { createHash } from 'node:crypto';

/**
 * Two layouts, told apart by the first byte:
 *
 *   registry off: `{...data}`                                      (koa-session's JSON, minus `_expire`)
 *   registry on:  `<lastSeen:8><createdAt:8><device:11>\n{...data}`  (times in base36 ms)
 *
 * `_expire` is not stored: it is derived from the key's PTTL on read, so a rolling touch of
 * unchanged data is a PEXPIRE, not a rewrite (SPEC section 6). The last-seen stamp has a fixed
 * width at offset 0 so the read script can refresh it with SETRANGE, which keeps the TTL and
 * costs no extra round trip. The IP and user agent live once per user and device in the
 * registry's device hash, named here by an 11-character reference: a user agent is ~120 bytes,
 * and most of a user's sessions share one. JSON.stringify never emits a raw newline.
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

export const STAMP_LENGTH = 8;
export const DEVICE_REF_LENGTH = 11;
export const HEADER_LENGTH = 2 * STAMP_LENGTH + DEVICE_REF_LENGTH;
const MAX_USER_AGENT = 256;
const MAX_IP = 64;
const STAMP = /^[0-9a-z]{8}$/;
const REF = /^[A-Za-z0-9_-]{11}$/;

export function stamp(time: number): string {
  return Math.floor(time).toString(36).padStart(STAMP_LENGTH, '0');
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
  return `${stamp(now)}${stamp(meta.createdAt)}${deviceRecord(meta).ref}\n${json}`;
}

/** Parses a stored value; anything malformed gives `undefined` (a fresh session), never a throw. */
export function decodeValue(raw: string): StoredValue | undefined {
  try {
    if (raw.startsWith('{')) return { dataJson: raw, data: asObject(JSON.parse(raw)), header: undefined };
    const header = decodeHeader(raw.slice(0, HEADER_LENGTH));
    if (header === undefined || raw[HEADER_LENGTH] !== '\n') return undefined;
    const json = raw.slice(HEADER_LENGTH + 1);
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
  return { lastSeenAt: Number.parseInt(lastSeen, 36), createdAt: Number.parseInt(created, 36), deviceRef };
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
