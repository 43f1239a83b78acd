// Per-request session state: what this request read from Redis, which later writes are conditional on.

export interface Revocation {
  reason: string;
  at: Date;
}

export interface RegenerateSource {
  tag: string;
  userId: string;
  epoch: string;
  loginTime: number;
  createdAt: number | undefined;
}

export interface RequestState {
  /** The cookie value this state describes. */
  externalKey: string | undefined;
  /** Signed-in sessions: the user's tag and id. */
  tag: string | undefined;
  userId: string | undefined;
  /** The epoch the session was read or created under; every write is conditional on it. */
  epoch: string | undefined;
  handle: string | undefined;
  loginTime: number;
  /** The data part as stored, to tell a rolling touch (PEXPIRE) from a change (SET). */
  dataJson: string | undefined;
  /** With the registry: when the session was created, kept across rewrites. */
  createdAt: number | undefined;
  /** The key is known to exist: later writes update it (XX) instead of creating it (NX). */
  exists: boolean;
  /** When the store key expires (ms since the epoch), as of the last read or write. */
  expiresAt: number | undefined;
  /** Written with a full TTL during this request: a second save of the same data is a no-op. */
  written: boolean;
  /** Set by destroy() of a live signed-in session, so regenerate() keeps the user, epoch and login time. */
  regenerateFrom: RegenerateSource | undefined;
  /** Set when the presented cookie named a session that had been revoked. */
  revoked: Revocation | undefined;
  /** destroy() found the signed-in session already revoked: the id genid issues next stays empty. */
  discardNext: boolean;
  discardKey: string | undefined;
  /** The maxAge koa-session passed to the last set(): the cookie written next follows it. */
  savedMaxAge: number | 'session' | undefined;
  /** A legacy session adopted by get(): the middleware re-issues the cookie under the new key. */
  adoptedFrom: string | undefined;
  /** login / logoutOthers: the key genid must hand koa-session, and the old key already ended. */
  pendingKey: string | undefined;
  endedKey: string | undefined;
}

/** A private property of the Koa context: as cheap as a field, and gone with the request. */
const STATE = Symbol('koa-epoch-session.state');

export function stateOf(ctx: object): RequestState {
  const holder = ctx as { [STATE]?: RequestState };
  let state = holder[STATE];
  if (state === undefined) {
    state = blankState();
    holder[STATE] = state;
  }
  return state;
}

/** What describes the session the request holds; resetState replaces exactly these. */
function blankSession() {
  return {
    externalKey: undefined,
    tag: undefined,
    userId: undefined,
    epoch: undefined,
    handle: undefined,
    loginTime: 0,
    dataJson: undefined,
    createdAt: undefined,
    exists: false,
    expiresAt: undefined,
    written: false,
    regenerateFrom: undefined,
  } satisfies Partial<RequestState>;
}

/** What belongs to the request as a whole, and survives a change of session within it. */
function blankRequest() {
  return {
    revoked: undefined,
    discardNext: false,
    discardKey: undefined,
    savedMaxAge: undefined,
    adoptedFrom: undefined,
    pendingKey: undefined,
    endedKey: undefined,
  } satisfies Partial<RequestState>;
}

export function blankState(): RequestState {
  // Object.assign, not spread: this runs on every request, and spread costs several times more.
  return Object.assign(blankSession(), blankRequest());
}

/** Replaces the state's session, keeping what belongs to the request (the revocation seen on entry). */
export function resetState(state: RequestState, next: Partial<RequestState>): void {
  Object.assign(state, blankSession(), next);
}

/** A signed-in or anonymous session this library has just written with a full TTL. */
export type WrittenSession = Pick<
  RequestState,
  'externalKey' | 'handle' | 'loginTime' | 'dataJson' | 'expiresAt'
> &
  Partial<Pick<RequestState, 'tag' | 'userId' | 'epoch' | 'createdAt'>>;

/**
 * The request now holds a session written by login, logoutOthers or an adoption: genid hands its
 * key to koa-session's regenerate, which then skips destroying `endedKey` (already ended, or never
 * stored) and finds nothing left to save.
 */
export function switchTo(state: RequestState, session: WrittenSession, endedKey: string | undefined): void {
  resetState(state, { ...session, exists: true, written: true });
  state.pendingKey = session.externalKey;
  state.endedKey = endedKey;
}
