// The koa-session store: get, set, destroy and genid on the epoch-keyed layout, checked against what the request holds.
import { debuglog } from 'node:util';
import { publishRejected } from '../core/diagnostics.js';
import { adoptedUser, SessionEngine } from '../core/engine.js';
import { SessionError } from '../core/errors.js';
import { externalKey, newSid, type ParsedKey, parseExternalKey, userTag } from '../core/keys.js';
import { encodeReason, explainMiss, REASONS } from '../core/revocation.js';
import { createAnonymous, holdRead, rekeyHeld, unchanged, updateHeld } from '../core/saves.js';
import {
  blankState,
  type HeldSession,
  isEnded,
  isRefused,
  markEnded,
  markRefused,
  type RequestState,
  stateOf,
  switchTo,
} from '../core/state.js';
import {
  AUTHENTICATED_AT,
  type DeviceMeta,
  decodeValue,
  plainData,
  restoreLifetime,
  type SessionData,
} from '../core/value.js';

export { COOKIE_SLACK } from '../core/engine.js';

const debug = debuglog('koa-epoch-session');

/** What koa-session passes as the third argument of get/set/destroy. */
export interface StoreCallOptions {
  ctx?: object;
  rolling?: boolean;
  changed?: boolean;
}

/** The minimal view of a Koa context the store reads for device metadata. */
export interface RequestLike {
  ip?: string;
  get?: (field: string) => string;
}

