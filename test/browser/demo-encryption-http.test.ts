// The demo's encryption at rest, over HTTP: what Redis holds, the panel that shows it, bad keys at start-up, and a key rotation across restarts.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import supertest from 'supertest';
import { createDemoApp } from '../../demo/app.js';
import { cleanEnv } from '../signals/process-tree.js';
import { newRedis } from '../support/app.js';
import { freePort } from '../support/redis-server.js';
import { closeClients, csrfFrom, makeDemo, postForm, signIn } from './demo-fixtures.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The value's layout with the registry on: expiry (9), device header (20), then the data part. */
const DATA_START = 9 + 20;
const GCM = '{~g';
/** Cookie signing keys that survive a restart, so that only the encryption keys change. */
const COOKIE_KEYS = ['demo-encryption-test-cookie-key'];

type Agent = ReturnType<typeof supertest.agent>;
type Callback = (req: IncomingMessage, res: ServerResponse) => void;

const newKey = () => randomBytes(32).toString('base64');

/** The id of this device's row in the device list: the session's handle. */
async function currentHandle(agent: Agent): Promise<string> {
  const home = await agent.get('/').expect(200);
  return /<tr class="current" data-session-id="([^"]+)"/.exec(home.text)![1]!;
}

/** The raw value of the signed-in session with this handle, as Redis holds it. */
async function storedValue(redis: Redis, handle: string): Promise<string> {
  const keys = await redis.keys(`demo:sess:{*}:*:${handle}`);
  expect(keys, `one Redis key for handle ${handle}`).to.have.length(1);
  return (await redis.get(keys[0]!))!;
}

/** The 6-character id of the key that encrypted a stored value. */
function keyIdOf(value: string): string {
  expect(value.slice(DATA_START, DATA_START + GCM.length)).to.equal(GCM);
  return value.slice(DATA_START + GCM.length, DATA_START + GCM.length + 6);
}

