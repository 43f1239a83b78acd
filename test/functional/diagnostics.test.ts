// Issue 15 item 4: the diagnostics_channel channels, seen through real requests to a Koa app (docs/api.md#diagnostics-channels).
import dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { createClient } from 'redis';
import supertest from 'supertest';
import { CHANNELS, createSessions, SessionStoreUnavailableError } from '../../lib/index.js';
import { APP_KEYS, closeClients, cookieValue, makeApp } from '../support/app.js';
import { TEST_CLIENT } from '../support/clients.js';
import { anySubscribers, recordChannels, TRACED } from '../support/diagnostics.js';
import { startRedisServer } from '../support/redis-server.js';

type Recorder = ReturnType<typeof recordChannels>;

describe('diagnostics channels (issue 15): Koa', function () {
  this.timeout(20_000);
  let rec: Recorder | undefined;
  afterEach(async () => {
    rec?.stop();
    rec = undefined;
    await closeClients();
    expect(anySubscribers(), 'a test left a subscriber behind').to.equal(false);
  });

  it('read: one traced operation per signed-in read, start → end → asyncStart → asyncEnd on one message, result true', async () => {
    const t = makeApp();
    const agent = t.agent();
    const { sessionId } = (await agent.post('/login?user=alice').expect(200)).body.login;
    rec = recordChannels();
    for (let i = 0; i < 3; i++)
      expect((await agent.get('/whoami').expect(200)).body.userId).to.equal('alice');
    expect(rec.of('read')).to.deep.equal([
      { signedIn: true, sessionId },
      { signedIn: true, sessionId },
      { signedIn: true, sessionId },
    ]);
    const first = rec.seen.filter((p) => p.channel === 'read').slice(0, 4);
    expect(first.map((p) => p.phase)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(new Set(first.map((p) => p.message)).size, 'one message object per operation').to.equal(1);
    expect(first[3]!.fields).to.deep.equal({ signedIn: true, sessionId, result: true });
    expect(rec.of('write'), 'a read that changes nothing writes nothing').to.deep.equal([]);
    expect(rec.of('read', 'error')).to.deep.equal([]);
  });

  it('write, login and revoke: an anonymous session created and updated, a login that ends it, a signed-in save and a regenerate', async () => {
    const t = makeApp();
    const agent = t.agent();
    rec = recordChannels();
    await agent.post('/set?cart=1').expect(200);
    const anonymous = rec.of('write')[0]!.sessionId as string;
    expect(rec.of('write')).to.deep.equal([{ signedIn: false, sessionId: anonymous, mode: 'create' }]);
    await agent.post('/set?cart=2').expect(200);
    expect(rec.of('read').at(-1)).to.deep.equal({ signedIn: false, sessionId: anonymous });
    expect(rec.of('write').at(-1)).to.deep.equal({ signedIn: false, sessionId: anonymous, mode: 'update' });
    expect(rec.of('write', 'asyncEnd').at(-1)!.result).to.equal(true);

    rec.clear();
    const { sessionId } = (await agent.post('/login?user=alice').expect(200)).body.login;
    expect(rec.of('login')).to.deep.equal([{ userId: 'alice', sessionId, adopted: false }]);
    expect(rec.of('login', 'asyncEnd')[0]!.result).to.equal('created');
    expect(rec.of('revoke'), 'the anonymous session ends at login').to.deep.equal([
      { signedIn: false, sessionId: anonymous, reason: undefined },
    ]);

    rec.clear();
    await agent.post('/set?theme=dark').expect(200);
    expect(rec.of('write')).to.deep.equal([{ signedIn: true, sessionId, mode: 'update' }]);
    rec.clear();
    await agent.post('/regenerate').expect(200);
    const [rekey] = rec.of('write');
    expect(rekey).to.include({ signedIn: true, mode: 'rekey', previousSessionId: sessionId });
    expect(rekey!.sessionId).to.be.a('string').and.not.equal(sessionId);
    expect(rec.of('write', 'asyncEnd')[0]!.result).to.equal(true);
  });

  it('rotate (all and others), revoke by id, logout, and rejected with the reason when a revoked cookie comes back', async () => {
    const t = makeApp({ registry: true });
    const laptop = t.agent();
    const phone = t.agent();
    const tablet = t.agent();
    await laptop.post('/login?user=alice').expect(200);
    const phoneId = (await phone.post('/login?user=alice').expect(200)).body.login.sessionId;
    const tabletId = (await tablet.post('/login?user=alice').expect(200)).body.login.sessionId;
    rec = recordChannels();

    expect(await t.sessions.revoke('alice', phoneId, { reason: 'lost-phone' })).to.equal(true);
    expect(rec.of('revoke')).to.deep.equal([{ signedIn: true, sessionId: phoneId, reason: 'lost-phone' }]);
    expect(rec.of('revoke', 'asyncEnd')[0]!.result).to.equal(true);
    await phone.get('/whoami').expect(200);
    const [rejected] = rec.of('rejected');
    expect(rejected).to.have.keys('sessionId', 'reason', 'at');
    expect(rejected).to.include({ sessionId: phoneId, reason: 'lost-phone' });
    expect(rejected!.at).to.be.instanceOf(Date);
    expect(rec.of('read', 'asyncEnd').at(-1)).to.deep.equal({
      signedIn: true,
      sessionId: phoneId,
      result: false,
    });

    rec.clear();
    expect((await laptop.post('/logout-others').expect(200)).body.kept).to.equal(true);
    expect(rec.of('rotate')).to.deep.equal([
      { userId: 'alice', scope: 'others', reason: 'signed-out-elsewhere' },
    ]);
    expect(rec.of('rotate', 'asyncEnd')[0]!.result).to.equal(true);
    await tablet.get('/whoami').expect(200);
    expect(rec.of('rejected')).to.deep.equal([
      { sessionId: tabletId, reason: 'signed-out-elsewhere', at: rec.of('rejected')[0]!.at },
    ]);

    rec.clear();
    expect(await t.sessions.rotate('alice', { reason: 'password-changed' })).to.equal(true);
    expect(rec.of('rotate')).to.deep.equal([{ userId: 'alice', scope: 'all', reason: 'password-changed' }]);
    expect(rec.of('rotate', 'asyncEnd')[0]!.result).to.equal(true);
    expect(await t.sessions.rotate('nobody')).to.equal(false);
    expect(rec.of('rotate', 'asyncEnd')[1]).to.include({ userId: 'nobody', result: false });

    rec.clear();
    const bob = t.agent();
    const bobId = (await bob.post('/login?user=bob').expect(200)).body.login.sessionId;
    await bob.post('/logout').expect(200);
    expect(rec.of('revoke')).to.deep.equal([{ signedIn: true, sessionId: bobId, reason: undefined }]);
  });

  it('no message holds a cookie value, sid, epoch, user tag or session data; user ids only on login and rotate', async () => {
    const t = makeApp({ registry: true });
    const agent = t.agent();
    const secret = 'diagnostics-secret-7f3a';
    rec = recordChannels();
    await agent.post(`/set?note=${secret}`).expect(200);
    const anonymousCookie = cookieValue(await agent.post(`/set?more=${secret}`).expect(200));
    const login = await agent.post('/login?user=carol-diag').expect(200);
    const cookie = cookieValue(login)!;
    await agent.post(`/set?secret=${secret}`).expect(200);
    await agent.get('/whoami').expect(200);
    await agent.post('/regenerate').expect(200);
    const regenerated = cookieValue(await agent.post('/logout-others').expect(200))!;
    await t.sessions.rotate('carol-diag');
    await agent.get('/whoami').expect(200);
    const [tag, epoch, sid] = cookie.split('.');
    const secrets = { 'session data': secret, 'user tag': tag!, epoch: epoch!, sid: sid!, cookie };
    Object.assign(secrets, {
      'anonymous cookie': anonymousCookie ?? '',
      'later epoch': regenerated.split('.')[1]!,
    });
    const channels = new Set(rec.seen.map((p) => p.channel));
    expect([...channels].sort()).to.deep.equal(['login', 'read', 'rejected', 'revoke', 'rotate', 'write']);
    for (const { channel, phase, fields } of rec.seen) {
      const text = inspect(fields, { depth: Number.POSITIVE_INFINITY, showHidden: true });
      for (const [what, value] of Object.entries(secrets)) {
        expect(value, what).to.not.equal('');
        expect(text, `${channel} ${phase} carries the ${what}`).to.not.include(value);
      }
      const hasUser = text.includes('carol-diag');
      expect(hasUser, `${channel} ${phase}: user id`).to.equal(channel === 'login' || channel === 'rotate');
    }
  });

  it('redis-error: a plain channel with the SessionError, and the read ends with error, when Redis is down', async function () {
    this.timeout(30_000);
    const server = await startRedisServer();
    const client = TEST_CLIENT === 'node-redis' ? await nodeRedis(server.url) : await ioredis(server.url);
    try {
      const app = new Koa();
      app.keys = APP_KEYS;
      app.silent = true;
      const sessions = createSessions(app, { redis: client.redis });
      app.use(sessions.middleware);
      app.use(async (ctx) => {
        if (ctx.path === '/login') await sessions.login(ctx, 'dora');
        ctx.body = { userId: sessions.userId(ctx) ?? null };
      });
      const agent = supertest.agent(app.callback());
      await agent.post('/login').expect(200);
      rec = recordChannels();
      server.signal('SIGKILL');
      await new Promise((resolve) => server.process.once('exit', resolve));
      expect((await agent.get('/whoami')).status).to.equal(503);
      const errors = rec.of('redisError');
      expect(errors).to.have.length(1);
      expect(errors[0]).to.have.keys('error');
      expect(errors[0]!.error).to.be.instanceOf(SessionStoreUnavailableError);
      const failed = rec.seen.filter((p) => p.channel === 'read').map((p) => p.phase);
      expect(failed).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
      expect(rec.of('read', 'error')[0]!.error).to.equal(errors[0]!.error);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('unobserved: no tracePromise, no publish, no message for any channel, through every kind of operation', async () => {
    expect(anySubscribers(), 'nothing listens yet').to.equal(false);
    const tracingProto = Object.getPrototypeOf(dc.tracingChannel(CHANNELS.read)) as {
      tracePromise: (...args: unknown[]) => unknown;
    };
    const channelProto = dc.Channel.prototype as unknown as { publish: (message: unknown) => void };
    const { tracePromise } = tracingProto;
    const { publish } = channelProto;
    const calls: string[] = [];
    tracingProto.tracePromise = function (this: { start: { name: string } }, ...args: unknown[]) {
      if (this.start.name.startsWith('tracing:koa-epoch-session:')) calls.push(this.start.name);
      return tracePromise.apply(this, args);
    };
    channelProto.publish = function (this: { name: string }, message: unknown) {
      if (String(this.name).startsWith('koa-epoch-session:')) calls.push(this.name);
      return publish.call(this, message);
    };
    try {
      const t = makeApp({ registry: true });
      const agent = t.agent();
      const other = t.agent();
      await agent.post('/set?cart=1').expect(200);
      await agent.post('/set?cart=2').expect(200);
      await agent.post('/login?user=erin').expect(200);
      const otherId = (await other.post('/login?user=erin').expect(200)).body.login.sessionId;
      await agent.get('/whoami').expect(200);
      await agent.post('/set?theme=dark').expect(200);
      await agent.post('/regenerate').expect(200);
      await t.sessions.revoke('erin', otherId);
      await other.get('/whoami').expect(200); // rejected
      await agent.post('/logout-others').expect(200);
      await t.sessions.rotate('erin');
      await agent.get('/whoami').expect(200); // rejected
      await agent.post('/logout').expect(200);
      expect(calls, 'published with nobody listening').to.deep.equal([]);

      // The spies do see the package's channels once someone listens.
      rec = recordChannels();
      await agent.post('/login?user=erin').expect(200);
      await agent.get('/whoami').expect(200);
      expect(new Set(calls)).to.include.members([
        'tracing:koa-epoch-session:login:start',
        'tracing:koa-epoch-session:read:start',
      ]);
    } finally {
      tracingProto.tracePromise = tracePromise;
      channelProto.publish = publish;
    }
  });

  it('a subscriber that throws does not break the request: Node reports its error as uncaught, the request completes', async () => {
    const t = makeApp();
    const agent = t.agent();
    await agent.post('/login?user=frank').expect(200);
    const boom = (message: unknown) => {
      throw new Error(`subscriber failed on ${Object.keys(message as object).join(',')}`);
    };
    const handlers = { start: boom, end: boom, asyncStart: boom, asyncEnd: boom, error: boom };
    const read = dc.tracingChannel(CHANNELS.read);
    const mocha = process.listeners('uncaughtException');
    const uncaught: Error[] = [];
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (error) => uncaught.push(error));
    read.subscribe(handlers);
    dc.subscribe(CHANNELS.rejected, boom);
    try {
      expect((await agent.get('/whoami').expect(200)).body.userId).to.equal('frank');
      await t.sessions.rotate('frank');
      expect((await agent.get('/whoami').expect(200)).body).to.deep.include({
        userId: null,
        revoked: 'signed-out-everywhere',
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught.map((e) => e.message)).to.include.members([
        'subscriber failed on signedIn,sessionId',
        'subscriber failed on signedIn,sessionId,result',
        'subscriber failed on sessionId,reason,at',
      ]);
      expect(uncaught).to.have.length(9, 'four read phases per request, and one rejected');
    } finally {
      read.unsubscribe(handlers);
      dc.unsubscribe(CHANNELS.rejected, boom);
      process.removeAllListeners('uncaughtException');
      for (const listener of mocha) process.on('uncaughtException', listener);
    }
  });

  it('the channel names are the documented ones', () => {
    expect(CHANNELS).to.deep.equal({
      read: 'koa-epoch-session:read',
      write: 'koa-epoch-session:write',
      login: 'koa-epoch-session:login',
      rotate: 'koa-epoch-session:rotate',
      revoke: 'koa-epoch-session:revoke',
      rejected: 'koa-epoch-session:rejected',
      redisError: 'koa-epoch-session:redis-error',
    });
    expect(Object.isFrozen(CHANNELS)).to.equal(true);
    expect(TRACED).to.have.length(5);
  });
});

/** A client of a private server that fails fast once it is gone (no offline queue), for either library. */
async function ioredis(url: string) {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 100,
  });
  redis.on('error', () => {});
  if (redis.status !== 'ready') await once(redis, 'ready');
  return { redis, close: async () => redis.disconnect() };
}

async function nodeRedis(url: string) {
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 100 } });
  client.on('error', () => {});
  await client.connect();
  return {
    redis: client as unknown as Redis,
    close: async () => {
      client.destroy();
    },
  };
}
