// createExpressSessions: express-session wired to the epoch store, and the helpers built on it, as createSessions does for Koa.

import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { adminFor } from '../core/admin.js';
import { SessionError, SessionLimitError, SessionReplicationError } from '../core/errors.js';
import { assertFresh, assertStillLive } from '../core/freshness.js';
import { assertUserId, externalKey, newSid, sessionHandle, userTag } from '../core/keys.js';
import { isDuration, sessionSettings } from '../core/options.js';
import type { SessionInfo } from '../core/registry.js';
import { assertReason, encodeReason, REASONS } from '../core/revocation.js';
import {
  type HeldSession,
  heldSessions,
  isEnded,
  isRefused,
  markEnded,
  type RequestState,
  type Revocation,
  stateOf,
} from '../core/state.js';
import { encodeHeader, encodeValue } from '../core/value.js';
import {
  beforeHead,
  type CookieAttributes,
  clearingCookie,
  hasCookie,
  isSecure,
  serializeCookie,
  setCookieLines,
  signValue,
} from './cookie.js';
import { type ExpressSessionOptions, expressSettings } from './options.js';
import { factsOf } from './request.js';
import { ExpressEpochStore, requestMeta, type SessionLike } from './store.js';

export interface LoginResult {
  /** The new session's public handle, as `list()` returns it. */
  sessionId: string;
  /** Handles of the sessions ended to stay within `maxSessions`. */
  evicted: string[];
}

export interface LoginOptions {
  /**
   * This session's lifetime instead of the `maxAge` option: a number of ms (a long one for
   * "remember me"), or `'session'` for a browser-session cookie. It becomes the session's
   * `req.session.cookie.maxAge`, so it follows the session through rolling saves and
   * `regenerate()`, and `absoluteMaxAge` still caps it.
   */
  maxAge?: number | 'session';
}

export interface ExpressSessions {
  /** express-session with the epoch store and secure cookie defaults, and the adapter's own bookkeeping. */
  middleware: RequestHandler;
  /** The express-session store (for `req.sessionStore` checks, or wiring express-session by hand). */
  store: ExpressEpochStore;
  /**
   * Signs the request in as `userId` under a new sid, carrying anonymous data over. `req.session` is
   * a new object. `maxAge` gives this session its own lifetime ("remember me"), in ms or `'session'`.
   */
  login(req: Request, userId: string, options?: LoginOptions): Promise<LoginResult>;
  /** The signed-in user's id, or `undefined`. */
  userId(req: Request): string | undefined;
  /** When the signed-in user last proved who they are: the login, or the last `reauthenticate`. */
  authenticatedAt(req: Request): Date | undefined;
  /**
   * Throws SessionNotFreshError (403) unless the user signed in or re-authenticated within `maxAge`
   * ms: for sensitive actions (change the email, the password).
   */
  requireFresh(req: Request, maxAge: number): void;
  /** After the app checked the password again: the session is fresh from now, without a new login. */
  reauthenticate(req: Request): Promise<void>;
  /** Ends this session now; `req.session` becomes a new, empty anonymous session (its cookie is cleared unless data is put in it). */
  logout(req: Request): Promise<void>;
  /**
   * Signs out every other session of the user; this one continues under a new sid. False when the
   * request has no live signed-in session (never had one, or it was revoked meanwhile).
   */
  logoutOthers(req: Request, options?: { reason?: string }): Promise<boolean>;
  /** Revokes every session of the user in one write. True if the user had any. */
  rotate(userId: string, options?: { reason?: string }): Promise<boolean>;
  /** The user's live sessions (needs `registry: true`). */
  list(userId: string, req?: Request): Promise<SessionInfo[]>;
  /** Ends one session by its public handle. True if it was live. */
  revoke(userId: string, sessionId: string, options?: { reason?: string }): Promise<boolean>;
  /** Why the cookie this request presented no longer names a session, if it was revoked. */
  revokedReason(req: Request): Revocation | undefined;
  /** When this request's session ends, as far as the store knows, or `undefined` if it has none. */
  expiresAt(req: Request): Date | undefined;
  /** Events for logs and metrics: login, revoked, rejected, limit, redis-error, hook-error. */
  events: EventEmitter;
}

type Req = IncomingMessage & { session?: SessionLike | null; sessionID?: string; sessionStore?: unknown };

