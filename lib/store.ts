// The koa-session store: get, set and destroy on the epoch-keyed layout, plus genid.
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { SessionError } from './errors.js';
import {
  externalKey,
  freshEpochValue,
  KeyLayout,
  newSid,
  type ParsedKey,
  parseExternalKey,
  RANDOM_LENGTH,
  sessionHandle,
  userTag,
} from './keys.js';
import { type EpochStoreOptions, isDuration, type StoreSettings, storeSettings } from './options.js';
import { asInteger, asString, badReply, redisCall } from './redis-call.js';
import { encodeReason, explainMiss, REASONS } from './revocation.js';
import { defineScripts, REVOKING, type ScriptName, type ScriptRunner } from './scripts.js';
import {
  blankState,
  type RegenerateSource,
  type RequestState,
  resetState,
  stateOf,
  switchTo,
} from './state.js';
import {
  type DeviceMeta,
  dataJson,
  decodeValue,
  deviceRecord,
  encodeValue,
  type SessionData,
  stamp,
} from './value.js';

const debug = debuglog('koa-epoch-session');

/** koa-session keeps the store alive this much longer than the cookie; `_expire` is derived back from the TTL. */
export const COOKIE_SLACK = 10_000;

/** What koa-session passes as the third argument of get/set/destroy. */
export interface StoreCallOptions {
  ctx?: object;
  rolling?: boolean;
  changed?: boolean;
}

/** The minimal view of a Koa context the store reads for device metadata. */
interface RequestLike {
  ip?: string;
  get?: (field: string) => string;
}

/**
 * Events, for logs and metrics: `login`, `revoked`, `rejected` (a revoked cookie was presented),
 * `limit` (a login evicted or was refused) and `redis-error`. The name `error` is never used, so an
 * app without listeners is never crashed by an event.
 */
export class EpochStore extends EventEmitter {
  readonly keys: KeyLayout;
  readonly settings: StoreSettings;
  readonly #run: ScriptRunner;
  readonly #runLegacy: ScriptRunner | undefined;

