// The express-session store: get, set, touch, destroy and regenerate on the epoch-keyed layout, checked against what the request holds.
import type { IncomingMessage } from 'node:http';
import { debuglog } from 'node:util';
import session from 'express-session';
import { publishRejected } from '../core/diagnostics.js';
import { adoptedUser, SessionEngine } from '../core/engine.js';
import { SessionError } from '../core/errors.js';
import { externalKey, newSid, type ParsedKey, parseExternalKey, userTag } from '../core/keys.js';
import type { EpochStoreOptions } from '../core/options.js';
import { encodeReason, explainMiss, REASONS } from '../core/revocation.js';
import { createAnonymous, holdRead, rekeyHeld, unchanged, updateHeld } from '../core/saves.js';
import {
  type HeldSession,
  isEnded,
  isRefused,
  markEnded,
  type RequestState,
  stateOf,
} from '../core/state.js';
import { AUTHENTICATED_AT, type DeviceMeta, decodeValue, rawHeader } from '../core/value.js';
import { isSecure } from './cookie.js';
import { factsOf } from './request.js';

const debug = debuglog('koa-epoch-session');
const { Store, Session } = session;
type Callback = (error?: unknown) => void;
type Request = IncomingMessage & { session?: unknown; sessionID?: string; secure?: boolean; ip?: string };

/** The cookie fields express-session keeps per session. `expires` is the value's own expiry. */
const COOKIE_FIELDS = [
  'originalMaxAge',
  'httpOnly',
  'secure',
  'domain',
  'path',
  'sameSite',
  'partitioned',
  'priority',
] as const;
type CookieField = (typeof COOKIE_FIELDS)[number];

/** The stored cookie fields of an express-session Cookie (its getters left out). */
function pick(cookie: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of COOKIE_FIELDS) fields[field] = cookie[field];
  return fields;
}

/** The session cookie as configured: what a new session gets, and what need not be stored per session. */
export interface CookieDefaults {
  /** ms, or `null` for a browser-session cookie. */
  originalMaxAge: number | null;
  httpOnly?: boolean;
  /** `'auto'`: set per request, from whether it came over HTTPS. */
  secure?: boolean | 'auto';
  domain?: string;
  path?: string;
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

export interface ExpressStoreOptions extends EpochStoreOptions {
  /** The cookie attributes of the express-session middleware; its maxAge is the store's. Default: ours (secure per request, HttpOnly, SameSite lax). */
  cookie?: Omit<CookieDefaults, 'originalMaxAge'>;
  /** express-session's `saveUninitialized`: with `false`, a new session with no data is not stored. */
  saveUninitialized?: boolean;
  /** express-session's `proxy`, for the per-request `secure` flag. */
  proxy?: boolean;
}

/** The session object express-session hands the store: its data, its cookie, and (hidden) its request. */
export type SessionLike = Record<string, unknown> & {
  cookie?: Record<string, unknown> & { expires?: Date | null; originalMaxAge?: number | null };
  req?: Request;
};

/** Cookie values a legacy store (connect-redis: uid-safe ids) may have issued, never keys of ours. */
const LEGACY_KEY = /^[A-Za-z0-9_\-.:]{1,200}$/;

/**
 * express-session's store API passes no request to get, set, touch and destroy. The request
 * reaches this store anyway, never guessed from a session id:
 * - set and touch receive the Session object, which carries its request (`session.req`);
 * - genid, generate, createSession and regenerate receive the request itself;
 * - get and destroy are called by express-session synchronously inside calls that the adapter's
 *   middleware makes (the middleware itself, `res.end`, `Session#destroy`, `Session#reload`):
 *   the adapter names the request for exactly that synchronous call (`withRequest`), and the
 *   store takes it on entry, once. A get or destroy called any other way is request-less: a read
 *   that grants no write, or an end that needs none.
 * The per-request state then applies the same rules as the Koa store (lib/koa/store.ts).
 */
export class ExpressEpochStore extends Store {
  readonly engine: SessionEngine;
  readonly cookieDefaults: CookieDefaults;
  readonly #saveUninitialized: boolean;
  readonly #proxy: boolean | undefined;
  /** The plaintext of a session with no data: saveUninitialized: false does not store it. */
  readonly #emptyPlain: string;
  #caller: Request | undefined;
  #generate: ((req: Request) => void) | undefined;

