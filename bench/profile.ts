// `npm run bench -- --profile [--only=read,...]`: CPU profiles of the app process per request path, this store and its anchors.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { VariantSpec } from './apps.js';
import { benchUser } from './fixtures.js';
import { load, signIn, visitAnonymously } from './load.js';
import { privateRedis, startApp } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** µs on the monotonic clock that process.hrtime reads too, in every process of this machine. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  variant: string;
  rps: number;
  appCpuMicrosPerRequest: number;
  /** Share of busy samples with a frame of this group on the stack, in µs per request. */
  groups: Record<string, number>;
  /** This library's functions by inclusive time, µs per request. */
  library: { name: string; micros: number }[];
  /** Hottest functions by self time, µs per request. */
  self: { name: string; micros: number }[];
}

const GROUPS: [string, RegExp][] = [
  // The app processes load the build (bench/library.ts); source paths, for profiles of older runs.
  ['this library (dist/)', /\/work\/[^/]+\/(dist|lib)\/(?!.*node_modules)/],
  ['koa-session', /node_modules\/koa-session\//],
  ['koa-redis', /node_modules\/koa-redis\/lib/],
  ['ioredis', /node_modules\/(koa-redis\/node_modules\/)?ioredis\//],
  ['cookies + keygrip', /node_modules\/(cookies|keygrip)\//],
  ['node:crypto', /^node:crypto|internal\/crypto/],
];

function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '').replace(root, '');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

/** Now on the monotonic clock, in µs, as the profiles' timestamps are. */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Summarises the samples taken inside `window` (the measured load, on the shared monotonic clock),
 * so that start-up, module loading and warm-up are left out.
 */
function summarise(
  variant: string,
  profile: CpuProfile,
  window: { from: number; to: number },
  requests: number,
  cpuMicros: number,
  root: string,
) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  const self = new Map<string, number>();
  const groups = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  let inWindow = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < window.from || at > window.to) return;
    inWindow += 1;
    const leaf = byId.get(id)!;
    if (['(idle)', '(program)'].includes(leaf.callFrame.functionName)) return;
    busy += dt;
    const leafName = frameName(leaf, root);
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    const seen = new Set<string>();
    const seenGroups = new Set<string>();
    // Bounded by the depth of the call tree: every step moves to a parent.
    for (let node: ProfileNode | undefined = leaf; node; node = byId.get(parent.get(node.id) ?? -1)) {
      const name = frameName(node, root);
      if (!seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
      }
      for (const [group, pattern] of GROUPS) {
        if (!seenGroups.has(group) && pattern.test(node.callFrame.url)) {
          seenGroups.add(group);
          groups.set(group, (groups.get(group) ?? 0) + dt);
        }
      }
    }
  });
  if (inWindow === 0) throw new Error(`bench: no profile sample of ${variant} fell inside the measured load`);
  // Profile time is wall time of busy samples; scale it to the process's measured CPU per request.
  const perRequest = (t: number) => (busy > 0 ? ((t / busy) * cpuMicros) / requests : 0);
  const top = (m: Map<string, number>, filter: (name: string) => boolean, n: number) =>
    [...m]
      .filter(([name, t]) => filter(name) && perRequest(t) >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => ({ name, micros: perRequest(t) }));
  return {
    variant,
    groups: Object.fromEntries([...groups].map(([g, t]) => [g, perRequest(t)])),
    library: top(inclusive, (name) => / (dist|lib)\/([a-z-]+\/)?[a-z-]+\.(js|ts):/.test(name), 15),
    self: top(self, () => true, 15),
  };
}

/** The request each profiled path sends, and who sends it. */
export interface ProfilePath {
  name: string;
  title: string;
  path: string;
  method: 'GET' | 'POST';
  visitor: 'signed-in' | 'anonymous' | 'new';
  variants: [string, VariantSpec][];
}

const ANCHORS: [string, VariantSpec][] = [
  ['koa-session + koa-redis', { store: 'koa-redis' }],
  ['koa-session + minimal 1-GET store', { store: 'minimal' }],
];
const MINE: [string, VariantSpec][] = [
  ['this store, registry off', { store: 'epoch' }],
  ['this store, registry on', { store: 'epoch', registry: true }],
];
const withSpec = (list: [string, VariantSpec][], extra: Partial<VariantSpec>): [string, VariantSpec][] =>
  list.map(([label, spec]) => [label, { ...spec, ...extra }]);

/** The paths `--profile` can take (with `--only=`), each under the load of its benchmark section. */
export const PROFILE_PATHS: ProfilePath[] = [
  {
    name: 'read',
    title: 'signed-in read',
    path: '/read',
    method: 'GET',
    visitor: 'signed-in',
    variants: [...ANCHORS, ...MINE],
  },
  {
    name: 'anonymous',
    title: 'anonymous read',
    path: '/cart',
    method: 'GET',
    visitor: 'anonymous',
    variants: [...ANCHORS, MINE[0]!],
  },
  {
    name: 'rolling',
    title: 'rolling touch',
    path: '/read',
    method: 'GET',
    visitor: 'signed-in',
    variants: withSpec([...ANCHORS, ...MINE], { rolling: true }),
  },
  {
    name: 'change',
    title: 'session change',
    path: '/change',
    method: 'POST',
    visitor: 'signed-in',
    variants: [...ANCHORS, ...MINE],
  },
  {
    name: 'login',
    title: 'login',
    path: '/login',
    method: 'POST',
    visitor: 'new',
    variants: withSpec([...ANCHORS, ...MINE], { users: 1000 }),
  },
];

