// createSessions: the koa-session middleware wired to the epoch store, and the helpers built on it.
import type { EventEmitter } from 'node:events';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import koaSession from 'koa-session';
import { adminFor } from './admin.js';
import { syncCompanion } from './companion.js';
import { sessionCookie } from './cookie.js';
import { SessionError, SessionLimitError } from './errors.js';
import {
  assertUserId,
  externalKey,
  freshEpochValue,
  newSid,
  RANDOM_LENGTH,
  sessionHandle,
  userTag,
} from './keys.js';
import { companionOptions, cookieOptions, type EpochSessionOptions, sessionSettings } from './options.js';
import { badReply } from './redis-call.js';
import type { SessionInfo } from './registry.js';
import { assertReason, encodeReason, REASONS } from './revocation.js';
import { type Revocation, stateOf, switchTo } from './state.js';
import { COOKIE_SLACK, EpochStore } from './store.js';
import { dataJson, deviceRecord, encodeValue } from './value.js';

export interface LoginResult {
  /** The new session's public handle, as `list()` returns it. */
  sessionId: string;
  /** Handles of the sessions ended to stay within `maxSessions`. */
  evicted: string[];
}

export interface Sessions {
  /** koa-session's middleware with the epoch store and secure cookie defaults. */
  middleware: Middleware;
  /** Signs the request in as `userId` under a new sid, carrying anonymous data over. */
  login(ctx: Context, userId: string): Promise<LoginResult>;
  /** The signed-in user's id, or `undefined`. */
  userId(ctx: Context): string | undefined;
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
  const { registry, maxAge } = store.settings;
  const settings = sessionSettings(options, registry);
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
  const companion = companionOptions(options, cookie);
  const middleware: Middleware = async (ctx, next) => {
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
    } finally {
      if (companion) {
        const ended = stateOf(ctx).revoked !== undefined;
        syncCompanion(ctx, companion, { expiresAt: expiresAt(ctx)?.getTime(), ended });
      }
    }
  };
  const { keys } = store;
  const admin = adminFor(store);

  function expiresAt(ctx: Context): Date | undefined {
    const state = stateOf(ctx);
    if (!state.exists || state.expiresAt === undefined || !ctx.session) return undefined;
    // The cookie ends COOKIE_SLACK before the store key (koa-session's margin); report the cookie's end.
    const slack = typeof ctx.sessionOptions?.maxAge === 'number' ? COOKIE_SLACK : 0;
    return new Date(state.expiresAt - slack);
  }

  /** The request's session, if it is a live signed-in one that koa-session is still using. */
  function liveUser(ctx: Context) {
    const state = stateOf(ctx);
    if (!state.exists || state.tag === undefined || state.epoch === undefined) return undefined;
    // `ctx.session = null` signs the request out as far as the app is concerned.
    return ctx.session ? state : undefined;
  }

  /** The TTL koa-session will ask for when it saves this request's session. */
  function saveTtl(ctx: Context): number {
    const current = ctx.sessionOptions?.maxAge ?? maxAge;
    return store.ttl(current === 'session' ? 'session' : Number(current) + COOKIE_SLACK);
  }

  /** The JSON koa-session's save() will produce for this data, so the save after regenerate is a no-op. */
  function savedJson(ctx: Context, data: Record<string, unknown>): string {
    const current = ctx.sessionOptions?.maxAge ?? maxAge;
    return dataJson(
      current === 'session' ? { ...data, _session: true } : { ...data, _maxAge: Number(current) },
    );
  }

  function deviceMeta(ctx: Context, createdAt: number) {
    return registry ? { createdAt, ip: ctx.ip ?? '', userAgent: ctx.get('user-agent') } : undefined;
  }

  async function login(ctx: Context, userId: string): Promise<LoginResult> {
    assertUserId(userId);
    if (ctx.session === undefined) {
      throw new SessionError('koa-epoch-session: login() needs sessions.middleware to run first');
    }
    const tag = userTag(userId);
    const state = stateOf(ctx);
    const previous = state.exists && ctx.session ? state : undefined;
    // Anonymous data (a cart, a locale) is carried over; another user's data never is.
    if (ctx.session === null || (previous?.tag !== undefined && previous.tag !== tag)) ctx.session = {};
    const session = ctx.session!;
    const now = Date.now();
    const sid = newSid(now);
    const handle = sessionHandle(sid);
    const key = externalKey(tag, sid);
    const json = savedJson(ctx, session.toJSON());
    const meta = deviceMeta(ctx, now);
    const ttl = store.cappedTtl(saveTtl(ctx), now, now);
    const sameUser = previous?.tag === tag;
    const created = await store.createUserSession(tag, userId, handle, json, meta, ttl, now, {
      maxSessions: settings.maxSessions,
      policy: settings.sessionLimitPolicy,
      endHandle: sameUser ? previous.handle! : '',
    });
    if (created.limited) {
      store.emit('limit', { userId, policy: 'reject', limit: settings.maxSessions, evicted: [] });
      throw new SessionLimitError(userId, settings.maxSessions);
    }
    // koa-session now drops the old id and takes the new one from genid. Its destroy is skipped
    // when the script already ended the old session or it never reached Redis; its save is a no-op.
    const oldKey = previous?.externalKey ?? session.externalKey;
    switchTo(
      state,
      {
        externalKey: key,
        tag,
        userId,
        epoch: created.epoch,
        handle,
        loginTime: now,
        dataJson: json,
        createdAt: meta?.createdAt,
        expiresAt: now + ttl,
      },
      sameUser || previous === undefined ? oldKey : undefined,
    );
    state.revoked = undefined;
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
    store.emit('login', { userId, sessionId: handle, ip: ctx.ip ?? '', userAgent: ctx.get('user-agent') });
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
    // koa-session's Session keeps the id it was created with; after a regenerate the state knows better.
    const key = state.exists ? state.externalKey : ctx.session?.externalKey;
    if (key !== undefined) {
      await store.destroy(key, { ctx });
      state.endedKey = key;
    }
    ctx.session = null;
  }

  async function logoutOthers(ctx: Context, options: { reason?: string } = {}): Promise<boolean> {
    const reason = options.reason ?? REASONS.signedOutElsewhere;
    assertReason(reason);
    const state = liveUser(ctx);
    if (state === undefined) return false;
    const tag = state.tag!;
    const now = Date.now();
    const sid = newSid(state.loginTime);
    const handle = sessionHandle(sid);
    const key = externalKey(tag, sid);
    const epochValue = freshEpochValue(tag, state.userId!);
    const json = savedJson(ctx, ctx.session!.toJSON());
    const ttl = store.cappedTtl(saveTtl(ctx), state.loginTime, now);
    const meta = registry ? deviceMeta(ctx, state.createdAt ?? state.loginTime) : undefined;
    const device = meta ? deviceRecord(meta) : { ref: '', value: '' };
    const reply =
      ttl <= 0
        ? 0
        : await store.script(
            'logoutOthers',
            [
              keys.epoch(tag),
              keys.userBase(tag),
              keys.registry(tag),
              keys.rotationReason(tag),
              keys.devices(tag),
            ],
            [
              state.epoch!,
              state.handle!,
              epochValue,
              handle,
              encodeValue(json, meta, now),
              ttl,
              registry ? now + ttl : '',
              encodeReason(reason, now),
              device.ref,
              device.value,
            ],
          );
    if (reply === 0) {
      state.exists = false;
      ctx.session = null;
      return false;
    }
    if (reply !== 1) throw badReply('logoutOthers', reply);
    store.emit('revoked', { userId: state.userId, scope: 'others', reason });
    switchTo(
      state,
      {
        externalKey: key,
        tag,
        userId: state.userId,
        epoch: epochValue.slice(0, RANDOM_LENGTH),
        handle,
        loginTime: state.loginTime,
        dataJson: json,
        createdAt: meta?.createdAt,
        expiresAt: now + ttl,
      },
      state.externalKey,
    );
    await ctx.session!.regenerate();
    return true;
  }

  async function list(userId: string, ctx?: Context): Promise<SessionInfo[]> {
    const current = ctx ? liveUser(ctx) : undefined;
    return admin.list(userId, current?.tag === userTag(userId) ? current.handle : undefined);
  }

  return {
    middleware,
    login,
    userId: (ctx) => liveUser(ctx)?.userId,
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
