// Redis Cluster: the session flows on a real local 3+3 cluster, same-slot scripts, and failovers under load.
import { expect } from 'chai';
import { Cluster, Redis } from 'ioredis';
import type { Context } from 'koa';
import supertest from 'supertest';
import { SessionStoreUnavailableError } from '../../lib/core/errors.js';
import { userTag } from '../../lib/core/keys.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { keySlot, type LocalCluster, startCluster } from '../support/cluster.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';
import {
  countErrors,
  HttpClient,
  issuedValue,
  type Listening,
  listen,
  RECOMMENDED_CLUSTER_OPTIONS,
  record,
  scale,
  signedCookie,
  until,
} from '../support/reliability-kit.js';
import { Load } from '../support/reliability-load.js';

/*
 * A real cluster: six redis-server processes on loopback (3 masters, 3 replicas), joined by
 * `redis-cli --cluster create`. If it cannot form here, the suite fails and says why.
 *
 * Same-slot proof: every command the Cluster client sends is recorded with its keys; every script
 * call must name keys of a single slot, and MONITOR shows that every key a script touches is one it
 * declared in KEYS. Redis 7 also refuses, inside a script, any key outside the slots of the node
 * running it.
 */

const USERS = scale(12, 32, 'KES_FAULT_USERS');
const SETTLE = scale(3, 50);

interface Call {
  name: string;
  keys: string[];
}

/** Records every command with its keys (after keyPrefix), as the Cluster client routes it. */
function spy(cluster: Cluster): Call[] {
  const calls: Call[] = [];
  const send = cluster.sendCommand.bind(cluster) as (...args: unknown[]) => unknown;
  (cluster as unknown as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (
    ...args: unknown[]
  ) => {
    const command = args[0] as { name: string; getKeys(): (string | Buffer)[] };
    calls.push({ name: command.name, keys: command.getKeys().map(String) });
    return send(...args);
  };
  return calls;
}

interface Traced {
  /** The script call (EVALSHA or EVAL) and the commands it ran, as one master's MONITOR saw them. */
  script: string[];
  inner: string[][];
}

/** Commands whose every argument after the name is a key; for the others, only the first one is. */
const MULTI_KEY = new Set(['del', 'unlink', 'exists', 'touch']);

/**
 * MONITOR on every master: each script call, followed by the commands it ran (MONITOR reports
 * those with the source "lua"). Scripts are atomic, so on one node nothing comes in between.
 */
async function traceScripts(cluster: LocalCluster, masters: number[]) {
  const traced: Traced[] = [];
  const markers = new Map<number, () => void>();
  const clients: Redis[] = [];
  const monitors = await Promise.all(
    masters.map(async (port) => {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
      client.on('error', () => {});
      clients.push(client);
      const monitor = await client.monitor();
      monitor.on('error', () => {});
      let current: Traced | undefined;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        const name = String(args[0]).toLowerCase();
        if (source === 'lua') {
          current?.inner.push(args);
        } else if (name === 'evalsha' || name === 'eval') {
          current = { script: args, inner: [] };
          traced.push(current);
        } else {
          current = undefined;
          if (name === 'echo' && args[1] === `done-${port}`) markers.get(port)?.();
        }
      });
      return monitor;
    }),
  );
  return {
    traced,
    /** Waits until every monitor has seen everything sent before this call (no fixed sleep). */
    async stop(): Promise<void> {
      await Promise.all(
        masters.map(async (port) => {
          const seen = new Promise<void>((resolve) => markers.set(port, resolve));
          await cluster.admin(port).echo(`done-${port}`);
          await seen;
        }),
      );
      for (const monitor of monitors) monitor.disconnect();
      for (const client of clients) client.disconnect();
    },
  };
}

const ids = new Map<string, string>();
const routes = {
  'POST /login-id': async (ctx: Context, t: TestApp) => {
    ctx.state.login = await t.sessions.login(ctx, ids.get(String(ctx.query.token))!);
  },
};

