// Issue 15 item 4: the Express adapter publishes the same diagnostics channels as the Koa one (they come from the engine).
import { inspect } from 'node:util';
import { expect } from 'chai';
import { anySubscribers, recordChannels } from '../support/diagnostics.js';
import { closeClients, cookieValue, makeExpressApp } from './support.js';

describe('express: diagnostics channels (issue 15)', () => {
  let rec: ReturnType<typeof recordChannels> | undefined;
  afterEach(async () => {
    rec?.stop();
    rec = undefined;
    await closeClients();
    expect(anySubscribers(), 'a test left a subscriber behind').to.equal(false);
  });

  it('login, one read per signed-in read, write, rotate and rejected, with the messages the Koa app publishes', async () => {
    const t = makeExpressApp();
    const agent = t.agent();
    rec = recordChannels();
    const login = await agent.post('/login?user=alice').expect(200);
    const { sessionId } = login.body.login;
    expect(rec.of('login')).to.deep.equal([{ userId: 'alice', sessionId, adopted: false }]);
    expect(rec.of('login', 'asyncEnd')[0]!.result).to.equal('created');

    rec.clear();
    for (let i = 0; i < 3; i++)
      expect((await agent.get('/whoami').expect(200)).body.userId).to.equal('alice');
    expect(rec.of('read')).to.deep.equal(Array(3).fill({ signedIn: true, sessionId }));
    expect(rec.of('read', 'asyncEnd').map((m) => m.result)).to.deep.equal([true, true, true]);

    rec.clear();
    await agent.post('/set?theme=dark').expect(200);
    expect(rec.of('write')).to.deep.equal([{ signedIn: true, sessionId, mode: 'update' }]);
    expect(rec.of('write', 'asyncEnd')[0]!.result).to.equal(true);

    rec.clear();
    expect(await t.sessions.rotate('alice', { reason: 'password-changed' })).to.equal(true);
    expect(rec.of('rotate')).to.deep.equal([{ userId: 'alice', scope: 'all', reason: 'password-changed' }]);
    expect((await agent.get('/whoami').expect(200)).body).to.deep.include({ userId: null });
    const [rejected] = rec.of('rejected');
    expect(rejected).to.include({ sessionId, reason: 'password-changed' });
    expect(rejected!.at).to.be.instanceOf(Date);

    const cookie = cookieValue(login)!;
    for (const { channel, phase, fields } of rec.seen) {
      const text = inspect(fields, { depth: Number.POSITIVE_INFINITY });
      for (const part of cookie.split('.')) expect(text, `${channel} ${phase}`).to.not.include(part);
    }
  });
});
