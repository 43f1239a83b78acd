// node-redis against real servers: WAIT on the script's connection (standalone with a replica, and a 3+3 Cluster), NOSCRIPT, a moved slot, an outage, and what errors carry.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createClient, createCluster, RESP_TYPES } from 'redis';
import { SessionReplicationError, SessionStoreUnavailableError } from '../../lib/core/errors.js';
import { userTag } from '../../lib/core/keys.js';
import { makeApp, type TestApp } from '../support/app.js';
import { keySlot, type LocalCluster, startCluster } from '../support/cluster.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { until } from '../support/reliability-kit.js';
import { captured, signedInAs } from '../support/replay.js';

// docs/operations.md: choosing a client (the samples are quoted from here, and run below)
async function sessionNodeRedis(url: string) {
  const client = createClient({
    url,
    // While disconnected, fail at once (a 503) rather than queue requests behind an outage.
    disableOfflineQueue: true,
    socket: { connectTimeout: 1_000, reconnectStrategy: (retries) => Math.min(25 * 2 ** retries, 250) },
  });
  // An 'error' event without a listener would crash the process; failures reach the requests anyway.
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function sessionNodeRedisCluster(nodes: { host: string; port: number }[]) {
  const cluster = createCluster({
    rootNodes: nodes.map((node) => ({ url: `redis://${node.host}:${node.port}` })),
    defaults: { disableOfflineQueue: true, socket: { connectTimeout: 1_000 } },
  });
  cluster.on('error', () => {});
  // A cluster client must know the slots before its first command.
  await cluster.connect();
  return cluster;
}

interface Seen {
  name: string;
  source: string;
}

/** MONITOR on one node: every command with the address of the connection that sent it. */
async function monitor(port: number) {
  const seen: Seen[] = [];
  // RESP2: ioredis's MONITOR can mistake the RESP3 handshake's reply for a monitored command.
  // lazyConnect: `monitor()` opens its own connection; a base that connected too would send its
  // ready-check INFO just as MONITOR starts, and ioredis fails on a monitored line that arrives
  // in the same read as MONITOR's +OK ("Command queue state error").
  const base = new Redis({ port, protocol: 2, lazyConnect: true });
  const connection = await base.monitor();
  connection.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ name: args[0]!.toUpperCase(), source });
  });
  return {
    async stop(): Promise<Seen[]> {
      await new Promise((r) => setTimeout(r, 50));
      connection.disconnect();
      base.disconnect();
      return seen.filter((s) => s.source !== 'lua');
    },
  };
}

/** The script call (EVAL or EVALSHA) of a revocation, and the WAIT that followed it, from one connection. */
function expectWaitAfterScript(seen: Seen[]): void {
  const wait = seen.findIndex((s) => s.name === 'WAIT');
  expect(wait, `a WAIT among ${JSON.stringify(seen)}`).to.be.greaterThan(0);
  const { source } = seen[wait]!;
  const before = seen.slice(0, wait).filter((s) => s.source === source);
  expect(before.at(-1)?.name, 'what the WAIT connection sent just before it').to.match(/^EVAL(SHA)?$/);
}

async function signIn(t: TestApp, user: string): Promise<string> {
  const cookie = captured(await t.agent().post(`/login?user=${user}`).expect(200));
  expect(cookie).to.be.a('string');
  return cookie!;
}

