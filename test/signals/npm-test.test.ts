// `npm test` itself: stopped midway it stops its private Redis; it says why it cannot start; it always prints its count.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort } from '../support/redis-server.js';
import { type Command, cleanEnv, startNpm, stopAndCheck, type Target } from './process-tree.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SUMMARY = /^\d+ passed, \d+ failed, \d+ skipped$/m;

/** `npm test -- …` running only the fixture that waits: the root hook's private redis-server is up. */
const WAITING_RUN = [
  'test',
  '--',
  '--no-config',
  '--require',
  'test/support/hooks.ts',
  '--reporter',
  'test/support/summary-reporter.cjs',
  '--exit',
  'test/signals/fixtures/waits.fixture.ts',
];

describe('npm test: stops cleanly, and always prints its count', function () {
  this.timeout(60_000);
  let run: Command | undefined;
  afterEach(() => {
    if (run?.child.pid) {
      try {
        process.kill(-run.child.pid, 'SIGKILL');
      } catch {}
    }
  });

  const cases: [NodeJS.Signals, Target][] = [
    ['SIGINT', 'the process group'],
    ['SIGTERM', 'the npm process'],
    ['SIGHUP', 'the process group'],
  ];
  for (const [signal, target] of cases) {
    it(`${signal} to ${target}: mocha and its private redis-server end, the port is free, the count is printed`, async () => {
      run = startNpm(WAITING_RUN, root, cleanEnv());
      const { output, procs } = await stopAndCheck(
        run,
        signal,
        target,
        (out, now) => out.includes('fixture: waiting') && now.some((p) => p.args.startsWith('redis-server')),
      );
      expect(procs.some((p) => p.args.includes('mocha'))).to.equal(true);
      expect(output).to.include(`npm test: stopped by ${signal} before the end`);
      expect(output).to.match(/^0 passed, 1 failed, 0 skipped$/m);
    });
  }

  it('with REDIS_URL at a closed port, says so once, without ioredis noise, and prints 0 passed, 1 failed', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    run = startNpm(['test', '--silent'], root, cleanEnv({ REDIS_URL: url }));
    expect(await run.exited).to.equal(1);
    const output = run.output();
    expect(output.match(/cannot connect to Redis/g)).to.have.length(1);
    expect(output).to.include(`npm test: cannot connect to Redis at ${url}: connection refused`);
    expect(output).to.not.match(/Unhandled error event|ECONNREFUSED/);
    expect(output).to.match(/^0 passed, 1 failed, 0 skipped$/m);
  });

  it('without redis-server on PATH, says how to install it and still prints its count', async () => {
    // A PATH that holds node and nothing else (no redis-server), and run.mjs run as npm would run it.
    const bin = mkdtempSync(join(tmpdir(), 'kes-path-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      const result = spawnSync(join(bin, 'node'), ['test/run.mjs'], {
        cwd: root,
        env: cleanEnv({ PATH: bin }),
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).to.equal(1);
      expect(result.stderr).to.include('npm test needs redis-server on PATH').and.include('apt-get install');
      expect(result.stdout)
        .to.match(SUMMARY)
        .and.match(/^0 passed, 1 failed, 0 skipped$/m);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
