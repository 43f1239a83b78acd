// The epochs this process saw lately, per user tag: a first guess for the steps that need the epoch in their keys.
import { RecentMap } from './recent-map.js';

/**
 * Every key a script touches must be declared before it runs (invariant 7), and a session key
 * contains the user's epoch. Login, revoke and list therefore name the epoch up front; a guess from
 * this cache makes that one round trip in the usual case. The cache is never trusted: each script
 * compares the guess with the epoch key and, on a mismatch, answers with the real one, which the
 * client then uses. A stale entry costs a round trip, never a wrong answer.
 */
export class EpochCache extends RecentMap<string> {
  override set(tag: string, epoch: string): void {
    // A hit moves nothing: the read path sets the epoch it just confirmed on every request.
    if (this.get(tag) !== epoch) super.set(tag, epoch);
  }
}
