// Step-up freshness, for both adapters: how recent a sign-in must be, and the check after re-authenticating.
import type { SessionEngine } from './engine.js';
import { SessionNotFreshError } from './errors.js';
import { isDuration } from './options.js';
import { type HeldSession, markRefused, type RequestState } from './state.js';

/** requireFresh: the last sign-in or re-authentication (`at`) was at most `maxAge` ms ago. */
export function assertFresh(at: Date | undefined, maxAge: number): void {
  if (!isDuration(maxAge))
    throw new TypeError('koa-epoch-session: requireFresh() needs a positive maxAge in ms');
  if (at === undefined || Date.now() - at.getTime() > maxAge) throw new SessionNotFreshError(at, maxAge);
}

/**
 * After reauthenticate's save. Without the registry a write under a rotated epoch lands on an
 * unreachable orphan and says nothing: the session must still be the user's live one before it is
 * called fresh. `held`: the session the save left the request holding, if it is still the same
 * one; otherwise the request is signed out (`refusedKey`: nothing more is written under it, and the
 * response clears the cookie).
 */
export async function assertStillLive(
  engine: SessionEngine,
  state: RequestState,
  held: HeldSession | undefined,
  refusedKey: string,
): Promise<void> {
  const live = held !== undefined && (await engine.readUser(held.tag!, held.epoch!, held.handle)).live;
  if (!live) {
    markRefused(state, refusedKey);
    throw new SessionNotFreshError(undefined, 0);
  }
}
