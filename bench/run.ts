// `npm run bench [-- --quick] [--only=read,rolling,change,login,scaling,memory] [--profile]`: SPEC section 6, measured.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { scalingChart } from './chart.js';
import { type HttpPlan, type HttpVariant, runHttpSection } from './http-bench.js';
import { describeMachine, machineLines } from './machine.js';
import { type MemoryPlan, runMemory } from './memory.js';
import { stopAll } from './processes.js';
import { profileLines, runProfile } from './profile.js';
import { type Results, renderReport } from './report.js';
import { runScaling, type ScalingPlan } from './scaling.js';

const SECTIONS = ['read', 'rolling', 'change', 'login', 'scaling', 'memory'] as const;
type Section = (typeof SECTIONS)[number];

interface Plan {
  connections: number;
  read: { warmup: number; rounds: number; duration: number };
  write: { warmup: number; rounds: number; duration: number };
  scaling: ScalingPlan;
  memory: MemoryPlan;
}

/** The full run follows the issue exactly; --quick shrinks every size and says so in the output. */
const PLANS: Record<'full' | 'quick', Plan> = {
  full: {
    connections: 10,
    read: { warmup: 3, rounds: 6, duration: 4 },
    write: { warmup: 2, rounds: 3, duration: 3 },
    scaling: { background: 1_000_000, sizes: [10, 1_000, 100_000], rounds: 5, scanCount: 1000 },
    memory: { sessions: 100_000, users: 10_000 },
  },
  quick: {
    connections: 10,
    read: { warmup: 0.5, rounds: 3, duration: 1 },
    write: { warmup: 0.3, rounds: 2, duration: 0.75 },
    scaling: { background: 100_000, sizes: [10, 1_000, 10_000], rounds: 3, scanCount: 1000 },
    memory: { sessions: 10_000, users: 1_000 },
  },
};

const READ_VARIANTS: HttpVariant[] = [
  { id: 'none', label: 'no session middleware', spec: { store: 'none' } },
  { id: 'cookie', label: 'koa-session, cookie only', spec: { store: 'cookie' } },
  { id: 'koa-redis', label: 'koa-session + koa-redis', spec: { store: 'koa-redis' } },
  { id: 'minimal', label: 'koa-session + minimal 1-GET store', spec: { store: 'minimal' } },
  { id: 'epoch', label: 'this store, registry off', spec: { store: 'epoch' } },
  { id: 'epoch-registry', label: 'this store, registry on', spec: { store: 'epoch', registry: true } },
];

function storeVariants(extra: Partial<HttpVariant['spec']>): HttpVariant[] {
  return READ_VARIANTS.filter((v) => v.spec.store !== 'none' && v.spec.store !== 'cookie').map((v) => ({
    ...v,
    spec: { ...v.spec, ...extra },
  }));
}

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const sections = only ? (only.split(',') as Section[]) : [...SECTIONS];
  for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`bench: unknown section ${s}`);
  const unknown = argv.filter((a) => a !== '--quick' && a !== '--profile' && !a.startsWith('--only='));
  if (unknown.length > 0) throw new Error(`bench: unknown argument(s) ${unknown.join(' ')}`);
  return { quick, profile, sections, complete: sections.length === SECTIONS.length };
}

