// `npm run demo`, stopped every way a person stops it: nothing it started may keep running or hold a port.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import supertest from 'supertest';
import { csrfFrom } from '../browser/demo-fixtures.js';
import { freePort } from '../support/redis-server.js';
import { type Command, cleanEnv, startNpm, stopAndCheck, type Target, waitFor } from './process-tree.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run demo as a person runs it: its banner, every way to stop it, an unreachable Redis', function () {
  this.timeout(60_000);
  let demo: Command | undefined;
  afterEach(() => {
    if (demo?.child.pid) {
      try {
        process.kill(-demo.child.pid, 'SIGKILL');
      } catch {}
    }
  });

  const cases: [NodeJS.Signals, Target, string][] = [
    ['SIGINT', 'the process group', 'Ctrl-C'],
    ['SIGTERM', 'the npm process', 'kill <npm>'],
    ['SIGHUP', 'the process group', 'the terminal closed'],
    ['SIGHUP', 'the npm process', 'npm gone without passing the signal on'],
  ];
  for (const [signal, target, story] of cases) {
    it(`${signal} to ${target} (${story}): redis-server, node and npm end; both ports are free`, async () => {
      const port = await freePort();
      demo = startNpm(['run', 'demo'], root, cleanEnv({ PORT: String(port) }));
      const { procs, output } = await stopAndCheck(
        demo,
        signal,
        target,
        (out, now) => out.includes('Ctrl-C to stop.') && now.some((p) => p.args.startsWith('redis-server')),
        [port],
      );
      expect(procs.map((p) => p.args).join('\n')).to.include('demo/main.ts');
      expect(output).to.not.match(/Error|Unhandled/);
    });
  }

  it('prints its key prefix and a CLI line that works when pasted into a shell', async () => {
    const port = await freePort();
    demo = startNpm(['run', 'demo'], root, cleanEnv({ PORT: String(port) }));
    const command = demo;
    await waitFor('the banner', () => command.output().includes('Ctrl-C to stop.'));
    expect(command.output()).to.match(/^ {2}Prefix {4}demo:sess: /m);
    const line = /^ {4}(REDIS_URL=\S+ npx koa-epoch-session list alice --prefix demo:sess:)$/m.exec(
      command.output(),
    )?.[1];
    expect(line, command.output()).to.be.a('string');

    const browser = supertest.agent(`http://127.0.0.1:${port}`);
    const page = await browser.get('/signin').expect(200);
    await browser
      .post('/signin')
      .type('form')
      .send({ _csrf: csrfFrom(page.text), username: 'alice', password: 'wonderland' })
      .expect(303);
    const pasted = spawnSync('sh', ['-c', line!], { cwd: root, env: cleanEnv(), encoding: 'utf8' });
    expect(pasted.status, pasted.stderr).to.equal(0);
    expect(pasted.stdout).to.match(/^1 live session of "alice"/);
    await stopAndCheck(command, 'SIGINT', 'the process group', () => true, [port]);
  });

  it('says once that Redis cannot be reached at REDIS_URL, and exits non-zero', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    demo = startNpm(
      ['run', 'demo', '--silent'],
      root,
      cleanEnv({ PORT: String(await freePort()), REDIS_URL: url }),
    );
    const code = await demo.exited;
    expect(code).to.not.equal(0);
    const lines = demo.output().trim().split('\n');
    expect(lines).to.deep.equal([`demo: cannot connect to Redis at ${url}: connection refused`]);
  });
});
