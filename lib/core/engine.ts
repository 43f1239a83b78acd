// The session engine: every Redis operation on the epoch-keyed layout, with no framework in sight.
import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { publishRedisError, publishRejected, traceEngine } from './diagnostics.js';
import type { RedisDriver } from './driver.js';
import { EpochCache } from './epoch-cache.js';
import { replyOf, SessionReplicationError, SessionStoreUnavailableError } from './errors.js';
import { coveredBy, pruneBefore, reach } from './horizon.js';
import {
  epochOf,
  epochValueFor,
  externalKey,
  freshEpochValue,
  isHandle,
  KeyLayout,
  newSid,
  randomToken,
  sessionHandle,
  userTag,
} from './keys.js';
import {
  type EpochStoreOptions,
  isDuration,
  MAX_DURATION,
  type StoreSettings,
  storeSettings,
} from './options.js';
import { RecentMap } from './recent-map.js';
import { asInteger, asString, badReply, redisCall } from './redis-call.js';
import { decodeReason, encodeReason, REASONS } from './revocation.js';
import { REVOKING, type ScriptName } from './scripts.js';
import { type HeldSession, markEnded, type RequestState, type Revocation } from './state.js';
import {
  type DeviceMeta,
  deviceRecord,
  encodeHeader,
  encodeValue,
  LAST_SEEN_OFFSET,
  stamp,
} from './value.js';

const debug = debuglog('koa-epoch-session');

/** koa-session asks the store to keep a session this much longer than its cookie; we do not (see `expiry`). */
export const COOKIE_SLACK = 10_000;

/** Guessed epochs and registry handles are corrected by the script; a few corrections in a row mean churn. */
const MAX_ATTEMPTS = 6;

export interface SessionLimit {
  maxSessions: number;
  policy: 'evict-oldest' | 'reject';
}

export interface LoginRequest {
  tag: string;
  userId: string;
  handle: string;
  /** The stored value, and the same without the data of the request's previous session. */
  value: (header: string) => string;
  emptyValue: (header: string) => string;
  expiresAt: number;
  now: number;
  meta: DeviceMeta | undefined;
  /** The request's previous session of the same user, ended in the same step. */
  previous: { handle: string; epoch: string } | undefined;
  limit: SessionLimit;
  /** For an adopted legacy session: when it was last saved, so a rotation since revokes it. */
  legacySavedAt?: number;
}

export type LoginOutcome =
  | { status: 'created'; epoch: string; evicted: string[]; carried: boolean }
  | { status: 'limited'; count: number }
  | { status: 'revoked'; revocation: Revocation };

export type UserRead =
  | { live: true; epochValue: string; raw: string }
  | { live: false; sessionReason: string | undefined; rotationReason: string | undefined };

/**
 * Events, for logs and metrics: `login`, `revoked`, `rejected` (a revoked cookie was presented),
 * `limit` (a login evicted or was refused) and `redis-error`. The name `error` is never used, so an
 * app without listeners is never crashed by an event.
 */
export class SessionEngine extends EventEmitter {
  readonly keys: KeyLayout;
  readonly settings: StoreSettings;
  /** Set by createSessions: the concurrent-session limit, which every path creating a signed-in session applies. */
  limit: SessionLimit = { maxSessions: 0, policy: 'evict-oldest' };
  readonly epochs = new EpochCache();
  /**
   * With a session limit: the registry handles each user's last login here was told of. At the
   * limit, login must declare every live session's key before it evicts or refuses; without this
   * guess every such login would run its script twice (ask, then act).
   */
  readonly #registryHandles = new RecentMap<string[]>(1_000);
  /** The app's client, behind the driver interface; the legacy keys' client, when it is another one. */
  readonly driver: RedisDriver;
  readonly #legacyDriver: RedisDriver | undefined;

  constructor(options: EpochStoreOptions) {
    super();
    this.settings = storeSettings(options);
    this.keys = new KeyLayout(this.settings.prefix);
    this.driver = this.settings.driver;
    this.#legacyDriver = this.settings.legacy?.driver;
  }