  constructor(options: EpochStoreOptions) {
    super();
    this.settings = storeSettings(options);
    this.keys = new KeyLayout(this.settings.prefix);
    this.#run = defineScripts(this.settings.redis);
    const legacy = this.settings.legacy;
    this.#runLegacy =
      legacy && (legacy.redis === this.settings.redis ? this.#run : defineScripts(legacy.redis));
  }

  /** Runs a script, mapping Redis failures to SessionStoreUnavailableError (503). */
  script(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    const acknowledgement = REVOKING.has(name) ? this.settings.waitForReplicas : undefined;
    return this.call(this.#run(name, keys, args, acknowledgement));
  }

  /** Awaits a Redis command, reporting failures as `redis-error` and rethrowing them as SessionErrors. */
  async call<T>(operation: Promise<T>): Promise<T> {
    try {
      return await redisCall(operation);
    } catch (error) {
      debug('redis error: %s', (error as Error).message);
      this.emit('redis-error', error);
      throw error;
    }
  }

  /**
   * koa-session's `genid`. A new anonymous sid, unless this request is re-keying a signed-in
   * session (login, logoutOthers, or `ctx.session.regenerate()` of a signed-in session), in which
   * case the new id stays bound to the same user and keeps the login time (absolute lifetime).
   */
  genid = (ctx?: object): string => {
    const state = ctx ? stateOf(ctx) : undefined;
    if (state?.pendingKey !== undefined) {
      const key = state.pendingKey;
      state.pendingKey = undefined;
      return key;
    }
    const source = state?.regenerateFrom;
    if (source !== undefined) return externalKey(source.tag, newSid(source.loginTime));
    if (state?.discardNext) {
      state.discardNext = false;
      state.discardKey = newSid(Date.now());
      return state.discardKey;
    }
    // koa-session is starting a new session (no cookie, or it rejected what get() returned):
    // whatever this request read before no longer describes ctx.session.
    if (state !== undefined) resetState(state, {});
    return newSid(Date.now());
  };

  /** Store TTL, in ms, for the `maxAge` koa-session passes: a number, `'session'` or `undefined`. */
  ttl(maxAge: number | 'session' | undefined): number {
    const value = maxAge ?? this.settings.maxAge;
    if (value === 'session') return this.settings.browserSessionTtl;
    if (!isDuration(value)) {
      throw new TypeError(
        'koa-epoch-session: maxAge must be a positive number of milliseconds up to 100 years, "session" or undefined',
      );
    }
    return Math.ceil(value);
  }

  /** The end of a session's absolute lifetime, if one is configured. */
  lifetimeEnd(loginTime: number): number | undefined {
    const cap = this.settings.absoluteMaxAge;
    return cap === undefined ? undefined : loginTime + cap;
  }

  /**
   * The TTL to write, capped by the absolute lifetime; 0 once it is over. The key keeps
   * koa-session's slack past the cap, so the `_expire` derived from it lands on the cap itself.
   */
  cappedTtl(requested: number, loginTime: number, now: number): number {
    const end = this.lifetimeEnd(loginTime);
    if (end === undefined) return requested;
    return end <= now ? 0 : Math.min(requested, end + COOKIE_SLACK - now);
  }

  async get(
    key: string,
    _maxAge?: number | 'session',
    options: StoreCallOptions = {},
  ): Promise<SessionData | undefined> {
    const state = options.ctx ? stateOf(options.ctx) : blankState();
    const parsed = parseExternalKey(key);
    if (parsed === undefined) {
      if (this.settings.legacy && isLegacyKey(key, this.settings.prefix))
        return this.#adopt(key, state, options.ctx);
      debug('ignoring a cookie this store did not issue');
      return undefined;
    }
    const now = Date.now();
    return parsed.tag === undefined
      ? this.#getAnonymous(key, parsed, state, now)
      : this.#getUser(key, parsed, state, now);
  }

  async #getAnonymous(key: string, parsed: ParsedKey, state: RequestState, now: number) {
    const reply = await this.script('readAnonymous', [this.keys.anonymous(parsed.handle)], []);
    if (reply === null || reply === false) return undefined;
    const [raw, pttl] = Array.isArray(reply) ? [asString(reply[0]), asInteger(reply[1])] : [];
    if (raw === undefined || pttl === undefined) throw badReply('readAnonymous', reply);
    const value = decodeValue(raw);
    if (value === undefined) return undefined;
    resetState(state, {
      externalKey: key,
      handle: parsed.handle,
      loginTime: parsed.loginTime,
      dataJson: value.dataJson,
      exists: true,
    });
    return withExpire(value.data, pttl, now);
  }

  async #getUser(key: string, parsed: ParsedKey, state: RequestState, now: number) {
    const tag = parsed.tag!;
    const { keys, settings } = this;
    const reply = await this.script(
      'readUser',
      [keys.epoch(tag), keys.userBase(tag), keys.sessionReason(tag, parsed.handle), keys.rotationReason(tag)],
      // The stamp is only written with the registry on; without it, the read sends nothing extra.
      settings.registry
        ? [parsed.handle, now, settings.lastSeenInterval, stamp(now)]
        : [parsed.handle, now, 0, ''],
    );
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) throw badReply('readUser', reply);
    const lifetimeEnd = this.lifetimeEnd(parsed.loginTime);
    if (reply[0] === 0) {
      state.revoked = explainMiss(asString(reply[1]), asString(reply[2]), parsed.loginTime, lifetimeEnd, now);
      if (state.revoked)
        this.emit('rejected', { userId: parsed.userId, sessionId: parsed.handle, ...state.revoked });
      return undefined;
    }
    const epochValue = asString(reply[1]);
    const raw = asString(reply[2]);
    const pttl = asInteger(reply[3]);
    if (epochValue === undefined || raw === undefined || pttl === undefined)
      throw badReply('readUser', reply);
    // Hashed tags learn the id from the epoch key; it must hash back to the tag in the cookie.
    const userId = parsed.userId ?? epochValue.slice(RANDOM_LENGTH);
    if (userId === '' || userTag(userId) !== tag) return undefined;
    if (lifetimeEnd !== undefined && now >= lifetimeEnd) {
      await this.#endUser(tag, parsed.handle, encodeReason(REASONS.lifetime, now));
      state.revoked = { reason: REASONS.lifetime, at: new Date(lifetimeEnd) };
      this.emit('rejected', { userId, sessionId: parsed.handle, ...state.revoked });
      return undefined;
    }
    const value = decodeValue(raw);
    if (value === undefined) return undefined;
    resetState(state, {
      externalKey: key,
      tag,
      userId,
      epoch: epochValue.slice(0, RANDOM_LENGTH),
      handle: parsed.handle,
      loginTime: parsed.loginTime,
      dataJson: value.dataJson,
      createdAt: value.header?.createdAt,
      exists: true,
      expiresAt: now + pttl,
    });
    return withExpire(value.data, pttl, now);
  }

  /**
   * Moves a legacy session into the new layout: taken out of its old key atomically (so it can
   * never be used again), written under the user's epoch with a new sid (or as an anonymous
   * session), and the cookie re-issued by the middleware through koa-session's regenerate.
   */
  async #adopt(legacyKey: string, state: RequestState, ctx: object | undefined) {
    const legacy = this.settings.legacy!;
    const reply = await this.call(this.#runLegacy!('takeLegacy', [legacy.prefix + legacyKey], []));
    if (reply === null || reply === false) return undefined;
    const [raw, pttl] = Array.isArray(reply) ? [asString(reply[0]), asInteger(reply[1])] : [];
    if (raw === undefined || pttl === undefined) throw badReply('takeLegacy', reply);
    const value = decodeValue(raw.startsWith('{') ? raw : '');
    if (value === undefined || ctx === undefined) return undefined;
    const now = Date.now();
    const ttl = pttl > 0 ? pttl : this.ttl(undefined);
    const json = dataJson(value.data);
    const userId = adoptedUser(legacy.userId, value.data);
    const sid = newSid(now);
    const handle = sessionHandle(sid);
    const session = { handle, loginTime: now, dataJson: json, expiresAt: now + ttl };
    if (userId === undefined) {
      await this.call(this.settings.redis.set(this.keys.anonymous(handle), json, 'PX', ttl, 'NX'));
      switchTo(state, { ...session, externalKey: sid }, legacyKey);
    } else {
      const tag = userTag(userId);
      const meta = this.settings.registry ? requestMeta(ctx as RequestLike, now) : undefined;
      const created = await this.createUserSession(tag, userId, handle, json, meta, ttl, now, {
        maxSessions: 0,
        policy: 'evict-oldest',
        endHandle: '',
      });
      if (created.limited) return undefined;
      const signedIn = { tag, userId, epoch: created.epoch, createdAt: meta?.createdAt };
      switchTo(state, { ...session, ...signedIn, externalKey: externalKey(tag, sid) }, legacyKey);
    }
    state.adoptedFrom = legacyKey;
    debug('adopted a legacy session as %s', userId === undefined ? 'anonymous' : 'signed-in');
    return withExpire(value.data, ttl, now);
  }

  /**
   * The login script: a new session under the user's current epoch (creating the epoch if there
   * is none), with the concurrent-session limit enforced in the same atomic step.
   */
  async createUserSession(
    tag: string,
    userId: string,
    handle: string,
    json: string,
    meta: DeviceMeta | undefined,
    ttl: number,
    now: number,
    limit: { maxSessions: number; policy: string; endHandle: string },
  ): Promise<{ limited: true; count: number } | { limited: false; epoch: string; evicted: string[] }> {
    const { keys } = this;
    const device = meta ? deviceRecord(meta) : { ref: '', value: '' };
    const reply = await this.script(
      'login',
      [keys.epoch(tag), keys.userBase(tag), keys.registry(tag), keys.devices(tag)],
      [
        freshEpochValue(tag, userId),
        handle,
        encodeValue(json, meta, now),
        ttl,
        now,
        this.settings.registry ? '1' : '0',
        limit.maxSessions,
        limit.policy,
        limit.endHandle,
        encodeReason(REASONS.sessionLimit, now),
        device.ref,
        device.value,
      ],
    );
    if (!Array.isArray(reply)) throw badReply('login', reply);
    if (reply[0] === 0 && typeof reply[1] === 'number') return { limited: true, count: reply[1] };
    const epochValue = asString(reply[1]);
    const evicted = Array.isArray(reply[2]) ? reply[2].map(asString) : undefined;
    if (reply[0] !== 1 || epochValue === undefined || evicted === undefined || evicted.includes(undefined)) {
      throw badReply('login', reply);
    }
    return { limited: false, epoch: epochValue.slice(0, RANDOM_LENGTH), evicted: evicted as string[] };
  }

  async set(
    key: string,
    sessionData: SessionData,
    maxAge?: number | 'session',
    options: StoreCallOptions = {},
  ) {
    const parsed = parseExternalKey(key);
    if (parsed === undefined)
      throw new SessionError('koa-epoch-session: set() was given a key that genid did not issue');
    if (sessionData === null || typeof sessionData !== 'object') {
      throw new TypeError('koa-epoch-session: set() needs the session data as an object');
    }
    const state = options.ctx ? stateOf(options.ctx) : undefined;
    if (state) state.savedMaxAge = maxAge;
    if (state?.discardKey === key) {
      debug('not continuing a session that was revoked while this request ran');
      return;
    }
    const ttl = this.ttl(maxAge);
    const json = dataJson(sessionData);
    if (parsed.tag === undefined) return this.#setAnonymous(key, parsed, json, ttl, state);
    return this.#setUser(key, parsed, json, ttl, state, options.ctx as RequestLike | undefined);
  }

  async #setAnonymous(
    key: string,
    parsed: ParsedKey,
    json: string,
    ttl: number,
    state: RequestState | undefined,
  ) {
    const { redis } = this.settings;
    const redisKey = this.keys.anonymous(parsed.handle);
    const known = state?.externalKey === key && state.exists;
    if (known && json === state.dataJson) {
      if (state.written) return;
      const touched = await this.call(redis.pexpire(redisKey, ttl));
      Object.assign(
        state,
        touched === 1 ? { written: true, expiresAt: Date.now() + ttl } : { exists: false },
      );
      return;
    }
    // An existing session is updated only while it exists (XX): a save that lands after a
    // logout or regenerate must not bring it back. A new one must not overwrite anything (NX).
    const written = known
      ? await this.call(redis.set(redisKey, json, 'PX', ttl, 'XX'))
      : await this.call(redis.set(redisKey, json, 'PX', ttl, 'NX'));
    if (state === undefined) return;
    if (written === null) {
      debug('anonymous session %s ended while this request ran; not written', parsed.handle);
      state.exists = false;
      return;
    }
    resetState(state, {
      externalKey: key,
      handle: parsed.handle,
      loginTime: parsed.loginTime,
      dataJson: json,
      exists: true,
      written: true,
      expiresAt: Date.now() + ttl,
    });
  }

  async #setUser(
    key: string,
    parsed: ParsedKey,
    json: string,
    requestedTtl: number,
    state: RequestState | undefined,
    request: RequestLike | undefined,
  ) {
    const tag = parsed.tag!;
    const now = Date.now();
    let mode: 'create' | 'update' | 'touch';
    let base: RegenerateSource;
    if (state?.externalKey === key && state.exists && state.epoch !== undefined) {
      if (json === state.dataJson && state.written) return;
      mode = json === state.dataJson ? 'touch' : 'update';
      base = {
        tag,
        epoch: state.epoch,
        userId: state.userId!,
        loginTime: state.loginTime,
        createdAt: state.createdAt,
      };
    } else if (state?.regenerateFrom?.tag === tag) {
      mode = 'create';
      base = state.regenerateFrom;
      state.regenerateFrom = undefined;
    } else {
      // No epoch to make the write conditional on: writing would risk resurrecting a revoked session.
      debug('refusing to write signed-in session %s that this request did not read', parsed.handle);
      return;
    }
    const ttl = this.cappedTtl(requestedTtl, base.loginTime, now);
    if (ttl <= 0) {
      await this.#endUser(tag, parsed.handle, encodeReason(REASONS.lifetime, now));
      if (state)
        Object.assign(state, { exists: false, revoked: { reason: REASONS.lifetime, at: new Date(now) } });
      return;
    }
    if (mode === 'touch' && touchBuysNothing(state!, ttl, now)) return;
    // A rewrite records the device as this request shows it; a touch leaves the header alone.
    const createdAt = base.createdAt ?? base.loginTime;
    const meta =
      this.settings.registry && mode !== 'touch' ? requestMeta(request ?? {}, createdAt) : undefined;
    const device = meta ? deviceRecord(meta) : { ref: '', value: '' };
    const { keys } = this;
    const reply = await this.script(
      'writeUser',
      [keys.epoch(tag), keys.userBase(tag), keys.registry(tag), keys.devices(tag)],
      [
        mode,
        base.epoch,
        parsed.handle,
        mode === 'touch' ? '' : encodeValue(json, meta, now),
        ttl,
        this.settings.registry ? now + ttl : '',
        now,
        device.ref,
        device.value,
      ],
    );
    if (reply !== 0 && reply !== 1) throw badReply('writeUser', reply);
    if (state === undefined) return;
    if (reply === 0) {
      // Revoked, rotated or logged out while this request ran: it stays dead (invariant 2).
      debug('signed-in session %s was revoked while this request ran; not written', parsed.handle);
      state.exists = false;
      return;
    }
    resetState(state, {
      externalKey: key,
      tag,
      userId: base.userId,
      epoch: base.epoch,
      handle: parsed.handle,
      loginTime: base.loginTime,
      dataJson: json,
      createdAt: this.settings.registry ? createdAt : undefined,
      exists: true,
      written: true,
      expiresAt: now + ttl,
    });
  }

  async destroy(key: string, options: StoreCallOptions = {}) {
    const state = options.ctx ? stateOf(options.ctx) : undefined;
    if (state?.endedKey === key) {
      state.endedKey = undefined;
      return;
    }
    const parsed = parseExternalKey(key);
    if (parsed === undefined) return;
    const ended =
      parsed.tag === undefined
        ? await this.call(this.settings.redis.del(this.keys.anonymous(parsed.handle)))
        : await this.#endUser(parsed.tag, parsed.handle, '');
    if (state?.externalKey !== key) return;
    if (parsed.tag !== undefined && ended !== 1 && state.exists) {
      // Revoked while this request ran: if koa-session is regenerating, the session must not
      // continue under a new id, not even as an anonymous copy of its data (invariant 2).
      state.exists = false;
      state.discardNext = true;
      return;
    }
    // koa-session's regenerate() destroys the old key, then asks genid for a new one: remember
    // whose session it was, so the new id stays bound to the same user and epoch.
    if (state.tag !== undefined && state.exists && state.epoch !== undefined) {
      state.regenerateFrom = {
        tag: state.tag,
        userId: state.userId!,
        epoch: state.epoch,
        loginTime: state.loginTime,
        createdAt: state.createdAt,
      };
    }
    state.exists = false;
  }

  #endUser(tag: string, handle: string, reason: string): Promise<unknown> {
    const { keys } = this;
    return this.script(
      'endUser',
      [keys.epoch(tag), keys.userBase(tag), keys.registry(tag), keys.sessionReason(tag, handle)],
      [handle, reason],
    );
  }
}

