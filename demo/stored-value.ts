// What Redis holds for this device's session, read raw for the home page: the expiry and device header in clear, then the encrypted data.
import type { Redis } from 'ioredis';
import type { Context } from 'koa';
// Internal to the library, and fine for a demo: it names the Redis key of the session the cookie points to.
import { parseExternalKey } from '../lib/core/keys.js';
import type { Sessions } from '../lib/index.js';
import { sessionOf } from './session-data.js';

/** The page shows this much of the value: enough to see each part begin. */
export const SHOWN_CHARACTERS = 120;
/** The stored layout (lib/core/value.ts): `<expires:9>[<lastSeen:7><createdAt:7><device:6>]{data`. */
const EXPIRES_LENGTH = 9;
const HEADER_LENGTH = 20;

export interface StoredSession {
  /** The key's parts; the epoch, which the cookie also carries, is left out of the page. */
  key: { base: string; handle: string };
  /** Characters in the whole value. */
  length: number;
  /** The session's end in ms, base36: read by the store's scripts without any key. */
  expires: string;
  /** Last seen, signed in (base36 seconds) and the device reference: `list()` reads them. */
  header: string;
  /** The start of the data part: `{~g`, the key id, then base64url of IV, ciphertext and tag. */
  data: string;
  truncated: boolean;
}

/**
 * The raw value of the session this request carries, as Redis held it when the page was built
 * (this request's own save, if any, comes after). Only signed-in sessions: `undefined` otherwise,
 * or when the key is gone. A Redis error propagates (a 503 page), as every other read does.
 */
export async function readStoredSession(
  redis: Redis,
  sessions: Sessions,
  ctx: Context,
): Promise<StoredSession | undefined> {
  const parsed = parseExternalKey(sessionOf(ctx)?.externalKey);
  if (parsed?.tag === undefined || parsed.epoch === undefined) return undefined;
  const value = await redis.get(sessions.store.keys.session(parsed.tag, parsed.epoch, parsed.handle));
  if (value === null) return undefined;
  const shown = value.slice(0, SHOWN_CHARACTERS);
  // The byte after the expiry tells the layouts apart: the data part always starts with `{`.
  const headerEnd = shown[EXPIRES_LENGTH] === '{' ? EXPIRES_LENGTH : EXPIRES_LENGTH + HEADER_LENGTH;
  return {
    key: { base: sessions.store.keys.userBase(parsed.tag), handle: parsed.handle },
    length: value.length,
    expires: shown.slice(0, EXPIRES_LENGTH),
    header: shown.slice(EXPIRES_LENGTH, headerEnd),
    data: shown.slice(headerEnd),
    truncated: value.length > SHOWN_CHARACTERS,
  };
}