  /** Runs a script, mapping Redis failures to SessionStoreUnavailableError (503). */
  script(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    const acknowledgement = REVOKING.has(name) ? this.settings.waitForReplicas : undefined;
    return this.call(this.driver.script(name, keys, args, acknowledgement));
  }

  /** Awaits a Redis command, reporting failures as `redis-error` and rethrowing them as SessionErrors. */
  async call<T>(operation: Promise<T>): Promise<T> {
    try {
      return await redisCall(operation);
    } catch (error) {
      if (!(error instanceof SessionReplicationError)) {
        debug('redis error: %s', (error as Error).message);
        this.emit('redis-error', error);
        publishRedisError(error);
      }
      throw error;
    }
  }

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
   * When a session saved now ends: koa-session's `_expire` (the cookie's end) when it sets one,
   * else `maxAge` from now ('session' cookies get `browserSessionTtl`), and never after the
   * absolute lifetime. The Redis key expires at that same moment: no slack in which a replayed
   * cookie would still find its session (koa-session's extra 10 s only kept `_expire` checkable).
   */
  expiry(
    expire: unknown,
    maxAge: number | 'session' | undefined,
    loginTime: number | undefined,
    now: number,
  ): number {
    const requested =
      typeof expire === 'number' && Number.isFinite(expire) && expire - now <= MAX_DURATION
        ? Math.floor(expire)
        : now + this.ttl(maxAge);
    const end = loginTime === undefined ? undefined : this.lifetimeEnd(loginTime);
    return end === undefined ? requested : Math.min(requested, end);
  }

  // --- anonymous sessions: single native commands ---

  async readAnonymous(handle: string): Promise<string | undefined> {
    const raw = await this.call(this.driver.get(this.keys.anonymous(handle)));
    return raw ?? undefined;
  }

  /** `NX` creates (never overwrites), `XX` updates (never resurrects an ended session). */
  async writeAnonymous(handle: string, value: string, ttl: number, mode: 'NX' | 'XX'): Promise<boolean> {
    return this.call(this.driver.set(this.keys.anonymous(handle), value, ttl, mode));
  }

  async endAnonymous(handle: string): Promise<boolean> {
    return (await this.call(this.driver.del(this.keys.anonymous(handle)))) === 1;
  }

  // --- signed-in sessions ---

  /**
   * The read path: one MGET of the epoch key and the session key the cookie names. MGET is atomic
   * and both keys share a slot, so the pair is a consistent snapshot: the session is live only if
   * the epoch key holds the cookie's epoch and the key exists. Only a miss reads the reasons.
   */
  async readUser(tag: string, epoch: string, handle: string): Promise<UserRead> {
    const { keys } = this;
    const [epochValue, raw] = await this.call(
      this.driver.mget([keys.epoch(tag), keys.session(tag, epoch, handle)]),
    );
    if (typeof epochValue === 'string' && typeof raw === 'string' && epochOf(epochValue) === epoch) {
      this.epochs.set(tag, epoch);
      return { live: true, epochValue, raw };
    }
    if (typeof epochValue === 'string') this.epochs.set(tag, epochOf(epochValue));
    const [sessionReason, rotationReason] = await this.call(
      this.driver.mget([keys.sessionReason(tag, handle), keys.rotationReason(tag)]),
    );
    return {
      live: false,
      sessionReason: sessionReason ?? undefined,
      rotationReason: rotationReason ?? undefined,
    };
  }

  /** With the registry: move the last-seen stamp. Advisory, so a failure is reported, never fatal. */
  async refreshLastSeen(tag: string, epoch: string, handle: string, now: number): Promise<void> {
    try {
      await this.script('seen', [this.keys.session(tag, epoch, handle)], [stamp(now), LAST_SEEN_OFFSET]);
    } catch (error) {
      debug('last-seen refresh failed: %s', (error as Error).message);
    }
  }

  /**
   * Rewrites a signed-in session under the epoch the request read, ending at `write.expiresAt`.
   * Always SET … XX (never resurrects an ended key); a write under an old epoch lands on an orphan
   * no read can reach. When the new end has the horizon of the value the request holds
   * (`write.previous`), the epoch key, registry and device hash already outlive it
   * (lib/core/horizon.ts): the SET is the whole write. Otherwise, without the registry, PEXPIRE … GT
   * of the epoch key goes with it; with the registry, a script also files the new horizon and
   * the device (so does a new device). False: not written.
   */
  async writeUser(write: {
    tag: string;
    epoch: string;
    handle: string;
    /** The stored value, built around this header (`''` without the registry). */
    value: (header: string) => string;
    expiresAt: number;
    now: number;
    /** The value this request read or last wrote: its end, and its device reference. */
    previous: { expiresAt: number; deviceRef: string | undefined };
    /** With the registry: the device as this request shows it. */
    meta: DeviceMeta | undefined;
  }): Promise<boolean> {
    const { keys, driver } = this;
    const { tag, epoch, handle, expiresAt, now, previous, meta } = write;
    const sessionKey = keys.session(tag, epoch, handle);
    const ttl = expiresAt - now;
    const covered = coveredBy(expiresAt, previous.expiresAt);
    const device = meta ? deviceRecord(meta) : undefined;
    const value = write.value(encodeHeader(meta, now));
    if (covered && device?.ref === previous.deviceRef) {
      return this.call(driver.set(sessionKey, value, ttl, 'XX'));
    }
    if (device === undefined) {
      const [written] = await this.call(
        Promise.all([
          driver.set(sessionKey, value, ttl, 'XX'),
          driver.extend(keys.epoch(tag), reach(expiresAt, now)),
        ]),
      );
      return written;
    }
    const reply = await this.script(
      'writeUser',
      [keys.epoch(tag), sessionKey, keys.registry(tag), keys.devices(tag)],
      [
        epoch,
        handle,
        value,
        ttl,
        expiresAt,
        pruneBefore(now),
        device.ref,
        device.value,
        reach(expiresAt, now),
      ],
    );
    if (reply !== 0 && reply !== 1) throw badReply('writeUser', reply);
    return reply === 1;
  }

  /** koa-session's regenerate of a signed-in session: the old key and the new one swap atomically. */
  async rekeyUser(
    tag: string,
    epoch: string,
    oldHandle: string,
    newHandle: string,
    value: string,
    expiresAt: number,
    now: number,
    /** With the registry: the device as this request shows it. */
    meta: DeviceMeta | undefined,
  ): Promise<boolean> {
    const { keys } = this;
    const device = meta ? deviceRecord(meta) : { ref: '', value: '' };
    const reply = await this.script(
      'rekey',
      [
        keys.epoch(tag),
        keys.session(tag, epoch, oldHandle),
        keys.session(tag, epoch, newHandle),
        keys.registry(tag),
        keys.devices(tag),
        keys.movedTo(tag, oldHandle),
      ],
      [
        epoch,
        oldHandle,
        newHandle,
        value,
        expiresAt - now,
        meta ? expiresAt : '',
        pruneBefore(now),
        device.ref,
        device.value,
        reach(expiresAt, now),
      ],
    );
    if (reply !== 0 && reply !== 1) throw badReply('rekey', reply);
    return reply === 1;
  }

  /**
   * Ends one signed-in session. `epoch` is the one the request read (or the cookie claims), or
   * `undefined` when unknown (revoke by handle): then the cache's guess is tried and corrected.
   * True if the session was live.
   */
  async endUser(tag: string, epoch: string | undefined, handle: string, reason: string): Promise<boolean> {
    const { keys } = this;
    let guess = epoch ?? this.epochs.get(tag) ?? randomToken();
    let target = handle;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let lag: SessionReplicationError | undefined;
      const reply = await this.script(
        'endUser',
        [
          keys.epoch(tag),
          keys.session(tag, guess, target),
          keys.registry(tag),
          keys.sessionReason(tag, target),
        ],
        [guess, target, reason],
      ).catch((error: unknown) => {
        if (!(error instanceof SessionReplicationError)) throw error;
        lag = error;
        return replyOf(error);
      });
      const status = Array.isArray(reply) ? reply[0] : undefined;
      if (status === 1) {
        // Ended on the master; replicas did not confirm it in time. A retry waits for them again.
        if (lag) {
          lag.result = true;
          throw lag;
        }
        return true;
      }
      if (status === 0) {
        // Unknown epoch (a revoke by handle): the device may have been re-keyed since it was listed.
        const moved =
          epoch === undefined ? await this.call(this.driver.get(keys.movedTo(tag, target))) : null;
        if (moved === null || !isHandle(moved)) return false;
        target = moved;
        continue;
      }
      const epochValue = Array.isArray(reply) ? asString(reply[1]) : undefined;
      if (status !== 2 || epochValue === undefined) throw badReply('endUser', reply);
      this.epochs.set(tag, epochOf(epochValue));
      // The request's own epoch is no longer the user's: its session is already unreachable.
      if (epoch !== undefined) return false;
      guess = epochOf(epochValue);
    }
    throw churn('endUser');
  }

  /**
   * Sign in: one script creates the session under the user's current epoch (creating the epoch if
   * there is none), ends the request's previous session of that user, and applies the limit.
   */
  async login(request: LoginRequest): Promise<LoginOutcome> {
    const { keys, settings } = this;
    const { tag, userId, handle, now, previous, limit } = request;
    let epoch = previous?.epoch ?? this.epochs.get(tag);
    let fresh = epoch === undefined;
    const registry = settings.registry;
    const limited = registry && limit.maxSessions > 0;
    let known = (limited && this.#registryHandles.get(tag)) || [];
    const header = registry && request.meta ? request.meta : undefined;
    const device = header ? deviceRecord(header) : { ref: '', value: '' };
    const headerText = header ? `${stamp(now)}${stamp(header.createdAt)}${device.ref}` : '';
    const ttl = Math.max(request.expiresAt - now, 1);
    const legacyRevoked = request.legacySavedAt !== undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const guess = epoch ?? randomToken();
      const sessionKey = keys.session(tag, guess, handle);
      const reply = await this.script(
        'login',
        [
          keys.epoch(tag),
          sessionKey,
          keys.registry(tag),
          keys.devices(tag),
          keys.legacyRevoked(tag),
          previous ? keys.session(tag, previous.epoch, previous.handle) : sessionKey,
          ...known.flatMap((h) => [keys.session(tag, guess, h), keys.sessionReason(tag, h)]),
        ],
        [
          guess,
          fresh ? '1' : '0',
          fresh ? epochValueFor(guess, tag, userId) : '',
          handle,
          request.value(headerText),
          // Stored only when the user's previous session ends in this step and its data cannot
          // carry over (ARGV[12] is that session's handle): otherwise the script never reads it.
          previous ? request.emptyValue(headerText) : '',
          ttl,
          pruneBefore(now),
          registry ? request.expiresAt : '',
          registry ? limit.maxSessions : 0,
          limit.policy,
          previous?.handle ?? '',
          previous?.epoch ?? '',
          encodeReason(REASONS.sessionLimit, now),
          device.ref,
          device.value,
          legacyRevoked ? request.legacySavedAt! : '',
          attempt < 2 ? '1' : '0',
          reach(request.expiresAt, now),
          ...known,
        ],
      );
      if (!Array.isArray(reply)) throw badReply('login', reply);
      const [status] = reply;
      if (status === 1) {
        const epochValue = asString(reply[1]);
        const evicted = Array.isArray(reply[2]) ? reply[2].map(asString) : undefined;
        if (epochValue === undefined || evicted === undefined || evicted.includes(undefined)) {
          throw badReply('login', reply);
        }
        const created = epochOf(epochValue);
        this.epochs.set(tag, created);
        if (limited) {
          const gone = new Set(evicted);
          this.#registryHandles.set(
            tag,
            [...known.filter((h) => !gone.has(h)), handle].slice(-2 * limit.maxSessions),
          );
        }
        const trim = Array.isArray(reply[4]) ? reply[4].map((h) => asString(h) ?? '') : [];
        if (trim.length > 0)
          evicted.push(...(await this.#trim(tag, created, handle, limit.maxSessions, now, trim)));
        return { status: 'created', epoch: created, evicted: evicted as string[], carried: reply[3] === 1 };
      }
      if (status === 0) return { status: 'limited', count: asInteger(reply[1]) ?? limit.maxSessions };
      if (status === 2) {
        const epochValue = asString(reply[1]);
        if (epochValue === undefined) {
          this.epochs.delete(tag);
          epoch = undefined;
          fresh = true;
        } else {
          epoch = epochOf(epochValue);
          fresh = false;
          this.epochs.set(tag, epoch);
        }
        continue;
      }
      if (status === 3 && Array.isArray(reply[1])) {
        known = reply[1].map((h) => asString(h) ?? '');
        if (limited) this.#registryHandles.set(tag, known);
        continue;
      }
      if (status === 4) {
        const revocation = decodeReason(asString(reply[1]));
        if (revocation) return { status: 'revoked', revocation };
      }
      throw badReply('login', reply);
    }
    throw churn('login');
  }

  /** After a contended login: evict what is over the limit, asking again while others change the registry. */
  async #trim(
    tag: string,
    epoch: string,
    keep: string,
    limit: number,
    now: number,
    handles: string[],
  ): Promise<string[]> {
    const { keys } = this;
    const evicted: string[] = [];
    for (let attempt = 0; attempt < MAX_ATTEMPTS * 4 && handles.length > 0; attempt++) {
      const reply = await this.script(
        'trim',
        [
          keys.epoch(tag),
          keys.registry(tag),
          ...handles.flatMap((h) => [keys.session(tag, epoch, h), keys.sessionReason(tag, h)]),
        ],
        [epoch, limit, pruneBefore(now), keep, encodeReason(REASONS.sessionLimit, now), ...handles],
      );
      if (!Array.isArray(reply)) throw badReply('trim', reply);
      const done = reply[0] === 1 ? reply[1] : reply[2];
      if (Array.isArray(done)) evicted.push(...done.map((h) => asString(h) ?? ''));
      if (reply[0] === 1) return evicted;
      if (reply[0] !== 3 || !Array.isArray(reply[1])) throw badReply('trim', reply);
      handles = reply[1].map((h) => asString(h) ?? '');
    }
    // Still over after many tries: the next login trims again; the limit is exceeded only meanwhile.
    debug('session limit: could not trim under contention');
    return evicted;
  }

  /**
   * Sign out every other device: a fresh epoch, and the caller's session re-keyed under it, in one
   * script. The new epoch is chosen here, so every key is declared. Undefined: the caller's own
   * session was already revoked.
   */
  async logoutOthers(request: {
    tag: string;
    userId: string;
    epoch: string;
    handle: string;
    newHandle: string;
    value: string;
    expiresAt: number;
    now: number;
    meta: DeviceMeta | undefined;
    reason: string;
  }): Promise<{ epoch: string | undefined; lag?: SessionReplicationError }> {
    const { keys } = this;
    const { tag } = request;
    const epochValue = freshEpochValue(tag, request.userId);
    const epoch = epochOf(epochValue);
    const device = request.meta ? deviceRecord(request.meta) : { ref: '', value: '' };
    const ttl = Math.max(request.expiresAt - request.now, 1);
    let reply: unknown;
    let lag: SessionReplicationError | undefined;
    try {
      reply = await this.script(
        'logoutOthers',
        [
          keys.epoch(tag),
          keys.session(tag, request.epoch, request.handle),
          keys.session(tag, epoch, request.newHandle),
          keys.registry(tag),
          keys.devices(tag),
          keys.rotationReason(tag),
          keys.movedTo(tag, request.handle),
          keys.legacyRevoked(tag),
        ],
        [
          request.epoch,
          request.handle,
          epochValue,
          request.newHandle,
          request.value,
          ttl,
          this.settings.registry ? request.expiresAt : '',
          request.reason,
          device.ref,
          device.value,
          this.settings.legacy ? this.settings.legacy.maxAge + COOKIE_SLACK : '',
          reach(request.expiresAt, request.now),
        ],
      );
    } catch (error) {
      if (!(error instanceof SessionReplicationError)) throw error;
      lag = error;
      reply = replyOf(error);
    }
    if (reply !== 0 && reply !== 1) throw badReply('logoutOthers', reply);
    if (reply === 1) this.epochs.set(tag, epoch);
    return { epoch: reply === 1 ? epoch : undefined, lag };
  }

  /**
   * Revokes every session of the user in one write. 1: the user had sessions; 2: none now, but an
   * earlier rotation still stands (say, a retry after waitForReplicas reported lag); 0: nothing.
   * While a legacy migration runs, also marks the user's not-yet-adopted legacy sessions revoked.
   */
  async rotate(userId: string, reasonValue: string): Promise<0 | 1 | 2> {
    const tag = userTag(userId);
    const { keys, settings } = this;
    this.epochs.delete(tag);
    const legacyWindow = settings.legacy ? settings.legacy.maxAge + COOKIE_SLACK : '';
    const reply = await this.script(
      'rotate',
      [keys.epoch(tag), keys.rotationReason(tag), keys.legacyRevoked(tag)],
      [reasonValue, legacyWindow],
    ).catch((error: unknown) => {
      if (error instanceof SessionReplicationError)
        error.result = replyOf(error) !== 0 || settings.legacy !== undefined;
      throw error;
    });
    if (reply !== 0 && reply !== 1 && reply !== 2) throw badReply('rotate', reply);
    return reply;
  }

  /**
   * The raw device list: `[handle, header, device]` triples of the user's live sessions, pruning
   * dead entries as it goes. Two round trips when this process has not seen the user lately.
   */
  async listRaw(tag: string, now: number): Promise<[string, string, string | undefined][]> {
    const { keys } = this;
    let epoch = this.epochs.get(tag) ?? randomToken();
    let handles: string[] = [];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const reply = await this.script(
        'list',
        [
          keys.epoch(tag),
          keys.registry(tag),
          keys.devices(tag),
          ...handles.map((h) => keys.session(tag, epoch, h)),
        ],
        [epoch, pruneBefore(now), ...handles],
      );
      if (!Array.isArray(reply)) throw badReply('list', reply);
      const [status] = reply;
      if (status === 0) return [];
      if (status === 2 && asString(reply[1]) !== undefined) {
        epoch = epochOf(asString(reply[1])!);
        this.epochs.set(tag, epoch);
        continue;
      }
      if (status === 3 && Array.isArray(reply[1])) {
        handles = reply[1].map((h) => asString(h) ?? '');
        continue;
      }
      if (status !== 1 || (reply.length - 1) % 3 !== 0) throw badReply('list', reply);
      const out: [string, string, string | undefined][] = [];
      for (let i = 1; i < reply.length; i += 3) {
        const handle = asString(reply[i]);
        const header = asString(reply[i + 1]);
        if (handle === undefined || header === undefined) throw badReply('list', reply);
        out.push([handle, header, asString(reply[i + 2])]);
      }
      return out;
    }
    throw churn('list');
  }

  /** Ends a session a request holds, and remembers in its state that it did. */
  async endHeld(state: RequestState, session: HeldSession, reason: string): Promise<boolean> {
    try {
      const ended =
        session.tag === undefined
          ? await this.endAnonymous(session.handle)
          : await this.endUser(session.tag, session.epoch, session.handle, reason);
      markEnded(state, session.key);
      return ended;
    } catch (error) {
      // Applied on the master, not yet confirmed by enough replicas: ended for this request all the same.
      if (error instanceof SessionReplicationError) markEnded(state, session.key);
      throw error;
    }
  }

  /**
   * Writes a session taken from a legacy store in this layout, under a new sid: anonymous, or
   * signed in through the login step, so that a rotation since the legacy session was last saved
   * (`savedAt`) revokes it and the concurrent-session limit applies as at login. Undefined when
   * the new anonymous sid was taken (never in practice: 128 random bits).
   */
  async adoptLegacy(adoption: {
    userId: string | undefined;
    /** The data as stored, and (for a signed-in session) as stored with the user. */
    json: string;
    signedInJson: string;
    expiresAt: number;
    now: number;
    meta: DeviceMeta | undefined;
    savedAt: number;
  }): Promise<{ session: HeldSession } | { revocation: Revocation } | undefined> {
    const { userId, expiresAt, now } = adoption;
    const sid = newSid(now);
    const handle = sessionHandle(sid);
    const session: HeldSession = {
      key: sid,
      tag: undefined,
      userId: undefined,
      epoch: undefined,
      handle,
      loginTime: now,
      header: '',
      createdAt: undefined,
      dataJson: adoption.json,
      expiresAt,
      written: true,
    };
    if (userId === undefined) {
      const written = await this.writeAnonymous(
        handle,
        encodeValue(expiresAt, '', adoption.json, this.settings.codec, handle),
        expiresAt - now,
        'NX',
      );
      return written ? { session } : undefined;
    }
    const tag = userTag(userId);
    const meta = this.settings.registry ? adoption.meta : undefined;
    const value = (header: string) =>
      encodeValue(expiresAt, header, adoption.signedInJson, this.settings.codec, handle);
    const created = await this.login({
      tag,
      userId,
      handle,
      value,
      emptyValue: value,
      expiresAt,
      now,
      meta,
      previous: undefined,
      limit: this.limit,
      legacySavedAt: adoption.savedAt,
    });
    if (created.status === 'revoked') {
      this.emit('rejected', { userId, sessionId: handle, ...created.revocation });
      publishRejected(handle, created.revocation);
      return { revocation: created.revocation };
    }
    if (created.status === 'limited') {
      this.emit('limit', { userId, policy: 'reject', limit: this.limit.maxSessions, evicted: [] });
      return { revocation: { reason: REASONS.sessionLimit, at: new Date(now) } };
    }
    if (created.evicted.length > 0) {
      this.emit('limit', {
        userId,
        policy: 'evict-oldest',
        limit: this.limit.maxSessions,
        evicted: created.evicted,
      });
    }
    Object.assign(session, {
      key: externalKey(tag, created.epoch, sid),
      tag,
      userId,
      epoch: created.epoch,
      header: encodeHeader(meta, now),
      createdAt: meta?.createdAt,
      dataJson: adoption.signedInJson,
    });
    return { session };
  }

  /** A legacy session, taken out of its old key: `{ raw, pttl }`, or undefined when there is none. */
  async takeLegacy(legacyKey: string): Promise<{ raw: string; pttl: number } | undefined> {
    const legacy = this.settings.legacy!;
    const reply = await this.call(this.#legacyDriver!.script('takeLegacy', [legacy.prefix + legacyKey], []));
    if (reply === null || reply === false) return undefined;
    const [raw, pttl] = Array.isArray(reply) ? [asString(reply[0]), asInteger(reply[1])] : [];
    if (raw === undefined || pttl === undefined) throw badReply('takeLegacy', reply);
    return { raw, pttl };
  }
}

traceEngine(SessionEngine.prototype);

function churn(step: string): Error {
  return new SessionStoreUnavailableError(
    undefined,
    `koa-epoch-session: the ${step} step met a different epoch or registry ${MAX_ATTEMPTS} times in a row; ` +
      'the user is being rotated or signed in elsewhere right now, retry',
  );
}

/** The signed-in user of a legacy session, as the app's `legacy.userId` reads it from the data. */
export function adoptedUser(
  extract: ((data: Record<string, unknown>) => string | undefined) | undefined,
  data: Record<string, unknown>,
): string | undefined {
  const userId = extract?.(data);
  return typeof userId === 'string' && userId.length > 0 && userId.isWellFormed() ? userId : undefined;
}