  constructor(options: ExpressStoreOptions) {
    super();
    this.engine = new SessionEngine(options);
    const { maxAge } = this.engine.settings;
    this.cookieDefaults = {
      ...(options.cookie ?? { httpOnly: true, secure: 'auto', path: '/', sameSite: 'lax' }),
      originalMaxAge: maxAge === 'session' ? null : maxAge,
    };
    this.#saveUninitialized = options.saveUninitialized ?? false;
    this.#proxy = options.proxy;
    this.#emptyPlain = this.stringify({});
  }

  /** @internal Names the request for the one get or destroy that `work` makes synchronously. */
  withRequest<T>(req: object | undefined, work: () => T): T {
    const previous = this.#caller;
    this.#caller = req as Request | undefined;
    try {
      return work();
    } finally {
      this.#caller = previous;
    }
  }

  #takeCaller(): Request | undefined {
    const req = this.#caller;
    this.#caller = undefined;
    return req;
  }

  /**
   * express-session's `genid`: a new sid under the same user and epoch for a regenerate() of a
   * signed-in session, else a new anonymous sid. Only a key minted here may be created by a write.
   */
  genid = (req?: object): string => {
    if (req === undefined) return newSid(Date.now());
    const state = stateOf(req);
    const from = state.regenerateFrom;
    // The new sid keeps the login time, so an absolute lifetime still counts from the login.
    const key = from ? externalKey(from.tag, from.epoch, newSid(from.loginTime)) : newSid(Date.now());
    if (!from) state.current = undefined;
    state.minted = key;
    return key;
  };

