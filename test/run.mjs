// `npm test`: checks for redis-server (unless REDIS_URL is set), builds dist/ (the CommonJS test loads it), runs mocha.
import { spawnSync } from 'node:child_process';
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
process.exit(
  run(process.execPath, ['--import', 'tsx', 'node_modules/mocha/bin/mocha.js', ...process.argv.slice(2)]),
);