export function createExpressSessions(options: ExpressSessionOptions): ExpressSessions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('koa-epoch-session: createExpressSessions(options) needs { redis, secret }');
  }
  const express = expressSettings(options);
  const store = new ExpressEpochStore({
    ...options,
    cookie: express.cookie,
    saveUninitialized: express.saveUninitialized,
    proxy: express.proxy,
  });
  const { engine } = store;
  const { registry } = engine.settings;
  const settings = sessionSettings(options as Parameters<typeof sessionSettings>[0], registry);
  engine.limit = { maxSessions: settings.maxSessions, policy: settings.sessionLimitPolicy };
  const onLogin = options.onLogin;
  const companion = companionName(options.companionCookie, express.name);
  const { name, secrets } = express;
  const defaults = store.cookieDefaults;

  const handler = session({
    store,
    genid: store.genid,
    name,
    secret: secrets,
    resave: express.resave,
    saveUninitialized: express.saveUninitialized,
    rolling: express.rolling,
    unset: express.unset,
    ...(express.proxy === undefined ? {} : { proxy: express.proxy }),
    cookie: {
      path: defaults.path,
      httpOnly: defaults.httpOnly,
      sameSite: defaults.sameSite,
      secure: defaults.secure,
      maxAge: defaults.originalMaxAge ?? undefined,
      ...(defaults.domain === undefined ? {} : { domain: defaults.domain }),
    },
  });

  const middleware: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if ((req as unknown as Req).session) {
      next();
      return;
    }
    beforeHead(res, () => followCookie(req as unknown as Req, res));
    // express-session reads the session (store.get) synchronously inside this call: the store
    // learns which request asks. Everything after its `next` runs without that hand-off.
    store.withRequest(req, () =>
      handler(req, res, (error?: unknown) =>
        store.withRequest(undefined, () => {
          if ((req as unknown as Req).sessionStore === store) {
            // express-session's own res.end ends the session under `unset: 'destroy'`: same hand-off.
            const end = res.end;
            res.end = function (this: Response, ...args: unknown[]) {
              return store.withRequest(req, () => (end as (...a: unknown[]) => Response).apply(this, args));
            } as typeof res.end;
          }
          next(error);
        }),
      ),
    );
  };

  /** The cookie follows the store: cleared when its session was ended or not stored, re-sent when express-session would not. */
  function followCookie(req: Req, res: ServerResponse): void {
    const state = stateOf(req);
    const facts = factsOf(req);
    const lines = setCookieLines(res);
    const sessionObject = req.session ?? undefined;
    const key = req.sessionID;
    const attributes = cookieAttributes(req, sessionObject);
    const presented = hasCookie(req, name);
    let index = lines.findIndex((line) => line.startsWith(`${name}=`));
    const dead = (k: string | undefined) =>
      k === undefined || isRefused(state, k) || isEnded(state, k) || facts.unsaved === k;
    if (index >= 0 && dead(key)) {
      if (presented) lines[index] = clearingCookie(name, attributes);
      else lines.splice(index, 1);
    } else if (index < 0 && sessionObject && key !== undefined && needsCookie(req, key)) {
      if (!(attributes.secure && !isSecure(req, express.proxy))) {
        lines.push(serializeCookie(name, signValue(key, secrets[0]!), attributes));
      }
    } else if (index < 0 && presented && facts.destroyed && (sessionObject === undefined || dead(key))) {
      lines.push(clearingCookie(name, attributes));
    }
    index = lines.findIndex((line) => line.startsWith(`${name}=`));
    if (companion) {
      const written = index >= 0 ? lines[index] : undefined;
      const ended = state.revoked !== undefined;
      if (written !== undefined || ended) {
        const cleared = written === undefined || written.startsWith(`${name}=;`);
        const expires = expiresAt(req as unknown as Request)?.getTime();
        const base = { ...attributes, httpOnly: false };
        if (cleared || expires === undefined) {
          if (hasCookie(req, companion) || written !== undefined) lines.push(clearingCookie(companion, base));
        } else {
          // Rounded up to the second like the session cookie's, so both end together.
          const until = /;\s*expires=/i.test(written!)
            ? new Date(Math.ceil(expires / 1000) * 1000)
            : undefined;
          lines.push(serializeCookie(companion, String(expires), { ...base, expires: until }));
        }
      }
    }
    if (lines.length > 0) res.setHeader('Set-Cookie', lines);
  }

  /** express-session sends no cookie for an unchanged session: after an adoption or a "remember me" change it must. */
  function needsCookie(req: Req, key: string): boolean {
    const state = stateOf(req);
    const current = state.current;
    if (current?.key !== key || isRefused(state, key) || isEnded(state, key)) return false;
    const facts = factsOf(req);
    return key !== facts.presentedKey || req.session?.cookie?.originalMaxAge !== facts.loadedMaxAge;
  }

  function cookieAttributes(req: Req, sessionObject: SessionLike | undefined): CookieAttributes {
    const cookie = sessionObject?.cookie as CookieAttributes | undefined;
    if (cookie) {
      const data = (cookie as { data?: CookieAttributes }).data;
      return data ?? cookie;
    }
    return {
      path: defaults.path,
      httpOnly: defaults.httpOnly,
      sameSite: defaults.sameSite,
      secure: defaults.secure === 'auto' ? isSecure(req, express.proxy) : defaults.secure,
      ...(defaults.domain === undefined ? {} : { domain: defaults.domain }),
    };
  }

  function expiresAt(req: Request): Date | undefined {
    const state = stateOf(req);
    const pending = liveUser(req);
    if (pending !== undefined && pending === state.regenerateFrom) return new Date(pending.expiresAt);
    const current = state.current;
    const sessionObject = (req as unknown as Req).session;
    if (current === undefined || !sessionObject || sessionObject.id !== current.key) return undefined;
    if (isRefused(state, current.key) || isEnded(state, current.key)) return undefined;
    const planned = factsOf(req).planned;
    return new Date(planned?.key === current.key ? planned.expiresAt : current.expiresAt);
  }

  /** The request's session, if it is a live signed-in one that express-session is still using. */
  function liveUser(req: Request): HeldSession | undefined {
    const state = stateOf(req);
    const sessionId = (req as unknown as Req).session?.id;
    // Between a regenerate() and the write that moves the key, the user is still signed in.
    const current =
      state.regenerateFrom !== undefined && sessionId !== undefined && sessionId === state.minted
        ? state.regenerateFrom
        : state.current?.key === sessionId
          ? state.current
          : undefined;
    if (current?.tag === undefined || isRefused(state, current.key) || isEnded(state, current.key))
      return undefined;
    return current;
  }

  function requireMiddleware(req: Request, step: string): void {
    if ((req as unknown as Req).sessionStore !== store) {
      throw new SessionError(`koa-epoch-session: ${step}() needs sessions.middleware to run first`);
    }
  }

  /** The cookie lifetime of a session: its own `cookie.maxAge`, or the configured one. */
  function lifetimeOf(sessionObject: SessionLike | null | undefined): number | null | undefined {
    return sessionObject?.cookie ? sessionObject.cookie.originalMaxAge : defaults.originalMaxAge;
  }

  /** When a session written now ends: now + the cookie's maxAge (or the browser-session TTL), within the lifetime. */
  function freshExpiry(maxAge: number | null | undefined, loginTime: number, now: number) {
    return typeof maxAge === 'number' && maxAge > 0
      ? engine.expiry(now + maxAge, undefined, loginTime, now)
      : engine.expiry(undefined, 'session', loginTime, now);
  }

  /** Puts a new Session object in place under `key`, built from what was stored, as a read would. */
  function switchTo(req: Request, held: HeldSession): void {
    const state = stateOf(req);
    state.current = held;
    state.minted = undefined;
    state.regenerateFrom = undefined;
    (req as unknown as Req).sessionID = held.key;
    store.createSession(req, store.expand(store.parse(held.dataJson), held.expiresAt));
  }

  async function login(req: Request, userId: string, options: LoginOptions = {}): Promise<LoginResult> {
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
    requireMiddleware(req, 'login');
    const tag = userTag(userId);
    const state = stateOf(req);
    const sessionObject = (req as unknown as Req).session;
    // Every session the request holds ends: the one its cookie presented, whatever req.session
    // holds by now (invariant 6), and any it switched to since.
    const held = heldByRequest(state);
    const sameUser = held.find((s) => s.tag === tag);
    // Data carries over from an anonymous session (a cart, a locale), or from this user's previous
    // session if the login step itself ends it. Never another user's data, and nothing at all once
    // a session of this request was found revoked (its data is tainted, invariant 2).
    const carry =
      !!sessionObject &&
      state.refused === undefined &&
      !held.some((s) => s.tag !== undefined && s.tag !== tag);
    const now = Date.now();
    const sid = newSid(now);
    const handle = sessionHandle(sid);
    // The new session's cookie lifetime: login's maxAge ('session': no Expires, as express-session's
    // `cookie.maxAge = null`), else the one the carried session had, else the configured one. It is
    // stored as the cookie's originalMaxAge, exactly as `req.session.cookie.maxAge = …` would be.
    const maxAge =
      lifetime === undefined
        ? lifetimeOf(carry ? sessionObject : undefined)
        : lifetime === 'session'
          ? null
          : lifetime;
    const override = lifetime === undefined ? undefined : maxAge;
    const emptyJson = override === undefined ? store.stringify({}) : store.serialize({}, undefined, override);
    const json = carry ? store.serialize(sessionObject!, undefined, override) : emptyJson;
    const expires = freshExpiry(maxAge, now, now);
    const meta = registry ? requestMeta(req, now) : undefined;
    const created = await engine.login({
      tag,
      userId,
      handle,
      value: (header) => encodeValue(expires, header, json, engine.settings.codec, handle),
      emptyValue: (header) => encodeValue(expires, header, emptyJson, engine.settings.codec, handle),
      expiresAt: expires,
      now,
      meta,
      previous: sameUser ? { handle: sameUser.handle, epoch: sameUser.epoch! } : undefined,
      limit: engine.limit,
    });
    // A refused login changes nothing: req.session is left as it was.
    if (created.status === 'limited') {
      engine.emit('limit', { userId, policy: 'reject', limit: settings.maxSessions, evicted: [] });
      throw new SessionLimitError(userId, settings.maxSessions);
    }
    if (created.status !== 'created') throw new SessionError('koa-epoch-session: login was refused');
    if (sameUser) markEnded(state, sameUser.key);
    for (const other of held) if (other !== sameUser) await store.endHeld(state, other, '');
    switchTo(req, {
      key: externalKey(tag, created.epoch, sid),
      tag,
      userId,
      epoch: created.epoch,
      handle,
      loginTime: now,
      header: encodeHeader(meta, now),
      createdAt: meta?.createdAt,
      // What was not carried over is not in the new session's object either.
      dataJson: carry && created.carried ? json : emptyJson,
      expiresAt: expires,
      written: true,
    });
    state.revoked = undefined;
    const result = { sessionId: handle, evicted: created.evicted };
    if (result.evicted.length > 0) {
      engine.emit('limit', {
        userId,
        policy: 'evict-oldest',
        limit: settings.maxSessions,
        evicted: result.evicted,
      });
    }
    const userAgent = req.headers['user-agent'] ?? '';
    engine.emit('login', { userId, sessionId: handle, ip: meta?.ip ?? req.ip ?? '', userAgent });
    if (onLogin) notifyLogin(req, userId, result);
    return result;
  }

  function notifyLogin(req: Request, userId: string, result: LoginResult) {
    (async () => {
      const others = registry ? (await list(userId)).filter((s) => s.id !== result.sessionId) : [];
      await onLogin!(
        {
          userId,
          sessionId: result.sessionId,
          ip: req.ip ?? '',
          userAgent: req.headers['user-agent'] ?? '',
          otherSessions: others,
          evicted: result.evicted,
        },
        req,
      );
    })().catch((error: unknown) => {
      // The login has happened; the hook's failure is reported, never swallowed.
      const reported =
        error instanceof Error
          ? error
          : new SessionError('koa-epoch-session: onLogin failed', { cause: error });
      if (engine.listenerCount('hook-error') > 0) engine.emit('hook-error', reported, req);
      else process.emitWarning(reported);
    });
  }

  async function logout(req: Request): Promise<void> {
    requireMiddleware(req, 'logout');
    const state = stateOf(req);
    let lag: SessionReplicationError | undefined;
    for (const held of heldByRequest(state)) {
      await store.endHeld(state, held, '').catch((error: unknown) => {
        if (!(error instanceof SessionReplicationError)) throw error;
        lag = error;
      });
    }
    factsOf(req).destroyed = true;
    signOut(req);
    // Ended on the master: the response still clears the cookie, and a retry waits for the replicas again.
    if (lag) throw lag;
  }

  /** A new, empty anonymous session in place of the ended one: a flash written now gets a new sid. */
  function signOut(req: Request): void {
    const state = stateOf(req);
    state.regenerateFrom = undefined;
    state.current = undefined;
    store.generate(req);
  }

  async function logoutOthers(req: Request, options: { reason?: string } = {}): Promise<boolean> {
    const reason = options.reason ?? REASONS.signedOutElsewhere;
    assertReason(reason);
    const state = stateOf(req);
    const current = liveUser(req);
    if (current === undefined) return false;
    const sessionObject = (req as unknown as Req).session!;
    const now = Date.now();
    const sid = newSid(current.loginTime);
    const handle = sessionHandle(sid);
    const json = store.serialize(sessionObject, current.authenticatedAt);
    const expires = freshExpiry(lifetimeOf(sessionObject), current.loginTime, now);
    const meta = registry ? requestMeta(req, current.createdAt ?? current.loginTime) : undefined;
    const header = encodeHeader(meta, now);
    const { epoch, lag } =
      expires <= now
        ? { epoch: undefined, lag: undefined }
        : await engine.logoutOthers({
            tag: current.tag!,
            userId: current.userId!,
            epoch: current.epoch!,
            handle: current.handle,
            newHandle: handle,
            value: encodeValue(expires, header, json, engine.settings.codec, handle),
            expiresAt: expires,
            now,
            meta,
            reason: encodeReason(reason, now),
          });
    markEnded(state, current.key);
    if (epoch === undefined) {
      // The caller's own session was revoked meanwhile: it is signed out, like everyone else.
      signOut(req);
      return false;
    }
    engine.emit('revoked', { userId: current.userId, scope: 'others', reason });
    switchTo(req, {
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
    if (lag) {
      // Applied on the master; the caller already holds the new session. A retry rotates again.
      lag.result = true;
      throw lag;
    }
    return true;
  }

  function authenticatedAt(req: Request): Date | undefined {
    const current = liveUser(req);
    return current ? new Date(current.authenticatedAt ?? current.loginTime) : undefined;
  }

  function requireFresh(req: Request, maxAge: number): void {
    assertFresh(authenticatedAt(req), maxAge);
  }

  async function reauthenticate(req: Request): Promise<void> {
    requireMiddleware(req, 'reauthenticate');
    const current = liveUser(req);
    if (current === undefined) {
      throw new SessionError(
        'koa-epoch-session: reauthenticate() needs a signed-in session; use login() instead',
      );
    }
    const now = Date.now();
    current.authenticatedAt = now;
    // The stamp is stored with the session (`_auth`, which req.session does not show): this save
    // writes it, or moves the key of a regenerate() in progress with it.
    await new Promise<void>((resolve, reject) =>
      req.session.save((error?: unknown) => (error ? reject(error) : resolve())),
    );
    const after = liveUser(req);
    const same = after !== undefined && after.tag === current.tag && after.authenticatedAt === now;
    await assertStillLive(engine, stateOf(req), same ? after : undefined, (after ?? current).key);
  }

  const admin = adminFor(engine);

  async function list(userId: string, req?: Request): Promise<SessionInfo[]> {
    const current = req ? liveUser(req) : undefined;
    return admin.list(userId, current?.tag === userTag(userId) ? current.handle : undefined);
  }

  return {
    middleware,
    store,
    login,
    userId: (req) => liveUser(req)?.userId,
    authenticatedAt,
    requireFresh,
    reauthenticate,
    logout,
    logoutOthers,
    rotate: admin.rotate,
    list,
    revoke: admin.revoke,
    revokedReason: (req) => stateOf(req).revoked,
    expiresAt,
    events: engine,
  };
}

/**
 * Every live session the request holds and has not ended: the shared rule (what it presented, what
 * it switched to), and a signed-in session whose regenerate() has not written its new key yet.
 */
function heldByRequest(state: RequestState): HeldSession[] {
  const held = heldSessions(state);
  const from = state.regenerateFrom;
  if (
    from &&
    !isEnded(state, from.key) &&
    !isRefused(state, from.key) &&
    !held.some((s) => s.key === from.key)
  )
    held.push(from);
  return held;
}

function companionName(value: unknown, sessionName: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value) || value === sessionName) {
    throw new TypeError(
      "koa-epoch-session: companionCookie must be a valid cookie name other than the session cookie's",
    );
  }
  return value;
}