export interface PathProfile {
  path: ProfilePath;
  summaries: ProfileSummary[];
}

/** Profiles each variant of each path for `seconds` under the same load as the benchmark. */
export async function runProfile(
  seconds: number,
  paths: ProfilePath[],
  log: (line: string) => void,
): Promise<PathProfile[]> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = `${root}bench/results/profiles`;
  rmSync(dir, { recursive: true, force: true });
  const out: PathProfile[] = [];
  for (const path of paths) {
    // A fresh Redis per path, as the benchmark sections have.
    const redis = await privateRedis();
    const summaries: ProfileSummary[] = [];
    try {
      for (const [index, [label, spec]] of path.variants.entries()) {
        const where = `${dir}/${path.name}/${index}`;
        mkdirSync(where, { recursive: true });
        log(`profile: ${path.title}, ${label}`);
        const app = await startApp({ ...spec, redisUrl: redis.url }, [
          '--cpu-prof',
          `--cpu-prof-dir=${where}`,
        ]);
        let requests = 0;
        let cpu = 0;
        let rps = 0;
        let window = { from: 0, to: 0 };
        try {
          const ids = Array.from({ length: 10 }, (_, i) => benchUser(100_000 * (index + 1) + i));
          const cookies =
            path.visitor === 'signed-in'
              ? await Promise.all(ids.map((id) => signIn(app, id)))
              : path.visitor === 'anonymous'
                ? await Promise.all(ids.map(() => visitAnonymously(app)))
                : [];
          const options = { path: path.path, method: path.method, cookies, connections: 10 };
          await load(app, { ...options, duration: 2 });
          const before = await app.stats();
          const from = monotonicMicros();
          const result = await load(app, { ...options, duration: seconds });
          window = { from, to: monotonicMicros() };
          const after = await app.stats();
          requests = result.requests;
          rps = result.rps;
          cpu = after.cpuMicros - before.cpuMicros;
        } finally {
          await app.stop();
        }
        // The main thread's profile is the largest file (the loader thread writes a small one too).
        const files = readdirSync(where).map((f) => `${where}/${f}`);
        const main = files
          .map((f) => ({ f, size: readFileSync(f).length }))
          .sort((a, b) => b.size - a.size)[0];
        if (!main) throw new Error(`bench: no CPU profile written for ${label}`);
        const profile = JSON.parse(readFileSync(main.f, 'utf8')) as CpuProfile;
        summaries.push({
          ...summarise(label, profile, window, requests, cpu, root),
          rps,
          appCpuMicrosPerRequest: cpu / requests,
        });
      }
    } finally {
      await redis.stop();
    }
    out.push({ path, summaries });
  }
  return out;
}

export function profileLines(profiles: PathProfile[]): string[] {
  const lines: string[] = [];
  for (const { path, summaries } of profiles) lines.push(...pathLines(path, summaries));
  return lines;
}

function pathLines(path: ProfilePath, summaries: ProfileSummary[]): string[] {
  const lines = [
    `### CPU profile of the app process, ${path.title}: ${path.method} ${path.path} (µs of app CPU per request)`,
    '',
    'Only samples taken during the measured load count (not start-up or warm-up); their busy time is scaled to the CPU the process used per request meanwhile. Groups overlap (a frame of this library calling ioredis counts in both).',
    '',
  ];
  const groups = [...new Set(summaries.flatMap((s) => Object.keys(s.groups)))];
  lines.push(
    `| variant | req/s | app CPU µs/req | ${groups.join(' | ')} |`,
    `|---|---|---|${groups.map(() => '---').join('|')}|`,
    ...summaries.map(
      (s) =>
        `| ${s.variant} | ${Math.round(s.rps).toLocaleString('en')} | ${s.appCpuMicrosPerRequest.toFixed(1)} | ${groups
          .map((g) => (s.groups[g] ?? 0).toFixed(1))
          .join(' | ')} |`,
    ),
    '',
  );
  for (const s of summaries.filter((x) => x.library.length > 0)) {
    lines.push(`${s.variant}: this library's functions, inclusive µs/req`, '');
    for (const f of s.library) lines.push(`    ${f.micros.toFixed(1).padStart(6)}  ${f.name}`);
    lines.push('');
  }
  for (const s of summaries) {
    lines.push(`${s.variant}: hottest functions, self µs/req`, '');
    for (const f of s.self.slice(0, 10)) lines.push(`    ${f.micros.toFixed(1).padStart(6)}  ${f.name}`);
    lines.push('');
  }
  return lines;
}
