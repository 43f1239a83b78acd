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
  constructor(cause: unknown) {
    super(
      'koa-epoch-session: the session store (Redis) is unavailable; ' +
        `the request was refused instead of serving an unverified session (${describe(cause)})`,
      { cause },
    );
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
