// Session codecs (issue 15): the serializer that turns session data into text, and AES-256-GCM encryption at rest.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SessionData } from './value.js';

/**
 * Session data to text and back: the `codec` option. Without one the store writes JSON. A custom
 * serializer (superjson, devalue, …) is a SessionCodec; so is what `aesGcmCodec()` returns, which
 * encrypts what its own serializer produced.
 *
 * `serialize` should be deterministic (the same data gives the same text): the store compares the
 * text with what it read to skip rewriting unchanged data. `deserialize` returns `undefined` (or
 * throws) for text it cannot read; the request then gets a fresh session, never an error.
 */
export interface SessionCodec {
  serialize(data: Record<string, unknown>): string;
  deserialize(text: string): Record<string, unknown> | undefined;
}

export interface AesGcmCodecOptions {
  /**
   * 32-byte keys: a Buffer, or a string of 64 hex digits or 43-44 base64/base64url characters
   * (`openssl rand -base64 32`). The first encrypts; every one decrypts, so a key can be rotated.
   */
  keys: Array<string | Buffer>;
  /** The text that is encrypted. Default: JSON. */
  serializer?: SessionCodec;
  /**
   * Also read values written before encryption was turned on (JSON, or the serializer's text).
   * For the switch only: meanwhile anyone who can write to Redis can plant unencrypted data.
   * Default `false`: such a value reads as a fresh session.
   */
  acceptUnencrypted?: boolean;
}

/**
 * What the store needs of a codec, in two layers: the plaintext (the serializer's text, JSON by
 * default), which it keeps to tell an unchanged session from a changed one (ciphertexts differ
 * on every write), and the data part of the stored value, which may be encrypted and bound to
 * the session's handle. The data part always starts with `{`: the device header that precedes it
 * is told apart by that byte, in lib/core/value.ts and in the list script (lib/core/scripts.ts).
 *
 *   JSON (no codec, or a JSON codec's plaintext read unencrypted)  `{...}`
 *   a custom serializer's text                                      `{~s<text>`
 *   AES-256-GCM                                                     `{~g<key id:6><base64url(iv ‖ ciphertext ‖ tag)>`
 *
 * `{~` never starts JSON, so a store without the codec reads a coded value as a fresh session.
 */
export interface DataCodec {
  /** The plaintext is JSON: the store builds it as it does without a codec (lib/core/value.ts). */
  readonly json: boolean;
  stringify(data: SessionData): string;
  parse(plain: string): SessionData | undefined;
  /** The data part of the value for a plaintext; `sessionId` is the session's handle. */
  encode(plain: string, sessionId: string): string;
  /** A data part back to plaintext and data; `undefined` for anything it cannot read. Never throws. */
  decode(stored: string, sessionId: string): { plain: string; data: SessionData } | undefined;
}

const MARK = '{~';
const TEXT = '{~s';
const GCM = '{~g';
const KEY_ID_LENGTH = 6;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43})$/;

/** The store's layers for what aesGcmCodec built: reachable by the store, not part of the public shape. */
const LAYERS = Symbol('koa-epoch-session.codec');

interface Layered extends SessionCodec {
  [LAYERS]: DataCodec;
}

function fail(message: string): never {
  throw new TypeError(`koa-epoch-session: ${message}`);
}

