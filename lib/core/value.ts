// The stored session value: when it expires, a short device header when the registry is on, then koa-session's JSON.
import { createHash } from 'node:crypto';
import type { DataCodec } from './codec.js';

/**
 * Two layouts, told apart by the byte after the expiry:
 *
 *   registry off: `<expires:9>{...data}`
 *   registry on:  `<expires:9><lastSeen:7><createdAt:7><device:6>{...data}`
 *
 * `expires` is the end of the session in ms (base36, fixed width: until the year 5138). It is what
 * koa-session calls `_expire`, taken out of the JSON and put first, so a read decides "expired"
 * exactly, from the value alone: no PTTL, and no margin in which a replayed cookie still works
 * (the Redis key itself lives until the same moment). The header's times are base36 Unix seconds:
 * precise enough for a devices page. The last-seen stamp sits at a fixed offset so it can be
 * refreshed with SETRANGE. The IP and user agent live once per user and device in the registry's
 * device hash, named here by a 6-character reference (most of a user's sessions share one).
 *
 * With the `codec` option the data part is what the codec made of the data (say, `{~g…`, encrypted:
 * lib/core/codec.ts). It still starts with `{`, and the expiry and header stay outside it, in clear:
 * the scripts, `list` and the last-seen refresh read and write them without the keys.
 */
export type SessionData = Record<string, unknown>;

/** What a write records about the device, from the request. */
export interface DeviceMeta {
  createdAt: number;
  ip: string;
  userAgent: string;
}

export interface StoredHeader {
  lastSeenAt: number;
  createdAt: number;
  deviceRef: string;
}

export interface StoredValue {
  expiresAt: number;
  header: StoredHeader | undefined;
  /**
   * The data's plaintext (the JSON exactly as stored, or what a codec decrypted), to detect an
   * unchanged session without re-serialising it.
   */
  dataJson: string;
  data: SessionData;
}

export const EXPIRES_LENGTH = 9;
export const STAMP_LENGTH = 7;
export const DEVICE_REF_LENGTH = 6;
export const HEADER_LENGTH = 2 * STAMP_LENGTH + DEVICE_REF_LENGTH;
/** Where the last-seen stamp starts in a value with a registry header. */
export const LAST_SEEN_OFFSET = EXPIRES_LENGTH;
const MAX_USER_AGENT = 256;
const MAX_IP = 64;
const EXPIRES = /^[0-9a-z]{9}$/;
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

function encodeExpires(expiresAt: number): string {
  return Math.floor(expiresAt).toString(36).padStart(EXPIRES_LENGTH, '0');
}

/**
 * koa-session's save appends its bookkeeping last: `_expire` and `_maxAge`, or `_session`. Matched
 * at the end of the JSON text, so the object is never copied. Only the top level can end this
 * way: a nested object would leave a second brace, and a string's quotes inside JSON are escaped.
 */
const LIFETIME_TAIL = /([{,])(?:"_expire":[-+.\deE]+,)?(?:"_maxAge":([-+.\deE]+)|"_session":true)\}$/;

/**
 * The data as koa-session hands it to `set`, minus the expiry, which the value keeps in front, and
 * minus `_maxAge` when it is the app's default (`implied`, the `maxAge` option): every session
 * would otherwise repeat it, about a tenth of a small session's value. A read restores it
 * (`restoreLifetime`). So a session saved with the default lifetime follows the app's default,
 * also after a deploy changes it. A browser-session marker (`_session`) is always kept: no
 * deploy may turn a cookie that ends with the browser into a persistent one.
 */
export function dataJson(sessionData: SessionData, implied?: number | 'session'): string {
  const json = JSON.stringify(sessionData);
  const tail = LIFETIME_TAIL.exec(json);
  if (tail === null) {
    if (!('_expire' in sessionData)) return json;
    const { _expire, ...data } = sessionData;
    return JSON.stringify(data);
  }
  const [whole, opening, maxAge] = tail;
  if (!whole.includes('"_expire"') && '_expire' in sessionData) {
    // Not koa-session's order: drop the expiry the slow way, then look again.
    const { _expire, ...data } = sessionData;
    return dataJson(data, implied);
  }
  const isImplied = maxAge !== undefined && Number(maxAge) === implied;
  const kept = isImplied ? '' : maxAge === undefined ? '"_session":true' : `"_maxAge":${maxAge}`;
  const head = json.slice(0, json.length - whole.length);
  if (opening === '{') return `{${kept}}`;
  return kept === '' ? `${head}}` : `${head},${kept}}`;
}

/** Puts back the lifetime `dataJson` left out because it was the default. */
export function restoreLifetime(data: SessionData, implied: number | 'session'): void {
  if ('_maxAge' in data || '_session' in data || implied === 'session') return;
  data._maxAge = implied;
}

/**
 * The field of the stored data that holds a signed-in session's last re-authentication (ms). The
 * store's, never the app's: the adapters take it out of what the app sees, and write it back.
 */
export const AUTHENTICATED_AT = '_auth';

/**
 * The data JSON with the time of the last re-authentication, which koa-session does not carry
 * (it drops `_`-prefixed fields from `ctx.session`): appended by the store on every write.
 */