/**
 * A rolling touch moves the expiry by the time since the last read or write. Within half the
 * cookie slack it buys nothing but a round trip, and the key still outlives the cookie.
 */
function touchBuysNothing(state: RequestState, ttl: number, now: number): boolean {
  return state.expiresAt !== undefined && state.expiresAt >= now + ttl - COOKIE_SLACK / 2;
}

/** koa-session checks `_expire`; we derive it from the TTL instead of storing it. */
function withExpire(data: SessionData, pttl: number, now: number): SessionData {
  if (typeof data._maxAge !== 'number' || pttl < 0) return data;
  return { ...data, _expire: now + Math.max(pttl - COOKIE_SLACK, 0) };
}

/** Device metadata as this request shows it: the IP honours `app.proxy` (Koa's `ctx.ip`). */
export function requestMeta(request: RequestLike, createdAt: number): DeviceMeta {
  return { createdAt, ip: request.ip ?? '', userAgent: request.get?.('user-agent') ?? '' };
}

/** Cookie values a legacy store may have issued (uuids, uid-safe ids), never keys of ours. */
const LEGACY_KEY = /^[A-Za-z0-9_\-.:]{1,200}$/;

function isLegacyKey(key: string, prefix: string): boolean {
  return LEGACY_KEY.test(key) && !key.startsWith(prefix);
}

function adoptedUser(extract: ((data: SessionData) => string | undefined) | undefined, data: SessionData) {
  const userId = extract?.(data);
  return typeof userId === 'string' && userId.length > 0 && userId.isWellFormed() ? userId : undefined;
}
