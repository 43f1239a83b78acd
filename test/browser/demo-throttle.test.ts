// The demo's sign-in throttle on rate-limiter-flexible: blocks after N failures, recovers, and keeps counting without Redis.
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Throttle } from '../../demo/throttle.js';
import { closeClients, newRedis } from '../support/app.js';
import { freePort } from '../support/redis-server.js';

const IP = '203.0.113.7';

async function fail(throttle: Throttle, times: number, ip = IP, username = 'bob'): Promise<void> {
  for (let i = 0; i < times; i += 1) await throttle.failed(ip, username);
}

describe('demo sign-in throttle (rate-limiter-flexible)', () => {
  afterEach(closeClients);

  it('lets N failures through, then blocks that IP and username for the rest of the window', async () => {
    const throttle = new Throttle(newRedis(), 3, 60_000);
    await fail(throttle, 2);
    expect(await throttle.blockedFor(IP, 'bob')).to.equal(0);
    await fail(throttle, 1);
    expect(await throttle.blockedFor(IP, 'bob')).to.be.within(55_000, 60_000);
    // Another account from that IP, and that account from another IP, may still try.
    expect(await throttle.blockedFor(IP, 'alice')).to.equal(0);
    expect(await throttle.blockedFor('2001:db8::1', 'bob')).to.equal(0);
  });

  it('counts failures that arrive together past the limit without failing the requests', async () => {
    const throttle = new Throttle(newRedis(), 2, 60_000);
    await Promise.all([1, 2, 3, 4].map(() => throttle.failed(IP, 'bob')));
    expect(await throttle.blockedFor(IP, 'bob')).to.be.above(0);
  });

  it('forgets the failures once the pair signs in', async () => {
    const throttle = new Throttle(newRedis(), 3, 60_000);
    await fail(throttle, 2);
    await throttle.succeeded(IP, 'bob');
    await fail(throttle, 2);
    expect(await throttle.blockedFor(IP, 'bob')).to.equal(0, 'the count started again from zero');
  });

  it('recovers by itself when the window ends', async function () {
    this.timeout(10_000);
    const throttle = new Throttle(newRedis(), 2, 1000);
    await fail(throttle, 2);
    const wait = await throttle.blockedFor(IP, 'bob');
    expect(wait).to.be.within(1, 1000);
    await new Promise((resolve) => setTimeout(resolve, wait + 100));
    expect(await throttle.blockedFor(IP, 'bob')).to.equal(0);
  });

  it('keeps the count in Redis with a TTL, shared by every process of the app', async () => {
    const redis = newRedis();
    const one = new Throttle(redis, 3, 60_000);
    const other = new Throttle(newRedis(), 3, 60_000);
    await fail(one, 3);
    expect(await other.blockedFor(IP, 'bob')).to.be.above(0);
    const [key] = await redis.keys('demo:throttle:*');
    expect(key).to.equal(`demo:throttle:${IP} bob`);
    expect(await redis.get(key!)).to.equal('3');
    expect(await redis.pttl(key!)).to.be.within(1, 60_000);
  });

  it('while Redis is unreachable, counts in memory and still blocks, rather than throwing or letting guesses through', async () => {
    const down = new Redis({
      port: await freePort(),
      host: '127.0.0.1',
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    try {
      const throttle = new Throttle(down, 3, 60_000);
      await fail(throttle, 2);
      expect(await throttle.blockedFor(IP, 'bob')).to.equal(0);
      await fail(throttle, 1);
      expect(await throttle.blockedFor(IP, 'bob')).to.be.above(0);
      await throttle.succeeded(IP, 'bob');
      expect(await throttle.blockedFor(IP, 'bob')).to.equal(0);
    } finally {
      down.disconnect();
    }
  });

  it('refuses a limit or a window it cannot enforce', () => {
    const redis = newRedis();
    expect(() => new Throttle(redis, 0)).to.throw(RangeError, /failedSignInLimit/);
    expect(() => new Throttle(redis, 2.5)).to.throw(RangeError, /failedSignInLimit/);
    // rate-limiter-flexible keeps whole seconds: 500 ms would become a key that never expires.
    expect(() => new Throttle(redis, 3, 500)).to.throw(RangeError, /whole number of seconds/);
    expect(() => new Throttle(redis, 3, 1500)).to.throw(RangeError, /whole number of seconds/);
  });
});
