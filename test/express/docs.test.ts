// The first sample of docs/express.md, run as it stands with plain node, and driven as two browsers of one user.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import supertest from 'supertest';
import { testRedisUrl } from '../support/hooks.js';
import { freePort, waitForPort } from '../support/ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/express.md: the first sample runs as written', function () {
  this.timeout(30_000);
  let work: string | undefined;
  let server: ChildProcess | undefined;

  after(() => {
    server?.kill('SIGKILL');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('two devices sign in, a password change on one signs the other out with its reason, logout signs out', async () => {
    const page = readFileSync(join(root, 'docs/express.md'), 'utf8');
    const sample = /```js\n([\s\S]*?)```/.exec(page)?.[1];
    expect(sample, 'docs/express.md opens with a ```js sample').to.be.a('string');
    expect(sample).to.include("from 'koa-epoch-session/express'");
    // Outside the repository, the package name resolves to this checkout's source (through tsx).
    work = mkdtempSync(join(tmpdir(), 'kes-express-doc-'));
    symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
    const entry = pathToFileURL(join(root, 'lib/express/index.ts')).href;
    writeFileSync(join(work, 'server.mjs'), sample!.replace("'koa-epoch-session/express'", `'${entry}'`));
    const port = await freePort();
    server = spawn(process.execPath, ['--import', 'tsx', 'server.mjs'], {
      cwd: work,
      env: { ...process.env, PORT: String(port), REDIS_URL: testRedisUrl(), SESSION_SECRET: 'docs secret' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitForPort(port);
    const base = `http://127.0.0.1:${port}`;
    const laptop = supertest.agent(base);
    const phone = supertest.agent(base);
    await laptop.post('/login').type('form').send({}).expect(400);
    for (const device of [laptop, phone]) {
      await device.post('/login').type('form').send({ user: 'alice' }).expect(200);
    }
    const before = await phone.get('/me').expect(200);
    expect(before.body.user).to.equal('alice');
    expect(before.body.devices).to.have.length(2);
    await laptop.post('/password').expect(200);
    expect((await phone.get('/me').expect(200)).body).to.deep.include({
      user: null,
      signedOutBecause: 'password-changed',
    });
    const after = await laptop.get('/me').expect(200);
    expect(after.body.user).to.equal('alice');
    expect(after.body.devices).to.have.length(1);
    expect(after.body.devices[0].current).to.equal(true);
    await phone.post('/password').expect(401);
    await laptop.post('/logout').expect(200);
    expect((await laptop.get('/me').expect(200)).body.user).to.equal(null);
  });
});
