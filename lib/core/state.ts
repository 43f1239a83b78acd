// Per-request session state: what this request read and wrote, which every later write is checked against.

export interface Revocation {
  reason: string;
  at: Date;
}

/** A session this request read from Redis or wrote there itself. */
export interface HeldSession {
  /** The cookie value. */
  key: string;
  /** Signed-in sessions: the user's tag, id and the epoch the key is under; `undefined` when anonymous. */
  tag: string | undefined;
  userId: string | undefined;
  epoch: string | undefined;
  handle: string;
  /** From the sid: absolute lifetimes count from it, and a regenerated sid keeps it. */
  loginTime: number;
  /** The registry header as stored (`''` without the registry), and when the session was created. */
  header: string;
  createdAt: number | undefined;
  /** The data part as stored, to tell an unchanged session (a rolling touch) from a change. */
  dataJson: string;
  /**
   * When the user last proved who they are, if later than the login (`reauthenticate`); stored as
   * `_auth` in the data, which koa-session hides from `ctx.session` and the store puts back.
   */
  authenticatedAt?: number | undefined;
  /** When the session ends, as stored in its value (ms since the epoch). */
  expiresAt: number;
  /** Written with its full lifetime during this request: a second save of the same data is a no-op. */
  written: boolean;
}

export interface RequestState {
  /** What the request's cookie reached on entry. Login ends it, whatever `ctx.session` holds by then. */
  presented: HeldSession | undefined;
  /**
   * The session cookie as the request sent it, when the browser's copy needs nothing re-issued
   * (unsigned, or signed under the app's first key).
   */
  cookieAsSent: string | undefined;
  /** A session whose rolling save was skipped: its end would have moved forward by less than the touch window. */
  touchSkipped: string | undefined;
  /** The session the request holds now: read, written, or created by login or logoutOthers. */
  current: HeldSession | undefined;
  /** A key genid handed to koa-session under which nothing is stored yet: only it may be created. */
  minted: string | undefined;
  /** Cookie values whose sessions this request ended itself (logout, `ctx.session = null`, login). */
  ended: Set<string> | undefined;
  /**
   * Cookie values whose sessions were revoked, rotated away or past their lifetime while this
   * request ran (a write or re-key was refused). Their data is tainted: no write keeps it under
   * any key, and login carries none of it (invariant 2).
   */
  refused: Set<string> | undefined;
  /** koa-session's regenerate() is running: destroy() leaves the signed-in session to the re-key. */
  regenerating: boolean;
  /** The signed-in session a regenerate() re-keys: the next write moves it atomically. */
  regenerateFrom: HeldSession | undefined;
  /** A key koa-session keeps using for data that was moved under another key (an anonymous restart). */
  replacement: { from: string; to: string } | undefined;
  /** `ctx.session = null` was assigned: a new object assigned after it starts an anonymous session. */
  nulled: boolean;
  /** Set when the presented cookie named a session that had been revoked. */
  revoked: Revocation | undefined;
  /** The maxAge koa-session passed to the last set(): the cookie written next follows it. */
  savedMaxAge: number | 'session' | undefined;
  /** A legacy session adopted by get(): the middleware re-issues the cookie under the new key. */
  adoptedFrom: string | undefined;
  /** login / logoutOthers / adoption: the key genid must hand koa-session next. */
  pendingKey: string | undefined;
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

export function blankState(): RequestState {
  return {
    presented: undefined,
    cookieAsSent: undefined,
    touchSkipped: undefined,
    current: undefined,
    minted: undefined,
    ended: undefined,
    refused: undefined,
    regenerating: false,
    regenerateFrom: undefined,
    replacement: undefined,
    nulled: false,
    revoked: undefined,
    savedMaxAge: undefined,
    adoptedFrom: undefined,
    pendingKey: undefined,
  };
}

export function isEnded(state: RequestState, key: string): boolean {
  return state.ended?.has(key) ?? false;
}

export function isRefused(state: RequestState, key: string): boolean {
  return state.refused?.has(key) ?? false;
}

/** The session under `key` was ended elsewhere while this request ran: drop it and everything it held. */
export function markRefused(state: RequestState, key: string): void {
  state.refused ??= new Set();
  state.refused.add(key);
  if (state.current?.key === key) state.current = undefined;
  if (state.minted === key) state.minted = undefined;
}

export function markEnded(state: RequestState, key: string): void {
  state.ended ??= new Set();
  state.ended.add(key);
  if (state.current?.key === key) state.current = undefined;
  if (state.minted === key) state.minted = undefined;
}

/** The request's live sessions that it has not ended, newest first, each once. */
export function heldSessions(state: RequestState): HeldSession[] {
  const held: HeldSession[] = [];
  for (const session of [state.current, state.presented]) {
    if (
      session &&
      !isEnded(state, session.key) &&
      !isRefused(state, session.key) &&
      !held.some((s) => s.key === session.key)
    )
      held.push(session);
  }
  return held;
}

/**
 * The request now holds a session written by login, logoutOthers or an adoption: genid hands its
 * key to koa-session's regenerate, whose save then finds nothing left to write.
 */
export function switchTo(state: RequestState, session: HeldSession): void {
  state.current = session;
  state.pendingKey = session.key;
  state.nulled = false;
}
