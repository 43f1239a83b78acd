// Revocation and the device list, without a request: for route handlers, workers and the operator CLI.
import { SessionError } from './errors.js';
import { isHandle, userTag } from './keys.js';
import type { EpochStoreOptions } from './options.js';
import { badReply } from './redis-call.js';
import { parseSessionList, type SessionInfo } from './registry.js';
import { assertReason, encodeReason, REASONS } from './revocation.js';
import { EpochStore } from './store.js';

export interface SessionAdmin {
  /** Revokes every session of the user in one write, whatever their number. True if the user had an epoch. */
  rotate(userId: string, options?: { reason?: string }): Promise<boolean>;
  /** The user's live sessions, newest activity first (needs `registry: true`). */
  list(userId: string, currentSessionId?: string): Promise<SessionInfo[]>;
  /** Ends one session by its public handle. True if it was live. */
  revoke(userId: string, sessionId: string, options?: { reason?: string }): Promise<boolean>;
  store: EpochStore;
}

/** For processes that serve no sessions themselves: `createSessionAdmin({ redis, registry: true }).rotate(id)`. */
export function createSessionAdmin(options: EpochStoreOptions | EpochStore): SessionAdmin {
  return adminFor(options instanceof EpochStore ? options : new EpochStore(options));
}

export function adminFor(store: EpochStore): SessionAdmin {
  const { keys } = store;

  async function rotate(userId: string, options: { reason?: string } = {}): Promise<boolean> {
    const reason = options.reason ?? REASONS.rotated;
    assertReason(reason);
    const tag = userTag(userId);
    const reply = await store.script(
      'rotate',
      [keys.epoch(tag), keys.rotationReason(tag)],
      [encodeReason(reason, Date.now())],
    );
    if (reply !== 0 && reply !== 1) throw badReply('rotate', reply);
    store.emit('revoked', { userId, scope: 'all', reason, hadSessions: reply === 1 });
    return reply === 1;
  }

  async function list(userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
    if (!store.settings.registry) {
      throw new SessionError('koa-epoch-session: list() needs the device registry: set registry: true');
    }
    const tag = userTag(userId);
    const now = Date.now();
    const reply = await store.script(
      'list',
      [keys.epoch(tag), keys.userBase(tag), keys.registry(tag), keys.devices(tag)],
      [now],
    );
    return parseSessionList(reply, currentSessionId, now);
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
    const reply = await store.script(
      'endUser',
      [keys.epoch(tag), keys.userBase(tag), keys.registry(tag), keys.sessionReason(tag, sessionId)],
      [sessionId, encodeReason(reason, Date.now())],
    );
    if (reply !== 0 && reply !== 1) throw badReply('endUser', reply);
    if (reply === 1) store.emit('revoked', { userId, scope: 'session', sessionId, reason });
    return reply === 1;
  }

  return { rotate, list, revoke, store };
}
