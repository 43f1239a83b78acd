// Revocation and the device list, without a request: for route handlers, workers and the operator CLI.

import { SessionEngine } from './engine.js';
import { SessionError, SessionReplicationError } from './errors.js';
import { isHandle, userTag } from './keys.js';
import type { EpochStoreOptions } from './options.js';
import { parseSessionList, type SessionInfo } from './registry.js';
import { assertReason, encodeReason, REASONS } from './revocation.js';

export interface SessionAdmin {
  /**
   * Revokes every session of the user in one write, whatever their number. True if the user had
   * sessions, or an earlier rotation's revoked sessions could still be presented, or (while a
   * `legacy` migration runs) legacy sessions not yet moved may exist: those are revoked too.
   */
  rotate(userId: string, options?: { reason?: string }): Promise<boolean>;
  /** The user's live sessions, newest activity first (needs `registry: true`). */
  list(userId: string, currentSessionId?: string): Promise<SessionInfo[]>;
  /** Ends one session by its public handle. True if it was live. */
  revoke(userId: string, sessionId: string, options?: { reason?: string }): Promise<boolean>;
  /** The engine it runs on: the Koa or Express store's, or its own. */
  store: SessionEngine;
}

/** For processes that serve no sessions themselves: `createSessionAdmin({ redis, registry: true }).rotate(id)`. */
export function createSessionAdmin(options: EpochStoreOptions | SessionEngine): SessionAdmin {
  return adminFor(options instanceof SessionEngine ? options : new SessionEngine(options));
}

export function adminFor(store: SessionEngine): SessionAdmin {
  async function rotate(userId: string, options: { reason?: string } = {}): Promise<boolean> {
    const reason = options.reason ?? REASONS.rotated;
    assertReason(reason);
    let status: 0 | 1 | 2;
    try {
      status = await store.rotate(userId, encodeReason(reason, Date.now()));
    } catch (error) {
      // Applied, but not acknowledged by enough replicas: the caller retries; the event is true now.
      if (error instanceof SessionReplicationError)
        store.emit('revoked', { userId, scope: 'all', reason, hadSessions: error.result === true });
      throw error;
    }
    store.emit('revoked', { userId, scope: 'all', reason, hadSessions: status === 1 });
    return status !== 0 || store.settings.legacy !== undefined;
  }

  async function list(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    if (!store.settings.registry) {
      throw new SessionError('koa-epoch-session: list() needs the device registry: set registry: true');
    }
    const tag = userTag(userId);
    return parseSessionList(await store.listRaw(tag, Date.now()), currentSessionId);
  }

  async function revoke(
    userId: string,
    sessionId: string,
    options: { reason?: string } = {},
  ): Promise<boolean> {
    const reason = options.reason ?? REASONS.revoked;
    assertReason(reason);
    const tag = userTag(userId);
    // Handles are the only ids that reach Redis; anything else cannot name a session.
    if (!isHandle(sessionId)) return false;
    let ended: boolean;
    try {
      ended = await store.endUser(tag, undefined, sessionId, encodeReason(reason, Date.now()));
    } catch (error) {
      // Ended on the master, not yet confirmed by replicas: it happened, so it is reported.
      if (error instanceof SessionReplicationError)
        store.emit('revoked', { userId, scope: 'session', sessionId, reason });
      throw error;
    }
    if (ended) store.emit('revoked', { userId, scope: 'session', sessionId, reason });
    return ended;
  }

  return { rotate, list, revoke, store };
}
