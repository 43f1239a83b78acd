// Key layout: user tags, session ids and handles, cookie values and the Redis key names built from them.
import { createHash, hash, randomFillSync } from 'node:crypto';

/**
 * Epochs and session ids carry 128 bits from the CSPRNG (invariants 3 and 6), written as
 * 22 base64url characters. Lua slices the epoch off the epoch key's value by this length.
 */
export const RANDOM_BYTES = 16;
export const RANDOM_LENGTH = 22;

/**
 * Handles are 96 bits of the sid's SHA-256: finding a sid for a given handle still takes 2^96
 * tries, and the six characters saved per key and registry entry are 3-4% of a session's memory.
 */
const HANDLE_BYTES = 12;
export const HANDLE_LENGTH = (HANDLE_BYTES / 3) * 4;

/**
 * User ids up to this many UTF-8 bytes are written into keys and cookies as base64url, so
 * operators can decode them. Longer ids are named by their SHA-256 (prefixed `~`, which
 * base64url never produces), which keeps cookies under the browsers' 4 KB limit.
 */
const PLAIN_TAG_MAX_BYTES = 60;

/** Session ids start with the login time, base36, fixed width, so a revoked cookie can be dated. */
const TIME_LENGTH = 8;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const PLAIN_TAG = /^[A-Za-z0-9_-]{1,80}$/;
const HASHED_TAG = /^~[A-Za-z0-9_-]{43}$/;
const SID = /^[0-9a-z]{8}[A-Za-z0-9_-]{22}$/;
// ignoreBOM: a leading U+FEFF is part of the id, not a byte-order mark to strip (it must round-trip).
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * CSPRNG bytes, fetched 4 KB at a time: one `randomBytes` call per token cost more than the rest
 * of a login's JavaScript. Each byte is handed out once and zeroed as it goes, so the pool never
 * holds a token already issued.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;

export function randomToken(): string {
  if (poolOffset + RANDOM_BYTES > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += RANDOM_BYTES;
  const token = pool.toString('base64url', start, poolOffset);
  pool.fill(0, start, poolOffset);
  return token;
}

/** Rejects what cannot be encoded injectively: non-strings, the empty string, lone surrogates. */
export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || !userId.isWellFormed()) {
    throw new TypeError('koa-epoch-session: userId must be a non-empty string of well-formed Unicode');
  }
}

/**
 * The user's part of every key and cookie. Injective: two different ids never share a tag
 * (short ids by base64url, long ones by SHA-256 behind a marker no short tag can start with),
 * and no tag contains `{`, `}`, `:`, `.` or a glob character, so no id can break the layout
 * or move a key to another Cluster slot (invariants 5 and 7).
 */
export function userTag(userId: string): string {
  assertUserId(userId);
  const bytes = Buffer.from(userId, 'utf8');
  if (bytes.length <= PLAIN_TAG_MAX_BYTES) return bytes.toString('base64url');
  return '~' + createHash('sha256').update(bytes).digest('base64url');
}

