// The Express example: sign in, change the password, and every other device is signed out in one Redis write.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { createExpressSessions } from '../../lib/express/index.js';

const hash = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

/** A user store in memory, enough for the example: salted scrypt hashes, compared in constant time. */
class Accounts {
  readonly #users = new Map<string, { salt: Buffer; hash: Buffer }>();

  async set(userId: string, password: string): Promise<void> {
    const salt = randomBytes(16);
    this.#users.set(userId, { salt, hash: await hash(password, salt, 32) });
  }

  async check(userId: string, password: string): Promise<boolean> {
    const user = this.#users.get(userId);
    const candidate = await hash(password, user?.salt ?? Buffer.alloc(16), 32);
    return user !== undefined && timingSafeEqual(candidate, user.hash);
  }
}

export async function createExampleApp(options: { redis: Redis; secret: string }) {
  const accounts = new Accounts();
  await accounts.set('alice', 'correct horse');

  const sessions = createExpressSessions({
    redis: options.redis,
    secret: options.secret,
    maxAge: 7 * 24 * 3600_000,
    registry: true, // for the device list
    companionCookie: 'sid_expires', // page scripts can read when the session ends
  });

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(sessions.middleware);

  // Who am I, and if I was signed out, why (password-changed, signed-out-everywhere, …).
  app.get('/', async (req, res) => {
    const userId = sessions.userId(req);
    res.json({
      userId: userId ?? null,
      revoked: sessions.revokedReason(req)?.reason ?? null,
      expiresAt: sessions.expiresAt(req) ?? null,
      devices: userId ? (await sessions.list(userId, req)).length : 0,
    });
  });

  app.post('/login', async (req, res) => {
    const { user, password } = req.body as { user?: string; password?: string };
    if (!user || !password || !(await accounts.check(user, password))) {
      res.status(401).json({ error: 'wrong user or password' });
      return;
    }
    await sessions.login(req, user); // a new sid; anything put in the session before is carried over
    res.json({ userId: user });
  });

  // The password change: every session of the user, on every device and app instance, ends in
  // one write; this device signs in again under the new epoch.
  app.post('/password', async (req, res) => {
    const userId = sessions.userId(req);
    const { current, password } = req.body as { current?: string; password?: string };
    if (!userId) {
      res.status(401).json({ error: 'sign in first' });
      return;
    }
    if (!current || !password || !(await accounts.check(userId, current))) {
      res.status(403).json({ error: 'the current password is wrong' });
      return;
    }
    await accounts.set(userId, password);
    await sessions.rotate(userId, { reason: 'password-changed' });
    await sessions.login(req, userId);
    res.json({ userId, signedOutEverywhereElse: true });
  });

  app.post('/logout', async (req, res) => {
    await sessions.logout(req);
    res.json({ userId: null });
  });

  app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    // SessionStoreUnavailableError is a 503, SessionLimitError a 409: the status is on the error.
    res.status(error.status ?? 500).json({ error: error.message });
  });

  return { app, sessions, accounts };
}
