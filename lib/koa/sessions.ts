// createSessions: the koa-session middleware wired to the epoch store, and the helpers built on it.

import type { EventEmitter } from 'node:events';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import koaSession from 'koa-session';
import { adminFor } from '../core/admin.js';
import { SessionError, SessionLimitError, SessionReplicationError } from '../core/errors.js';
import { assertFresh, assertStillLive } from '../core/freshness.js';
import { assertUserId, externalKey, newSid, sessionHandle, userTag } from '../core/keys.js';
import { companionOptions, cookieOptions, isDuration, sessionSettings } from '../core/options.js';
import type { SessionInfo } from '../core/registry.js';
import { assertReason, encodeReason, REASONS } from '../core/revocation.js';
import {
  type HeldSession,
  heldSessions,
  markEnded,
  type Revocation,
  stateOf,
  switchTo,
} from '../core/state.js';
import { encodeHeader, encodeValue, plainData } from '../core/value.js';
import { syncCompanion } from './companion.js';
import { sessionCookie } from './cookie.js';
import { watchKoaSession } from './koa-hooks.js';
import type { EpochSessionOptions } from './options.js';
import { EpochStore, requestMeta } from './store.js';

export interface LoginResult {
  /** The new session's public handle, as `list()` returns it. */
  sessionId: string;
  /** Handles of the sessions ended to stay within `maxSessions`. */
  evicted: string[];
}

export interface LoginOptions {
  /**
   * This session's lifetime instead of the `maxAge` option: a number of ms (a long one for
   * "remember me"), or `'session'` for a browser-session cookie. It follows the session through
   * rolling saves and re-keys, and `absoluteMaxAge` still caps it.
   */
  maxAge?: number | 'session';
}

export interface Sessions {
  /** koa-session's middleware with the epoch store and secure cookie defaults. */
  middleware: Middleware;
  /**
   * Signs the request in as `userId` under a new sid, carrying anonymous data over. `maxAge` gives
   * this session its own lifetime ("remember me"), in ms or `'session'`.
   */
  login(ctx: Context, userId: string, options?: LoginOptions): Promise<LoginResult>;
  /** The signed-in user's id, or `undefined`. */
  userId(ctx: Context): string | undefined;
  /** When the signed-in user last proved who they are: the login, or the last `reauthenticate`. */
  authenticatedAt(ctx: Context): Date | undefined;
  /**
   * Throws SessionNotFreshError (403) unless the user signed in or re-authenticated within `maxAge`
   * ms: for sensitive actions (change the email, the password), like better-auth's freshAge.
   */
  requireFresh(ctx: Context, maxAge: number): void;
  /** After the app checked the password again: the session is fresh from now, without a new login. */
  reauthenticate(ctx: Context): Promise<void>;
  /** Ends this session now and clears the cookie. */
  logout(ctx: Context): Promise<void>;
  /**
   * Signs out every other session of the user; this one continues under a new sid. False when the
   * request has no live signed-in session (never had one, or it was revoked meanwhile).
   */
  logoutOthers(ctx: Context, options?: { reason?: string }): Promise<boolean>;
  /** Revokes every session of the user in one write. True if the user had any. */
  rotate(userId: string, options?: { reason?: string }): Promise<boolean>;
  /** The user's live sessions (needs `registry: true`). */
  list(userId: string, ctx?: Context): Promise<SessionInfo[]>;
  /** Ends one session by its public handle. True if it was live. */
  revoke(userId: string, sessionId: string, options?: { reason?: string }): Promise<boolean>;
  /** Why the cookie this request presented no longer names a session, if it was revoked. */
  revokedReason(ctx: Context): Revocation | undefined;
  /** When this request's session ends, as far as the store knows, or `undefined` if it has none. */
  expiresAt(ctx: Context): Date | undefined;
  /** Events for logs and metrics: login, revoked, rejected, limit, redis-error (see EpochStore). */
  events: EventEmitter;
  store: EpochStore;
  genid: (ctx?: object) => string;
}