/** The user id a plain tag spells, `undefined` for a hashed tag, `null` for a tag we never issue. */
export function userIdFromTag(tag: string): string | undefined | null {
  if (HASHED_TAG.test(tag)) {
    return canonical(tag.slice(1), 32) ? undefined : null;
  }
  if (!PLAIN_TAG.test(tag)) return null;
  const bytes = Buffer.from(tag, 'base64url');
  if (bytes.length > PLAIN_TAG_MAX_BYTES || bytes.toString('base64url') !== tag) return null;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

function canonical(text: string, byteLength: number): boolean {
  // 16 random bytes are 22 characters whose last one carries 2 bits and 4 zero bits: A, Q, g or w.
  // Checked without decoding, because every request parses a cookie (the rest is BASE64URL-tested).
  if (byteLength === RANDOM_BYTES) return text.length === RANDOM_LENGTH && 'AQgw'.includes(text[21]!);
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length === byteLength && bytes.toString('base64url') === text;
}

/**
 * The value of an epoch key: the epoch, then, for hashed tags, the user id, which the cookie
 * cannot spell.
 */
export function epochValueFor(epoch: string, tag: string, userId: string): string {
  return epoch + (tag.startsWith('~') ? userId : '');
}

/**
 * The value of a new epoch key, with a fresh epoch. A new epoch never equals an earlier one, so a
 * lost epoch key can never bring old sessions back (invariant 3).
 */
export function freshEpochValue(tag: string, userId: string): string {
  return epochValueFor(randomToken(), tag, userId);
}

/** A new session id: login time (base36) followed by 128 random bits. */
export function newSid(loginTime: number): string {
  const time = Math.floor(loginTime).toString(36).padStart(TIME_LENGTH, '0');
  if (time.length !== TIME_LENGTH) throw new RangeError('koa-epoch-session: clock out of range');
  return time + randomToken();
}

/**
 * The public, storable name of a session. Redis only ever holds handles, never sids, so a
 * leaked dump or a `list()` result cannot be replayed as a cookie.
 */
export function sessionHandle(sid: string): string {
  // HANDLE_BYTES is a multiple of 3, so its base64url is exactly the first HANDLE_LENGTH characters.
  return hash('sha256', sid, 'base64url').slice(0, HANDLE_LENGTH);
}

export function isHandle(value: unknown): value is string {
  return typeof value === 'string' && value.length === HANDLE_LENGTH && BASE64URL.test(value);
}

/** A cookie value (koa-session's "external key") that passed every syntactic check. */
export interface ParsedKey {
  /** `undefined` for an anonymous session. */
  tag: string | undefined;
  /** The user id when the tag spells it; hashed tags learn it from the epoch key. */
  userId: string | undefined;
  /**
   * The epoch the session was issued under, as the cookie states it. Only a hint that names the
   * key to read: a read is valid only if the user's epoch key holds this very epoch (SPEC section 2).
   */
  epoch: string | undefined;
  sid: string;
  handle: string;
  loginTime: number;
}

/** `<sid>` for anonymous sessions, `<tag>.<epoch>.<sid>` for signed-in ones. */
export function externalKey(tag: string | undefined, epoch: string | undefined, sid: string): string {
  return tag === undefined ? sid : `${tag}.${epoch}.${sid}`;
}

/**
 * Parses a cookie value. Anything we did not issue gives `undefined`, which koa-session turns
 * into a fresh anonymous session (invariants 5 and 8): no exception, no Redis call.
 */
export function parseExternalKey(value: unknown): ParsedKey | undefined {
  if (typeof value !== 'string' || value.length > 200) return undefined;
  const last = value.lastIndexOf('.');
  const sid = last === -1 ? value : value.slice(last + 1);
  if (!SID.test(sid) || !canonical(sid.slice(TIME_LENGTH), RANDOM_BYTES)) return undefined;
  const loginTime = Number.parseInt(sid.slice(0, TIME_LENGTH), 36);
  if (last === -1) {
    return {
      tag: undefined,
      userId: undefined,
      epoch: undefined,
      sid,
      handle: sessionHandle(sid),
      loginTime,
    };
  }
  const first = value.indexOf('.');
  const epoch = value.slice(first + 1, last);
  if (first === last || !isEpoch(epoch)) return undefined;
  const tag = value.slice(0, first);
  const userId = userIdFromTag(tag);
  if (userId === null) return undefined;
  return { tag, userId, epoch, sid, handle: sessionHandle(sid), loginTime };
}

/** An epoch as we issue them: 128 bits, canonical base64url. */
export function isEpoch(value: string): boolean {
  return value.length === RANDOM_LENGTH && BASE64URL.test(value) && canonical(value, RANDOM_BYTES);
}

/** The epoch an epoch key's value holds (its first RANDOM_LENGTH characters). */
export function epochOf(epochValue: string): string {
  return epochValue.slice(0, RANDOM_LENGTH);
}

/** Redis key names. Every key of one user carries the hash tag `{<tag>}`, so they share a slot. */
export class KeyLayout {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Anonymous sessions: their own namespace, no user, no epoch. */
  anonymous(handle: string): string {
    return `${this.prefix}a:${handle}`;
  }

  /** `<prefix>{<tag>}:`: every key of one user starts with it, and shares its Cluster slot. */
  userBase(tag: string): string {
    return `${this.prefix}{${tag}}:`;
  }

  /**
   * A signed-in session, under the epoch it was issued in. The epoch comes from the cookie or the
   * request's own read; it names the key, and every read checks it against the epoch key, so a
   * client that names another epoch reaches nothing (SPEC section 2).
   */
  session(tag: string, epoch: string, handle: string): string {
    return `${this.userBase(tag)}${epoch}:${handle}`;
  }

  /** Holds the user's current epoch (22 characters), then, for hashed tags, the user id. */
  epoch(tag: string): string {
    return `${this.userBase(tag)}e`;
  }

  /** The optional device registry: a sorted set of handles scored by expiry. */
  registry(tag: string): string {
    return `${this.userBase(tag)}r`;
  }

  /** With the registry: IP and user agent per device reference, shared by the user's sessions. */
  devices(tag: string): string {
    return `${this.userBase(tag)}d`;
  }

  /** Why the user's sessions were last rotated away: `<time36>:<reason>`. */
  rotationReason(tag: string): string {
    return `${this.userBase(tag)}x`;
  }

  /** Why one session was ended (revoke, limit): `<time36>:<reason>`. */
  sessionReason(tag: string, handle: string): string {
    return `${this.userBase(tag)}x:${handle}`;
  }

  /**
   * After a re-key (regenerate, logoutOthers): the handle the session moved to, so a `revoke` by
   * the handle a device list showed still reaches it.
   */
  movedTo(tag: string, handle: string): string {
    return `${this.userBase(tag)}m:${handle}`;
  }

  /**
   * While a `legacy` migration runs: when the user was last rotated (ms, base36). Legacy sessions
   * saved before it are revoked too, though they have not moved into this layout yet.
   */
  legacyRevoked(tag: string): string {
    return `${this.userBase(tag)}l`;
  }
}