describe('node-redis on real servers (issue 14)', function () {
  this.timeout(60_000);

  describe('standalone, with a replica', () => {
    let master: RedisServer;
    let replica: RedisServer;
    before(async () => {
      master = await startRedisServer();
      replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
      const admin = new Redis(replica.url);
      await until(
        'the replica is linked',
        async () => /master_link_status:up/.test(await admin.info('replication')),
        10_000,
      );
      admin.disconnect();
    });
    after(async () => {
      await replica?.stop();
      await master?.stop();
    });

    it('a revocation sends WAIT on the connection that ran its script; a stopped replica makes it SessionReplicationError', async () => {
      // RESP3 with a type mapping that would turn values into Buffers and counts into strings.
      const client = createClient({ url: master.url, RESP: 3 }).withTypeMapping({
        [RESP_TYPES.BLOB_STRING]: Buffer,
        [RESP_TYPES.NUMBER]: String,
      });
      client.on('error', () => {});
      await client.connect();
      try {
        const t = makeApp({
          redis: client,
          registry: true,
          waitForReplicas: { replicas: 1, timeout: 1_000 },
        });
        const laptop = await signIn(t, 'ada');
        const phone = await signIn(t, 'ada');
        expect(await t.sessions.list('ada')).to.have.length(2);

        const watch = await monitor(master.port);
        expect(await t.sessions.rotate('ada'), 'acknowledged by the replica').to.equal(true);
        expectWaitAfterScript(await watch.stop());
        expect(await signedInAs(t, laptop)).to.equal(null);
        expect(await signedInAs(t, phone)).to.equal(null);

        const again = await signIn(t, 'ada');
        replica.signal('SIGSTOP');
        try {
          const lag = await t.sessions.rotate('ada').catch((e: unknown) => e);
          expect(lag).to.be.instanceOf(SessionReplicationError);
          expect((lag as SessionReplicationError).applied).to.equal(true);
          expect(await signedInAs(t, again), 'applied on the master all the same').to.equal(null);
        } finally {
          replica.signal('SIGCONT');
        }
      } finally {
        await client.close();
      }
    });

    it('a server that lost its scripts (SCRIPT FLUSH, restart) gets them again by EVAL, transparently', async () => {
      const client = createClient({ url: master.url });
      client.on('error', () => {});
      await client.connect();
      try {
        const t = makeApp({ redis: client, registry: true });
        const cookie = await signIn(t, 'bo');
        await client.sendCommand(['SCRIPT', 'FLUSH']);
        const watch = await monitor(master.port);
        // From another device, so the write files it in the registry: a script, not a plain SET.
        await t
          .agent()
          .post('/set?x=1')
          .set('Cookie', cookie)
          .set('User-Agent', 'another device')
          .expect(200);
        const seen = (await watch.stop()).map((s) => s.name).filter((n) => n.startsWith('EVAL'));
        expect(seen).to.deep.equal(['EVALSHA', 'EVAL']);
        expect((await t.agent().get('/whoami').set('Cookie', cookie).expect(200)).body.data).to.deep.include({
          x: '1',
        });
      } finally {
        await client.close();
      }
    });
  });

  it('Redis down: 503 (SessionStoreUnavailableError), no session served, nothing in errors or events names the user; recovers when Redis returns', async () => {
    const server = await startRedisServer();
    const client = await sessionNodeRedis(server.url);
    const thrown: unknown[] = [];
    const user = 'zoë-secret-user';
    try {
      const t = makeApp({ redis: client, registry: true }, {});
      t.sessions.events.on('redis-error', (error: unknown) => thrown.push(error));
      const cookie = await signIn(t, encodeURIComponent(user));

      server.signal('SIGKILL');
      await new Promise((resolve) => server.process.once('exit', resolve));
      const down = await t.agent().get('/whoami').set('Cookie', cookie);
      expect(down.status).to.equal(503);
      expect(down.body).to.include({ error: 'SessionStoreUnavailableError' });
      expect(down.body).to.not.have.property('userId');
      expect((await t.agent().post('/login?user=x')).status).to.equal(503);
      const revoke = await t.sessions.rotate(user).catch((e: unknown) => e);
      expect(revoke).to.be.instanceOf(SessionStoreUnavailableError);
      thrown.push(revoke);
      expect(thrown.length).to.be.greaterThan(1);
      const tag = userTag(user);
      for (const error of thrown) {
        for (
          let e = error as { message?: string; stack?: string; cause?: unknown } | undefined;
          e;
          e = e.cause as never
        ) {
          const text = `${e.message} ${e.stack} ${JSON.stringify(e)}`;
          expect(text).to.not.include(tag);
          expect(text).to.not.include('secret-user');
        }
      }

      await server.restart(); // empty: the session is gone, and it fails closed
      // A request with a cookie reads Redis (one without reads nothing), so it tells when Redis is back.
      let back = await t.agent().get('/whoami').set('Cookie', cookie);
      await until(
        'requests succeed again',
        async () => {
          back = await t.agent().get('/whoami').set('Cookie', cookie);
          return back.status === 200;
        },
        10_000,
      );
      expect(back.body.userId).to.equal(null);
      await signIn(t, 'back');
    } finally {
      if (client.isOpen) await client.close().catch(() => client.destroy());
      await server.stop();
    }
  });

  describe('Cluster (3 masters, 3 replicas)', () => {
    let cluster: LocalCluster;
    let client: Awaited<ReturnType<typeof sessionNodeRedisCluster>>;
    before(async () => {
      cluster = await startCluster({ masters: 3, replicas: 1 });
      client = await sessionNodeRedisCluster(cluster.startupNodes);
    });
    after(async () => {
      await client?.close().catch(() => {});
      await cluster?.stop();
    });

    it("WAIT reaches the master of the user's slot on the script's connection; a moved slot is followed; a stopped replica is lag", async () => {
      const t = makeApp({
        redis: client as never,
        registry: true,
        waitForReplicas: { replicas: 1, timeout: 1_000 },
      });
      const cookie = await signIn(t, 'cy');
      const slot = keySlot(`sess:{${userTag('cy')}}:e`);
      const shard = await cluster.shard(slot);
      const watch = await monitor(shard.master);
      expect(await t.sessions.rotate('cy')).to.equal(true);
      expectWaitAfterScript(await watch.stop());
      expect(await signedInAs(t, cookie)).to.equal(null);

      // Move the (empty) slot of another user to another master behind the client's back.
      const user = 'dee';
      const moving = keySlot(`sess:{${userTag(user)}}:e`);
      const from = (await cluster.shard(moving)).master;
      const masters = [
        ...new Set(
          await Promise.all(
            cluster.nodes.map(async (n) => ((await cluster.role(n.port)) === 'master' ? n.port : 0)),
          ),
        ),
      ];
      const to = masters.find((port) => port !== 0 && port !== from)!;
      const toId = String(await cluster.admin(to).cluster('MYID'));
      for (const port of masters.filter((p) => p !== 0))
        await cluster.admin(port).cluster('SETSLOT', moving, 'NODE', toId);
      await until(
        'every master agrees on the move',
        async () => (await cluster.shard(moving)).master === to,
        10_000,
      );
      const target = await monitor(to);
      expect(await t.sessions.rotate(user), 'rotate after the move').to.equal(false);
      expectWaitAfterScript(await target.stop());
      const moved = await signIn(t, user);
      expect(await signedInAs(t, moved)).to.equal(user);

      const lagging = cluster.nodes.find((n) => n.port === shard.replicas[0])!;
      const again = await signIn(t, 'cy');
      lagging.process.kill('SIGSTOP');
      try {
        const lag = await t.sessions.rotate('cy').catch((e: unknown) => e);
        expect(lag).to.be.instanceOf(SessionReplicationError);
        expect(await signedInAs(t, again)).to.equal(null);
      } finally {
        lagging.process.kill('SIGCONT');
      }
    });
  });
});
