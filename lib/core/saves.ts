// How a request's save reaches Redis (create, update, re-key), checked against what the request holds: shared by the Koa and Express stores.
import { debuglog } from 'node:util';
import type { SessionEngine } from './engine.js';
import type { ParsedKey } from './keys.js';
import { encodeReason, REASONS } from './revocation.js';
import { type HeldSession, markEnded, markRefused, type RequestState } from './state.js';
import {
  AUTHENTICATED_AT,
  type DeviceMeta,
  encodeHeader,
  encodeValue,
  headerDeviceRef,
  rawHeader,
  type StoredValue,
} from './value.js';

const debug = debuglog('koa-epoch-session');

/**
 * A save of unchanged data is skipped while the stored expiry is this close to the one it would
 * write (at most 1 s, and 1% of the lifetime): a busy rolling session is written about once a
 * second instead of on every request, and ends at most that much before its cookie, never after.
 */
export function touchWindow(ttl: number): number {
  return Math.min(1000, Math.floor(ttl / 100));
}

/** True when a save would change nothing worth a write: the same data, and an end within the touch window. */
export function unchanged(current: HeldSession, json: string, expiresAt: number, now: number): boolean {
  return (
    json === current.dataJson &&
    (current.written || current.expiresAt >= expiresAt - touchWindow(expiresAt - now))
  );
}

/**
 * Creates the anonymous session genid minted for this request (`SET … NX`: never overwrites).
 * It becomes the session the request holds. False: not written (its data goes nowhere).
 */
export async function createAnonymous(
  engine: SessionEngine,
  state: RequestState,
  key: string,
  parsed: ParsedKey,
  json: string,
  expiresAt: number,
  now: number,
): Promise<boolean> {
  const written =
    expiresAt > now &&
    (await engine.writeAnonymous(
      parsed.handle,
      encodeValue(expiresAt, '', json, engine.settings.codec, parsed.handle),
      expiresAt - now,
      'NX',
    ));
  if (!written) {
    markRefused(state, key);
    return false;
  }
  state.current = {
    key,
    tag: undefined,
    userId: undefined,
    epoch: undefined,
    handle: parsed.handle,
    loginTime: parsed.loginTime,
    header: '',
    createdAt: undefined,
    dataJson: json,
    expiresAt,
    written: true,
  };
  return true;
}

/**
 * Rewrites the session the request holds, to end at `expiresAt` (callers skip `unchanged` saves).
 * Past the absolute lifetime it ends instead. `meta`: with the registry, the device as this
 * request shows it (a rewrite counts as activity). A session revoked, rotated or logged out
 * elsewhere while the request ran stays dead, and its data goes nowhere (invariant 2).
 */
export async function updateHeld(
  engine: SessionEngine,
  state: RequestState,
  current: HeldSession,
  json: string,
  expiresAt: number,
  now: number,
  meta: DeviceMeta | undefined,
): Promise<void> {
  if (expiresAt <= now) {
    markRefused(state, current.key);
    state.revoked = { reason: REASONS.lifetime, at: new Date(now) };
    await engine.endHeld(state, current, encodeReason(REASONS.lifetime, now));
    return;
  }
  const { codec } = engine.settings;
  let header = current.header;
  const written =
    current.tag === undefined
      ? await engine.writeAnonymous(
          current.handle,
          encodeValue(expiresAt, '', json, codec, current.handle),
          expiresAt - now,
          'XX',
        )
      : await engine.writeUser({
          tag: current.tag,
          epoch: current.epoch!,
          handle: current.handle,
          value: (written) => {
            header = written;
            return encodeValue(expiresAt, written, json, codec, current.handle);
          },
          expiresAt,
          now,
          previous: { expiresAt: current.expiresAt, deviceRef: headerDeviceRef(current.header) },
          meta,
        });
  if (!written) {
    debug('session %s ended while this request ran; not written', current.handle);
    markRefused(state, current.key);
    return;
  }
  Object.assign(current, {
    header,
    dataJson: json,
    expiresAt,
    written: true,
    createdAt: current.createdAt ?? (header ? current.loginTime : undefined),
  });
}

/**
 * A regenerate of a signed-in session: its data moves to the new key genid minted, under the
 * same user and epoch, in one atomic step (rekey). If it was revoked meanwhile it does not
 * continue under the new id, not even as an anonymous copy (invariant 2): both keys are refused.
 */
export async function rekeyHeld(
  engine: SessionEngine,
  state: RequestState,
  from: HeldSession,
  key: string,
  parsed: ParsedKey,
  json: string,
  expiresAt: number,
  now: number,
  meta: DeviceMeta | undefined,
): Promise<boolean> {
  const header = encodeHeader(meta, now);
  const moved =
    expiresAt > now &&
    (await engine.rekeyUser(
      from.tag!,
      from.epoch!,
      from.handle,
      parsed.handle,
      // Under the new handle: an encrypting codec binds the value to the session it names.
      encodeValue(expiresAt, header, json, engine.settings.codec, parsed.handle),
      expiresAt,
      now,
      meta,
    ));
  if (!moved) {
    debug('signed-in session %s was revoked before its regenerate; not continued', from.handle);
    markRefused(state, from.key);
    markRefused(state, key);
    return false;
  }
  markEnded(state, from.key);
  state.current = {
    ...from,
    key,
    handle: parsed.handle,
    header,
    dataJson: json,
    expiresAt,
    written: true,
    createdAt: meta?.createdAt ?? from.createdAt,
  };
  return true;
}

/**
 * Records a value a read reached as the session the request presented and now holds. A signed-in
 * session's last re-authentication travels in its data as `_auth` (the store's field, not the app's).
 */
export function holdRead(
  state: RequestState,
  key: string,
  parsed: ParsedKey,
  raw: string,
  value: StoredValue,
  userId: string | undefined,
): HeldSession {
  const reauthenticated = value.data[AUTHENTICATED_AT];
  const held: HeldSession = {
    key,
    tag: parsed.tag,
    userId,
    authenticatedAt:
      parsed.tag !== undefined && typeof reauthenticated === 'number' ? reauthenticated : undefined,
    epoch: parsed.epoch,
    handle: parsed.handle,
    loginTime: parsed.loginTime,
    header: rawHeader(raw),
    createdAt: value.header?.createdAt,
    dataJson: value.dataJson,
    expiresAt: value.expiresAt,
    written: false,
  };
  state.presented = held;
  state.current = held;
  return held;
}
