// `npm run demo`: start (or reuse) Redis, seed the demo accounts, serve http://127.0.0.1:3000, and stop
// everything it started on Ctrl-C, `kill`, a closed terminal, or when npm goes away.
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { checkRedis, RedisUnreachableError, redactRedisUrl } from '../test/support/redis-check.js';
import {
  INSTALL_HINT,
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from '../test/support/redis-server.js';
import { onShutdown } from '../test/support/shutdown.js';
import { DEMO_ACCOUNTS } from './accounts.js';
import { createDemoApp } from './app.js';
import { encryptionKeysFromEnv } from './encryption.js';
import { duration } from './views/format.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
// How recent a sign-in the password change needs; a short one (FRESH_SECONDS=30) shows the
// "confirm your password" step without waiting ten minutes.
const freshSeconds = process.env.FRESH_SECONDS;
if (freshSeconds !== undefined && !/^[1-9]\d{0,6}$/.test(freshSeconds)) {
  console.error(`demo: FRESH_SECONDS must be a whole number of seconds, at least 1 (got "${freshSeconds}")`);
  process.exit(1);
}
// The keys that encrypt the session data in Redis: comma-separated base64, the new key first while
// rotating. Unset: a random key per start, like the cookie keys.
let encryptionKeys: string[] | undefined;
if (process.env.SESSION_ENCRYPTION_KEYS !== undefined) {
  try {
    encryptionKeys = encryptionKeysFromEnv(process.env.SESSION_ENCRYPTION_KEYS);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

let privateRedis: RedisServer | undefined;
let redis: Redis | undefined;
let server: Server | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    redis?.disconnect();
    await privateRedis?.stop();
    if (code === 0) console.log('demo: stopped');
  }
  process.exit(code);
}

// Installed before anything starts, so that a stop during start-up also stops what started.
onShutdown(() => void stop(0));

if (process.env.REDIS_URL) {
  try {
    await checkRedis(process.env.REDIS_URL);
  } catch (error) {
    if (!(error instanceof RedisUnreachableError)) throw error;
    console.error(`demo: ${error.message}`);
    await stop(1);
  }
} else {
  if (!redisServerAvailable()) {
    console.error(INSTALL_HINT);
    await stop(1);
  }
  privateRedis = await startRedisServer();
}
const redisUrl = process.env.REDIS_URL ?? privateRedis!.url;
redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
// Errors surface on the requests that hit them (503 pages); this only keeps the client quiet.
redis.on('error', () => {});

const demo = createDemoApp({
  redis,
  ...(process.env.APP_KEYS ? { keys: process.env.APP_KEYS.split(',') } : {}),
  ...(freshSeconds ? { freshForMs: Number(freshSeconds) * 1000 } : {}),
  ...(encryptionKeys ? { encryptionKeys } : {}),
});
demo.app.on('error', (error: Error) => console.error(`demo: ${error.name}: ${error.message}`));

try {
  await demo.accounts.seed();
} catch (error) {
  console.error(`demo: cannot use Redis at ${redactRedisUrl(redisUrl)}: ${(error as Error).message}`);
  await stop(1);
}

server = demo.app.listen(port, host);
server.once('error', (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `demo: port ${port} is in use; run with another, for example PORT=3001 npm run demo`
      : `demo: cannot listen on ${host}:${port}: ${error.message}`,
  );
  server = undefined;
  void stop(1);
});
server.once('listening', () => {
  const width = Math.max(...DEMO_ACCOUNTS.map((a) => a.username.length));
  const prefix = demo.sessions.store.settings.prefix;
  console.log(
    [
      '',
      '  koa-epoch-session demo',
      '',
      `  Open      http://${host}:${port}`,
      `  Redis     ${privateRedis ? `private redis-server on port ${privateRedis.port} (stopped on exit)` : redactRedisUrl(redisUrl)}`,
      `  Prefix    ${prefix}   (the CLI needs it: --prefix ${prefix})`,
      `  Data      encrypted at rest (AES-256-GCM) with ${
        encryptionKeys
          ? `${encryptionKeys.length === 1 ? 'the key' : `${encryptionKeys.length} keys`} from SESSION_ENCRYPTION_KEYS`
          : 'a random key per start (set SESSION_ENCRYPTION_KEYS to keep one)'
      }`,
      '',
      '  Accounts',
      ...DEMO_ACCOUNTS.map(
        (a) => `    ${a.username.padEnd(width)}  ${a.password}${a.role === 'admin' ? '   (admin)' : ''}`,
      ),
      '',
      '  Try it: sign in as alice in two browsers (or a normal and a private window),',
      '  then change the password in one and reload the other.',
      `  Changing the password needs a sign-in within the last ${duration(demo.settings.freshForMs)}; set`,
      '  FRESH_SECONDS=30 to meet the "confirm your password" step sooner.',
      '',
      "  Operate it, from another terminal in this folder (alice's sessions; then rotate, revoke, stats):",
      `    REDIS_URL=${redactRedisUrl(redisUrl)} npx koa-epoch-session list alice --prefix ${prefix}`,
      '',
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
});
