// `npm run build`, also run by npm on prepare (git installs) and prepack: a clean dist/ from lib/.
// Clean, so that a module deleted from lib/ never ships from an old dist/.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Resolved, not taken from PATH, so `node scripts/build.mjs` works outside npm too.
// TypeScript 7 exports no bin path: find its package.json and read the bin from it.
const manifest = createRequire(import.meta.url).resolve('typescript/package.json');
const tsc = join(dirname(manifest), 'bin', 'tsc');

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.error) throw build.error;
// The bin, runnable in place: `npx koa-epoch-session` in this folder runs dist/cli.js itself, and
// tsc writes files without the execute bit (an install sets it on the installed copy, a build does not).
const cli = new URL('../dist/cli.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
if (build.status !== 0)
  console.error('koa-epoch-session: the TypeScript build failed (tsc -p tsconfig.build.json)');
process.exitCode = build.status ?? 1;
