import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import supertest from 'supertest';
import { testRedisUrl } from '../support/hooks.js';
import { freePort, waitForPort } from '../support/ports.js';

const EXAMPLE = 'test/.readme-example.ts';

describe('README example', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    rmSync(EXAMPLE, { force: true });
  });

  it('runs as written: login, device list, sign out everywhere with a reason', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(example).to.include("from 'koa-epoch-session'");
    writeFileSync(EXAMPLE, example);
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE], {
      env: { ...process.env, PORT: String(port), REDIS_URL: testRedisUrl(), SESSION_SECRET: 'test secret' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForPort(port);
    const agent = supertest.agent(`http://127.0.0.1:${port}`);
    const login = await agent.post('/login?user=alice').expect(200);
    expect(login.body.userId).to.equal('alice');
    expect(login.body.devices).to.have.length(1);
    expect(login.body.devices[0].current).to.equal(true);
    await agent.post('/sign-out-everywhere').expect(200);
    const after = await agent.get('/').expect(200);
    expect(after.body).to.deep.include({ userId: null, signedOutBecause: 'password-changed' });
  });
});
