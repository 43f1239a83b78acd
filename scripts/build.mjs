// `npm run build`, also run by npm on prepare (git installs) and prepack: a clean dist/ from lib/.
// Clean, so that a module deleted from lib/ never ships from an old dist/. Built beside dist/ and
// swapped in by rename, so that a CLI or test run already using dist/ never finds it half written.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const next = join(root, 'dist.next');
const old = join(root, 'dist.old');
// Resolved, not taken from PATH, so `node scripts/build.mjs` works outside npm too.
// TypeScript 7 exports no bin path: find its package.json and read the bin from it.
const manifest = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = join(dirname(manifest), 'bin', 'tsc');

rmSync(next, { recursive: true, force: true });
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', next], {
  cwd: root,
  stdio: 'inherit',
});
if (build.error) throw build.error;
if (existsSync(next)) {
  // The bin, runnable in place: `npx koa-epoch-session` in this folder runs dist/cli/main.js itself, and
  // tsc writes files without the execute bit (an install sets it on the installed copy, a build does not).
  if (existsSync(join(next, 'cli', 'main.js'))) chmodSync(join(next, 'cli', 'main.js'), 0o755);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
}
if (build.status !== 0) {
  console.error('koa-epoch-session: the TypeScript build failed (tsc -p tsconfig.build.json)');
}
process.exitCode = build.status ?? 1;
