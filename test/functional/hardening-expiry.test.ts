// Issue 11, case 4: a cookie replayed after its idle timeout is rejected every time, and rolling never revives it.
import { expect } from 'chai';
import type { Context } from 'koa';
import type { EpochSessionOptions } from '../../lib/index.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { captured, replay, sleep } from '../support/replay.js';

const MAX_AGE = 100;
const REPLAYS = 40;

/** Creates the session and puts the secret in it in one request, so it is written well within MAX_AGE. */
const routes = {
  'POST /login-secret': async (ctx: Context, t: TestApp) => {
    await t.sessions.login(ctx, 'alice');
    ctx.session!.secret = String(ctx.query.secret);
  },
  'POST /anonymous-secret': (ctx: Context) => {
    ctx.session!.secret = String(ctx.query.secret);
  },
};

/** Every replay of the expired cookie is a fresh anonymous session that shows none of the data. */
async function assertRejected(t: TestApp, cookie: string, secret: string, what: string) {
  const check = (res: Awaited<ReturnType<typeof replay>>, i: number | string) => {
    expect(res.status, `${what} ${i}: status`).to.equal(200);
    expect(res.userId, `${what} ${i}: the expired cookie was signed in`).to.equal(null);
    expect(JSON.stringify(res.body), `${what} ${i}: the expired session's data was served`).to.not.include(
      secret,
    );
  };
  for (let i = 0; i < REPLAYS; i++) check(await replay(t, cookie), `sequential replay ${i}`);
  const parallel = await Promise.all(Array.from({ length: REPLAYS }, () => replay(t, cookie)));
  for (const [i, res] of parallel.entries()) check(res, `parallel replay ${i}`);
  // Whatever the replays did (a rolling save, a renew), the cookie is still dead afterwards.
  check(await replay(t, cookie), 'replay after the replays');
}

describe('hardening (issue 11): expired cookies replayed (invariants 1 and 2)', () => {
  afterEach(closeClients);

  const configs: Record<string, Partial<EpochSessionOptions>> = {
    plain: {},
    rolling: { rolling: true },
    renew: { renew: true },
    'rolling, registry': { rolling: true, registry: true, lastSeenInterval: 1 },
  };
  for (const [name, config] of Object.entries(configs)) {
    const reviving = name !== 'plain';
    for (const kind of ['signed-in', 'anonymous'] as const) {
      it(`invariant 2: ${kind === 'anonymous' ? 'an' : 'a'} ${kind} cookie replayed ${2 * REPLAYS + 1} times after its idle timeout (maxAge ${MAX_AGE} ms, ${name}) is never accepted${reviving ? ' nor made live again' : ''}`, async () => {
        const t = makeApp({ maxAge: MAX_AGE, ...config }, routes);
        const secret = `expired-${kind}-${name.replace(/\W+/g, '-')}-marker`;
        const route = kind === 'signed-in' ? '/login-secret' : '/anonymous-secret';
        const started = Date.now();
        const res = await t.agent().post(`${route}?secret=${secret}`).expect(200);
        expect(res.body.data).to.include({ secret });
        const cookie = captured(res);
        expect(cookie, 'the response set a session cookie').to.be.a('string');
        // Not vacuous: within its lifetime the captured cookie reaches the session (checked only
        // when this machine was fast enough to stay inside the 100 ms).
        const live = await replay(t, cookie!);
        if (Date.now() - started < MAX_AGE / 2) {
          expect(live.data).to.include({ secret });
          if (kind === 'signed-in') expect(live.userId).to.equal('alice');
        }

        await sleep(2 * MAX_AGE);
        await assertRejected(t, cookie!, secret, kind);
      });
    }
  }
});
