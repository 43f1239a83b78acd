import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import { createSessions } from '../../lib/index.js';

function app(keys = true) {
  const a = new Koa();
  if (keys) a.keys = ['k'];
  return a;
}

describe('options (unit)', () => {
  const redis = new Redis({ lazyConnect: true });
  after(() => redis.disconnect());

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['redis', { redis: {} }, /redis must be an ioredis/],
    ['prefix', { prefix: 'a{b}' }, /prefix must be a string without/],
    ['maxAge', { maxAge: -1 }, /maxAge must be a whole number of milliseconds/],
    ['maxAge', { maxAge: 'forever' }, /maxAge must be/],
    ['maxAge', { maxAge: 1e20 }, /maxAge must be a whole number of milliseconds, from 1 to/],
    ['browserSessionTtl', { browserSessionTtl: 3_600_000.5 }, /browserSessionTtl must be a whole number/],
    ['absoluteMaxAge', { absoluteMaxAge: 1.5 }, /absoluteMaxAge must be a whole number/],
    ['browserSessionTtl', { browserSessionTtl: 0 }, /browserSessionTtl/],
    ['absoluteMaxAge', { absoluteMaxAge: Number.NaN }, /absoluteMaxAge/],
    ['lastSeenInterval', { lastSeenInterval: '1m' }, /lastSeenInterval/],
    ['registry', { registry: 'yes' }, /registry must be a boolean/],
    ['maxSessions', { maxSessions: 2 }, /maxSessions needs the device registry/],
    ['maxSessions', { registry: true, maxSessions: 1.5 }, /maxSessions must be a positive integer/],
    [
      'sessionLimitPolicy',
      { registry: true, maxSessions: 2, sessionLimitPolicy: 'drop' },
      /sessionLimitPolicy/,
    ],
    ['key', { key: 'bad name' }, /key must be a valid cookie name/],
    ['sameSite', { sameSite: 'sometimes' }, /sameSite/],
    ['httpOnly', { httpOnly: 'true' }, /httpOnly must be a boolean/],
    ['companionCookie', { companionCookie: 'sid' }, /companionCookie/],
    ['onLogin', { onLogin: 'notify' }, /onLogin must be a function/],
    ['waitForReplicas', { waitForReplicas: { replicas: 1, timeout: 0 } }, /waitForReplicas must be/],
    ['waitForReplicas', { waitForReplicas: 1 }, /waitForReplicas must be/],
  ];
  for (const [name, options, message] of cases) {
    it(`refuses a bad ${name} at start-up, naming it`, () => {
      expect(() => createSessions(app(), { redis, ...options } as never)).to.throw(TypeError, message);
    });
  }

  it('refuses to start without app.keys while cookies are signed', () => {
    expect(() => createSessions(app(false), { redis })).to.throw(TypeError, /app\.keys/);
    expect(() => createSessions(app(false), { redis, signed: false })).to.not.throw();
  });

  it('refuses legacy adoption with unsigned cookies, whose values would name any Redis key', () => {
    expect(() => createSessions(app(false), { redis, signed: false, legacy: { prefix: '' } })).to.throw(
      TypeError,
      /legacy needs signed cookies/,
    );
    expect(() => createSessions(app(), { redis, legacy: { prefix: '' } })).to.not.throw();
  });

  it('refuses an ioredis keyPrefix that would break the hash tag', () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app{1}:' });
    expect(() => createSessions(app(), { redis: prefixed })).to.throw(TypeError, /keyPrefix/);
    prefixed.disconnect();
  });
});