async function main(): Promise<void> {
  const started = Date.now();
  const { quick, profile, sections, complete } = parseArgs(process.argv.slice(2));
  const plan = PLANS[quick ? 'quick' : 'full'];
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
  if (profile) return profileOnly(quick ? 3 : 8, log);
  const machine = await describeMachine();
  const results: Results = {};
  const http = (path: string, method: 'GET' | 'POST', signedIn: boolean, timing: Plan['read']): HttpPlan => ({
    path,
    method,
    signedIn,
    connections: plan.connections,
    ...timing,
  });

  if (sections.includes('read'))
    results.read = await runHttpSection(
      'read',
      READ_VARIANTS,
      http('/read', 'GET', true, plan.read),
      ['koa-redis', 'minimal'],
      log,
    );
  if (sections.includes('rolling'))
    results.rolling = await runHttpSection(
      'rolling',
      storeVariants({ rolling: true }),
      http('/read', 'GET', true, plan.write),
      ['koa-redis', 'minimal'],
      log,
    );
  if (sections.includes('change'))
    results.change = await runHttpSection(
      'change',
      storeVariants({}),
      http('/change', 'POST', true, plan.write),
      ['koa-redis', 'minimal'],
      log,
    );
  if (sections.includes('login'))
    results.login = await runHttpSection(
      'login',
      [
        ...storeVariants({ users: 1000 }),
        {
          id: 'epoch-max',
          label: 'this store, registry on, maxSessions 5',
          spec: { store: 'epoch', registry: true, maxSessions: 5, users: 1000 },
        },
      ],
      http('/login', 'POST', false, plan.write),
      ['koa-redis', 'minimal'],
      log,
    );
  if (sections.includes('scaling')) results.scaling = await runScaling(plan.scaling, log);
  if (sections.includes('memory')) results.memory = await runMemory(plan.memory, log);

  const { lines, verdicts } = renderReport(results);
  const seconds = Math.round((Date.now() - started) / 1000);
  const header = [
    `## koa-epoch-session benchmarks (${quick ? 'QUICK run: smaller sizes and shorter rounds than SPEC section 6, for a smoke check' : 'full run'})`,
    '',
    ...machineLines(machine),
    `- load average at end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}; the run took ${seconds} s`,
    '',
  ];
  process.stdout.write(`${[...header, ...lines].join('\n')}\n`);

  const root = fileURLToPath(new URL('..', import.meta.url));
  const json = JSON.stringify({ quick, sections, seconds, machine, plan, results, verdicts }, null, 2);
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/latest.json`, `${json}\n`);
  const written = ['bench/results/latest.json'];
  if (results.scaling) {
    const caption = `${quick ? 'Quick run. ' : ''}Node ${machine.node}, Redis ${machine.redis}, ${machine.nproc} CPUs, ${machine.date.slice(0, 10)}. Generated by npm run bench.`;
    const svg = scalingChart(results.scaling, caption);
    // Only a complete full run replaces the committed record in docs/.
    const target = !quick && complete ? 'docs/benchmarks-scaling.svg' : 'bench/results/scaling.svg';
    mkdirSync(`${root}docs`, { recursive: true });
    writeFileSync(root + target, svg);
    written.push(target);
  }
  if (!quick && complete) {
    writeFileSync(`${root}docs/benchmarks.json`, `${json}\n`);
    // Committed files follow the repository's formatter, so `npm run lint` stays clean.
    spawnSync(
      process.execPath,
      [`${root}node_modules/@biomejs/biome/bin/biome`, 'format', '--write', 'docs/benchmarks.json'],
      {
        cwd: root,
        stdio: 'ignore',
        timeout: 30_000,
      },
    );
    written.push('docs/benchmarks.json');
  }
  const missed = verdicts.filter((v) => !v.pass).length;
  process.stdout.write(
    `\n${verdicts.length - missed} of ${verdicts.length} SPEC targets met; wrote ${written.join(', ')}\n`,
  );
}

/** Evidence for the read path: where the app process spends its CPU, per request, per variant. */
async function profileOnly(seconds: number, log: (line: string) => void): Promise<void> {
  const machine = await describeMachine();
  const summaries = await runProfile(seconds, log);
  process.stdout.write(`${[...machineLines(machine), '', ...profileLines(summaries)].join('\n')}\n`);
  const root = fileURLToPath(new URL('..', import.meta.url));
  writeFileSync(`${root}bench/results/profile.json`, `${JSON.stringify({ machine, summaries }, null, 2)}\n`);
  process.stdout.write('wrote bench/results/profile.json and bench/results/profiles/*/*.cpuprofile\n');
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  exitCode = 1;
} finally {
  await stopAll();
}
// Sockets left in keep-alive pools (autocannon, fetch) must not keep a finished run alive.
process.exit(exitCode);
