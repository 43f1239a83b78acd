// The operator CLI, run as users run it (node dist/cli/main.js) against a real Redis holding real sessions.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { signedCookie } from '../support/cookies.js';
import { testRedisUrl } from '../support/hooks.js';
import { freePort } from '../support/redis-server.js';

const root = new URL('../../', import.meta.url);
const CLI = fileURLToPath(new URL('dist/cli/main.js', root));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with REDIS_URL pointing at the test Redis unless `env` says otherwise. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, REDIS_URL: testRedisUrl(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

async function cliJson(args: string[], env: Record<string, string> = {}) {
  const result = await cli(['--json', ...args], env);
  return { ...result, json: JSON.parse(result.stdout) };
}

/** Signs in a new browser as `user`, with its own user agent. */
async function signIn(t: TestApp, user: string, userAgent = 'test-agent') {
  const agent = t.agent();
  await agent
    .post(`/login?user=${encodeURIComponent(user)}`)
    .set('User-Agent', userAgent)
    .expect(200);
  return agent;
}

async function whoami(agent: ReturnType<TestApp['agent']>) {
  return (await agent.get('/whoami').expect(200)).body as { userId: string | null; revoked: string | null };
}

/** A REDIS_URL where nothing listens: any test that reaches Redis through it fails with exit 3. */
async function closedPortUrl(): Promise<string> {
  return `redis://127.0.0.1:${await freePort()}`;
}

describe('operator CLI: koa-epoch-session', function () {
  this.timeout(30_000);

  before(() => {
    if (!existsSync(CLI))
      throw new Error('dist/cli/main.js is missing: run `npm run build` first (npm test does)');
    for (const name of ['cli/main.ts', 'cli/commands.ts', 'cli/output.ts']) {
      const source = statSync(new URL(`lib/${name}`, root)).mtimeMs;
      const built = statSync(new URL(`dist/${name.replace(/ts$/, 'js')}`, root)).mtimeMs;
      if (source > built) throw new Error(`dist/ is older than lib/${name}: run \`npm run build\` first`);
    }
  });

  afterEach(closeClients);

  describe('rotate', () => {
    it('signs every session of the user out, records the reason, and leaves other users alone', async () => {
      const t = makeApp({ registry: true });
      const [laptop, phone, bob] = [
        await signIn(t, 'alice'),
        await signIn(t, 'alice'),
        await signIn(t, 'bob'),
      ];
      const result = await cli(['rotate', 'alice', '--reason', 'password-changed']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.stdout).to.equal('signed "alice" out everywhere (reason: password-changed)\n');
      for (const agent of [laptop, phone]) {
        expect(await whoami(agent)).to.include({ userId: null, revoked: 'password-changed' });
      }
      expect(await whoami(bob)).to.include({ userId: 'bob', revoked: null });
    });

    it('exits 1 and says so when the user has no sessions (a wrong id or prefix is visible)', async () => {
      const t = makeApp({ registry: true });
      await signIn(t, 'alice');
      const result = await cli(['rotate', 'alce']);
      expect(result.code).to.equal(1);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.match(/"alce" has no sessions under "sess:".*check the user id and --prefix/);
      const json = await cliJson(['rotate', 'alce']);
      expect(json.code).to.equal(1);
      expect(json.json).to.deep.equal({ userId: 'alce', rotated: false, reason: 'signed-out-everywhere' });
    });

    it('prints the outcome as JSON with --json', async () => {
      const t = makeApp();
      const agent = await signIn(t, 'bob');
      const result = await cliJson(['rotate', 'bob']);
      expect(result.code).to.equal(0);
      expect(result.json).to.deep.equal({ userId: 'bob', rotated: true, reason: 'signed-out-everywhere' });
      expect(await whoami(agent)).to.include({ userId: null, revoked: 'signed-out-everywhere' });
    });
  });

  describe('rotate during a legacy migration (issue 11)', () => {
    const legacyUser = (data: Record<string, unknown>) =>
      typeof data.userId === 'string' ? data.userId : undefined;

    /** A koa-redis session of `user` as koa-session wrote it, and the cookie its browser holds. */
    async function legacySession(t: TestApp, user: string): Promise<string> {
      const sid = `legacy-${user}-${randomBytes(6).toString('hex')}`;
      const now = Date.now();
      const data = { userId: user, secret: `of-${user}`, _expire: now + 3_600_000, _maxAge: 3_600_000 };
      await t.redis.set(sid, JSON.stringify(data), 'PX', 3_600_000 + 10_000);
      return signedCookie(sid, 'koa.sess');
    }

    it('invariant 1: with --legacy-lifetime, revokes the koa-redis sessions not moved yet, and says so; others are still adopted', async () => {
      const t = makeApp({ key: 'koa.sess', registry: true, legacy: { prefix: '', userId: legacyUser } });
      const alice = await legacySession(t, 'alice');
      const bob = await legacySession(t, 'bob');
      const result = await cliJson(['rotate', 'alice', '--legacy-lifetime', '3600000']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.json).to.deep.equal({
        userId: 'alice',
        rotated: true,
        reason: 'signed-out-everywhere',
        legacy: true,
      });
      const text = await cli([
        'rotate',
        'alice',
        '--legacy-lifetime',
        '3600000',
        '--reason',
        'password-changed',
      ]);
      expect(text.stdout).to.equal(
        'signed "alice" out everywhere, including legacy sessions not moved yet (reason: password-changed)\n',
      );
      const adopted = await t.agent().get('/whoami').set('Cookie', alice).expect(200);
      expect(adopted.body).to.include({ userId: null });
      expect(adopted.body.data).to.not.have.property('secret');
      expect((await t.agent().get('/whoami').set('Cookie', bob).expect(200)).body.userId).to.equal('bob');
    });

    it('without --legacy-lifetime leaves legacy sessions alone, and says there was nothing to revoke', async () => {
      const t = makeApp({ key: 'koa.sess', registry: true, legacy: { prefix: '', userId: legacyUser } });
      const alice = await legacySession(t, 'alice');
      const result = await cli(['rotate', 'alice']);
      expect(result.code).to.equal(1);
      expect((await t.agent().get('/whoami').set('Cookie', alice).expect(200)).body.userId).to.equal('alice');
      const bad = await cli(['rotate', 'alice', '--legacy-lifetime', '1.5']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/--legacy-lifetime must be a positive whole number of milliseconds/);
      expect((await cli(['list', 'alice', '--legacy-lifetime', '5'])).code).to.equal(2);
    });
  });

  describe('list and revoke', () => {
    it('lists each live session with its device; --json gives the ids the library reports', async () => {
      const t = makeApp({ registry: true });
      await signIn(t, 'alice', 'Firefox/1');
      await signIn(t, 'alice', 'curl/2');
      const expected = await t.sessions.list('alice');

      const json = await cliJson(['list', 'alice']);
      expect(json.code).to.equal(0, json.stderr);
      expect(json.json.userId).to.equal('alice');
      const listed = json.json.sessions as Record<'id' | 'userAgent' | 'expiresAt', string>[];
      expect(listed.map((s) => s.id).sort()).to.deep.equal(expected.map((s) => s.id).sort());
      expect(listed.map((s) => s.userAgent).sort()).to.deep.equal(['Firefox/1', 'curl/2']);
      for (const session of listed) {
        expect(Object.keys(session).sort()).to.deep.equal(
          ['createdAt', 'expiresAt', 'id', 'ip', 'lastSeenAt', 'userAgent'],
          'no "current": a command line has no session of its own',
        );
        expect(Date.parse(session.expiresAt)).to.be.greaterThan(Date.now());
      }

      const text = await cli(['list', 'alice']);
      expect(text.code).to.equal(0);
      const lines = text.stdout.trimEnd().split('\n');
      expect(lines[0]).to.equal('2 live sessions of "alice", most recently active first:');
      expect(lines[1]).to.match(/^ID\s+LAST SEEN\s+CREATED\s+EXPIRES\s+IP\s+USER AGENT$/);
      for (const session of expected) {
        expect(
          lines.some((line) => line.startsWith(session.id) && line.endsWith(session.userAgent)),
        ).to.equal(true, `a row for ${session.id}`);
      }
    });

    it('exits 1 when the user has no listed sessions, and hints at the registry', async () => {
      makeApp({ registry: true });
      const result = await cliJson(['list', 'nobody']);
      expect(result.code).to.equal(1);
      expect(result.json).to.deep.equal({ userId: 'nobody', sessions: [] });
      expect(result.stderr).to.match(/no live sessions of "nobody".*registry: true/);
    });

    it('escapes control characters of a user agent instead of sending them to the terminal', async () => {
      const t = makeApp({ registry: true });
      await signIn(t, 'alice', 'evil\u009b31mRED');
      const result = await cli(['list', 'alice']);
      expect(result.code).to.equal(0);
      expect(result.stdout).to.not.include('\u009b');
      expect(result.stdout).to.include('evil\\u{9b}31mRED');
    });

    it('revokes the one session named, with its reason, and leaves the others signed in', async () => {
      const t = makeApp({ registry: true });
      const lost = await signIn(t, 'alice', 'lost-phone');
      const kept = await signIn(t, 'alice', 'laptop');
      const listed = (await cliJson(['list', 'alice'])).json.sessions as { id: string; userAgent: string }[];
      const target = listed.find((s) => s.userAgent === 'lost-phone')!.id;

      const result = await cliJson(['revoke', 'alice', target, '--reason', 'device lost']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.json).to.deep.equal({
        userId: 'alice',
        sessionId: target,
        revoked: true,
        reason: 'device lost',
      });
      expect(await whoami(lost)).to.include({ userId: null, revoked: 'device lost' });
      expect(await whoami(kept)).to.include({ userId: 'alice' });

      const again = await cli(['revoke', 'alice', target]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.include(`no live session ${target} of "alice"`);
      const text = await cli(['revoke', 'alice', listed.find((s) => s.userAgent === 'laptop')!.id]);
      expect(text.code).to.equal(0);
      expect(text.stdout).to.match(/^revoked session [A-Za-z0-9_-]{16} of "alice" \(reason: revoked\)\n$/);
      expect(await whoami(kept)).to.include({ userId: null, revoked: 'revoked' });
    });

    it('revokes a session whose id starts with "-", as list prints it, without "--"', async () => {
      // Handles are base64url: one in 64 starts with "-", which parseArgs used to take for an option.
      const t = makeApp({ registry: true });
      let target: string | undefined;
      for (let i = 0; i < 1000 && target === undefined; i++) {
        await signIn(t, 'alice', `device-${i}`);
        target = (await t.sessions.list('alice')).find((s) => s.id.startsWith('-'))?.id;
      }
      expect(target, 'a handle that starts with "-" within 1000 sign-ins').to.be.a('string');
      const result = await cliJson(['revoke', 'alice', target!, '--reason', 'device lost']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.json).to.include({ sessionId: target, revoked: true });
      expect((await t.sessions.list('alice')).map((s) => s.id)).to.not.include(target);
      const again = await cli(['revoke', 'alice', target!]);
      expect(again.code).to.equal(1, again.stderr);
      expect(again.stderr).to.include(`no live session ${target} of "alice"`);
    });

    it('works for user ids that start with "-", hold braces and globs, or are hashed for length', async () => {
      const t = makeApp({ registry: true });
      for (const id of ['-{alice}:*', `${'long '.repeat(20)}id`]) {
        const agent = await signIn(t, id);
        const listed = await cliJson(['list', '--', id]);
        expect(listed.code).to.equal(0, `${id}: ${listed.stderr}`);
        expect(listed.json.sessions).to.have.length(1);
        const rotated = await cli(['rotate', '--', id]);
        expect(rotated.code).to.equal(0, `${id}: ${rotated.stderr}`);
        expect(await whoami(agent)).to.include({ userId: null });
      }
    });

    it('uses --prefix to reach an app with its own prefix', async () => {
      const t = makeApp({ prefix: 'app1:' });
      const agent = await signIn(t, 'alice');
      expect((await cli(['rotate', 'alice'])).code).to.equal(1, 'nothing under the default prefix');
      const result = await cli(['rotate', 'alice', '--prefix', 'app1:']);
      expect(result.code).to.equal(0, result.stderr);
      expect(await whoami(agent)).to.include({ userId: null });
    });
  });

  describe('stats', () => {
    it('counts the forwarding keys a re-key leaves and the markers a legacy rotation leaves, not as "other"', async () => {
      const t = makeApp({ registry: true, legacy: { prefix: 'old:', userId: () => undefined } });
      const moved = await signIn(t, 'mia');
      await moved.post('/regenerate').expect(200);
      await signIn(t, 'max');
      expect((await cli(['rotate', 'max', '--legacy-lifetime', '60000'])).code).to.equal(0);
      const result = await cliJson(['stats']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.json).to.deep.include({ forwards: 1, legacyMarkers: 1, other: 0, withoutTtl: 0 });
      expect((await cli(['stats'])).stdout).to.match(/moved-session forwards\s+1/);
    });

    it('counts signed-in, orphaned and anonymous sessions, users and keys without a TTL', async () => {
      const t = makeApp({ registry: true });
      await signIn(t, 'alice');
      await signIn(t, 'alice');
      await signIn(t, 'bob');
      await t.agent().post('/set?cart=1').expect(200);

      const before = await cliJson(['stats']);
      expect(before.code).to.equal(0, before.stderr);
      expect(before.json).to.deep.include({
        prefix: 'sess:',
        complete: true,
        coverage: 1,
        examined: (await t.redis.keys('sess:*')).length,
        sessions: { signedIn: 3, orphaned: 0, anonymous: 1 },
        users: 2,
        registries: 2,
        reasons: 0,
        other: 0,
        withoutTtl: 0,
      });

      await t.sessions.rotate('alice');
      const after = await cliJson(['stats']);
      expect(after.json).to.deep.include({
        sessions: { signedIn: 1, orphaned: 2, anonymous: 1 },
        users: 1,
        // rotate touches only the epoch key: alice's registry stays until her next login or list().
        registries: 2,
        reasons: 1,
        withoutTtl: 0,
      });

      const text = await cli(['stats']);
      expect(text.code).to.equal(0);
      expect(text.stdout).to.match(/^Keys under "sess:" \(complete scan, \d+ keys\):\n/);
      expect(text.stdout).to.match(/\n {2}signed-in sessions +1\n/);
      expect(text.stdout).to.match(/\n {2}orphaned by a rotation +2 {2}unreachable/);
      expect(text.stdout).to.match(/\n {2}keys without a TTL +0 {2}must be 0\n$/);
    });

    it('exits 1 and names the keys under the prefix that have no TTL', async () => {
      const t = makeApp();
      await signIn(t, 'alice');
      await t.redis.set('sess:stray', 'written by something else');
      await t.redis.set('elsewhere:no-ttl', 'not under the prefix');
      try {
        const result = await cliJson(['stats']);
        expect(result.code).to.equal(1);
        expect(result.json).to.deep.include({ other: 1, withoutTtl: 1, withoutTtlExamples: ['sess:stray'] });
        expect(result.stderr).to.match(/keys without a TTL under "sess:".*"sess:stray"/);
      } finally {
        // The root hook fails the suite on keys without a TTL: these were planted on purpose.
        await t.redis.del('sess:stray', 'elsewhere:no-ttl');
      }
    });

    it('matches the prefix literally, even when it holds glob characters', async () => {
      const glob = makeApp({ prefix: 't*:' });
      const decoy = makeApp({ prefix: 'tt:' });
      await signIn(glob, 'alice');
      await signIn(decoy, 'bob');
      await signIn(decoy, 'carol');
      const result = await cliJson(['stats', '--prefix', 't*:']);
      expect(result.code).to.equal(0, result.stderr);
      expect(result.json).to.deep.include({ users: 1, sessions: { signedIn: 1, orphaned: 0, anonymous: 0 } });
    });

    it('with --sample, stops early and estimates the totals from the share of the keyspace scanned', async () => {
      const t = makeApp();
      const write = t.redis.pipeline();
      for (let i = 0; i < 6000; i++) {
        write.set(`sess:a:${randomBytes(12).toString('base64url')}`, '{}', 'PX', 60_000);
      }
      for (let i = 0; i < 2000; i++) write.set(`unrelated:${i}`, 'x', 'PX', 60_000);
      await write.exec();

      const full = await cliJson(['stats']);
      expect(full.json.complete).to.equal(true);
      // SCAN may return a key twice while Redis is still resizing its table after the writes.
      expect(full.json.examined).to.be.within(6000, 6100);
      expect(full.json.sessions.anonymous).to.equal(full.json.examined);

      const sampled = await cliJson(['stats', '--sample', '500']);
      expect(sampled.code).to.equal(0, sampled.stderr);
      expect(sampled.json.complete).to.equal(false);
      expect(sampled.json.coverage).to.be.greaterThan(0).and.lessThan(1);
      expect(sampled.json.examined).to.be.at.least(500).and.lessThan(6000);
      expect(sampled.json.sessions.anonymous).to.be.within(4500, 7500);
      const text = await cli(['stats', '--sample', '500']);
      expect(text.stdout).to.match(/\(estimated from [\d,]+ keys, [\d.]+% of the keyspace\)/);
      expect(text.stdout).to.match(/anonymous sessions +~[\d,]+\n/);
    });

    it('reports progress on stderr with --progress, and stays quiet when stderr is not a terminal', async () => {
      const t = makeApp();
      await signIn(t, 'alice');
      const withProgress = await cli(['stats', '--progress']);
      expect(withProgress.code).to.equal(0);
      expect(withProgress.stderr).to.match(/^scanned 100\.0% of the keyspace, 2 keys under the prefix\n$/);
      const quiet = await cli(['stats']);
      expect(quiet.stderr).to.equal('');
    });
  });

  describe('help, usage errors and exit codes', () => {
    it('--help lists every command, the options and the exit codes; each command has its own page', async () => {
      const url = await closedPortUrl();
      const main = await cli(['--help'], { REDIS_URL: url });
      expect(main.code).to.equal(0);
      for (const text of [
        'rotate <userId>',
        'list <userId>',
        'revoke <userId> <sessionId>',
        'stats',
        'REDIS_URL',
      ]) {
        expect(main.stdout).to.include(text);
      }
      expect(main.stdout).to.match(/Exit status:\n {2}0 {2}done\n {2}1 {2}nothing found/);
      const commands = ['rotate', 'list', 'revoke', 'stats'];
      const pages = await Promise.all(
        commands.flatMap((command) => [
          cli([command, '--help'], { REDIS_URL: url }),
          cli(['help', command], { REDIS_URL: url }),
        ]),
      );
      commands.forEach((command, i) => {
        const [own, viaHelp] = [pages[2 * i]!, pages[2 * i + 1]!];
        expect(own.code).to.equal(0);
        expect(own.stdout).to.match(new RegExp(`^Usage: koa-epoch-session ${command}\\b`));
        expect(own.stdout).to.include('--prefix <prefix>').and.include('Exit status:');
        expect(viaHelp.stdout).to.equal(own.stdout);
      });
      expect((await cli(['rotate', '-h'], { REDIS_URL: url })).stdout).to.include('--reason <reason>');
    });

    it('--version prints the package version', async () => {
      const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
      const result = await cli(['--version']);
      expect(result).to.include({ code: 0, stdout: `${version}\n` });
    });

    it('rejects bad arguments with a clear message and exit 2, before connecting to Redis', async () => {
      const url = await closedPortUrl();
      const cases: [string[], RegExp][] = [
        [[], /a command is needed/],
        [['nope'], /unknown command "nope"; the commands are rotate, list, revoke, stats/],
        [['help', 'nope'], /unknown command "nope"/],
        [['rotate'], /rotate takes <userId>, got 0 argument\(s\)/],
        [['rotate', 'alice', 'bob'], /rotate takes <userId>, got 2 argument\(s\)/],
        [['revoke', 'alice'], /revoke takes <userId> <sessionId>, got 1/],
        [['stats', 'extra'], /stats takes no arguments, got 1/],
        [['rotate', ''], /<userId> must be a non-empty string/],
        [['rotate', 'alice', '--nope'], /Unknown option '--nope'/],
        [['rotate', 'alice', '--reason'], /--reason.*argument missing/],
        [['list', 'alice', '--reason', 'x'], /list takes no --reason/],
        [['rotate', 'alice', '--sample', '5'], /rotate takes no --sample/],
        [['rotate', 'alice', '--reason', 'a/b'], /--reason must be 1 to 64 characters.*\(got "a\/b"\)/],
        [['revoke', 'alice', 'sid=abc'], /<sessionId> must be a session id as list prints it/],
        [['stats', '--sample', '0'], /--sample must be a positive whole number of keys \(got "0"\)/],
        [['stats', '--sample', 'ten'], /--sample must be a positive whole number/],
        [['stats', '--prefix', '{x}'], /--prefix must be a string without "\{" or "\}"/],
      ];
      const results = await Promise.all(cases.map(([args]) => cli(args, { REDIS_URL: url })));
      results.forEach((result, i) => {
        const [args, message] = cases[i]!;
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(2);
        expect(result.stderr, args.join(' ')).to.match(message);
        expect(result.stderr, args.join(' ')).to.match(/^koa-epoch-session: /);
        expect(result.stdout, args.join(' ')).to.equal('');
      });
      expect(results[1]!.stderr).to.include("Run 'koa-epoch-session --help' for usage.");
      expect(results[3]!.stderr).to.include("Run 'koa-epoch-session rotate --help' for usage.");
    });

    it('rejects a REDIS_URL that is not a redis:// URL with exit 2', async () => {
      const notUrl = await cli(['stats'], { REDIS_URL: 'localhost:6379' });
      expect(notUrl.code).to.equal(2);
      expect(notUrl.stderr).to.match(/REDIS_URL must start with redis:\/\/ or rediss:\/\//);
      const garbage = await cli(['stats'], { REDIS_URL: '::nonsense' });
      expect(garbage.code).to.equal(2);
      expect(garbage.stderr).to.include('REDIS_URL is not a URL');
    });

    it('rejects a REDIS_URL whose database is not a number with exit 2', async () => {
      const result = await cli(['stats'], { REDIS_URL: 'redis://127.0.0.1:6379/sessions' });
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('REDIS_URL names database "sessions"; it must be a number');
    });

    it('accepts the session ids of the walkthrough in docs/operations.md (it reaches Redis: exit 3, not 2)', async () => {
      const ops = readFileSync(new URL('docs/operations.md', root), 'utf8');
      const revokes = [...ops.matchAll(/^\$ koa-epoch-session (revoke .*)$/gm)].map((m) => m[1]!.split(' '));
      expect(revokes).to.not.deep.equal([]);
      const url = await closedPortUrl();
      for (const args of revokes) {
        const result = await cli(args, { REDIS_URL: url });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(3);
      }
    });

    it('with --json, an error is a JSON document on stdout too', async () => {
      const result = await cliJson(['revoke', 'alice', 'nope']);
      expect(result.code).to.equal(2);
      expect(result.json).to.deep.equal({
        error: {
          exitCode: 2,
          message:
            '<sessionId> must be a session id as list prints it: 16 characters of A-Z, a-z, 0-9, "_" and "-"',
        },
      });
    });
  });

  describe('Redis unavailable', () => {
    it('exits 3 at once when nothing listens, with the cause and without the password', async () => {
      const port = await freePort();
      const url = `redis://:hunter2@127.0.0.1:${port}`;
      for (const args of [['stats'], ['rotate', 'alice'], ['list', 'alice']]) {
        const result = await cli(args, { REDIS_URL: url });
        expect(result.code, args.join(' ')).to.equal(3);
        expect(result.stderr).to.equal(
          `koa-epoch-session: cannot connect to Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
        );
        expect(result.ms).to.be.lessThan(3_000);
      }
      const json = await cliJson(['rotate', 'alice'], { REDIS_URL: url });
      expect(json.json.error.exitCode).to.equal(3);
      expect(json.stdout).to.not.include('hunter2');
    });

    it('exits 3 and writes nothing when REDIS_URL names a database Redis cannot select', async () => {
      const t = makeApp({ registry: true });
      const agent = await signIn(t, 'alice');
      const url = new URL(testRedisUrl());
      url.pathname = '/99';
      for (const args of [['rotate', 'alice'], ['list', 'alice'], ['stats']]) {
        const result = await cli(args, { REDIS_URL: url.toString() });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(3);
        expect(result.stdout).to.equal('');
        expect(result.stderr).to.match(
          /^koa-epoch-session: cannot use database 99 of the Redis at redis:\/\/[^ ]+\/99: .*DB index is out of range/,
        );
      }
      expect(await whoami(agent)).to.include({ userId: 'alice', revoked: null });
    });

    it('exits 3 within the 5 s timeout when the server accepts but never answers', async () => {
      const silent: Server = createServer((socket) => socket.on('data', () => {}));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      try {
        const result = await cli(['rotate', 'alice'], { REDIS_URL: `redis://127.0.0.1:${port}` });
        expect(result.code).to.equal(3);
        expect(result.stderr).to.match(/cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+: .*timed out/i);
        expect(result.ms).to.be.within(4_000, 9_000);
      } finally {
        silent.close();
      }
    });
  });
});
