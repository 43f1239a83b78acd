// The device registry's read side: turning the list script's reply into session descriptions.
import { asInteger, asString, badReply } from './redis-call.js';
import { decodeDevice, decodeHeader } from './value.js';

/**
 * One live session, as a "your devices" page shows it. `id` is the public handle: a hash of the
 * secret sid, so nothing here can be replayed as a cookie. Pass it to `revoke(userId, id)`.
 */
export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string;
  userAgent: string;
  /** True for the session of the request passed to `list(userId, ctx)`. */
  current: boolean;
}

/** The list script returns `handle, header, pttl, device` quadruples; unreadable headers are skipped. */
export function parseSessionList(
  reply: unknown,
  currentHandle: string | undefined,
  now: number,
): SessionInfo[] {
  if (!Array.isArray(reply) || reply.length % 4 !== 0) throw badReply('list', reply);
  const sessions: SessionInfo[] = [];
  for (let i = 0; i < reply.length; i += 4) {
    const id = asString(reply[i]);
    const header = asString(reply[i + 1]);
    const pttl = asInteger(reply[i + 2]);
    if (id === undefined || header === undefined || pttl === undefined) throw badReply('list', reply);
    const decoded = decodeHeader(header);
    if (decoded === undefined) continue;
    sessions.push({
      id,
      createdAt: new Date(decoded.createdAt),
      lastSeenAt: new Date(decoded.lastSeenAt),
      expiresAt: new Date(now + Math.max(pttl, 0)),
      ...decodeDevice(asString(reply[i + 3])),
      current: id === currentHandle,
    });
  }
  return sessions.sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime());
}
