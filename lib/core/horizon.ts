// How far a write extends the keys a session depends on: to the end of the minute the session ends in.

/**
 * The epoch key, the registry and the device hash must outlive every session that depends on them
 * (invariant 4). Each write that moves a session's end used to extend them to exactly that end,
 * so a rolling touch or a change cost a `PEXPIRE` (or, with the registry, a script) per request.
 *
 * Instead, every write extends them to the session's *horizon*: its end rounded up to the next
 * whole step. That keeps one rule true at all times: the keys a stored session depends on live
 * until at least the horizon of the expiry written in it (they only ever grow, `GT`; a rotation
 * replaces the epoch, and writes under an old epoch land on orphans). So a write whose new expiry
 * has the same horizon as the value the request read is already covered, and is a single
 * `SET … XX`: the common case, since a busy session's end moves a second at a time.
 *
 * The registry is written only with those extensions, so its score (the session's end as of the
 * last registry write) may be up to one step behind the session's real end: entries are pruned
 * once their score is a whole step in the past, never earlier, and "evict the oldest" ranks
 * sessions by their activity as of their last registry write.
 *
 * The price: those keys live up to one step past their last session, and dead registry entries
 * linger up to one step longer (every reader checks that the session key still exists).
 */
export const HORIZON_STEP = 60_000;

/** The end of the step in which a session ending at `expiresAt` ends (ms since the epoch). */
export function horizon(expiresAt: number): number {
  return Math.ceil(expiresAt / HORIZON_STEP) * HORIZON_STEP;
}

/** True if a value ending at `expiresAt` is covered by the extensions made for one ending at `previous`. */
export function coveredBy(expiresAt: number, previous: number): boolean {
  return horizon(expiresAt) <= horizon(previous);
}

/** The TTL, in ms from `now`, that extends a key to the horizon of a session ending at `expiresAt`. */
export function reach(expiresAt: number, now: number): number {
  return Math.max(horizon(expiresAt) - now, 1);
}

/** Registry entries scored before this are dead: their sessions ended at most one step after their score. */
export function pruneBefore(now: number): number {
  return now - HORIZON_STEP;
}
