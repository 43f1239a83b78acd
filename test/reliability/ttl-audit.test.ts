// Everything expires, and nothing outlives the longest session: PTTLs of every key after a set of flows.
import { expect } from 'chai';
import type { Context } from 'koa';
import { HORIZON_STEP } from '../../lib/core/horizon.js';
import { RANDOM_LENGTH } from '../../lib/core/keys.js';
import type { EpochSessionOptions } from '../../lib/index.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';
import { parseSessionKey, record, scanKeys } from '../support/reliability-kit.js';

/*
 * Invariant 4, measured. For each configuration below, after the flows, every key under its prefix
 * must carry a TTL, and none may outlive the longest session that configuration can produce:
 *
 *   longest = the store TTL of a session: maxAge (the key ends with its cookie: koa-session's 10 s
 *             slack is not kept), or browserSessionTtl for browser-session cookies, capped at
 *             absoluteMaxAge for signed-in sessions.
 *
 * The documented margin beyond that is one horizon step (lib/core/horizon.ts), and only for the keys
 * a user's sessions depend on: the epoch key, the registry and the device hash are extended to
 * the session's end rounded up to a whole step, and the rotation reason and legacy marker live as
 * long as the epoch key they replace. Sessions, moved-session keys and session reasons get no
 * margin at all. And the other direction: within one user, the epoch key and the registry
 * outlive every session under the current epoch (read atomically, in MULTI).
 */

/** Keys whose TTL follows a horizon rather than a session's own end. */
const HORIZON_KINDS = new Set(['epoch', 'registry', 'devices', 'rotation reason', 'legacy marker']);

interface Config {
  options: Partial<EpochSessionOptions>;
  /** The longest store TTL of a signed-in session. */
  longest: number;
  /** Anonymous sessions have no login time, so the absolute cap does not apply to them. */
  longestAnonymous?: number;
}

const CONFIGS: Record<string, Config> = {
  rolling: {
    options: { maxAge: 60_000, rolling: true, registry: true, maxSessions: 2 },
    longest: 60_000,
  },
  browser: {
    options: { maxAge: 'session', browserSessionTtl: 120_000, registry: true },
    longest: 120_000,
  },
  capped: {
    options: { maxAge: 300_000, absoluteMaxAge: 30_000, renew: true, registry: true },
    longest: 30_000,
    longestAnonymous: 300_000,
  },
  defaults: { options: {}, longest: 86_400_000 },
};

const extraRoutes = {
  /** The usual login handler: sign in, then store something about the user, in one request. */
  'POST /login-with-role': async (ctx: Context, t: TestApp) => {
    await t.sessions.login(ctx, String(ctx.query.user));
    ctx.session!.role = 'member';
  },
  /** An app's own re-key (after a privilege change), then a change: two saves in one request. */
  'POST /regenerate-and-set': async (ctx: Context) => {
    await ctx.session!.regenerate();
    ctx.session!.elevated = true;
  },
  'POST /revoke': async (ctx: Context, t: TestApp) => {
    ctx.state.revoked = await t.sessions.revoke(String(ctx.query.user), String(ctx.query.handle));
  },
  'POST /rotate': async (ctx: Context, t: TestApp) => {
    ctx.state.rotated = await t.sessions.rotate(String(ctx.query.user), { reason: 'password-changed' });
  },
};

function kindOf(key: string, prefix: string): string {
  const rest = key.slice(prefix.length);
  if (rest.startsWith('a:')) return 'anonymous';
  if (rest.endsWith('}:e')) return 'epoch';
  if (rest.endsWith('}:r')) return 'registry';
  if (rest.endsWith('}:d')) return 'devices';
  if (rest.endsWith('}:x')) return 'rotation reason';
  if (/\}:x:[^:]+$/.test(rest)) return 'session reason';
  if (/\}:m:[^:]+$/.test(rest)) return 'moved session';
  if (rest.endsWith('}:l')) return 'legacy marker';
  if (parseSessionKey(key, prefix)) return 'session';
  return 'unknown';
}

/** Every flow that writes a key: anonymous data, logins, saves, re-keys, revocations, limits. */
async function flows(t: TestApp, registry: boolean): Promise<void> {
  const q = encodeURIComponent;
  const anonymous = t.agent();
  await anonymous.post('/set?cart=1').expect(200);
  await anonymous.post('/set?cart=2').expect(200);

  const laptop = t.agent();
  await laptop.post('/login-with-role?user=ttl-alice').expect(200);
  await laptop.post('/set?x=1').expect(200);
  await laptop.get('/whoami').expect(200);
  await laptop.post('/regenerate').expect(200);
  await laptop.post('/regenerate-and-set').expect(200);

  const phone = t.agent();
  await phone.post('/set?cart=3').expect(200);
  await phone.post('/login?user=ttl-alice').expect(200);
  const tablet = t.agent();
  await tablet.post('/login-with-role?user=ttl-alice').expect(200); // a third device: the limit evicts
  await phone.post('/logout-others').expect(200);

  const bob = t.agent();
  await bob.post('/login?user=ttl-bob').expect(200);
  await t.agent().post('/login?user=ttl-bob').expect(200);
  if (registry) {
    const list = (await bob.get('/list?user=ttl-bob').expect(200)).body.list as { id: string }[];
    await bob.post(`/revoke?user=ttl-bob&handle=${list[list.length - 1]!.id}`).expect(200);
  }
  await bob.post('/rotate?user=ttl-bob').expect(200);
  await bob.get('/whoami').expect(200); // presents the rotated cookie: reads the reason
  await bob.post('/login?user=ttl-bob').expect(200);
  await bob.post('/logout').expect(200);

  for (const id of HOSTILE_IDS.slice(0, 12)) {
    const agent = t.agent();
    await agent.post(`/login-with-role?user=${q(id)}`).expect(200);
    await agent.post('/set?y=1').expect(200);
  }
}