describe('Redis Cluster: a real local 3-master, 3-replica cluster (invariant 7)', function () {
  this.timeout(180_000);
  let cluster: LocalCluster;
  let client: Cluster;
  let calls: Call[];

  before(async function () {
    this.timeout(60_000);
    cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeout: 1_000 });
    client = new Cluster(cluster.startupNodes, RECOMMENDED_CLUSTER_OPTIONS);
    countErrors(client);
    calls = spy(client);
    await until('the Cluster client is ready', async () => client.status === 'ready', 15_000);
  });

  after(async () => {
    client?.disconnect();
    await cluster?.stop();
    await closeClients();
  });

  it('runs login, read, save, regenerate, list, revoke, logoutOthers, the session limit, rotate and logout', async () => {
    calls.length = 0;
    const allMasters = await Promise.all(
      [0, 5_500, 11_000].map(async (slot) => (await cluster.shard(slot)).master),
    );
    const monitor = await traceScripts(cluster, allMasters);
    const t = makeApp({ redis: client as never, registry: true, maxSessions: 3, rolling: true }, routes);
    const agent = () => supertest.agent(t.app.callback());
    const laptop = agent();
    await laptop.post('/set?cart=1').expect(200);
    const login = await laptop.post('/login?user=alice').expect(200);
    expect(login.body).to.deep.include({ userId: 'alice', data: { cart: '1' } });
    await laptop.post('/set?x=1').expect(200);
    expect((await laptop.get('/whoami').expect(200)).body.data).to.deep.equal({ cart: '1', x: '1' });
    const regenerated = await laptop.post('/regenerate').expect(200);
    expect(issuedValue(regenerated.headers['set-cookie'] as unknown as string[])).to.not.equal(
      issuedValue(login.headers['set-cookie'] as unknown as string[]),
    );
    expect((await laptop.get('/whoami')).body.userId).to.equal('alice');

    const phone = agent();
    const phoneLogin = await phone.post('/login?user=alice').expect(200);
    const listed = (await laptop.get('/list?user=alice').expect(200)).body.list as {
      id: string;
      current: boolean;
    }[];
    expect(listed).to.have.length(2);
    expect(listed.filter((s) => s.current)).to.have.length(1);

    expect(await t.sessions.revoke('alice', phoneLogin.body.login.sessionId)).to.equal(true);
    const revoked = await phone.get('/whoami').expect(200);
    expect(revoked.body).to.deep.include({ userId: null, revoked: 'revoked' });

    const tablet = agent();
    await tablet.post('/login?user=alice').expect(200);
    const others = await laptop.post('/logout-others').expect(200);
    expect(others.body).to.deep.include({ userId: 'alice', kept: true });
    expect((await tablet.get('/whoami')).body).to.deep.include({
      userId: null,
      revoked: 'signed-out-elsewhere',
    });
    expect((await laptop.get('/whoami')).body.userId).to.equal('alice');

    // maxSessions 3, evict-oldest: the fourth login ends the least recently active session.
    const devices = [agent(), agent(), agent()];
    for (const device of devices) await device.post('/login?user=alice').expect(200);
    expect((await laptop.get('/list?user=alice')).body.list).to.have.length(3);
    expect((await laptop.get('/whoami')).body).to.deep.include({ userId: null, revoked: 'session-limit' });

    expect(await t.sessions.rotate('alice', { reason: 'password-changed' })).to.equal(true);
    for (const device of devices) {
      expect((await device.get('/whoami')).body).to.deep.include({
        userId: null,
        revoked: 'password-changed',
      });
    }
    await laptop.post('/login?user=alice').expect(200);
    await laptop.post('/logout').expect(200);
    expect((await laptop.get('/whoami')).body.userId).to.equal(null);

    // Ids that break naive layouts land in their own slot, and every flow still works.
    const slots = new Set<number>();
    for (const [i, id] of HOSTILE_IDS.entries()) {
      ids.set(`h${i}`, id);
      const device = agent();
      const res = await device.post(`/login-id?token=h${i}`).expect(200);
      expect(res.body.userId).to.equal(id);
      await device.post('/set?y=2').expect(200);
      expect((await device.get('/whoami')).body).to.deep.include({ userId: id, data: { y: '2' } });
      expect(await t.sessions.rotate(id)).to.equal(true);
      expect((await device.get('/whoami')).body.userId).to.equal(null);
      slots.add(keySlot(`sess:{${userTag(id)}}:e`));
    }

    await monitor.stop();
    const scripts = calls.filter((c) => c.name === 'evalsha' || c.name === 'eval');
    const crossSlot = scripts.filter((c) => new Set(c.keys.map(keySlot)).size !== 1);
    // Inside the scripts: every key a command touched is one the script declared in KEYS (so a
    // server that refuses undeclared keys, such as Dragonfly by default, runs them unchanged), and
    // so in the slot of the script's first key (invariant 7).
    let innerKeys = 0;
    const strayKeys: string[] = [];
    const undeclaredKeys: string[] = [];
    for (const { script, inner } of monitor.traced) {
      if (Number(script[2]) === 0) continue;
      const slot = keySlot(String(script[3]));
      const declared = new Set(script.slice(3, 3 + Number(script[2])).map(String));
      for (const args of inner) {
        const keys = MULTI_KEY.has(String(args[0]).toLowerCase()) ? args.slice(1) : args.slice(1, 2);
        for (const key of keys) {
          innerKeys += 1;
          if (keySlot(key) !== slot) strayKeys.push(`${args[0]} ${key} (script key ${script[3]})`);
          if (!declared.has(String(key))) undeclaredKeys.push(`${args[0]} ${key} (script key ${script[3]})`);
        }
      }
    }
    const masters = new Set(
      await Promise.all([...slots].map(async (slot) => (await cluster.shard(slot)).master)),
    );
    record('cluster flows', {
      commands: calls.length,
      scriptCalls: scripts.length,
      crossSlotScriptCalls: crossSlot.length,
      scriptsTraced: monitor.traced.length,
      keysTouchedInsideScripts: innerKeys,
      strayKeys: strayKeys.length,
      undeclaredKeys: undeclaredKeys.length,
      hostileIds: HOSTILE_IDS.length,
      slotsUsed: slots.size,
      mastersUsed: masters.size,
    });
    expect(scripts.length).to.be.greaterThan(50);
    expect(crossSlot.map((c) => c.keys)).to.deep.equal([]);
    expect(monitor.traced.length, 'MONITOR saw the script calls').to.be.at.least(scripts.length);
    expect(innerKeys).to.be.greaterThan(scripts.length);
    expect(strayKeys).to.deep.equal([]);
    expect(undeclaredKeys, 'keys a script touched without declaring them').to.deep.equal([]);
    expect(masters.size, 'users spread over the masters').to.be.greaterThan(1);
  });

  it('fails over a master under load (CLUSTER FAILOVER, then kill -9): sessions and revocations survive', async () => {
    const t = makeApp({ redis: client as never, registry: true, rolling: true }, routes);
    const listening: Listening = await listen(t.app);
    const http = new HttpClient(listening.port, USERS + 4);
    const load = new Load(http, USERS, 'cluster');
    try {
      // The shard under test: the one serving the first user, and its replica.
      const slot = keySlot(`sess:{${userTag(load.vus[0]!.userId)}}:e`);
      const before = await cluster.shard(slot);
      expect(before.replicas, 'the shard has a replica').to.have.length(1);
      const onShard = await Promise.all(
        load.vus.map(async (vu) => (await cluster.shard(keySlot(`sess:{${userTag(vu.userId)}}:e`))).master),
      );

      // Witnesses on that shard: one live session, one revoked; the revocation reached the replica.
      const live = await http.send('POST', '/login?user=witness-live');
      const revokedAgent = await http.send('POST', '/login?user=witness-revoked');
      const liveCookie = signedCookie(issuedValue(live.setCookie)!);
      const revokedCookie = signedCookie(issuedValue(revokedAgent.setCookie)!);
      expect(await t.sessions.rotate('witness-revoked')).to.equal(true);
      for (const id of ['witness-live', 'witness-revoked']) {
        const shard = await cluster.shard(keySlot(`sess:{${userTag(id)}}:e`));
        const replica = cluster.admin(shard.replicas[0]!);
        await replica.readonly();
        const expected = id === 'witness-live' ? 1 : 0;
        await until(
          `the replica has ${id}'s epoch key state`,
          async () => (await replica.exists(`sess:{${userTag(id)}}:e`)) === expected,
        );
      }

      load.start();
      const explain = () => load.figures();
      await until(
        'every user acknowledged writes',
        async () => load.vus.every((vu) => vu.acked >= 3),
        15_000,
        explain,
      );

      // 1. A graceful failover: the replica takes over after catching up; nothing may be lost.
      const down1 = load.now();
      await cluster.admin(before.replicas[0]!).cluster('FAILOVER');
      await until(
        'the replica became master',
        async () => (await cluster.role(before.replicas[0]!)) === 'master',
      );
      await cluster.converged();
      const back1 = load.now();
      await until('every user recovered', async () => load.everyoneOkSince(back1, SETTLE), 20_000, explain);
      const graceful = { ...load.figures(), recovery: load.recovery(back1), switchMs: back1 - down1 };

      // 2. Kill -9 the new master: the old one, now its replica, is elected after the node timeout.
      const down2 = load.now();
      await cluster.kill(before.replicas[0]!);
      await until(
        'the old master was promoted again',
        async () => (await cluster.role(before.master)) === 'master',
        20_000,
      );
      const back2 = load.now();
      await until('every user recovered', async () => load.everyoneOkSince(back2, SETTLE), 20_000, explain);
      const killed = load.figures();
      await load.stop();
      for (const vu of load.vus) await load.step(vu, 'read');

      // The killed node comes back as a replica; the cluster heals.
      await cluster.restart(before.replicas[0]!);
      await cluster.converged();

      const lastLive = await http.send('GET', '/whoami', liveCookie);
      const lastRevoked = await http.send('GET', '/whoami', revokedCookie);
      const recovery2 = load.recovery(back2);
      record('cluster failover, CLUSTER FAILOVER', {
        users: USERS,
        usersOnShard: onShard.filter((m) => m === before.master).length,
        switchMs: graceful.switchMs,
        requests: graceful.requests,
        status503: graceful.unavailable,
        lostWrites: graceful.lostWrites,
        lostSessions: graceful.lostSessions,
        recoveryAllMs: graceful.recovery.all,
      });
      record('cluster failover, kill -9 master', {
        electionMs: back2 - down2,
        requests: killed.requests - graceful.requests,
        status503: killed.unavailable - graceful.unavailable,
        lostWrites: killed.lostWrites - graceful.lostWrites,
        lostSessions: killed.lostSessions - graceful.lostSessions,
        recoveryFirstMs: recovery2.first,
        recoveryAllMs: recovery2.all,
        other5xx: killed.unexpected,
        foreign: killed.foreign,
      });
      expect(load.problems(['unexpected', 'client-error', 'foreign'])).to.deep.equal([]);
      expect(graceful.lostWrites + graceful.lostSessions, 'a graceful failover loses nothing').to.equal(0);
      expect(lastLive.body.userId, 'a session made before both failovers survives').to.equal('witness-live');
      expect(lastRevoked.body.userId, 'a revocation made before both failovers holds').to.equal(null);
      expect(recovery2.all).to.be.lessThan(15_000);
    } finally {
      await load.stop();
      http.close();
      await listening.close();
    }
  });

  it('with waitForReplicas, a rotate its lagging replica never acknowledged is refused, and the retry holds after the failover', async () => {
    // Replication is asynchronous: without waitForReplicas, rotate returns once the master has
    // applied it, and a master that dies before replicating it is replaced by a replica that never
    // saw it (we watched the revoked session come back). With it, rotate is acknowledged only once a
    // replica has it. Stop the replica, fill the replication link (its socket buffer, then the
    // master's), rotate, kill the master, resume the replica so that it is elected.
    // A healthy replica acknowledges in milliseconds; a second keeps a busy 2-core machine from failing it.
    const wanted = { replicas: 1, timeout: 1_000 };
    // WAIT blocks up to its timeout: this app's client allows it more than the suite's 500 ms.
    const waiting = new Cluster(cluster.startupNodes, {
      ...RECOMMENDED_CLUSTER_OPTIONS,
      redisOptions: { ...RECOMMENDED_CLUSTER_OPTIONS.redisOptions, commandTimeout: 3_000 },
    });
    const t = makeApp({ redis: waiting as never, waitForReplicas: wanted }, routes);
    const agent = supertest.agent(t.app.callback());
    await agent.post('/login?user=lagging-victim').expect(200);
    const tag = userTag('lagging-victim');
    const shard = await cluster.shard(keySlot(`sess:{${tag}}:e`));
    const replica = cluster.nodes.find((n) => n.port === shard.replicas[0])!;
    expect(await t.sessions.rotate('lagging-witness'), 'a healthy shard acknowledges at once').to.equal(
      false,
    );
    replica.process.kill('SIGSTOP');
    let resumed = false;
    try {
      const filler = 'x'.repeat(100_000);
      for (let i = 0; i < 300; i++) await client.set(`{${tag}}:filler:${i}`, filler);
      const refused = await t.sessions.rotate('lagging-victim').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused, 'rotate is not acknowledged without a replica').to.be.instanceOf(
        SessionStoreUnavailableError,
      );
      expect((refused as Error).message).to.match(/0 of 1 replica\(s\) acknowledged it within 1000 ms/);
      await cluster.kill(shard.master);
      replica.process.kill('SIGCONT');
      resumed = true;
      await until(
        'the lagging replica was promoted',
        async () => (await cluster.role(replica.port)) === 'master',
        20_000,
      );
      // The killed master comes back as the new master's replica, so WAIT can be satisfied again.
      await cluster.restart(shard.master);
      await cluster.converged();
      const served = await agent.get('/whoami').expect(200);
      // The caller does what the error says: it retries, and this time the rotate is acknowledged.
      await until(
        'the retried rotate is acknowledged',
        async () =>
          t.sessions.rotate('lagging-victim').then(
            () => true,
            () => false,
          ),
        20_000,
      );
      const after = await agent.get('/whoami').expect(200);
      record('cluster failover, rotate with waitForReplicas then master killed while its replica lags', {
        firstRotate: 'refused (503)',
        servedBeforeRetry: served.body.userId ?? null,
        servedAfterRetry: after.body.userId ?? null,
      });
      expect(after.body.userId, 'the revoked session is served after the acknowledged retry').to.equal(null);
    } finally {
      if (!resumed) replica.process.kill('SIGCONT');
      waiting.disconnect();
    }
  });
});