function isObject(value: unknown): value is SessionData {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseJson(text: string): SessionData | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A serializer's deserialize, made total: text it cannot read, or a non-object, is `undefined`. */
function safeParse(serializer: SessionCodec, text: string): SessionData | undefined {
  try {
    const value: unknown = serializer.deserialize(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isCodec(value: unknown): value is SessionCodec {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as SessionCodec).serialize === 'function' &&
    typeof (value as SessionCodec).deserialize === 'function'
  );
}

/** Plaintext of a value written unencrypted: JSON, or a serializer's text. */
function readUnencrypted(stored: string, serializer: SessionCodec | undefined) {
  if (stored.startsWith(TEXT)) {
    const plain = stored.slice(TEXT.length);
    const data = serializer ? safeParse(serializer, plain) : parseJson(plain);
    return data && { plain, data };
  }
  if (stored.startsWith(MARK)) return undefined;
  const data = parseJson(stored);
  return data && { plain: stored, data };
}

/** A custom serializer, unencrypted: its text after `{~s`; JSON values written before it still read. */
function serializerCodec(serializer: SessionCodec): DataCodec {
  return {
    json: false,
    stringify: (data) => String(serializer.serialize(data)),
    parse: (plain) => safeParse(serializer, plain),
    encode: (plain) => TEXT + plain,
    decode: (stored) => readUnencrypted(stored, serializer),
  };
}

/** The store's codec for the `codec` option: `undefined` is JSON, written exactly as without the option. */
export function dataCodec(codec: unknown): DataCodec | undefined {
  if (codec === undefined) return undefined;
  if (!isCodec(codec)) {
    fail(
      'codec must be an object with serialize(data) and deserialize(text) methods, such as aesGcmCodec({ keys })',
    );
  }
  return (codec as Partial<Layered>)[LAYERS] ?? serializerCodec(codec);
}

/** A key option as 32 bytes, or a start-up error that says which key and how to make one. */
function keyBytes(key: unknown, index: number): Buffer {
  let bytes: Buffer | undefined;
  if (key instanceof Uint8Array) bytes = Buffer.from(key);
  else if (typeof key === 'string' && HEX_KEY.test(key)) bytes = Buffer.from(key, 'hex');
  else if (typeof key === 'string' && BASE64_KEY.test(key)) bytes = Buffer.from(key, 'base64');
  if (bytes?.length !== 32) {
    fail(
      `aesGcmCodec keys[${index}] must be 32 random bytes: a Buffer, or a string of 64 hex digits or ` +
        '43-44 base64/base64url characters (make one with: openssl rand -base64 32)',
    );
  }
  return bytes;
}

/** Separate keys for separate jobs (RFC 5869): the cipher key, and a short public id to pick it by. */
function derive(key: Buffer, purpose: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', key, '', `koa-epoch-session ${purpose}`, length));
}

/**
 * AES-256-GCM at rest, with `node:crypto` only. Each write draws a random 96-bit IV; the session's
 * handle is the additional authenticated data, so a ciphertext copied under another session's key
 * does not decrypt. The key id in front names the key that encrypted it: decryption tries that
 * key alone. A value it cannot authenticate (a retired key, a changed byte, garbage) reads as a
 * fresh session. The keys are checked here, at start-up.
 */
export function aesGcmCodec(options: AesGcmCodecOptions): SessionCodec {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.keys)) {
    fail('aesGcmCodec needs { keys: [key, ...] }: 32-byte keys, the first one encrypts');
  }
  if (options.keys.length === 0) fail('aesGcmCodec keys must hold at least one key');
  const { serializer, acceptUnencrypted = false } = options;
  if (serializer !== undefined && !isCodec(serializer)) {
    fail('aesGcmCodec serializer must be an object with serialize(data) and deserialize(text) methods');
  }
  if (typeof acceptUnencrypted !== 'boolean') fail('aesGcmCodec acceptUnencrypted must be a boolean');
  const byId = new Map<string, Buffer>();
  const seen: Buffer[] = [];
  for (const [index, key] of options.keys.entries()) {
    const bytes = keyBytes(key, index);
    const earlier = seen.findIndex((k) => k.equals(bytes));
    if (earlier >= 0) fail(`aesGcmCodec keys[${index}] repeats keys[${earlier}]`);
    seen.push(bytes);
    const id = derive(bytes, 'key id', 6).toString('base64url').slice(0, KEY_ID_LENGTH);
    // 36 bits: two of a handful of keys sharing an id is a one-in-ten-billion draw; refuse it anyway.
    if (byId.has(id)) fail(`aesGcmCodec keys[${index}] has the key id of an earlier key; use another key`);
    byId.set(id, derive(bytes, 'aes-256-gcm', 32));
  }
  const [currentId, currentKey] = byId.entries().next().value as [string, Buffer];
  const plainCodec = serializer ? serializerCodec(serializer) : undefined;

  function encrypt(plain: string, sessionId: string): string {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(Buffer.from(sessionId, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return GCM + currentId + body.toString('base64url');
  }

  function decrypt(stored: string, sessionId: string): string | undefined {
    const key = byId.get(stored.slice(GCM.length, GCM.length + KEY_ID_LENGTH));
    if (key === undefined) return undefined;
    const text = stored.slice(GCM.length + KEY_ID_LENGTH);
    const body = Buffer.from(text, 'base64url');
    // Node's decoder skips characters outside the alphabet and ignores spare bits: only the
    // canonical spelling is accepted, so that every changed character fails.
    if (body.length < IV_LENGTH + TAG_LENGTH || body.toString('base64url') !== text) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_LENGTH), {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAAD(Buffer.from(sessionId, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_LENGTH));
      // final() authenticates: nothing of the plaintext is used before it has passed.
      const plain = decipher.update(body.subarray(IV_LENGTH, body.length - TAG_LENGTH));
      return Buffer.concat([plain, decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  const layers: DataCodec = {
    json: plainCodec === undefined,
    stringify: plainCodec ? plainCodec.stringify : (data) => JSON.stringify(data),
    parse: plainCodec ? plainCodec.parse : parseJson,
    encode: encrypt,
    decode(stored, sessionId) {
      if (!stored.startsWith(GCM)) return acceptUnencrypted ? readUnencrypted(stored, serializer) : undefined;
      const plain = decrypt(stored, sessionId);
      if (plain === undefined) return undefined;
      const data = layers.parse(plain);
      return data && { plain, data };
    },
  };
  const codec: Layered = {
    // Outside the store (a script, a migration) there is no session to bind to: the empty id.
    serialize: (data) => encrypt(layers.stringify(data), ''),
    deserialize: (text) => layers.decode(text, '')?.data,
    [LAYERS]: layers,
  };
  return codec;
}
