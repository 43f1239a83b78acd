// Runs the reliability suites on their own: `node test/reliability/run.mjs [--long] [file ...] [mocha options]`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * `npm test` runs these suites in their CI size, with everything else. This runs them alone (or the
 * files given), through the same root hook; `--long` sets KES_LONG=1: 20x the race trials, 10x the
 * cookies, 32 users under load and 5 fault cycles per scenario, 10x the eviction steps.
 * Mocha merges command-line files into .mocharc.json's spec list, so the config is not used here.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const long = args.includes('--long');
const forwarded = args.filter((arg) => arg !== '--long');
const files = forwarded.some((arg) => arg.endsWith('.ts')) ? [] : ['test/reliability/**/*.test.ts'];
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    'node_modules/mocha/bin/mocha.js',
    '--no-config',
    '--require',
    'test/support/hooks.ts',
    '--reporter',
    'test/support/summary-reporter.cjs',
    '--timeout',
    long ? '1800000' : '60000',
    '--exit',
    ...files,
    ...forwarded,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, ...(long ? { KES_LONG: '1' } : {}) } },
);
process.exit(result.status ?? 1);
