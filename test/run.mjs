// `npm test`: checks for redis-server (unless REDIS_URL is set), builds dist/ (the CommonJS test loads it), runs mocha.
// The Cluster run always starts its own redis-server processes, REDIS_URL or not.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

if (!process.env.REDIS_URL) {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    console.error(
      'npm test needs redis-server on PATH to start a private Redis, or REDIS_URL pointing at a Redis it may flush.\n' +
        'Install it with: apt-get install -y redis-server   (macOS: brew install redis)',
    );
    process.exit(1);
  }
}

function run(command, args, extraEnv = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...extraEnv },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

const build = run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);
if (build !== 0) {
  console.error('npm test: the TypeScript build failed');
  console.log('0 passed, 1 failed');
  process.exit(build);
}
/*
 * Two mocha runs: the whole suite on a private redis-server, then the functional suite again on an
 * ioredis Cluster client of a private 3-master cluster (SPEC invariant 7). Each writes its counts
 * to a file; this prints the one total line CI reads. Arguments (files, -g) go to the first run
 * only, and skip the second.
 */
const args = process.argv.slice(2);
const runs = [{ name: 'suite', env: {}, args }];
if (args.length === 0) {
  runs.push({
    name: 'functional suite on Redis Cluster',
    env: { KES_TEST_CLUSTER: '1' },
    args: [
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
    ],
  });
}
const dir = mkdtempSync(join(tmpdir(), 'kes-summary-'));
const total = { passes: 0, failures: 0, pending: 0 };
let status = 0;
for (const [i, { name, env, args: runArgs }] of runs.entries()) {
  if (i > 0) console.log(`\n# ${name}\n`);
  const file = join(dir, `${i}.json`);
  const code = run(process.execPath, ['--import', 'tsx', 'node_modules/mocha/bin/mocha.js', ...runArgs], {
    ...env,
    KES_SUMMARY_FILE: file,
  });
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
console.log(`\n${total.passes} passed, ${total.failures} failed, ${total.pending} skipped`);
process.exit(status || (total.failures > 0 ? 1 : 0));