describe('everything expires: no key outlives the longest session (invariant 4)', () => {
  afterEach(closeClients);

  for (const [name, config] of Object.entries(CONFIGS)) {
    it(`${name}: every key has a TTL of at most ${config.longest} ms, and epochs and registries outlive their sessions`, async () => {
      const prefix = `ttl-${name}:`;
      const t = makeApp({ ...config.options, prefix }, extraRoutes);
      await flows(t, config.options.registry === true);

      const keys = await scanKeys(t.redis, `${prefix}*`);
      const pipeline = t.redis.pipeline();
      for (const key of keys) pipeline.pttl(key);
      const ttls = ((await pipeline.exec()) ?? []).map(([, ttl]) => Number(ttl));
      const longestByKind: Record<string, number> = {};
      const problems: string[] = [];
      keys.forEach((key, i) => {
        const kind = kindOf(key, prefix);
        const ttl = ttls[i]!;
        longestByKind[kind] = Math.max(longestByKind[kind] ?? 0, ttl);
        if (kind === 'unknown') problems.push(`${key}: a key the layout does not describe`);
        if (ttl === -1) problems.push(`${key} (${kind}): no TTL`);
        const bound =
          kind === 'anonymous'
            ? (config.longestAnonymous ?? config.longest)
            : config.longest + (HORIZON_KINDS.has(kind) ? HORIZON_STEP : 0);
        if (ttl > bound) problems.push(`${key} (${kind}): PTTL ${ttl} > ${bound}`);
      });

      // The other direction: the epoch key and the registry outlive every live session of the user.
      const users = new Set(keys.flatMap((key) => /\{([^}]+)\}/.exec(key)?.[1] ?? []));
      for (const tag of users) {
        const base = `${prefix}{${tag}}:`;
        const userKeys = keys.filter((key) => key.startsWith(base));
        const epoch = (await t.redis.get(`${base}e`))?.slice(0, RANDOM_LENGTH);
        const live = userKeys.filter((key) => epoch !== undefined && key.startsWith(`${base}${epoch}:`));
        if (live.length === 0) continue;
        const multi = t.redis.multi().pttl(`${base}e`).pttl(`${base}r`).pttl(`${base}d`);
        for (const key of live) multi.pttl(key);
        const [epochTtl, registryTtl, devicesTtl, ...sessionTtls] = ((await multi.exec()) ?? []).map(
          ([, v]) => Number(v),
        );
        const longestSession = Math.max(...sessionTtls);
        if (epochTtl! < longestSession)
          problems.push(`${base}e: PTTL ${epochTtl} < its longest session ${longestSession}`);
        if (config.options.registry && registryTtl !== -2 && registryTtl! < longestSession)
          problems.push(`${base}r: PTTL ${registryTtl} < its longest session ${longestSession}`);
        if (config.options.registry && devicesTtl !== -2 && devicesTtl! < longestSession)
          problems.push(`${base}d: PTTL ${devicesTtl} < its longest session ${longestSession}`);
      }

      record(`ttl audit ${name}`, {
        keys: keys.length,
        users: users.size,
        bound: config.longest,
        ...Object.fromEntries(Object.entries(longestByKind).map(([k, v]) => [`max(${k})`, v])),
        problems: problems.length,
      });
      expect(keys.length, 'the flows wrote keys').to.be.greaterThan(20);
      expect(problems).to.deep.equal([]);
    });
  }

  // koa-session clears its maxAge option after saving a browser-session cookie, so a second save in
  // the same request falls back to one day, stores `_maxAge`, and the next response's cookie persists.
  for (const route of ['/login-with-role', '/regenerate-and-set'] as const) {
    it(`minimal reproduction: two saves in one request (${route}) keep a browser-session cookie and its TTL`, async () => {
      const t = makeApp({ maxAge: 'session', browserSessionTtl: 120_000 }, extraRoutes);
      const agent = t.agent();
      if (route === '/regenerate-and-set') await agent.post('/login?user=ttl-carol').expect(200);
      await agent.post(`${route}?user=ttl-carol`).expect(200);
      const [key] = (await scanKeys(t.redis, 'sess:{*}:*')).filter((k) => kindOf(k, 'sess:') === 'session');
      const stored = await t.redis.get(key!);
      const ttl = await t.redis.pttl(key!);
      const next = await agent.post('/set?x=1').expect(200);
      const cookie = String(next.headers['set-cookie']);
      expect({ ttl: ttl <= 120_000, stored, persistent: /expires=/i.test(cookie) }).to.deep.equal({
        ttl: true,
        stored: stored!.replace(/"_maxAge":\d+/, '"_session":true'),
        persistent: false,
      });
    });
  }
});