export function withAuthenticatedAt(json: string, authenticatedAt: number | undefined): string {
  if (authenticatedAt === undefined) return json;
  return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"${AUTHENTICATED_AT}":${Math.floor(authenticatedAt)}}`;
}

/**
 * The plaintext a write stores for koa-session's data: the JSON above (with `_auth`), or with a
 * codec's own serializer, its text of the same fields.
 */
export function plainData(
  codec: DataCodec | undefined,
  sessionData: SessionData,
  authenticatedAt: number | undefined,
  /** The app's `maxAge`: a session with that lifetime does not store it (see `dataJson`). */
  implied: number | 'session' | undefined,
): string {
  if (codec === undefined || codec.json)
    return withAuthenticatedAt(dataJson(sessionData, implied), authenticatedAt);
  const { _expire, ...data } = sessionData;
  if (authenticatedAt !== undefined) data[AUTHENTICATED_AT] = Math.floor(authenticatedAt);
  return codec.stringify(data);
}

/**
 * The devices seen lately: every registry write names its device, and a busy app sees the same
 * few thousand IP and user-agent pairs over and over; a hit saves a JSON encoding and a SHA-256.
 */
const recentDevices = new Map<string, { ref: string; value: string }>();
const RECENT_DEVICES = 1000;

/** The device hash entry for this IP and user agent: a reference, and the value stored under it. */
export function deviceRecord(meta: DeviceMeta): { ref: string; value: string } {
  const id = `${meta.ip}\n${meta.userAgent}`;
  const known = recentDevices.get(id);
  if (known !== undefined) return known;
  const value = JSON.stringify([
    normaliseIp(meta.ip).slice(0, MAX_IP),
    meta.userAgent.slice(0, MAX_USER_AGENT),
  ]);
  const ref = createHash('sha256').update(value).digest('base64url').slice(0, DEVICE_REF_LENGTH);
  const record = { ref, value };
  // Map keeps insertion order: when full, the first entry is the one added longest ago.
  if (recentDevices.size >= RECENT_DEVICES) recentDevices.delete(recentDevices.keys().next().value!);
  recentDevices.set(id, record);
  return record;
}

/** The device reference in a raw registry header, or `undefined` when there is no header. */
export function headerDeviceRef(header: string): string | undefined {
  return header.length === HEADER_LENGTH ? header.slice(2 * STAMP_LENGTH) : undefined;
}

/** `::ffff:192.0.2.1` (an IPv4 client of a dual-stack socket) is `192.0.2.1` to a person. */
export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The header, for a value written with the registry on; `''` without it. */
export function encodeHeader(meta: DeviceMeta | undefined, now: number, lastSeenAt = now): string {
  if (meta === undefined) return '';
  return `${stamp(lastSeenAt)}${stamp(meta.createdAt)}${deviceRecord(meta).ref}`;
}

/**
 * The stored value. `json` is the data's plaintext; with a codec it is stored as the codec encodes
 * it for the session `sessionId` (its handle, which an encrypting codec binds the ciphertext to).
 * Without one, the value is byte for byte what it was before codecs existed.
 */
export function encodeValue(
  expiresAt: number,
  header: string,
  json: string,
  codec?: DataCodec,
  sessionId = '',
): string {
  return encodeExpires(expiresAt) + header + (codec === undefined ? json : codec.encode(json, sessionId));
}

/**
 * Parses a stored value; anything malformed gives `undefined` (a fresh session), never a throw.
 * With a codec, the data part is decoded by it for the session `sessionId`: a value it cannot
 * read (a retired key, a changed byte) is malformed too.
 */
export function decodeValue(raw: string, codec?: DataCodec, sessionId = ''): StoredValue | undefined {
  try {
    const expires = raw.slice(0, EXPIRES_LENGTH);
    if (!EXPIRES.test(expires)) return undefined;
    const expiresAt = Number.parseInt(expires, 36);
    let header: StoredHeader | undefined;
    let json: string;
    if (raw[EXPIRES_LENGTH] === '{') {
      json = raw.slice(EXPIRES_LENGTH);
    } else {
      header = decodeHeader(raw.slice(EXPIRES_LENGTH, EXPIRES_LENGTH + HEADER_LENGTH));
      if (header === undefined || raw[EXPIRES_LENGTH + HEADER_LENGTH] !== '{') return undefined;
      json = raw.slice(EXPIRES_LENGTH + HEADER_LENGTH);
    }
    if (codec === undefined) return { expiresAt, header, dataJson: json, data: asObject(JSON.parse(json)) };
    const decoded = codec.decode(json, sessionId);
    return decoded && { expiresAt, header, dataJson: decoded.plain, data: decoded.data };
  } catch {
    return undefined;
  }
}

/** The header part of a raw value (the text between the expiry and the JSON), or `''`. */
export function rawHeader(raw: string): string {
  return raw[EXPIRES_LENGTH] === '{' ? '' : raw.slice(EXPIRES_LENGTH, EXPIRES_LENGTH + HEADER_LENGTH);
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
      return { ip: normaliseIp(parsed[0]), userAgent: parsed[1] };
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
