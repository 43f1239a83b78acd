// `npm test`: checks for Redis (redis-server, or the one at REDIS_URL), builds dist/ (the CLI and CommonJS
// tests load it), runs mocha, and prints the one line CI reads, "N passed, N failed, N skipped", in every case.
// The Cluster runs always start their own redis-server processes, REDIS_URL or not.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = fileURLToPath(new URL('..', import.meta.url));
const { checkRedis, RedisUnreachableError } = await tsImport('./support/redis-check.ts', import.meta.url);
const { exitCodeFor, onShutdown } = await tsImport('./support/shutdown.ts', import.meta.url);

const total = { passes: 0, failures: 0, pending: 0 };
/** The mocha (or build) process running now: a group of its own, so that stopping it stops all it started. */
let current;
let stoppedBy;

function finish(status) {
  console.log(`\n${total.passes} passed, ${total.failures} failed, ${total.pending} skipped`);
  process.exit(status);
}

/** Counts a run that could not start or did not finish as one failure, never as a pass. */
function fail(message, status = 1) {
  console.error(`npm test: ${message}`);
  total.failures += 1;
  finish(status);
}

const alive = (pgid) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGTERM to the whole group (mocha, the redis-servers its hooks started, a demo, a browser), then
 * SIGKILL to whatever is left after 5 s. SIGCONT first: a test may have paused a server with SIGSTOP.
 */
async function stopGroup(pgid) {
  for (const signal of ['SIGCONT', 'SIGTERM']) {
    try {
      process.kill(-pgid, signal);
    } catch {
      return;
    }
  }
  const deadline = Date.now() + 5_000;
  while (alive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive(pgid)) process.kill(-pgid, 'SIGKILL');
}

/** Runs a command in a process group of its own; resolves with its exit code once the group is empty. */
async function run(command, args, extraEnv = {}) {
  const child = spawn(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...extraEnv },
    detached: true,
  });
  current = child;
  const code = await new Promise((resolve) => {
    child.once('error', (error) => {
      console.error(`npm test: cannot run ${command}: ${error.message}`);
      resolve(1);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  current = undefined;
  // A process that outlived its parent (a server whose after-hook never ran) goes with it.
  if (child.pid !== undefined) await stopGroup(child.pid);
  return code;
}

onShutdown((reason) => {
  stoppedBy = reason;
  console.error(`\nnpm test: ${reason}, stopping every process the tests started`);
  const stopping = current?.pid === undefined ? Promise.resolve() : stopGroup(current.pid);
  void stopping.then(() => fail(`stopped by ${reason} before the end`, exitCodeFor(reason)));
});

try {
  if (process.env.REDIS_URL) {
    try {
      await checkRedis(process.env.REDIS_URL);
    } catch (error) {
      if (!(error instanceof RedisUnreachableError)) throw error;
      fail(error.message);
    }
  } else {
    const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      fail(
        'npm test needs redis-server on PATH to start a private Redis, or REDIS_URL pointing at a Redis it may flush.\n' +
          'Install it with: apt-get install -y redis-server   (macOS: brew install redis)',
      );
    }
  }

  if ((await run(process.execPath, ['scripts/build.mjs'])) !== 0) fail('the TypeScript build failed');

  /*
   * Four mocha runs: the whole suite on a private redis-server with ioredis, then the functional
   * suite again on three other clients (issue 14): an ioredis Cluster client of a private 3-master
   * cluster (SPEC invariant 7), a node-redis client (createClient) of a private redis-server, and a
   * node-redis cluster client (createCluster). The functional suite is what the store promises on
   * any client; the rest (unit, reliability, CLI, demo, package) does not depend on it, or is
   * client-specific and carries its own node-redis cases (test/reliability/node-redis.test.ts), so
   * it runs once. Each run writes its counts to a file; this prints the one total line. Arguments
   * (files, -g) go to the first run only, and skip the others.
   */
  const args = process.argv.slice(2);
  const runs = [
    {
      name: 'suite',
      env: { KES_TEST_CLIENT: 'ioredis' },
      // The package and stop-signal tests, ahead of the suite that .mocharc.json lists.
      args: args.length > 0 ? args : ['test/package/**/*.test.ts', 'test/signals/**/*.test.ts'],
    },
  ];
  const functional = [
    '--no-config',
    '--require',
    'test/support/hooks.ts',
    '--reporter',
    'test/support/summary-reporter.cjs',
    '--timeout',
    '20000',
    '--exit',
    'test/functional/**/*.test.ts',
    'test/ttl-audit.last.ts',
  ];
  if (args.length === 0) {
    runs.push(
      {
        name: 'functional suite on an ioredis Cluster',
        env: { KES_TEST_CLIENT: 'ioredis', KES_TEST_CLUSTER: '1' },
        args: functional,
      },
      {
        name: 'functional suite on node-redis (createClient)',
        env: { KES_TEST_CLIENT: 'node-redis' },
        args: functional,
      },
      {
        name: 'functional suite on a node-redis cluster (createCluster)',
        env: { KES_TEST_CLIENT: 'node-redis', KES_TEST_CLUSTER: '1' },
        args: functional,
      },
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'kes-summary-'));
  let status = 0;
  for (const [i, { name, env, args: runArgs }] of runs.entries()) {
    if (i > 0) console.log(`\n# ${name}\n`);
    const file = join(dir, `${i}.json`);
    const code = await run(
      process.execPath,
      ['--import', 'tsx', 'node_modules/mocha/bin/mocha.js', ...runArgs],
      {
        ...env,
        KES_SUMMARY_FILE: file,
      },
    );
    if (stoppedBy) break;
    if (existsSync(file)) {
      const counts = JSON.parse(readFileSync(file, 'utf8'));
      for (const key of Object.keys(total)) total[key] += counts[key];
    } else {
      // Mocha died before its reporter finished: count the run as one failure, never as a pass.
      console.error(`npm test: the ${name} did not finish (exit code ${code})`);
      total.failures += 1;
    }
    if (code !== 0) status = code;
  }
  rmSync(dir, { recursive: true, force: true });
  if (!stoppedBy) finish(status || (total.failures > 0 ? 1 : 0));
} catch (error) {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
}