export class EpochStore extends SessionEngine {
  /**
   * koa-session's `genid`: the key of a session written by login or logoutOthers, a new sid under
   * the same user and epoch for a `regenerate()` of a signed-in session, or a new anonymous sid.
   */
  genid = (ctx?: object): string => {
    if (ctx === undefined) return newSid(Date.now());
    const state = stateOf(ctx);
    if (state.pendingKey !== undefined) {
      const key = state.pendingKey;
      state.pendingKey = undefined;
      return key;
    }
    const from = state.regenerateFrom;
    // The new sid keeps the login time, so an absolute lifetime still counts from the login.
    const key = from ? externalKey(from.tag, from.epoch, newSid(from.loginTime)) : newSid(Date.now());
    if (!from) {
      // koa-session checks `_expire` a moment after `get` did: a session that reached its
      // absolute lifetime in between is dropped there, and the request should still learn why.
      const read = state.current;
      if (read !== undefined && read === state.presented && read.tag !== undefined && !state.revoked) {
        const end = this.lifetimeEnd(read.loginTime);
        if (end !== undefined && end <= Date.now())
          state.revoked = { reason: REASONS.lifetime, at: new Date(end) };
      }
      // koa-session starts a new session under this key: nothing the request read describes it.
      state.current = undefined;
    }
    state.minted = key;
    return key;
  };

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
    if (parsed.tag === undefined) {
      const raw = await this.readAnonymous(parsed.handle);
      return raw === undefined ? undefined : this.#hold(state, key, parsed, raw, now);
    }
    const tag = parsed.tag;
    const read = await this.readUser(tag, parsed.epoch!, parsed.handle);
    const lifetimeEnd = this.lifetimeEnd(parsed.loginTime);
    if (!read.live) {
      state.revoked = explainMiss(
        read.sessionReason,
        read.rotationReason,
        parsed.loginTime,
        lifetimeEnd,
        // The key may have expired at its lifetime's end after \`now\` was taken, before the read.
        Date.now(),
      );
      if (state.revoked)
        this.emit('rejected', { userId: parsed.userId, sessionId: parsed.handle, ...state.revoked });
      publishRejected(parsed.handle, state.revoked);
      return undefined;
    }
    // Hashed tags learn the id from the epoch key; it must hash back to the tag in the cookie.
    const userId = parsed.userId ?? read.epochValue.slice(parsed.epoch!.length);
    if (userId === '' || userTag(userId) !== tag) return undefined;
    if (lifetimeEnd !== undefined && now >= lifetimeEnd) {
      await this.endUser(tag, parsed.epoch, parsed.handle, encodeReason(REASONS.lifetime, now));
      state.revoked = { reason: REASONS.lifetime, at: new Date(lifetimeEnd) };
      this.emit('rejected', { userId, sessionId: parsed.handle, ...state.revoked });
      publishRejected(parsed.handle, state.revoked);
      return undefined;
    }
    const data = this.#hold(state, key, parsed, read.raw, now, userId);
    const header = state.current?.header;
    if (data && header && this.settings.registry) {
      const lastSeen = decodeLastSeen(header);
      // The stamp is in whole seconds: count from the end of its second, so that a refresh never
      // comes sooner than the interval. A separate, rare write: the read itself stays one MGET.
      if (now - (lastSeen + 1000) >= this.settings.lastSeenInterval) {
        await this.refreshLastSeen(tag, parsed.epoch!, parsed.handle, now);
      }
    }
    return data;
  }

  /** Decodes a value the request reached and records it as the session the request holds. */
  #hold(state: RequestState, key: string, parsed: ParsedKey, raw: string, now: number, userId?: string) {
    const value = decodeValue(raw, this.settings.codec, parsed.handle);
    // Expired is expired, to the millisecond: a replayed cookie never outlives its idle timeout.
    if (value === undefined || value.expiresAt <= now) return undefined;
    holdRead(state, key, parsed, raw, value, userId);
    delete value.data[AUTHENTICATED_AT];
    restoreLifetime(value.data, this.settings.maxAge);
    // koa-session checks `_expire` itself, and `renew` reads it.
    if (typeof value.data._maxAge === 'number') value.data._expire = value.expiresAt;
    return value.data;
  }

  async set(
    key: string,
    sessionData: SessionData,
    maxAge?: number | 'session',
    options: StoreCallOptions = {},
  ) {
    if (options.ctx === undefined) {
      throw new SessionError(
        "koa-epoch-session: set() needs koa-session's { ctx } argument (koa-session 7 passes it)",
      );
    }
    if (sessionData === null || typeof sessionData !== 'object') {
      throw new TypeError('koa-epoch-session: set() needs the session data as an object');
    }
    const state = stateOf(options.ctx);
    const request = options.ctx as RequestLike;
    if (state.replacement?.from === key) key = state.replacement.to;
    // The session this request read was parsed by get(): parsing again costs a SHA-256 per save.
    const parsed = key === state.current?.key ? state.current : parseExternalKey(key);
    if (parsed === undefined)
      throw new SessionError('koa-epoch-session: set() was given a key that genid did not issue');
    state.savedMaxAge = maxAge;
    // A session revoked while this request ran: its data is written nowhere (the cookie is cleared).
    if (isRefused(state, key)) return;
    const now = Date.now();
    const current = state.current;
    const holder = current?.key === key ? current : key === state.minted ? state.regenerateFrom : undefined;
    const json = plainData(this.settings.codec, sessionData, holder?.authenticatedAt, this.settings.maxAge);
    if (isEnded(state, key) || (state.nulled && current?.key === key && current.tag !== undefined)) {
      // Logout (or `ctx.session = null`) then a new object: koa-session would save it under the
      // signed-in key it already had. That key is ended, and stays ended (invariants 2 and 6).
      if (!isEnded(state, key)) await this.endHeld(state, current!, '');
      return this.#restartAnonymous(state, key, sessionData, json, maxAge, now);
    }
    if (current?.key === key) return this.#update(state, current, sessionData, json, maxAge, now, request);
    if (key === state.minted && 'sid' in parsed) {
      state.minted = undefined;
      const from = state.regenerateFrom;
      if (from !== undefined && parsed.tag === from.tag) {
        state.regenerateFrom = undefined;
        return this.#rekey(state, from, key, parsed, json, sessionData, maxAge, now, request);
      }
      if (parsed.tag === undefined) {
        // A session of this request was found revoked: what ctx.session holds may be its data
        // (say, after a regenerate()), so no new session takes it either (invariant 2).
        if (state.refused !== undefined) {
          markRefused(state, key);
          return;
        }
        return this.#createAnonymous(state, key, parsed, json, sessionData, maxAge, now);
      }
    }
    // A key this request neither read nor minted: writing it could bring back a session that was
    // ended, or create one nobody signed in. A create write is for keys genid minted here.
    debug('refusing to write a session this request did not read or create');
  }

  async #createAnonymous(
    state: RequestState,
    key: string,
    parsed: ParsedKey,
    json: string,
    sessionData: SessionData,
    maxAge: number | 'session' | undefined,
    now: number,
  ) {
    // No login, so no absolute lifetime: a cart lives by its idle timeout alone.
    const expiresAt = this.expiry(sessionData._expire, maxAge, undefined, now);
    await createAnonymous(this, state, key, parsed, json, expiresAt, now);
  }

  /** The data of an ended session's key goes to a new anonymous session; the cookie follows it. */
  async #restartAnonymous(
    state: RequestState,
    endedKey: string,
    sessionData: SessionData,
    json: string,
    maxAge: number | 'session' | undefined,
    now: number,
  ) {
    state.nulled = false;
    const sid = newSid(now);
    const parsed = parseExternalKey(sid)!;
    state.replacement = { from: endedKey, to: sid };
    await this.#createAnonymous(state, sid, parsed, json, sessionData, maxAge, now);
  }

  async #update(
    state: RequestState,
    current: HeldSession,
    sessionData: SessionData,
    json: string,
    maxAge: number | 'session' | undefined,
    now: number,
    request: RequestLike,
  ) {
    const loginTime = current.tag === undefined ? undefined : current.loginTime;
    const expiresAt = this.expiry(sessionData._expire, maxAge, loginTime, now);
    if (unchanged(current, json, expiresAt, now)) {
      // A rolling save inside the touch window: the cookie may stay as the browser has it. Not at
      // the lifetime cap, where the end moves no more: there every save re-sends it, or a lost
      // response would leave the browser with an earlier end for the rest of the session.
      if (expiresAt > current.expiresAt) state.touchSkipped = current.key;
      return;
    }
    const meta =
      this.settings.registry && current.tag !== undefined
        ? requestMeta(request, current.createdAt ?? current.loginTime)
        : undefined;
    await updateHeld(this, state, current, json, expiresAt, now, meta);
  }

  async #rekey(
    state: RequestState,
    from: HeldSession,
    key: string,
    parsed: ParsedKey,
    json: string,
    sessionData: SessionData,
    maxAge: number | 'session' | undefined,
    now: number,
    request: RequestLike,
  ) {
    const expiresAt = this.expiry(sessionData._expire, maxAge, from.loginTime, now);
    const meta = this.settings.registry ? requestMeta(request, from.createdAt ?? from.loginTime) : undefined;
    await rekeyHeld(this, state, from, key, parsed, json, expiresAt, now, meta);
  }

  async destroy(key: string, options: StoreCallOptions = {}) {
    const state = options.ctx ? stateOf(options.ctx) : undefined;
    if (state?.replacement?.from === key) key = state.replacement.to;
    if (state && (isEnded(state, key) || isRefused(state, key))) return;
    if (state && key === state.minted) {
      // genid's key, never written: there is nothing to end.
      state.minted = undefined;
      return;
    }
    const parsed = parseExternalKey(key);
    if (parsed === undefined) return;
    const current = state?.current;
    if (state?.regenerating && !state.nulled && current?.key === key && current.tag !== undefined) {
      // koa-session's regenerate(): the old key goes in the same step that writes the new one.
      // (After `ctx.session = null` the request is signed out: the session ends here instead.)
      state.regenerateFrom = current;
      state.current = undefined;
      return;
    }
    if (state && current?.key === key) await this.endHeld(state, current, '');
    else if (parsed.tag === undefined) await this.endAnonymous(parsed.handle);
    else await this.endUser(parsed.tag, parsed.epoch, parsed.handle, '');
    if (state) markEnded(state, key);
  }

  /**
   * Moves a legacy session into the new layout: taken out of its old key atomically (so it can
   * never be used again), written under the user's epoch with a new sid (or as an anonymous
   * session), and the cookie re-issued by the middleware through koa-session's regenerate. A
   * rotation since its last save revokes it; the concurrent-session limit applies as at login.
   */
  async #adopt(legacyKey: string, state: RequestState, ctx: object | undefined) {
    const taken = await this.takeLegacy(legacyKey);
    if (taken === undefined || ctx === undefined) return undefined;
    let data: SessionData;
    try {
      const parsed: unknown = JSON.parse(taken.raw);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      data = parsed as SessionData;
    } catch {
      return undefined;
    }
    const now = Date.now();
    const expire =
      typeof data._expire === 'number'
        ? data._expire
        : now + (taken.pttl > 0 ? taken.pttl : this.ttl(undefined));
    const expiresAt = this.expiry(expire, undefined, now, now);
    if (expiresAt <= now) return undefined;
    // koa-session's next save computes `_expire` from `_maxAge`: without one it would grant the
    // adopted session a whole new lifetime. It keeps what was left of the old one.
    if (typeof data._maxAge !== 'number' && data._session !== true) data._maxAge = expiresAt - now;
    const { codec } = this.settings;
    const json = plainData(codec, data, undefined, this.settings.maxAge);
    const userId = adoptedUser(this.settings.legacy!.userId, data);
    // koa-session saved `_expire` = save time + `_maxAge`: a rotation after that save revokes it.
    const savedAt =
      typeof data._expire === 'number' && typeof data._maxAge === 'number' ? data._expire - data._maxAge : 0;
    const adopted = await this.adoptLegacy({
      userId,
      json,
      // Nobody proved who they are here: an adopted session is never fresh (requireFresh).
      signedInJson: plainData(codec, data, 0, this.settings.maxAge),
      expiresAt,
      now,
      meta: requestMeta(ctx as RequestLike, now),
      savedAt,
    });
    if (adopted === undefined) return undefined;
    if ('revocation' in adopted) {
      state.revoked = adopted.revocation;
      return undefined;
    }
    const held = adopted.session;
    if (held.tag !== undefined) held.authenticatedAt = 0;
    switchTo(state, held);
    state.adoptedFrom = legacyKey;
    debug('adopted a legacy session as %s', userId === undefined ? 'anonymous' : 'signed-in');
    if (typeof data._maxAge === 'number') data._expire = expiresAt;
    return data;
  }
}

/** The last-seen time a registry header records, in ms. */
function decodeLastSeen(header: string): number {
  return Number.parseInt(header.slice(0, 7), 36) * 1000;
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