/** The panel's value as the page shows it, markup and escapes removed. */
function panelValue(page: string): string {
  const shown = /<pre class="stored" data-stored-value>([\s\S]*?)<\/pre>/.exec(page)?.[1];
  expect(shown, 'the "What Redis holds" panel').to.be.a('string');
  return shown!
    .replace(/<[^>]+>/g, '')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * One browser in front of a server that restarts: the agent keeps its cookies while the app
 * behind it is replaced, as a restart on the same address with the same Redis would look.
 */
function restartableBrowser(): { agent: Agent; serve: (callback: Callback) => void } {
  let current: Callback | undefined;
  const agent = supertest.agent((req: IncomingMessage, res: ServerResponse) => current!(req, res));
  return { agent, serve: (callback) => (current = callback) };
}

describe('demo: encryption at rest, over HTTP', () => {
  afterEach(closeClients);

  it('stores the session data encrypted, and the devices page shows the raw value with its {~g prefix', async () => {
    const demo = await makeDemo();
    const agent = supertest.agent(demo.app.callback());
    const signedIn = await signIn(agent, 'alice', 'wonderland', { expect: 303 });
    const cookie = /(?:^|;\s*)sid=([^;]+)/.exec(String(signedIn.headers['set-cookie']))![1]!;
    const [, epoch, sid] = decodeURIComponent(cookie).split('.');
    const home = await agent.get('/').expect(200);
    const csrf = csrfFrom(home.text);
    const handle = await currentHandle(agent);
    // A flash message in the session too: revoking an unknown device says so on the next page.
    await postForm(agent, '/', '/devices/AAAAAAAAAAAAAAAA/sign-out', {}, 303);
    const withFlash = await storedValue(demo.redis, handle);

    for (const plain of [csrf, 'That device was already signed out', '"flash"', '"csrf"', '"_', '{"']) {
      expect(withFlash, `Redis holds "${plain}" in clear`).to.not.include(plain);
    }
    // Expiry and device header stay in clear, so list() and last-seen need no key.
    expect(Number.parseInt(withFlash.slice(0, 9), 36)).to.be.within(Date.now(), Date.now() + 31 * 60_000);
    expect(withFlash.slice(9, DATA_START)).to.match(/^[0-9a-z]{14}[A-Za-z0-9_-]{6}$/);
    expect(keyIdOf(withFlash)).to.match(/^[A-Za-z0-9_-]{6}$/);

    // The next page takes the flash (a save); the page after it shows what Redis then holds.
    expect((await agent.get('/').expect(200)).text).to.include('That device was already signed out');
    const page = await agent.get('/').expect(200);
    const stored = await storedValue(demo.redis, handle);
    const shown = panelValue(page.text);
    expect(shown.slice(DATA_START)).to.match(/^\{~g/);
    expect(shown).to.equal(`${stored.slice(0, 120)}…`);
    expect(page.text)
      .to.include('What Redis holds for this session')
      .and.include(`its first 120 of ${stored.length} characters`)
      .and.include(`<code>${keyIdOf(stored)}</code>, the id of the key that encrypted it`)
      .and.include(`<code>demo:sess:{YWxpY2U}:<var>epoch</var>:${handle}</code>`);
    // The page names the key without the parts that make up the cookie.
    expect(page.text).to.not.include(sid).and.not.include(epoch).and.not.include(cookie);
  });

  it('refuses bad encryptionKeys when the app is built, without repeating the key', async () => {
    const redis = newRedis();
    const good = newKey();
    const cases: [string[], RegExp][] = [
      [[], /^demo: encryptionKeys must hold at least one key; make one with: openssl rand -base64 32$/],
      [
        [good, 'not-a-key'],
        /^demo: encryptionKeys\[1\] is not a 32-byte key in base64 \(9 characters; a key has 44\); make one with: openssl rand -base64 32$/,
      ],
      [[good.slice(0, 40)], /^demo: encryptionKeys\[0\] is not a 32-byte key in base64 \(40 characters/],
      [
        [`${good.slice(0, 43)}!`],
        /^demo: encryptionKeys\[0\] is not a 32-byte key in base64 \(44 characters, but not all/,
      ],
      [[''], /^demo: encryptionKeys\[0\] is not a 32-byte key in base64 \(empty\);/],
      // The same 32 bytes in base64url are the same key.
      [
        [good, Buffer.from(good, 'base64').toString('base64url')],
        /^demo: encryptionKeys\[1\] repeats encryptionKeys\[0\]$/,
      ],
    ];
    for (const [encryptionKeys, message] of cases) {
      expect(() => createDemoApp({ redis, encryptionKeys }), JSON.stringify(encryptionKeys))
        .to.throw(TypeError, message)
        .with.property('message')
        .that.does.not.include(good.slice(0, 40));
    }
    expect(() => createDemoApp({ redis, encryptionKeys: [good, newKey()] })).to.not.throw();
  });

  it('npm run demo with a bad SESSION_ENCRYPTION_KEYS says which key is wrong and exits 1 before starting', async () => {
    const good = newKey();
    const cases: [string, string][] = [
      [
        `${good},${good.slice(0, 20)}`,
        'demo: key 2 of SESSION_ENCRYPTION_KEYS is not a 32-byte key in base64 (20 characters; a key has 44); make one with: openssl rand -base64 32',
      ],
      [`${good}, ${good}`, 'demo: key 2 of SESSION_ENCRYPTION_KEYS repeats key 1 of SESSION_ENCRYPTION_KEYS'],
      [
        '',
        'demo: key 1 of SESSION_ENCRYPTION_KEYS is not a 32-byte key in base64 (empty); make one with: openssl rand -base64 32',
      ],
    ];
    for (const [value, message] of cases) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'demo/main.ts'], {
        cwd: root,
        env: cleanEnv({ PORT: String(await freePort()), SESSION_ENCRYPTION_KEYS: value }),
        encoding: 'utf8',
        // A demo that starts anyway is killed (SIGTERM stops its Redis) and fails the test.
        timeout: 20_000,
      });
      expect(run.status, `${value}\n${run.stdout}${run.stderr}`).to.equal(1);
      expect(run.stderr.trim().split('\n')).to.deep.equal([message]);
      expect(run.stdout).to.equal('');
    }
  });

  it('rotates the key across restarts: [B, A] keeps A sessions and re-encrypts them under B; [B] alone signs A sessions out', async () => {
    const redis = newRedis();
    const keyA = newKey();
    const keyB = newKey();
    const start = async (encryptionKeys: string[]) =>
      (await makeDemo({ redis, keys: COOKIE_KEYS, encryptionKeys })).app.callback();
    const laptop = restartableBrowser();
    const phone = restartableBrowser();

    // Key A: both sign in.
    let server = await start([keyA]);
    laptop.serve(server);
    phone.serve(server);
    await signIn(laptop.agent, 'alice', 'wonderland', { expect: 303 });
    await signIn(phone.agent, 'alice', 'wonderland', { expect: 303, userAgent: 'phone' });
    const laptopHandle = await currentHandle(laptop.agent);
    const phoneHandle = await currentHandle(phone.agent);
    const idA = keyIdOf(await storedValue(redis, laptopHandle));
    expect(keyIdOf(await storedValue(redis, phoneHandle))).to.equal(idA);

    // Restart with [B, A]: still signed in; the next save writes under B.
    server = await start([keyB, keyA]);
    laptop.serve(server);
    phone.serve(server);
    expect((await laptop.agent.get('/').expect(200)).text).to.include('signed in as <strong>alice</strong>');
    expect(keyIdOf(await storedValue(redis, laptopHandle)), 'a read alone does not rewrite').to.equal(idA);
    await postForm(laptop.agent, '/', '/devices/AAAAAAAAAAAAAAAA/sign-out', {}, 303);
    const idB = keyIdOf(await storedValue(redis, laptopHandle));
    expect(idB).to.not.equal(idA);
    const page = await laptop.agent.get('/').expect(200);
    expect(page.text).to.include('That device was already signed out');
    expect(panelValue(page.text).slice(DATA_START)).to.match(new RegExp(`^\\{~g${idB}`));
    expect(keyIdOf(await storedValue(redis, phoneHandle)), 'the phone has not saved yet').to.equal(idA);

    // Restart with [B] only: the laptop's session was re-encrypted and stays; the phone's, still under A, cannot be read.
    server = await start([keyB]);
    laptop.serve(server);
    phone.serve(server);
    expect((await laptop.agent.get('/').expect(200)).text).to.include('signed in as <strong>alice</strong>');
    expect(await currentHandle(laptop.agent)).to.equal(laptopHandle);
    await phone.agent.get('/').expect(302).expect('Location', '/signin');
    // The phone starts over with a fresh session, and a sign-in under B works.
    await signIn(phone.agent, 'alice', 'wonderland', { expect: 303, userAgent: 'phone' });
    const newPhoneHandle = await currentHandle(phone.agent);
    expect(newPhoneHandle).to.not.equal(phoneHandle);
    expect(keyIdOf(await storedValue(redis, newPhoneHandle))).to.equal(idB);
  });
});
