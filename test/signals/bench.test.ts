// `npm run bench`, stopped while it measures: its redis-servers and app processes end with it.
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { type Command, cleanEnv, startNpm, stopAndCheck, type Target } from './process-tree.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run bench: stopping it stops everything it started', function () {
  this.timeout(60_000);
  let bench: Command | undefined;
  afterEach(() => {
    if (bench?.child.pid) {
      try {
        process.kill(-bench.child.pid, 'SIGKILL');
      } catch {}
    }
  });

  const cases: [NodeJS.Signals, Target][] = [
    ['SIGINT', 'the process group'],
    ['SIGTERM', 'the npm process'],
    ['SIGHUP', 'the process group'],
  ];
  for (const [signal, target] of cases) {
    it(`${signal} to ${target}: its redis-server and app processes end, their ports are free`, async () => {
      bench = startNpm(['run', 'bench', '--', '--quick', '--only=read'], root, cleanEnv());
      const { procs } = await stopAndCheck(bench, signal, target, (_, now) => {
        const apps = now.filter((p) => p.args.includes('bench/app-server.ts'));
        return apps.length > 0 && now.some((p) => p.args.startsWith('redis-server'));
      });
      expect(procs.some((p) => p.args.includes('bench/app-server.ts'))).to.equal(true);
    });
  }
});