  /** express-session installs its `generate(req)` here; every session it makes gets our methods too. */
  get generate(): (req: Request) => void {
    return this.#generateSession;
  }
  set generate(generate: (req: Request) => void) {
    this.#generate = generate;
  }
  #generateSession = (req: Request): void => {
    if (this.#generate === undefined) {
      throw new SessionError('koa-epoch-session: the store is not wired to express-session yet');
    }
    this.#generate(req);
    this.#prepare(req, req.session as SessionLike);
  };

  /** Builds the Session object express-session uses from data this store returned. */
  override createSession(req: any, data: any): any {
    const created = super.createSession(req, data) as unknown as SessionLike;
    this.#prepare(req, created);
    factsOf(req).loadedMaxAge = created.cookie?.originalMaxAge;
    return created;
  }

  /** Per request: the `secure` flag, and the request named for the destroy and reload it starts. */
  #prepare(req: Request, created: SessionLike | undefined): void {
    if (!created || typeof created !== 'object') return;
    if (this.cookieDefaults.secure === 'auto' && created.cookie) {
      created.cookie.secure = isSecure(req, this.#proxy);
    }
    const store = this;
    for (const name of ['destroy', 'reload'] as const) {
      const method = Session.prototype[name] as (this: unknown, fn: Callback) => unknown;
      Object.defineProperty(created, name, {
        configurable: true,
        enumerable: false,
        writable: true,
        value(this: unknown, fn: Callback) {
          return store.withRequest(req, () => method.call(this, fn));
        },
      });
    }
  }

  // --- the express-session store API ---

  override get(key: string, callback: (error: any, data?: any) => void): void {
    const req = this.#takeCaller();
    this.#read(key, req).then(
      (data) => callback(null, data ?? null),
      (error: unknown) => callback(error),
    );
  }

  override set(key: string, data: any, callback?: Callback): void {
    const req = (data as SessionLike | null)?.req;
    if (req === undefined || typeof req !== 'object') {
      callback?.(
        new SessionError(
          'koa-epoch-session: set() needs the Session object express-session created for the request ' +
            '(req.session); a session cannot be written without the request that read or created it',
        ),
      );
      return;
    }
    this.#save(req, key, data as SessionLike).then(() => callback?.(), callback ?? (() => {}));
  }

  /** A touch is a save of unchanged data: the expiry moves (rarely, see touchWindow in lib/core/saves.ts), never the data. */
  override touch(key: string, data: any, callback?: Callback): void {
    this.set(key, data, callback);
  }

  override destroy(key: string, callback?: Callback): void {
    const req = this.#takeCaller();
    this.#destroy(key, req).then(() => callback?.(), callback ?? (() => {}));
  }

  /**
   * express-session's regenerate: a new sid and a new, empty session object (express-session drops
   * the data). A signed-in session stays signed in: its key is replaced atomically by the next write,
   * never destroyed first (a concurrent login would otherwise see a free slot under maxSessions).
   */
  override regenerate(req: any, callback: Callback): void {
    const state = stateOf(req);
    const current = state.current;
    const sessionObject = (req as Request).session as SessionLike | undefined;
    const from = state.regenerateFrom;
    if (
      from !== undefined &&
      sessionObject?.id === state.minted &&
      !isEnded(state, from.key) &&
      !isRefused(state, from.key)
    ) {
      // A second regenerate before the first one wrote: still one move, from the original key.
      this.#regenerateSignedIn(req, sessionObject);
      callback();
      return;
    }
    if (
      current?.tag !== undefined &&
      sessionObject?.id === current.key &&
      !isEnded(state, current.key) &&
      !isRefused(state, current.key)
    ) {
      state.regenerateFrom = current;
      state.current = undefined;
      this.#regenerateSignedIn(req, sessionObject);
      callback();
      return;
    }
    this.withRequest(req, () =>
      this.destroy((req as Request).sessionID ?? '', (error) => {
        this.generate(req);
        callback(error);
      }),
    );
  }

  /**
   * A new, empty session object for a signed-in session that keeps its user, and its lifetime: a
   * "remember me" (login's maxAge, or `cookie.maxAge` set by the app) is how the user signed in,
   * not data, and a regenerate must not cut a 30-day session down to the default (as in Koa).
   */
  #regenerateSignedIn(req: Request, previous: SessionLike | undefined): void {
    const lifetime = previous?.cookie?.originalMaxAge;
    this.generate(req);
    const cookie = (req.session as SessionLike | undefined)?.cookie as { maxAge?: unknown } | undefined;
    if (cookie && lifetime !== undefined && lifetime !== this.cookieDefaults.originalMaxAge) {
      cookie.maxAge = typeof lifetime === 'number' && lifetime > 0 ? lifetime : null;
    }
  }

  /** Unsupported: listing or counting every session needs a keyspace scan (see docs/express.md). */
  override all(callback: (error: any) => void): void {
    callback(unsupported('all'));
  }
  override length(callback: (error: any, length?: number) => void): void {
    callback(unsupported('length'));
  }
  override clear(callback?: (error?: any) => void): void {
    callback?.(unsupported('clear'));
  }

  // --- reading ---

  async #read(key: string, req: Request | undefined): Promise<SessionLike | undefined> {
    const state = req ? stateOf(req) : undefined;
    if (req) factsOf(req).presentedKey = key;
    const parsed = parseExternalKey(key);
    const { engine } = this;
    if (parsed === undefined) {
      if (engine.settings.legacy && req && LEGACY_KEY.test(key) && !key.startsWith(engine.settings.prefix))
        return this.#adopt(key, req);
      debug('ignoring a cookie this store did not issue');
      return undefined;
    }
    const now = Date.now();
    if (parsed.tag === undefined) {
      const raw = await engine.readAnonymous(parsed.handle);
      return raw === undefined ? undefined : this.#hold(state, key, parsed, raw, now);
    }
    const tag = parsed.tag;
    const read = await engine.readUser(tag, parsed.epoch!, parsed.handle);
    const lifetimeEnd = engine.lifetimeEnd(parsed.loginTime);
    if (!read.live) {
      const revoked = explainMiss(
        read.sessionReason,
        read.rotationReason,
        parsed.loginTime,
        lifetimeEnd,
        // The key may have expired at its lifetime's end after \`now\` was taken, before the read.
        Date.now(),
      );
      if (state) state.revoked = revoked;
      if (revoked) engine.emit('rejected', { userId: parsed.userId, sessionId: parsed.handle, ...revoked });
      publishRejected(parsed.handle, revoked);
      return undefined;
    }
    // Hashed tags learn the id from the epoch key; it must hash back to the tag in the cookie.
    const userId = parsed.userId ?? read.epochValue.slice(parsed.epoch!.length);
    if (userId === '' || userTag(userId) !== tag) return undefined;
    if (lifetimeEnd !== undefined && now >= lifetimeEnd) {
      await engine.endUser(tag, parsed.epoch, parsed.handle, encodeReason(REASONS.lifetime, now));
      const revoked = { reason: REASONS.lifetime, at: new Date(lifetimeEnd) };
      if (state) state.revoked = revoked;
      engine.emit('rejected', { userId, sessionId: parsed.handle, ...revoked });
      publishRejected(parsed.handle, revoked);
      return undefined;
    }
    const data = this.#hold(state, key, parsed, read.raw, now, userId);
    const header = data ? rawHeader(read.raw) : '';
    if (header && engine.settings.registry) {
      const lastSeen = Number.parseInt(header.slice(0, 7), 36) * 1000;
      // Whole seconds: count from the end of the stamp's second, so a refresh never comes early.
      if (now - (lastSeen + 1000) >= engine.settings.lastSeenInterval) {
        await engine.refreshLastSeen(tag, parsed.epoch!, parsed.handle, now);
      }
    }
    return data;
  }

  /** Decodes a value and, for a request, records it as the session the request holds. */
  #hold(
    state: RequestState | undefined,
    key: string,
    parsed: ParsedKey,
    raw: string,
    now: number,
    userId?: string,
  ): SessionLike | undefined {
    const value = decodeValue(raw, this.engine.settings.codec, parsed.handle);
    // Expired is expired, to the millisecond: a replayed cookie never outlives its idle timeout.
    if (value === undefined || value.expiresAt <= now) return undefined;
    if (state) holdRead(state, key, parsed, raw, value, userId);
    return this.expand(value.data, value.expiresAt);
  }

  // --- the stored form ---

  /**
   * The data as stored: the session's fields, and under `cookie` only what differs from the
   * configured cookie (say, a "remember me" maxAge). The expiry is the value's own prefix.
   * `authenticatedAt` (a signed-in session's last `reauthenticate`) goes last, as `_auth`: the
   * store's, never the app's, so a `req.session._auth` is not stored. `originalMaxAge` replaces
   * the cookie's (login's `maxAge`; `null`: a browser-session cookie).
   */
  serialize(sessionObject: SessionLike, authenticatedAt?: number, originalMaxAge?: number | null): string {
    const data: Record<string, unknown> = {};
    for (const name of Object.keys(sessionObject)) {
      if (name !== 'cookie' && name !== AUTHENTICATED_AT) data[name] = sessionObject[name];
    }
    const defaults = this.cookieDefaults as unknown as Record<string, unknown>;
    const cookie =
      originalMaxAge === undefined
        ? sessionObject.cookie
        : { ...(sessionObject.cookie ? pick(sessionObject.cookie) : defaults), originalMaxAge };
    if (cookie && typeof cookie === 'object') {
      let diff: Record<string, unknown> | undefined;
      for (const field of COOKIE_FIELDS) {
        if (field === 'secure' && defaults.secure === 'auto') continue;
        const value = cookie[field] ?? null;
        if (value !== (defaults[field] ?? null)) {
          diff ??= {};
          diff[field] = value;
        }
      }
      if (diff) data.cookie = diff;
    }
    if (authenticatedAt !== undefined) data[AUTHENTICATED_AT] = Math.floor(authenticatedAt);
    return this.stringify(data);
  }

  /** The plaintext of stored data: JSON, or the `codec` option's serializer text. */
  stringify(data: Record<string, unknown>): string {
    const { codec } = this.engine.settings;
    return codec === undefined ? JSON.stringify(data) : codec.stringify(data);
  }

  /** A plaintext back to data, as `stringify` wrote it (login and logoutOthers rebuild `req.session` from it). */
  parse(plain: string): Record<string, unknown> {
    const { codec } = this.engine.settings;
    return (codec === undefined ? JSON.parse(plain) : codec.parse(plain)) ?? {};
  }

  /**
   * Stored data back to what express-session's createSession expects: the fields and a whole
   * cookie. `_auth` is the store's (HeldSession.authenticatedAt), not part of `req.session`.
   */
  expand(storedData: Record<string, unknown>, expiresAt: number): SessionLike {
    const { [AUTHENTICATED_AT]: _auth, ...data } = storedData;
    const stored = data.cookie;
    const cookie: Record<string, unknown> = {};
    for (const field of COOKIE_FIELDS) {
      const value = (this.cookieDefaults as unknown as Record<string, unknown>)[field];
      if (value !== undefined && value !== 'auto') cookie[field] = value;
    }
    if (stored !== null && typeof stored === 'object' && !Array.isArray(stored)) {
      for (const field of COOKIE_FIELDS) {
        if (!Object.hasOwn(stored, field)) continue;
        const value = (stored as Record<CookieField, unknown>)[field];
        if (value === null && field !== 'originalMaxAge') delete cookie[field];
        else cookie[field] = value;
      }
    }
    const maxAge = cookie.originalMaxAge;
    cookie.originalMaxAge = typeof maxAge === 'number' && maxAge > 0 ? maxAge : null;
    // A browser-session cookie has no expiry; the store still ends the session (browserSessionTtl).
    cookie.expires = cookie.originalMaxAge === null ? null : new Date(expiresAt);
    return { ...data, cookie };
  }

  /** When a session saved now ends: the cookie's expiry (or the browser-session TTL), capped by the lifetime. */
  expiryOf(sessionObject: SessionLike, loginTime: number | undefined, now: number): number {
    const cookie = sessionObject.cookie;
    const persistent = typeof cookie?.originalMaxAge === 'number';
    const expires = cookie?.expires instanceof Date ? cookie.expires.getTime() : undefined;
    return persistent
      ? this.engine.expiry(expires, undefined, loginTime, now)
      : this.engine.expiry(undefined, 'session', loginTime, now);
  }

  // --- writing ---

  async #save(req: Request, key: string, sessionObject: SessionLike): Promise<void> {
    const state = stateOf(req);
    // Revoked while this request ran, or ended by it: nothing is written under that key, and no
    // data of it under another (invariant 2). New data after a logout lives in the new session
    // object logout() put in place, under a new sid.
    if (isRefused(state, key) || isEnded(state, key)) return;
    if (typeof sessionObject !== 'object' || sessionObject === null) {
      throw new TypeError('koa-epoch-session: set() needs the session data as an object');
    }
    const now = Date.now();
    const current = state.current;
    const json = this.serialize(sessionObject, current?.key === key ? current.authenticatedAt : undefined);
    if (current?.key === key) return this.#update(req, state, current, sessionObject, json, now);
    if (key === state.minted) {
      const parsed = parseExternalKey(key);
      if (parsed === undefined) {
        throw new SessionError('koa-epoch-session: set() was given a key that genid did not issue');
      }
      const from = state.regenerateFrom;
      if (from !== undefined && parsed.tag === from.tag) {
        state.minted = undefined;
        state.regenerateFrom = undefined;
        // The session moves with its freshness (`_auth`), as in the Koa store.
        const moved = this.serialize(sessionObject, from.authenticatedAt);
        return this.#rekey(req, state, from, key, parsed, moved, sessionObject, now);
      }
      if (parsed.tag === undefined) {
        if (json === this.#emptyPlain && !this.#saveUninitialized) {
          // express-session saves a regenerated (or post-logout) session even when it is empty;
          // saveUninitialized: false means an empty new session is not worth a key, nor a cookie.
          factsOf(req).unsaved = key;
          return;
        }
        state.minted = undefined;
        return this.#createAnonymous(req, state, key, parsed, json, sessionObject, now);
      }
    }
    // A key this request neither read nor minted: writing it could bring back a session that was
    // ended, or create one nobody signed in. A create write is for keys genid minted here.
    debug('refusing to write a session this request did not read or create');
  }

  async #createAnonymous(
    req: Request,
    state: RequestState,
    key: string,
    parsed: ParsedKey,
    json: string,
    sessionObject: SessionLike,
    now: number,
  ): Promise<void> {
    // No login, so no absolute lifetime: a cart lives by its idle timeout alone.
    const expiresAt = this.expiryOf(sessionObject, undefined, now);
    this.#plan(req, sessionObject, key, expiresAt);
    const facts = factsOf(req);
    if (facts.unsaved === key) facts.unsaved = undefined;
    await createAnonymous(this.engine, state, key, parsed, json, expiresAt, now);
  }

  async #update(
    req: Request,
    state: RequestState,
    current: HeldSession,
    sessionObject: SessionLike,
    json: string,
    now: number,
  ): Promise<void> {
    const loginTime = current.tag === undefined ? undefined : current.loginTime;
    const expiresAt = this.expiryOf(sessionObject, loginTime, now);
    if (expiresAt > now) {
      // Unchanged data is not written, and the cookie then ends when the stored session does.
      const unchangedData = unchanged(current, json, expiresAt, now);
      this.#plan(req, sessionObject, current.key, unchangedData ? current.expiresAt : expiresAt);
      if (unchangedData) return;
    }
    // With the registry, a rewrite records the device as this request shows it, and counts as activity.
    const meta =
      this.engine.settings.registry && current.tag !== undefined
        ? requestMeta(req, current.createdAt ?? current.loginTime)
        : undefined;
    // Past the absolute lifetime, updateHeld ends the session instead, and its cookie goes.
    await updateHeld(this.engine, state, current, json, expiresAt, now, meta);
  }

  async #rekey(
    req: Request,
    state: RequestState,
    from: HeldSession,
    key: string,
    parsed: ParsedKey,
    json: string,
    sessionObject: SessionLike,
    now: number,
  ): Promise<void> {
    const expiresAt = this.expiryOf(sessionObject, from.loginTime, now);
    const meta = this.engine.settings.registry
      ? requestMeta(req, from.createdAt ?? from.loginTime)
      : undefined;
    this.#plan(req, sessionObject, key, expiresAt);
    await rekeyHeld(this.engine, state, from, key, parsed, json, expiresAt, now, meta);
  }

  /**
   * The cookie express-session is about to write (before this write completes) ends when the
   * stored session does: rounded up to the second, so it never ends first; `originalMaxAge` kept.
   */
  #plan(req: Request, sessionObject: SessionLike, key: string, expiresAt: number): void {
    factsOf(req).planned = { key, expiresAt };
    const cookie = sessionObject.cookie;
    if (cookie?.expires instanceof Date) {
      const originalMaxAge = cookie.originalMaxAge;
      cookie.expires = new Date(Math.ceil(expiresAt / 1000) * 1000);
      cookie.originalMaxAge = originalMaxAge;
    }
  }

  // --- ending ---

  async #destroy(key: string, req: Request | undefined): Promise<void> {
    const state = req ? stateOf(req) : undefined;
    if (req) factsOf(req).destroyed = true;
    if (state && (isEnded(state, key) || isRefused(state, key))) return;
    if (state && key === state.minted) {
      // genid's key, never written: nothing to end under it. But after a regenerate() of a
      // signed-in session, the session still lives under its old key until the next write
      // moves it: destroying the new session ends that one.
      state.minted = undefined;
      const from = state.regenerateFrom;
      state.regenerateFrom = undefined;
      if (from && !isEnded(state, from.key) && !isRefused(state, from.key))
        await this.endHeld(state, from, '');
      return;
    }
    const parsed = parseExternalKey(key);
    if (parsed === undefined) return;
    const current = state?.current;
    if (state && current?.key === key) {
      await this.endHeld(state, current, '');
      return;
    }
    if (parsed.tag === undefined) await this.engine.endAnonymous(parsed.handle);
    else await this.engine.endUser(parsed.tag, parsed.epoch, parsed.handle, '');
    if (state) markEnded(state, key);
  }

  /** Ends a session the request holds, and remembers that it did. */
  endHeld(state: RequestState, held: HeldSession, reason: string): Promise<boolean> {
    return this.engine.endHeld(state, held, reason);
  }

  // --- adoption of connect-redis sessions ---

  /**
   * Moves a connect-redis session (`<legacy.prefix><sid>` holding express-session's JSON) into this
   * layout: taken out of its old key atomically, written under the user's epoch with a new sid (or
   * as an anonymous session), and the cookie re-issued by the adapter. A rotation since its last
   * save revokes it; the concurrent-session limit applies as at login.
   */
  async #adopt(legacyKey: string, req: Request): Promise<SessionLike | undefined> {
    const { engine } = this;
    const state = stateOf(req);
    const taken = await engine.takeLegacy(legacyKey);
    if (taken === undefined) return undefined;
    let data: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(taken.raw);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      data = parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const now = Date.now();
    const legacyCookie = (typeof data.cookie === 'object' && data.cookie !== null ? data.cookie : {}) as {
      expires?: unknown;
      originalMaxAge?: unknown;
    };
    const cookieExpires = typeof legacyCookie.expires === 'string' ? Date.parse(legacyCookie.expires) : NaN;
    const originalMaxAge =
      typeof legacyCookie.originalMaxAge === 'number' && legacyCookie.originalMaxAge > 0
        ? legacyCookie.originalMaxAge
        : null;
    // connect-redis's touch moves the key's TTL, not the stored cookie: the later of the two counts.
    const expire = Math.max(
      Number.isFinite(cookieExpires) ? cookieExpires : 0,
      taken.pttl > 0 ? now + taken.pttl : 0,
    );
    const expiresAt = engine.expiry(expire > 0 ? expire : undefined, undefined, now, now);
    if (expiresAt <= now) return undefined;
    const { cookie: _cookie, ...fields } = data;
    const adopted: SessionLike = this.expand(fields, expiresAt);
    adopted.cookie!.originalMaxAge = originalMaxAge;
    if (originalMaxAge === null) adopted.cookie!.expires = null;
    const json = this.serialize(adopted);
    const userId = adoptedUser(engine.settings.legacy!.userId, fields);
    // Nobody proved who they are on this store: an adopted session is never fresh (requireFresh).
    const signedInJson = this.serialize(adopted, 0);
    // express-session saved `cookie.expires` = save time + `originalMaxAge`: a rotation after it revokes it.
    const savedAt =
      Number.isFinite(cookieExpires) && originalMaxAge !== null ? cookieExpires - originalMaxAge : 0;
    const outcome = await engine.adoptLegacy({
      userId,
      json,
      signedInJson,
      expiresAt,
      now,
      meta: requestMeta(req, now),
      savedAt,
    });
    if (outcome === undefined) return undefined;
    if ('revocation' in outcome) {
      state.revoked = outcome.revocation;
      return undefined;
    }
    const held = outcome.session;
    if (held.tag !== undefined) held.authenticatedAt = 0;
    state.current = held;
    state.presented = held;
    // express-session inflates the data under req.sessionID: it becomes the new key, and the
    // adapter's header hook sends the cookie for it (express-session sees no change to send).
    req.sessionID = held.key;
    debug('adopted a connect-redis session as %s', userId === undefined ? 'anonymous' : 'signed-in');
    return adopted;
  }
}

function unsupported(method: string): SessionError {
  return new SessionError(
    `koa-epoch-session: ${method}() is not supported: it would need a scan of the whole keyspace. ` +
      "List one user's sessions with sessions.list(userId) (registry: true), end them with rotate(userId)",
  );
}

/** Device metadata as this request shows it: Express's `req.ip` honours `trust proxy`. */
export function requestMeta(req: Request, createdAt: number): DeviceMeta {
  const agent = req.headers['user-agent'];
  return { createdAt, ip: req.ip ?? req.socket?.remoteAddress ?? '', userAgent: agent ?? '' };
}
