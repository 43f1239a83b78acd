// Revocation reasons: short-lived records that tell the next request why its session ended.
import type { Revocation } from './state.js';

/** Reasons the library records by itself; `rotate` and `revoke` also take the app's own (say, 'password-changed'). */
export const REASONS = Object.freeze({
  rotated: 'signed-out-everywhere',
  revoked: 'revoked',
  signedOutElsewhere: 'signed-out-elsewhere',
  sessionLimit: 'session-limit',
  lifetime: 'lifetime-exceeded',
});

const REASON = /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$/;

export function assertReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || !REASON.test(reason)) {
    throw new TypeError(
      'koa-epoch-session: reason must be 1 to 64 characters of letters, digits, space, "_", ".", ":" or "-"',
    );
  }
}

/** `<time base36>:<reason>`: the time lets a rotation reason apply only to sessions that predate it. */
export function encodeReason(reason: string, now: number): string {
  return `${Math.floor(now).toString(36)}:${reason}`;
}

export function decodeReason(value: string | undefined): Revocation | undefined {
  if (value === undefined) return undefined;
  const colon = value.indexOf(':');
  const time = Number.parseInt(value.slice(0, colon), 36);
  if (colon < 1 || !Number.isFinite(time)) return undefined;
  return { reason: value.slice(colon + 1), at: new Date(time) };
}

/**
 * Why a presented cookie found no session: a record for that very session wins; a rotation
 * applies only if it happened after the session's login; past the absolute lifetime, that.
 */
export function explainMiss(
  sessionReason: string | undefined,
  rotationReason: string | undefined,
  loginTime: number,
  lifetimeEnd: number | undefined,
  now: number,
): Revocation | undefined {
  const own = decodeReason(sessionReason);
  if (own) return own;
  const rotation = decodeReason(rotationReason);
  if (rotation && rotation.at.getTime() >= loginTime) return rotation;
  if (lifetimeEnd !== undefined && now >= lifetimeEnd)
    return { reason: REASONS.lifetime, at: new Date(lifetimeEnd) };
  return undefined;
}