export function createSessions(app: Koa, options: EpochSessionOptions): Sessions {
  if (typeof app?.use !== 'function')
    throw new TypeError('koa-epoch-session: createSessions(app, options) needs a Koa app');
  const store = new EpochStore(options);
  const { registry, maxAge, codec } = store.settings;
  const settings = sessionSettings(options, registry);
  store.limit = { maxSessions: settings.maxSessions, policy: settings.sessionLimitPolicy };
  const cookie = cookieOptions(options, maxAge);
  if (cookie.signed && !(Array.isArray(app.keys) && app.keys.length > 0)) {
    throw new TypeError(
      'koa-epoch-session: signed cookies need app.keys; set app.keys = [secret] before createSessions(), or pass signed: false',
    );
  }
  if (!cookie.signed && store.settings.legacy) {
    // A legacy cookie names its Redis key: unsigned, a visitor could make the store read, adopt
    // and delete any key under legacy.prefix.
    throw new TypeError(
      'koa-epoch-session: legacy needs signed cookies; remove signed: false or the legacy option',
    );
  }
  const sessionMiddleware = koaSession(
    { ...cookie, store, genid: store.genid, externalKey: sessionCookie(cookie) },
    app,
  ) as unknown as Middleware;
  const watchRegenerate = watchKoaSession(app);
  const companion = companionOptions(options, cookie);
  const middleware: Middleware = async (ctx, next) => {
    watchRegenerate(ctx);
    try {
      await sessionMiddleware(ctx, async () => {
        const state = stateOf(ctx);
        if (state.adoptedFrom !== undefined) {
          // A legacy session was moved by the store: re-issue the cookie under its new key.
          state.adoptedFrom = undefined;
          await ctx.session!.regenerate();
        }
        await next();
      });
    } catch (error) {
      // Koa's error response drops every header. A revocation that was applied but not yet
      // acknowledged by replicas switched the caller to a new session: keep its cookie.
      if (error instanceof SessionReplicationError) {
        const setCookie = ctx.response.get('Set-Cookie');
        if (setCookie)
          Object.assign(error, {
            headers: { ...(error as { headers?: object }).headers, 'set-cookie': setCookie },
          });
      }
      throw error;
    } finally {
      if (companion) {
        // A session found ended on the read clears the companion. One refused while the request
        // ran does not: the response leaves the session cookie alone, and the companion with it
        // (another tab may hold a newer pair; a dead one is reported on the next request).
        const state = stateOf(ctx);
        const ended = state.revoked !== undefined && state.refused === undefined;
        syncCompanion(ctx, companion, { expiresAt: expiresAt(ctx)?.getTime(), ended });
      }
    }
  };
  const admin = adminFor(store);

  function expiresAt(ctx: Context): Date | undefined {
    const state = stateOf(ctx);
    const current = state.current;
    if (current === undefined || !ctx.session || (state.nulled && current.tag !== undefined))
      return undefined;
    return new Date(current.expiresAt);
  }

  /** The request's session, if it is a live signed-in one that koa-session is still using. */
  function liveUser(ctx: Context): HeldSession | undefined {
    const state = stateOf(ctx);
    const current = state.current;
    if (current?.tag === undefined) return undefined;
    // `ctx.session = null` signs the request out, even once a new object has been assigned.
    return ctx.session && !state.nulled ? current : undefined;
  }

  /**
   * The plaintext (JSON, or the codec's serializer text) koa-session's save() will produce for this
   * data, so the save after regenerate is a no-op.
   */
  function savedJson(ctx: Context, data: Record<string, unknown>, authenticatedAt?: number): string {
    const current = ctx.sessionOptions?.maxAge ?? maxAge;
    return plainData(
      codec,
      current === 'session' ? { ...data, _session: true } : { ...data, _maxAge: Number(current) },
      authenticatedAt,
      maxAge,
    );
  }

  /** When a session saved by this request now would end: what koa-session's save will compute. */
  function newExpiry(ctx: Context, loginTime: number, now: number): number {
    const current = ctx.sessionOptions?.maxAge ?? maxAge;
    return current === 'session'
      ? store.expiry(undefined, 'session', loginTime, now)
      : store.expiry(now + Number(current), undefined, loginTime, now);
  }

  async function login(ctx: Context, userId: string, options: LoginOptions = {}): Promise<LoginResult> {
    assertUserId(userId);
    const lifetime = options.maxAge;
    if (
      lifetime !== undefined &&
      lifetime !== 'session' &&
      !(isDuration(lifetime) && Number.isInteger(lifetime))
    ) {
      throw new TypeError(
        'koa-epoch-session: login() maxAge must be a whole number of milliseconds up to 100 years, or "session"',
      );
    }
    if (ctx.session === undefined) {
      throw new SessionError('koa-epoch-session: login() needs sessions.middleware to run first');
    }
    // koa-session keeps the lifetime in sessionOptions (ctx.session.maxAge) and saves it with the data.
    const previousMaxAge = ctx.sessionOptions.maxAge;
    if (lifetime !== undefined) ctx.sessionOptions.maxAge = lifetime;
    const tag = userTag(userId);
    const state = stateOf(ctx);
    // Every session the request holds ends: the one its cookie presented, whatever ctx.session
    // says by now (invariant 6), and any it switched to since.
    const held = heldSessions(state);
    const sameUser = held.find((s) => s.tag === tag);
    // Data carries over from an anonymous session (a cart, a locale), or from this user's previous
    // session if the login step itself ends it. Never another user's data, and nothing at all once
    // a session of this request was found revoked (its data is tainted, invariant 2).
    const carry =
      ctx.session !== null &&
      state.refused === undefined &&
      !held.some((s) => s.tag !== undefined && s.tag !== tag);
    const now = Date.now();
    const sid = newSid(now);
    const handle = sessionHandle(sid);
    const emptyJson = savedJson(ctx, {});
    const json = carry ? savedJson(ctx, ctx.session!.toJSON()) : emptyJson;
    const expires = newExpiry(ctx, now, now);
    const meta = registry ? requestMeta(ctx, now) : undefined;
    const created = await store.login({
      tag,
      userId,
      handle,
      value: (header) => encodeValue(expires, header, json, codec, handle),
      emptyValue: (header) => encodeValue(expires, header, emptyJson, codec, handle),
      expiresAt: expires,
      now,
      meta,
      previous: sameUser ? { handle: sameUser.handle, epoch: sameUser.epoch! } : undefined,
      limit: store.limit,
    });
    // A refused login changes nothing: ctx.session is left as it was.
    if (created.status === 'limited') {
      ctx.sessionOptions.maxAge = previousMaxAge;
      store.emit('limit', { userId, policy: 'reject', limit: settings.maxSessions, evicted: [] });
      throw new SessionLimitError(userId, settings.maxSessions);
    }
    if (created.status !== 'created') throw new SessionError('koa-epoch-session: login was refused');
    if (sameUser) markEnded(state, sameUser.key);
    for (const session of held) if (session !== sameUser) await store.endHeld(state, session, '');
    // What was not carried over is not in the new session's object either.
    if (!carry || !created.carried) ctx.session = {};
    const key = externalKey(tag, created.epoch, sid);
    switchTo(state, {
      key,
      tag,
      userId,
      epoch: created.epoch,
      handle,
      loginTime: now,
      header: encodeHeader(meta, now),
      createdAt: meta?.createdAt,
      dataJson: carry && created.carried ? json : emptyJson,
      expiresAt: expires,
      written: true,
    });
    state.revoked = undefined;
    // koa-session now drops the old id (already ended above) and takes the new one from genid;
    // its save finds the data already written.
    await ctx.session!.regenerate();
    const result = { sessionId: handle, evicted: created.evicted };
    if (result.evicted.length > 0) {
      store.emit('limit', {
        userId,
        policy: 'evict-oldest',
        limit: settings.maxSessions,
        evicted: result.evicted,
      });
    }
    store.emit('login', {
      userId,
      sessionId: handle,
      ip: meta?.ip ?? ctx.ip ?? '',
      userAgent: ctx.get('user-agent'),
    });
    if (settings.onLogin) notifyLogin(ctx, userId, result);
    return result;
  }

  function notifyLogin(ctx: Context, userId: string, result: LoginResult) {
    const hook = settings.onLogin!;
    (async () => {
      const others = registry ? (await list(userId)).filter((s) => s.id !== result.sessionId) : [];
      await hook(
        {
          userId,
          sessionId: result.sessionId,
          ip: ctx.ip ?? '',
          userAgent: ctx.get('user-agent'),
          otherSessions: others,
          evicted: result.evicted,
        },
        ctx,
      );
    })().catch((error: unknown) => {
      // The login has happened; the hook's failure is reported, never swallowed. Koa's default
      // error listener throws on a non-Error, and nothing awaits this promise: wrap the value,
      // and keep a throwing listener from becoming an unhandled rejection that ends the process.
      const reported =
        error instanceof Error
          ? error
          : new SessionError('koa-epoch-session: onLogin failed', { cause: error });
      try {
        ctx.app.emit('error', reported, ctx);
      } catch (listenerError) {
        console.error(listenerError);
      }
    });
  }

  async function logout(ctx: Context): Promise<void> {
    const state = stateOf(ctx);
    let lag: SessionReplicationError | undefined;
    for (const session of heldSessions(state)) {
      await store.endHeld(state, session, '').catch((error: unknown) => {
        if (!(error instanceof SessionReplicationError)) throw error;
        lag = error;
      });
    }
    ctx.session = null;
    // Ended on the master: the response still clears the cookie (the middleware keeps it on the
    // error response), and a retry waits for the replicas again.
    if (lag) throw lag;
  }

  async function logoutOthers(ctx: Context, options: { reason?: string } = {}): Promise<boolean> {
    const reason = options.reason ?? REASONS.signedOutElsewhere;
    assertReason(reason);
    const state = stateOf(ctx);
    const current = liveUser(ctx);
    if (current === undefined) return false;
    const now = Date.now();
    const sid = newSid(current.loginTime);
    const handle = sessionHandle(sid);
    const json = savedJson(ctx, ctx.session!.toJSON(), current.authenticatedAt);
    const expires = newExpiry(ctx, current.loginTime, now);
    const meta = registry ? requestMeta(ctx, current.createdAt ?? current.loginTime) : undefined;
    const header = encodeHeader(meta, now);
    const { epoch, lag } =
      expires <= now
        ? { epoch: undefined, lag: undefined }
        : await store.logoutOthers({
            tag: current.tag!,
            userId: current.userId!,
            epoch: current.epoch!,
            handle: current.handle,
            newHandle: handle,
            value: encodeValue(expires, header, json, codec, handle),
            expiresAt: expires,
            now,
            meta,
            reason: encodeReason(reason, now),
          });
    if (epoch === undefined) {
      markEnded(state, current.key);
      ctx.session = null;
      return false;
    }
    store.emit('revoked', { userId: current.userId, scope: 'others', reason });
    markEnded(state, current.key);
    switchTo(state, {
      ...current,
      key: externalKey(current.tag, epoch, sid),
      epoch,
      handle,
      header,
      createdAt: meta?.createdAt ?? current.createdAt,
      dataJson: json,
      expiresAt: expires,
      written: true,
    });
    await ctx.session!.regenerate();
    if (lag) {
      // Applied on the master; the caller already holds the new session (its cookie is kept on
      // the error response by the middleware). A retry rotates again and waits again.
      lag.result = true;
      throw lag;
    }
    return true;
  }

  function authenticatedAt(ctx: Context): Date | undefined {
    const current = liveUser(ctx);
    return current ? new Date(current.authenticatedAt ?? current.loginTime) : undefined;
  }

  function requireFresh(ctx: Context, maxAge: number): void {
    assertFresh(authenticatedAt(ctx), maxAge);
  }

  async function reauthenticate(ctx: Context): Promise<void> {
    const current = liveUser(ctx);
    if (current === undefined) {
      throw new SessionError(
        'koa-epoch-session: reauthenticate() needs a signed-in session; use login() instead',
      );
    }
    current.authenticatedAt = Date.now();
    await ctx.session!.save();
    const state = stateOf(ctx);
    await assertStillLive(store, state, state.current === current ? current : undefined, current.key);
  }

  async function list(userId: string, ctx?: Context): Promise<SessionInfo[]> {
    const current = ctx ? liveUser(ctx) : undefined;
    return admin.list(userId, current?.tag === userTag(userId) ? current.handle : undefined);
  }

  return {
    middleware,
    login,
    userId: (ctx) => liveUser(ctx)?.userId,
    authenticatedAt,
    requireFresh,
    reauthenticate,
    logout,
    logoutOthers,
    rotate: admin.rotate,
    list,
    revoke: admin.revoke,
    revokedReason: (ctx) => stateOf(ctx).revoked,
    expiresAt,
    events: store,
    store,
    genid: store.genid,
  };
}
