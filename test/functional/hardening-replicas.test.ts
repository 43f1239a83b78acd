// Issue 11, case 7: a revocation applied on the master but not acknowledged by a replica leaves a consistent caller and a meaningful retry.
import { expect } from 'chai';
import type { Context } from 'koa';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { captured, signedInAs } from '../support/replay.js';

/** The suite's Redis has no replica: WAIT 1 50 answers 0 after 50 ms, every time. */
const LAGGING = { waitForReplicas: { replicas: 1, timeout: 50 } };

interface LagError {
  status?: number;
  applied?: unknown;
  message?: string;
}

/** logoutOthers, keeping what it threw for the test to inspect (the app still answers with its status). */
function recordingRoutes(thrown: LagError[]) {
  return {
    'POST /logout-others': async (ctx: Context, t: TestApp) => {
      try {
        ctx.state.kept = await t.sessions.logoutOthers(ctx);
      } catch (error) {
        thrown.push(error as LagError);
        throw error;
      }
    },
  };
}

async function signIn(t: TestApp, user: string): Promise<string> {
  const res = await t.agent().post(`/login?user=${user}`).expect(200);
  const cookie = captured(res);
  expect(cookie).to.be.a('string');
  return cookie!;
}

async function rejection(promise: Promise<unknown>): Promise<LagError> {
  return promise.then(
    (value) => {
      throw new Error(`expected the call to throw the replication-lag error; it returned ${String(value)}`);
    },
    (error: unknown) => error as LagError,
  );
}

describe('hardening (issue 11): waitForReplicas when no replica acknowledges (invariants 1 and 6)', () => {
  afterEach(closeClients);

  it('invariant 6: logoutOthers answers 503 with applied === true, yet switches the caller to the new session; the old cookie and the other device are signed out, and a retry runs again', async () => {
    const thrown: LagError[] = [];
    const t = makeApp(LAGGING, recordingRoutes(thrown));
    const laptop = await signIn(t, 'alice');
    const phone = await signIn(t, 'alice');

    const first = await t.agent().post('/logout-others').set('Cookie', laptop);
    expect(first.status, 'the lag is reported as a 503-class error').to.equal(503);
    const laptopNow = captured(first);
    expect(laptopNow, "the 503 response still switches the caller's cookie").to.be.a('string');
    expect(laptopNow).to.not.equal(laptop);
    expect(await signedInAs(t, laptopNow!), "the caller's new cookie").to.equal('alice');
    expect(await signedInAs(t, laptop), "the caller's old cookie").to.equal(null);
    expect(await signedInAs(t, phone), "the other device's cookie").to.equal(null);
    expect(thrown).to.have.length(1);
    expect(thrown[0]!.status).to.equal(503);
    expect(thrown[0]!.applied, 'the error says the revocation was applied').to.equal(true);

    // The retry the error asks for means something: it runs, reports the lag again, and holds.
    const retry = await t.agent().post('/logout-others').set('Cookie', laptopNow!);
    expect(retry.status).to.equal(503);
    expect(thrown, 'the retry ran logoutOthers again and reported the lag').to.have.length(2);
    expect(thrown[1]!.applied).to.equal(true);
    const laptopAfterRetry = captured(retry) ?? laptopNow!;
    expect(await signedInAs(t, laptopAfterRetry), 'the caller after the retry').to.equal('alice');
    expect(await signedInAs(t, phone), 'the other device after the retry').to.equal(null);
    expect(await signedInAs(t, laptop)).to.equal(null);
  });

  it('invariant 1: rotate under lag throws a 503 with applied === true, every session is revoked, the retry throws the same, and a rotate without waitForReplicas still reports the rotation in effect (true)', async () => {
    const t = makeApp(LAGGING);
    const laptop = await signIn(t, 'alice');
    const phone = await signIn(t, 'alice');

    const error = await rejection(t.sessions.rotate('alice'));
    expect(error.status, 'status of the lag error').to.equal(503);
    expect(error.applied, 'the error says the rotation was applied').to.equal(true);
    expect(await signedInAs(t, laptop)).to.equal(null);
    expect(await signedInAs(t, phone)).to.equal(null);

    const retried = await rejection(t.sessions.rotate('alice'));
    expect(retried.status).to.equal(503);
    expect(retried.applied, 'the retry is applied again, and again unacknowledged').to.equal(true);

    // Without waitForReplicas, over the same Redis: the earlier rotation's revoked cookies could
    // still be presented (maxAge is a day), so the rotation is in effect and rotate says so.
    const plain = makeApp();
    expect(
      await plain.sessions.rotate('alice'),
      'rotate after an earlier rotation of the same user',
    ).to.equal(true);
    expect(await signedInAs(t, laptop)).to.equal(null);
    expect(await signedInAs(plain, phone)).to.equal(null);
  });
});
