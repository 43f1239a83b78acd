// `npm run demo:express`: the Express example on http://127.0.0.1:3001, on REDIS_URL or a private redis-server.
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { checkRedis, RedisUnreachableError } from '../../test/support/redis-check.js';
import {
  INSTALL_HINT,
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from '../../test/support/redis-server.js';
import { onShutdown } from '../../test/support/shutdown.js';
import { createExampleApp } from './app.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3001);
let privateRedis: RedisServer | undefined;
let redis: Redis | undefined;
let server: Server | undefined;

async function stop(code: number): Promise<never> {
  server?.closeAllConnections();
  server?.close();
  redis?.disconnect();
  await privateRedis?.stop();
  process.exit(code);
}
onShutdown(() => void stop(0));

if (process.env.REDIS_URL) {
  try {
    await checkRedis(process.env.REDIS_URL);
  } catch (error) {
    if (!(error instanceof RedisUnreachableError)) throw error;
    console.error(`demo:express: ${error.message}`);
    await stop(1);
  }
} else {
  if (!redisServerAvailable()) {
    console.error(INSTALL_HINT);
    await stop(1);
  }
  privateRedis = await startRedisServer();
}
redis = new Redis(process.env.REDIS_URL ?? privateRedis!.url, { maxRetriesPerRequest: 1 });
redis.on('error', () => {}); // failures reach the requests that hit them, as 503s

const { app } = await createExampleApp({
  redis,
  secret: process.env.SESSION_SECRET ?? 'change me: a long random secret',
});
server = app.listen(port, host, () => {
  const base = `http://${host}:${port}`;
  console.log(
    [
      `Express example on ${base} (alice / correct horse). Two devices, a password change, and the other device is out:`,
      `  curl -c laptop -d 'user=alice&password=correct+horse' ${base}/login`,
      `  curl -c phone  -d 'user=alice&password=correct+horse' ${base}/login`,
      `  curl -b laptop -c laptop -d 'current=correct+horse&password=battery+staple' ${base}/password`,
      `  curl -b phone ${base}/     # {"userId":null,"revoked":"password-changed",…}`,
      `  curl -b laptop ${base}/    # still alice`,
    ].join('\n'),
  );
});
server.once('error', (error) => {
  console.error(`demo:express: cannot listen on ${host}:${port}: ${error.message}`);
  void stop(1);
});
