// The node-redis driver without a server: client detection, reply normalisation, argument encoding, the WAIT pipeline and error mapping.
import { expect } from 'chai';
import { Cluster as IoCluster, Redis as IoRedis } from 'ioredis';
import Koa from 'koa';
import {
  BlobError,
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  createClientPool,
  createCluster,
  createSentinel,
  ErrorReply,
  MultiErrorReply,
  RESP_TYPES,
  SimpleError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
} from 'redis';
import {
  SessionError,
  SessionReplicationError,
  SessionStoreUnavailableError,
} from '../../lib/core/errors.js';
import { keySlot, nodeRedisDriver, nodeRedisKind, normalise } from '../../lib/core/node-redis-driver.js';
import { asSessionError } from '../../lib/core/redis-call.js';
import { SCRIPTS } from '../../lib/core/scripts.js';
import { createSessions, EpochStore } from '../../lib/index.js';
import { keySlot as referenceSlot } from '../support/cluster.js';

/** A stand-in for one node-redis connection: records what is sent and answers from a script. */
function fakeConnection(answer: (args: string[]) => unknown) {
  const sent: { args: string[]; options: unknown }[] = [];
  const pipelines: { commands: string[][]; options: unknown }[] = [];
  const reply = async (args: string[]) => {
    const value = answer(args);
    if (value instanceof Error) throw value;
    return value;
  };
  const connection = {
    _commandOptions: undefined as { timeout?: number } | undefined,
    sendCommand(args: string[], options?: unknown) {
      sent.push({ args, options });
      return reply(args);
    },
    withCommandOptions(options: unknown) {
      return {
        multi() {
          const commands: string[][] = [];
          const pipeline = {
            addCommand(args: string[]) {
              commands.push(args);
              return pipeline;
            },
            execAsPipeline: () => {
              pipelines.push({ commands, options });
              return Promise.all(commands.map(reply));
            },
          };
          return pipeline;
        },
      };
    },
    withTypeMapping: () => connection,
    multi: () => {
      throw new Error('the driver must not use the client-wide multi()');
    },
  };
  return { connection, sent, pipelines };
}

const ROTATE_KEYS = ['sess:{dGFn}:e', 'sess:{dGFn}:r', 'sess:{dGFn}:l'];

