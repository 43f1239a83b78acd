// "New sign-in from …" notices: written by onLogin for each of the user's other devices, shown once there.
import type { Redis } from 'ioredis';
import type { LoginEvent } from '../lib/index.js';

export interface Notice {
  /** When the new sign-in happened (ms since the epoch). */
  at: number;
  ip: string;
  userAgent: string;
  /** The new session's handle, so the device list can point at it. */
  sessionId: string;
  /** How many devices that sign-in pushed out to stay within the session limit. */
  evicted: number;
}

/** A device keeps at most this many unread notices. */
const MAX_NOTICES = 5;
/** A notice lives no longer than the session it is for, and never more than a day. */
const MAX_TTL = 24 * 3600_000;

export class Notices {
  constructor(
    readonly redis: Redis,
    readonly prefix = 'demo:notices:',
  ) {}

  #key(userId: string, sessionId: string): string {
    // Session handles are URL-safe base64 and the demo's usernames are [a-z0-9_.-]: no separator clash.
    return `${this.prefix}${userId}:${sessionId}`;
  }

  /** The onLogin hook: one notice per other live session, each with its own TTL. */
  async record(event: LoginEvent): Promise<void> {
    if (event.otherSessions.length === 0) return;
    const notice: Notice = {
      at: Date.now(),
      ip: event.ip,
      userAgent: event.userAgent.slice(0, 512),
      sessionId: event.sessionId,
      evicted: event.evicted.length,
    };
    const json = JSON.stringify(notice);
    const multi = this.redis.multi();
    for (const other of event.otherSessions) {
      const key = this.#key(event.userId, other.id);
      const ttl = Math.max(1000, Math.min(MAX_TTL, other.expiresAt.getTime() - notice.at));
      multi.rpush(key, json).ltrim(key, -MAX_NOTICES, -1).pexpire(key, ttl);
    }
    await multi.exec();
  }

  /** Reads and deletes this device's notices in one step, so each is shown exactly once. */
  async take(userId: string, sessionId: string): Promise<Notice[]> {
    const key = this.#key(userId, sessionId);
    const replies = await this.redis.multi().lrange(key, 0, -1).unlink(key).exec();
    const items = replies?.[0]?.[1];
    if (!Array.isArray(items)) return [];
    return items.flatMap((item) => {
      try {
        return [JSON.parse(String(item)) as Notice];
      } catch {
        return [];
      }
    });
  }
}
