// The demo's credential card after a password change: it must not pass the start-up password off as the current one.
import { expect } from 'chai';
import supertest from 'supertest';
import { closeClients, makeDemo, signIn } from './demo-fixtures.js';

describe('demo: the demo accounts card', () => {
  afterEach(closeClients);

  it('says its passwords are the start-up ones, which a password change replaces until a restart', async () => {
    const demo = await makeDemo();
    expect(await demo.accounts.setPassword('alice', 'changed-in-the-demo')).to.equal(true);
    const agent = supertest.agent(demo.app.callback());
    const page = await agent.get('/signin').expect(200);
    const card = /<section class="card" aria-labelledby="demo-accounts">[\s\S]*?<\/section>/.exec(
      page.text,
    )?.[0];
    expect(card).to.include('wonderland');
    expect(card?.replace(/\s+/g, ' ')).to.include(
      'The passwords set at start-up. A password changed here replaces the one shown until the demo restarts',
    );
    // What the card says is what happens: the shown password no longer works, the new one does.
    await signIn(agent, 'alice', 'wonderland', { expect: 401 });
    await signIn(agent, 'alice', 'changed-in-the-demo', { expect: 303 });
  });
});
