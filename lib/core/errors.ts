// Error classes: what went wrong, which HTTP status it maps to, and what to change.

/** Base class of every error this package throws. `status` follows Koa's convention. */
export class SessionError extends Error {
  override name = 'SessionError';
  status = 500;
  expose = false;
}

/**
 * Redis could not be reached, timed out, or refused the write (OOM, failover, loading).
 * Maps to 503: the request is refused rather than served a stale, foreign or empty session,
 * and the next request after Redis returns works again.
 */
export class SessionStoreUnavailableError extends SessionError {
  override name = 'SessionStoreUnavailableError';
  override status = 503;
  override expose = true;
  constructor(cause: unknown, message?: string) {
    super(
      message ??
        'koa-epoch-session: the session store (Redis) is unavailable; ' +
          `the request was refused instead of serving an unverified session (${describe(cause)})`,
      { cause },
    );
  }
}

/**
 * `waitForReplicas`: a revocation was applied on the master, but fewer replicas than asked
 * acknowledged it in time, so a failover now could undo it. `applied` is always true: the request
 * already sees the revocation (after `logoutOthers`, the response carries the caller's new
 * cookie). Retrying the same call waits for the replicas again, and covers this write too.
 */
export class SessionReplicationError extends SessionStoreUnavailableError {
  override name = 'SessionReplicationError';
  readonly applied = true;
  /** What the call returned on the master (for `rotate` and `revoke`, whether it ended sessions). */
  result: unknown;
  constructor(
    script: string,
    reply: unknown,
    acknowledged: number,
    wanted: { replicas: number; timeout: number },
  ) {
    super(
      undefined,
      `koa-epoch-session: the ${script} step was applied on the master, but ${acknowledged} of ` +
        `${wanted.replicas} replica(s) acknowledged it within ${wanted.timeout} ms, so a failover now ` +
        'could undo it; retry the call (waitForReplicas)',
    );
    // Kept off the error itself: a script's reply can hold an epoch (and, for long ids, the user id).
    replies.set(this, reply);
  }
}

const replies = new WeakMap<SessionReplicationError, unknown>();

/** @internal The script's reply behind a replication error, for the caller to finish its work. */
export function replyOf(error: SessionReplicationError): unknown {
  return replies.get(error);
}

/**
 * `requireFresh`: the request is not signed in, or the user last proved who they are longer ago
 * than the action allows. Maps to 403; the app asks for the password again, then calls
 * `reauthenticate()`.
 */
export class SessionNotFreshError extends SessionError {
  override name = 'SessionNotFreshError';
  override status = 403;
  override expose = true;
  /** When the user last authenticated, or `undefined` when the request is not signed in. */
  readonly authenticatedAt: Date | undefined;
  constructor(authenticatedAt: Date | undefined, maxAge: number) {
    super(
      authenticatedAt === undefined
        ? 'koa-epoch-session: this action needs a signed-in session; sign in first'
        : `koa-epoch-session: this action needs a sign-in within the last ${Math.round(maxAge / 1000)} s; ` +
            'ask for the password again, then call reauthenticate()',
    );
    this.authenticatedAt = authenticatedAt;
  }
}

/** `login` was refused because the user already has `maxSessions` sessions and the policy is `'reject'`. */
export class SessionLimitError extends SessionError {
  override name = 'SessionLimitError';
  override status = 409;
  override expose = true;
  readonly userId: string;
  readonly limit: number;
  constructor(userId: string, limit: number) {
    super(
      `koa-epoch-session: this account already has ${limit} active session(s); ` +
        'sign out on another device first (maxSessions with sessionLimitPolicy "reject")',
    );
    this.userId = userId;
    this.limit = limit;
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}
