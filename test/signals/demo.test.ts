// `npm run demo`, stopped every way a person stops it: nothing it started may keep running or hold a port.
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort } from '../support/redis-server.js';
import { type Command, cleanEnv, startNpm, stopAndCheck, type Target } from './process-tree.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run demo: stopping it stops everything it started', function () {
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
