// Encryption at rest for the demo: the aesGcmCodec keys, checked at start-up with a message that names where each came from.
import { randomBytes } from 'node:crypto';

/** 32 bytes as `openssl rand -base64 32` writes them (44 characters), or unpadded base64url (43). */
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43})$/;
const HOW_TO_MAKE_ONE = 'make one with: openssl rand -base64 32';

/** What is wrong with a key, without repeating it: start-up errors end up in terminals and logs. */
function flaw(key: unknown): string {
  if (typeof key !== 'string') return 'not a string';
  if (key === '') return 'empty';
  if (key.length === 43 || key.length === 44) return `${key.length} characters, but not all of them base64`;
  return `${key.length} characters; a key has 44`;
}

/** A key for one run of the demo: restarting signs everyone out anyway (the cookie keys are random too). */
export function randomEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * The keys, in order (the first encrypts, every one decrypts), or an Error saying which one is
 * wrong and how to make a good one. `nameOf(i)` names the i-th key as the user wrote it
 * (`encryptionKeys[1]`, `key 2 of SESSION_ENCRYPTION_KEYS`).
 */
export function checkEncryptionKeys(
  keys: readonly string[],
  list: string,
  nameOf: (i: number) => string,
): string[] {
  if (keys.length === 0) throw new TypeError(`demo: ${list} must hold at least one key; ${HOW_TO_MAKE_ONE}`);
  const seen = new Map<string, number>();
  keys.forEach((key, i) => {
    if (typeof key !== 'string' || !BASE64_KEY.test(key)) {
      throw new TypeError(
        `demo: ${nameOf(i)} is not a 32-byte key in base64 (${flaw(key)}); ${HOW_TO_MAKE_ONE}`,
      );
    }
    // The same 32 bytes spelled in base64 and base64url are one key.
    const bytes = Buffer.from(key, 'base64').toString('hex');
    const earlier = seen.get(bytes);
    if (earlier !== undefined) throw new TypeError(`demo: ${nameOf(i)} repeats ${nameOf(earlier)}`);
    seen.set(bytes, i);
  });
  return [...keys];
}

/** SESSION_ENCRYPTION_KEYS for `npm run demo`: comma-separated, the new key first while rotating. */
export function encryptionKeysFromEnv(value: string): string[] {
  const name = 'SESSION_ENCRYPTION_KEYS';
  return checkEncryptionKeys(
    value.split(',').map((key) => key.trim()),
    name,
    (i) => `key ${i + 1} of ${name}`,
  );
}