describe('node-redis driver (unit)', () => {
  describe('telling clients apart by their API', () => {
    it('recognises createClient and createCluster, also behind withTypeMapping, and not ioredis', () => {
      const client = createClient({ url: 'redis://127.0.0.1:1' });
      const cluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] });
      const io = new IoRedis({ lazyConnect: true });
      const ioCluster = new IoCluster([{ port: 1 }], { lazyConnect: true });
      try {
        expect(nodeRedisKind(client)).to.equal('client');
        expect(nodeRedisKind(client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }))).to.equal(
          'client',
        );
        expect(nodeRedisKind(cluster)).to.equal('cluster');
        expect(nodeRedisKind(cluster.withTypeMapping({ [RESP_TYPES.NUMBER]: String }))).to.equal('cluster');
        // ioredis also has a sendCommand; options.ts asks isIoredis first, but neither may be taken for the other.
        expect(nodeRedisKind(io)).to.have.property('unsupported');
        expect(nodeRedisKind(ioCluster)).to.have.property('unsupported');
        expect(nodeRedisKind({})).to.equal(undefined);
        expect(nodeRedisKind(null)).to.equal(undefined);
      } finally {
        io.disconnect();
        ioCluster.disconnect();
      }
    });

    it('refuses, naming the option, a pool, a Sentinel client, a legacy() client and anything else', () => {
      const app = new Koa();
      app.keys = ['k'];
      const pool = createClientPool({ url: 'redis://127.0.0.1:1' });
      const sentinel = createSentinel({
        name: 'mymaster',
        sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }],
      });
      const legacy = createClient({ url: 'redis://127.0.0.1:1' }).legacy();
      expect(() => createSessions(app, { redis: pool as never })).to.throw(
        TypeError,
        /^koa-epoch-session: redis is a node-redis client pool/,
      );
      expect(() => createSessions(app, { redis: sentinel as never })).to.throw(
        TypeError,
        /redis is a node-redis Sentinel client/,
      );
      expect(() => createSessions(app, { redis: legacy as never })).to.throw(
        TypeError,
        /redis is a node-redis client older than v5, or a client's legacy\(\) interface/,
      );
      expect(() => createSessions(app, { redis: { get() {} } as never })).to.throw(
        TypeError,
        /redis must be an ioredis Redis or Cluster client, or a node-redis \(v5 or later\) client/,
      );
      const client = createClient({ url: 'redis://127.0.0.1:1' });
      expect(() => new EpochStore({ redis: client, legacy: { prefix: '', redis: pool as never } })).to.throw(
        TypeError,
        /legacy\.redis is a node-redis client pool/,
      );
      // Not connected yet is fine: apps create the store before awaiting connect().
      expect(() => createSessions(app, { redis: client })).to.not.throw();
      expect(() =>
        createSessions(app, { redis: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }) }),
      ).to.not.throw();
    });
  });

  describe('replies, RESP2 and RESP3', () => {
    it("normalises RESP3's booleans to RESP2's shapes (Lua false is null, true is 1), Buffers to strings, deeply", () => {
      expect(normalise(false)).to.equal(null);
      expect(normalise(true)).to.equal(1);
      expect(normalise(null)).to.equal(null);
      expect(normalise(Buffer.from('é'))).to.equal('é');
      expect(normalise(['a', 2, false, [true, Buffer.from('x'), null]])).to.deep.equal([
        'a',
        2,
        null,
        [1, 'x', null],
      ]);
      expect(normalise(0)).to.equal(0);
      expect(normalise('OK')).to.equal('OK');
    });

    it('sends numbers as strings, asks for the default reply types, and maps each native command', async () => {
      const { connection, sent } = fakeConnection((args) => {
        if (args[0] === 'GET') return Buffer.from('value');
        if (args[0] === 'MGET') return [Buffer.from('e'), null];
        if (args[0] === 'SET') return args.at(-1) === 'NX' ? 'OK' : null;
        return 1;
      });
      const driver = nodeRedisDriver(connection, 'client');
      expect(await driver.get('k')).to.equal('value');
      expect(await driver.mget(['a', 'b'])).to.deep.equal(['e', null]);
      expect(await driver.set('k', 'v', 60_000, 'NX')).to.equal(true);
      expect(await driver.set('k', 'v', 60_000, 'XX')).to.equal(false);
      expect(await driver.del('k')).to.equal(1);
      expect(await driver.extend('k', 5_000)).to.equal(1);
      expect(sent.map((s) => s.args)).to.deep.equal([
        ['GET', 'k'],
        ['MGET', 'a', 'b'],
        ['SET', 'k', 'v', 'PX', '60000', 'NX'],
        ['SET', 'k', 'v', 'PX', '60000', 'XX'],
        ['DEL', 'k'],
        ['PEXPIRE', 'k', '5000', 'GT'],
      ]);
      for (const { options } of sent) expect(options).to.deep.equal({ typeMapping: {} });
    });

    it('refuses a value that is not a string rather than handing it to the engine', async () => {
      const { connection } = fakeConnection(() => 42);
      const error = await nodeRedisDriver(connection, 'client')
        .get('k')
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TypeError);
    });
  });

  describe('scripts', () => {
    it('runs EVALSHA with the key count first, and EVAL with the same arguments on NOSCRIPT', async () => {
      let loaded = false;
      const { connection, sent } = fakeConnection((args) => {
        if (args[0] === 'EVALSHA' && !loaded)
          return new SimpleError('NOSCRIPT No matching script. Please use EVAL.');
        loaded = true;
        return [1, false];
      });
      const driver = nodeRedisDriver(connection, 'client');
      expect(await driver.script('rotate', ROTATE_KEYS, ['reason', 60_000])).to.deep.equal([1, null]);
      expect(await driver.script('rotate', ROTATE_KEYS, ['reason', ''])).to.deep.equal([1, null]);
      const [first, second, third] = sent.map((s) => s.args);
      expect(first![0]).to.equal('EVALSHA');
      expect(first![1]).to.match(/^[0-9a-f]{40}$/);
      expect(first!.slice(2)).to.deep.equal(['3', ...ROTATE_KEYS, 'reason', '60000']);
      expect(second).to.deep.equal(['EVAL', SCRIPTS.rotate.lua, '3', ...ROTATE_KEYS, 'reason', '60000']);
      expect(third).to.deep.equal(['EVALSHA', first![1], '3', ...ROTATE_KEYS, 'reason', '']);
    });

    it('throws on a wrong key count before sending anything', () => {
      const { connection, sent } = fakeConnection(() => 1);
      expect(() =>
        nodeRedisDriver(connection, 'client').script('rotate', ROTATE_KEYS.slice(0, 2), []),
      ).to.throw(/rotate takes 3 keys, got 2/);
      expect(sent).to.deep.equal([]);
    });

    it('with an acknowledgement, pipelines the script and WAIT on one connection, and reports lag with the reply', async () => {
      let acknowledged = 1;
      const { connection, pipelines, sent } = fakeConnection((args) =>
        args[0] === 'WAIT' ? acknowledged : 1,
      );
      connection._commandOptions = { timeout: 5_000 };
      const driver = nodeRedisDriver(connection, 'client');
      const wanted = { replicas: 1, timeout: 700 };
      expect(await driver.script('rotate', ROTATE_KEYS, ['r', ''], wanted)).to.equal(1);
      expect(sent, 'nothing goes outside the pipeline').to.deep.equal([]);
      expect(pipelines[0]!.commands).to.deep.equal([
        ['EVAL', SCRIPTS.rotate.lua, '3', ...ROTATE_KEYS, 'r', ''],
        ['WAIT', '1', '700'],
      ]);
      // node-redis v6's default command timeout (5 s) is stretched by WAIT's own.
      expect(pipelines[0]!.options).to.deep.equal({ typeMapping: {}, timeout: 5_700 });
      acknowledged = 0;
      const lag = await driver.script('rotate', ROTATE_KEYS, ['r', ''], wanted).catch((e: unknown) => e);
      expect(lag).to.be.instanceOf(SessionReplicationError);
      expect((lag as Error).message).to.match(/0 of 1 replica\(s\) acknowledged it within 700 ms/);
    });

    it("rejects with the failing reply itself, not node-redis's aggregate", async () => {
      const failing = new SimpleError('ERR koa-epoch-session: session id collision');
      const { connection } = fakeConnection((args) =>
        args[0] === 'WAIT' ? 1 : new MultiErrorReply([failing], [0]),
      );
      const error = await nodeRedisDriver(connection, 'client')
        .script('rotate', ROTATE_KEYS, ['r', ''], { replicas: 1, timeout: 10 })
        .catch((e: unknown) => e);
      expect(error).to.equal(failing);
    });
  });

  describe('errors, classified as for ioredis', () => {
    it('a Redis error reply is a SessionError, unless it means "not now" (503)', () => {
      for (const ErrorClass of [SimpleError, BlobError, ErrorReply]) {
        const refused = asSessionError(
          new ErrorClass('WRONGTYPE Operation against a key holding the wrong kind of value'),
        );
        expect(refused.constructor).to.equal(SessionError);
        expect(refused.message).to.match(/Redis refused a session command: WRONGTYPE/);
      }
      for (const reply of [
        'OOM command not allowed when used memory > maxmemory',
        'LOADING Redis is loading the dataset in memory',
        'BUSY Redis is busy running a script',
        'MASTERDOWN Link with MASTER is down',
        "READONLY You can't write against a read only replica.",
        'CLUSTERDOWN The cluster is down',
        'TRYAGAIN Multiple keys request during rehashing of slot',
        'NOREPLICAS Not enough good replicas to write.',
        'MOVED 3999 127.0.0.1:6381',
        'ASK 3999 127.0.0.1:6381',
      ]) {
        expect(asSessionError(new SimpleError(reply)), reply).to.be.instanceOf(SessionStoreUnavailableError);
      }
    });

    it('a closed, offline or timed-out connection is SessionStoreUnavailableError (503)', () => {
      for (const error of [
        new ClientClosedError(),
        new ClientOfflineError(),
        new SocketClosedUnexpectedlyError(),
        new ConnectionTimeoutError(),
        new SocketTimeoutError(1_000),
        new Error('koa-epoch-session: the node-redis cluster client is not connected (await its connect())'),
      ]) {
        const mapped = asSessionError(error);
        expect(mapped, error.message).to.be.instanceOf(SessionStoreUnavailableError);
        expect(mapped.cause).to.equal(error);
      }
    });

    it('quotes no command arguments: an "unknown command" reply loses the arguments the server echoed', () => {
      const echoed = new SimpleError(
        "ERR unknown command 'EVALSHA', with args beginning with: 'abc' '3' 'sess:{YWxpY2U}:e' ",
      );
      const mapped = asSessionError(echoed);
      for (const text of [mapped.message, echoed.message, echoed.stack ?? '']) {
        expect(text).to.not.include('YWxpY2U');
        expect(text).to.not.include("'3'");
      }
      expect(mapped.message).to.match(/with args beginning with: \[redacted by koa-epoch-session\]$/);
    });
  });

  it('computes Cluster slots as Redis does, hash tags included', () => {
    // The examples of the Redis Cluster specification.
    expect(keySlot('123456789')).to.equal(12_739);
    expect(keySlot('{user1000}.following')).to.equal(keySlot('{user1000}.followers'));
    expect(keySlot('foo{}{bar}')).to.equal(referenceSlot('foo{}{bar}'));
    for (const key of ['sess:{YWxpY2U}:e', 'plain', '{}', 'a{b}c{d}', 'ü{ñ}', '{{x}}']) {
      expect(keySlot(key), key).to.equal(referenceSlot(key));
    }
  });
});
