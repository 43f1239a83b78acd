// `npm run bench [-- --quick] [--only=read,anonymous,rolling,change,login,scaling,memory] [--profile]`: SPEC section 6, measured.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scalingChart } from './chart.js';
import { type HttpPlan, type HttpVariant, runHttpSection } from './http-bench.js';
import { type CpuShare, cpuShare, cpuSnapshot, describeMachine, machineLines } from './machine.js';
import { type MemoryPlan, runMemory } from './memory.js';
import { stopAll } from './processes.js';
import { PROFILE_PATHS, type ProfilePath, profileLines, runProfile } from './profile.js';
import { type Results, renderReport } from './report.js';
import { runScaling, type ScalingPlan } from './scaling.js';

const SECTIONS = ['read', 'anonymous', 'rolling', 'change', 'login', 'scaling', 'memory'] as const;
type Section = (typeof SECTIONS)[number];

interface Plan {
  connections: number;
  read: { warmup: number; rounds: number; duration: number };
  write: { warmup: number; rounds: number; duration: number };
  scaling: ScalingPlan;
  memory: MemoryPlan;
}

/** The full run follows SPEC section 6's sizes; --quick shrinks every size and says so in the output. */
const PLANS: Record<'full' | 'quick', Plan> = {
  full: {
    connections: 10,
    read: { warmup: 3, rounds: 6, duration: 4 },
    // Eight short rounds: every write path has a target now, and on a shared machine a noisy spell
    // hits fewer pairs of a same-round ratio when rounds are short and many.
    write: { warmup: 2, rounds: 8, duration: 2 },
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

/** Read path only: the cost of encryption at rest, against the same store without it (issue 15). */
const ENCRYPTED_READ: HttpVariant = {
  id: 'epoch-aes',
  label: 'this store, registry off, aesGcmCodec',
  spec: { store: 'epoch', codec: 'aes-gcm' },
};

/** This store on node-redis, the client connect-redis users already have (issue 14). */
const NODE_REDIS: HttpVariant = {
  id: 'epoch-node-redis',
  label: 'this store, registry off, node-redis',
  spec: { store: 'epoch', client: 'node-redis' },
};

/** ioredis 6's default protocol: every other ioredis 6 variant runs RESP2, as docs/operations.md advises. */
const RESP3: HttpVariant = {
  id: 'epoch-resp3',
  label: 'this store, registry off, ioredis RESP3',
  spec: { store: 'epoch', protocol: 3 },
};

function storeVariants(extra: Partial<HttpVariant['spec']>): HttpVariant[] {
  return [...READ_VARIANTS, RESP3, NODE_REDIS]
    .filter((v) => v.spec.store !== 'none' && v.spec.store !== 'cookie')
    .map((v) => ({
      ...v,
      spec: { ...v.spec, ...extra },
    }));
}

const USAGE = `usage: npm run bench [-- --quick] [--only=${SECTIONS.join(',')}] [--profile]`;

function isSection(name: string): name is Section {
  return (SECTIONS as readonly string[]).includes(name);
}

/** A mistake on the command line: said in one line with the usage, no stack trace. */
class UsageError extends Error {
  override name = 'UsageError';
}

/** The command line, strictly: an unknown flag, a stray argument or an unknown section is an error. */
function readArgs(argv: string[]) {
  let values: { quick?: boolean; profile?: boolean; only?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { quick: { type: 'boolean' }, profile: { type: 'boolean' }, only: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`bench: ${(error as Error).message}\n${USAGE}`);
  }
  const names = values.only === undefined ? [...SECTIONS] : values.only.split(',').map((s) => s.trim());
  const unknown = names.filter((name) => !isSection(name));
  if (unknown.length > 0 || names.length === 0)
    throw new UsageError(`bench: unknown section(s) ${unknown.join(', ') || '(none given)'}\n${USAGE}`);
  const sections = names.filter(isSection);
  const profile = values.profile ?? false;
  // --profile takes the HTTP paths; without --only it profiles the signed-in read.
  const profiled = PROFILE_PATHS.filter((p) =>
    values.only === undefined ? p.name === 'read' : sections.includes(p.name as Section),
  );
  if (profile && profiled.length < (values.only === undefined ? 1 : sections.length)) {
    const paths = PROFILE_PATHS.map((p) => p.name).join(',');
    throw new UsageError(`bench: --profile takes --only=${paths}, not scaling or memory\n${USAGE}`);
  }
  return {
    quick: values.quick ?? false,
    profile,
    profiled,
    sections,
    complete: SECTIONS.every((s) => sections.includes(s)),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const { quick, profile, profiled, sections, complete } = readArgs(process.argv.slice(2));
  const plan = PLANS[quick ? 'quick' : 'full'];
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
  if (profile) return profileOnly(quick ? 3 : 8, profiled, log);
  const machine = await describeMachine();
  const results: Results = {};
  const http = (
    path: string,
    method: 'GET' | 'POST',
    visitor: HttpPlan['visitor'],
    timing: Plan['read'],
  ): HttpPlan => ({
    path,
    method,
    visitor,
    connections: plan.connections,
    ...timing,
  });

  const runners: Record<Section, () => Promise<void>> = {
    read: async () => {
      results.read = await runHttpSection(
        'read',
        [...READ_VARIANTS, RESP3, NODE_REDIS, ENCRYPTED_READ],
        http('/read', 'GET', 'signed-in', plan.read),
        ['koa-redis', 'minimal', 'epoch'],
        log,
      );
    },
    anonymous: async () => {
      results.anonymous = await runHttpSection(
        'anonymous',
        READ_VARIANTS.filter((v) => ['koa-redis', 'minimal', 'epoch'].includes(v.id)),
        http('/cart', 'GET', 'anonymous', plan.read),
        ['koa-redis', 'minimal'],
        log,
      );
    },
    rolling: async () => {
      results.rolling = await runHttpSection(
        'rolling',
        storeVariants({ rolling: true }),
        http('/read', 'GET', 'signed-in', plan.write),
        ['koa-redis', 'minimal'],
        log,
      );
    },
    change: async () => {
      results.change = await runHttpSection(
        'change',
        storeVariants({}),
        http('/change', 'POST', 'signed-in', plan.write),
        ['koa-redis', 'minimal'],
        log,
      );
    },
    login: async () => {
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
        http('/login', 'POST', 'new', plan.write),
        ['koa-redis', 'minimal'],
        log,
      );
    },
    scaling: async () => {
      results.scaling = await runScaling(plan.scaling, log);
    },
    memory: async () => {
      results.memory = await runMemory(plan.memory, log);
    },
  };
  // What else ran on the machine meanwhile: ratios are same-run, but a busy neighbour still adds noise.
  const cpu: Partial<Record<Section, CpuShare>> = {};
  for (const section of SECTIONS.filter((s) => sections.includes(s))) {
    const before = cpuSnapshot();
    await runners[section]();
    cpu[section] = cpuShare(before, cpuSnapshot());
  }

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
    `- CPU in use during each section, in cores of ${machine.nproc} (/proc): this bench's processes · everything else · hypervisor steal`,
    ...Object.entries(cpu).map(
      ([section, c]) =>
        `  - ${section} (${Math.round(c.seconds)} s): ${c.benchCores.toFixed(2)} · ${c.otherCores.toFixed(2)} · ${c.stealCores.toFixed(2)}`,
    ),
    '',
  ];
  process.stdout.write(`${[...header, ...lines].join('\n')}\n`);

  const root = fileURLToPath(new URL('..', import.meta.url));
  const json = JSON.stringify({ quick, sections, seconds, machine, cpu, plan, results, verdicts }, null, 2);
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

/** Evidence for a miss: where the app process spends its CPU, per request, per variant, per path. */
async function profileOnly(
  seconds: number,
  paths: ProfilePath[],
  log: (line: string) => void,
): Promise<void> {
  const machine = await describeMachine();
  const profiles = await runProfile(seconds, paths, log);
  process.stdout.write(`${[...machineLines(machine), '', ...profileLines(profiles)].join('\n')}\n`);
  const root = fileURLToPath(new URL('..', import.meta.url));
  const json = profiles.map(({ path, summaries }) => ({ path: path.name, summaries }));
  writeFileSync(
    `${root}bench/results/profile.json`,
    `${JSON.stringify({ machine, profiles: json }, null, 2)}\n`,
  );
  process.stdout.write('wrote bench/results/profile.json and bench/results/profiles/*/*/*.cpuprofile\n');
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    exitCode = 2;
  } else {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    exitCode = 1;
  }
} finally {
  await stopAll();
}
// Sockets left in keep-alive pools (autocannon, fetch) must not keep a finished run alive.
process.exit(exitCode);
