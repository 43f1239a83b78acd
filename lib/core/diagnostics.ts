// node:diagnostics_channel channels for tracing and metrics: what the engine does, with no dependency and no cost unobserved.
import { channel, type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import type { SessionEngine } from './engine.js';
import { decodeReason } from './revocation.js';
import type { Revocation } from './state.js';

/**
 * Channel names, namespaced as Node's and undici's are. read, write, login, rotate and revoke are
 * tracing channels (`diagnostics_channel.tracingChannel(name)`): each operation publishes `start`,
 * `end`, `asyncStart`, `asyncEnd` and, when it fails, `error`, on `tracing:<name>:<event>`, with one
 * message object throughout, so a subscriber can time it or open and close a span (what OpenTelemetry
 * and APM instrumentations consume). rejected and redis-error are plain channels: point events,
 * with no duration to measure.
 */
export const CHANNELS = Object.freeze({
  read: 'koa-epoch-session:read',
  write: 'koa-epoch-session:write',
  login: 'koa-epoch-session:login',
  rotate: 'koa-epoch-session:rotate',
  revoke: 'koa-epoch-session:revoke',
  rejected: 'koa-epoch-session:rejected',
  redisError: 'koa-epoch-session:redis-error',
});

/**
 * What the tracing channels' messages share. Node adds `result` (this package's summary of the
 * outcome, never what Redis returned: replies hold session data and epochs) before `asyncEnd`, or
 * `error` (the SessionError the caller gets, its Redis command arguments redacted) before `error`.
 * No message holds a cookie value, a sid, an epoch, a key or session data; `sessionId` is the
 * session's public handle (as `list()` shows it), which cannot be replayed as a cookie.
 */
interface Traced<Result> {
  result?: Result;
  error?: unknown;
}

/** One per Redis read of a session: a request's cookie being checked, or `reauthenticate`'s check. */
export interface ReadMessage extends Traced<boolean> {
  signedIn: boolean;
  sessionId: string;
}

/** A session written: `create` (a new anonymous session), `update` (a save or a rolling touch), `rekey` (regenerate). */
export interface WriteMessage extends Traced<boolean> {
  signedIn: boolean;
  sessionId: string;
  mode: 'create' | 'update' | 'rekey';
  /** For `rekey`: the session the new one replaces. */
  previousSessionId?: string;
}

/** A sign-in (or a legacy session adopted as one). `userId` is the id the app passed to `login`. */
export interface LoginMessage extends Traced<'created' | 'limited' | 'revoked'> {
  userId: string;
  sessionId: string;
  adopted: boolean;
}

/** Every session of the user revoked in one write (`all`), or every one but the caller's (`others`). */
export interface RotateMessage extends Traced<boolean> {
  userId: string;
  scope: 'all' | 'others';
  reason: string | undefined;
}

/** One session ended: `revoke(userId, sessionId)`, a logout or destroy, the absolute lifetime, a new login. */
export interface RevokeMessage extends Traced<boolean> {
  signedIn: boolean;
  sessionId: string;
  /** The reason the next request with this cookie is told; undefined when the request ended its own session. */
  reason: string | undefined;
}

/** A request presented the cookie of a session that was revoked, rotated away, evicted or past its lifetime. */
export interface RejectedMessage {
  sessionId: string;
  reason: string;
  at: Date;
}

/** A Redis command failed; the request fails with the same error. */
export interface RedisErrorMessage {
  error: Error;
}

const read = tracingChannel<unknown, ReadMessage>(CHANNELS.read);
const write = tracingChannel<unknown, WriteMessage>(CHANNELS.write);
const login = tracingChannel<unknown, LoginMessage>(CHANNELS.login);
const rotate = tracingChannel<unknown, RotateMessage>(CHANNELS.rotate);
const revoke = tracingChannel<unknown, RevokeMessage>(CHANNELS.revoke);
const rejected = channel(CHANNELS.rejected);
const redisError = channel(CHANNELS.redisError);

/**
 * Runs `run` as a traced operation. The message's `result` is `outcome(value)`; the caller still
 * gets `value` itself. Only called once `hasSubscribers` said yes: the closure and the message are
 * never made for nobody.
 */
function traced<T, M extends Traced<unknown>>(
  on: TracingChannel<unknown, M>,
  message: M,
  run: () => Promise<T>,
  outcome: (value: T) => unknown,
): Promise<T> {
  let value: T;
  return on
    .tracePromise(
      () =>
        run().then((v) => {
          value = v;
          return outcome(v);
        }),
      message,
    )
    .then(() => value);
}

const reasonOf = (encoded: string) => decodeReason(encoded)?.reason;

/**
 * Wraps the engine's session operations, so the Koa store, the Express store, the admin and the
 * CLI all publish the same channels with both Redis clients. Unobserved, each costs one
 * `hasSubscribers` check and a direct call: no message, no closure (the signed-in read is the
 * benchmarked hot path).
 */
export function traceEngine(engine: SessionEngine): void {
  const { readUser, readAnonymous, writeUser, writeAnonymous, rekeyUser, endUser, endAnonymous } = engine;
  const { login: signIn, rotate: rotateUser, logoutOthers } = engine;

  engine.readUser = function (tag, epoch, handle) {
    if (!read.hasSubscribers) return readUser.call(this, tag, epoch, handle);
    return traced(
      read,
      { signedIn: true, sessionId: handle },
      () => readUser.call(this, tag, epoch, handle),
      (r) => r.live,
    );
  };
  engine.readAnonymous = function (handle) {
    if (!read.hasSubscribers) return readAnonymous.call(this, handle);
    return traced(
      read,
      { signedIn: false, sessionId: handle },
      () => readAnonymous.call(this, handle),
      (raw) => raw !== undefined,
    );
  };
  engine.writeUser = function (request) {
    if (!write.hasSubscribers) return writeUser.call(this, request);
    return traced(
      write,
      { signedIn: true, sessionId: request.handle, mode: 'update' },
      () => writeUser.call(this, request),
      Boolean,
    );
  };
  engine.writeAnonymous = function (handle, value, ttl, mode) {
    if (!write.hasSubscribers) return writeAnonymous.call(this, handle, value, ttl, mode);
    return traced(
      write,
      { signedIn: false, sessionId: handle, mode: mode === 'NX' ? 'create' : 'update' },
      () => writeAnonymous.call(this, handle, value, ttl, mode),
      Boolean,
    );
  };
  engine.rekeyUser = function (...args) {
    if (!write.hasSubscribers) return rekeyUser.apply(this, args);
    const [, , oldHandle, newHandle] = args;
    return traced(
      write,
      { signedIn: true, sessionId: newHandle, mode: 'rekey', previousSessionId: oldHandle },
      () => rekeyUser.apply(this, args),
      Boolean,
    );
  };
  engine.login = function (request) {
    if (!login.hasSubscribers) return signIn.call(this, request);
    return traced(
      login,
      { userId: request.userId, sessionId: request.handle, adopted: request.legacySavedAt !== undefined },
      () => signIn.call(this, request),
      (outcome) => outcome.status,
    );
  };
  engine.rotate = function (userId, reason) {
    if (!rotate.hasSubscribers) return rotateUser.call(this, userId, reason);
    return traced(
      rotate,
      { userId, scope: 'all', reason: reasonOf(reason) },
      () => rotateUser.call(this, userId, reason),
      (status) => status === 1,
    );
  };
  engine.logoutOthers = function (request) {
    if (!rotate.hasSubscribers) return logoutOthers.call(this, request);
    return traced(
      rotate,
      { userId: request.userId, scope: 'others', reason: reasonOf(request.reason) },
      () => logoutOthers.call(this, request),
      (done) => done.epoch !== undefined,
    );
  };
  engine.endUser = function (tag, epoch, handle, reason) {
    if (!revoke.hasSubscribers) return endUser.call(this, tag, epoch, handle, reason);
    return traced(
      revoke,
      { signedIn: true, sessionId: handle, reason: reasonOf(reason) },
      () => endUser.call(this, tag, epoch, handle, reason),
      Boolean,
    );
  };
  engine.endAnonymous = function (handle) {
    if (!revoke.hasSubscribers) return endAnonymous.call(this, handle);
    return traced(
      revoke,
      { signedIn: false, sessionId: handle, reason: undefined },
      () => endAnonymous.call(this, handle),
      Boolean,
    );
  };
}

/** A revoked cookie was presented. No user id: this fires on requests, and the handle names the session. */
export function publishRejected(sessionId: string, revocation: Revocation | undefined): void {
  if (revocation === undefined || !rejected.hasSubscribers) return;
  rejected.publish({ sessionId, reason: revocation.reason, at: revocation.at } satisfies RejectedMessage);
}

/** A Redis command failed: the error the caller gets (command arguments already redacted by redisCall). */
export function publishRedisError(error: unknown): void {
  if (redisError.hasSubscribers) redisError.publish({ error } as RedisErrorMessage);
}
