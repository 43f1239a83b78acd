import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import supertest from 'supertest';
import { createSessions, SessionStoreUnavailableError } from '../../lib/index.js';
import { APP_KEYS } from '../support/app.js';
import { startRedisServer } from '../support/redis-server.js';

describe('Redis unavailable (invariant 8)', () => {
  it('fails the request with a 503-class error, serves no session, and recovers when Redis returns', async function () {
    this.timeout(30_000);
    const server = await startRedisServer();
    const redis = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      connectTimeout: 500,
      retryStrategy: () => 100,
    });
    redis.on('error', () => {}); // reconnect noise; failures reach requests as errors
    const app = new Koa();
    app.keys = APP_KEYS;
    app.silent = true;
    const sessions = createSessions(app, { redis });
    const errors: unknown[] = [];
    app.use(async (_ctx, next) => {
      try {
        await next();
      } catch (error) {
        errors.push(error);
        throw error;
      }
    });
    app.use(sessions.middleware);
    app.use(async (ctx) => {
      if (ctx.path === '/login') await sessions.login(ctx, 'zoe');
      if (ctx.path === '/set') ctx.session!.n = Number(ctx.session!.n ?? 0) + 1;
      ctx.body = { userId: sessions.userId(ctx) ?? null, n: ctx.session?.n ?? null };
    });
    const agent = supertest.agent(app.callback());
    try {
      await agent.post('/login').expect(200);
      await agent.post('/set').expect(200);

      server.signal('SIGKILL');
      await new Promise((resolve) => server.process.once('exit', resolve));
      const down = await agent.get('/whoami');
      expect(down.status).to.equal(503);
      expect(down.body).to.not.have.property('userId');
      expect(errors.at(-1)).to.be.instanceOf(SessionStoreUnavailableError);
      const write = await agent.post('/set');
      expect(write.status).to.equal(503);

      await server.restart(); // an empty Redis: the session is gone, and it fails closed
      let back = await agent.get('/whoami');
      for (let i = 0; i < 50 && back.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await agent.get('/whoami');
      }
      expect(back.status).to.equal(200);
      expect(back.body.userId).to.equal(null);
      await agent.post('/login').expect(200);
      expect((await agent.post('/set').expect(200)).body.n).to.equal(1);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
