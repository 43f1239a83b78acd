// The device registry's read side: turning the list step's entries into session descriptions.
import { decodeDevice, decodeHeader, EXPIRES_LENGTH } from './value.js';

/**
 * One live session, as a "your devices" page shows it. `id` is the public handle: a hash of the
 * secret sid, so nothing here can be replayed as a cookie. Pass it to `revoke(userId, id)`.
 */
export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** When the session ends: the same moment as its cookie, and as `expiresAt(ctx)` reports. */
  expiresAt: Date;
  /** IPv4 clients of a dual-stack server are shown as `192.0.2.1`, not `::ffff:192.0.2.1`. */
  ip: string;
  userAgent: string;
  /** True for the session of the request passed to `list(userId, ctx)`. */
  current: boolean;
}

/** Entries are `[handle, expiry and header, device]`; unreadable headers are skipped. */
export function parseSessionList(
  entries: [string, string, string | undefined][],
  currentHandle: string | undefined,
): SessionInfo[] {
  const sessions: SessionInfo[] = [];
  for (const [id, prefix, device] of entries) {
    const expiresAt = Number.parseInt(prefix.slice(0, EXPIRES_LENGTH), 36);
    const decoded = decodeHeader(prefix.slice(EXPIRES_LENGTH));
    if (decoded === undefined || !Number.isFinite(expiresAt)) continue;
    sessions.push({
      id,
      createdAt: new Date(decoded.createdAt),
      lastSeenAt: new Date(decoded.lastSeenAt),
      expiresAt: new Date(expiresAt),
      ...decodeDevice(device),
      current: id === currentHandle,
    });
  }
  return sessions.sort((a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime());
}
