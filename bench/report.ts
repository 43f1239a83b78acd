// Turns the measurements into Markdown tables and SPEC section 6 verdicts (PASS / MISS), nothing hard-coded.
import { USER_AGENT } from './fixtures.js';
import type { HttpSectionResult, HttpVariantResult } from './http-bench.js';
import { type KeyKind, LAYOUTS, type MemoryResult } from './memory.js';
import { APPROACHES, type Approach, type ScalingResult } from './scaling.js';

export interface Verdict {
  section: string;
  what: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface Results {
  read?: HttpSectionResult;
  anonymous?: HttpSectionResult;
  rolling?: HttpSectionResult;
  change?: HttpSectionResult;
  login?: HttpSectionResult;
  scaling?: ScalingResult;
  memory?: MemoryResult;
}

type HttpSectionName = 'read' | 'anonymous' | 'rolling' | 'change' | 'login';

/**
 * SPEC section 6 and issue 13 thresholds. The anchor figures there are context; verdicts use
 * same-run ratios only.
 */
export const TARGETS = {
  readVsKoaRedis: 1.0,
  readVsMinimal: 0.95,
  /** One native command per signed-in read, and no script. */
  readCommands: 1,
  /**
   * With the registry a read may add the last-seen refresh (a script), at most once per
   * lastSeenInterval per session: a few per ten thousand requests in this bench.
   */
  readRefreshShare: 0.01,
  anonymousVsMinimal: 0.95,
  rollingVsKoaRedis: 1.2,
  changeVsKoaRedis: 1.0,
  loginVsKoaRedis: 1.0,
  rotateRoundTrips: 1,
  /** "Flat": the largest user costs at most this many times the smallest, in time and in Redis CPU. */
  flatFactor: 2,
  memoryOff: 1.05,
  memoryOn: 1.25,
};

/**
 * The variants each HTTP section judges, and against what. Other variants (the anchors, and the
 * login with maxSessions, which does work koa-redis does not) are context.
 */
const JUDGED: Record<HttpSectionName, { ids: string[]; versus: 'koa-redis' | 'minimal'; min: number }> = {
  read: { ids: ['epoch', 'epoch-registry'], versus: 'koa-redis', min: TARGETS.readVsKoaRedis },
  anonymous: { ids: ['epoch'], versus: 'minimal', min: TARGETS.anonymousVsMinimal },
  rolling: { ids: ['epoch', 'epoch-registry'], versus: 'koa-redis', min: TARGETS.rollingVsKoaRedis },
  change: { ids: ['epoch', 'epoch-registry'], versus: 'koa-redis', min: TARGETS.changeVsKoaRedis },
  login: { ids: ['epoch', 'epoch-registry'], versus: 'koa-redis', min: TARGETS.loginVsKoaRedis },
};

const SECTION_LABELS: Record<HttpSectionName, string> = {
  read: 'signed-in read',
  anonymous: 'anonymous read',
  rolling: 'rolling touch, unchanged data',
  change: 'session change',
  login: 'login',
};

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a');
const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const ratio = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? `${n.toFixed(2)}x` : '—');
const verdict = (pass: boolean | undefined) => (pass === undefined ? '—' : pass ? 'PASS' : 'MISS');
/** Scripts per request: exact zero shows as 0, a rare script as its share. */
const share = (n: number) => (n === 0 ? '0' : n < 0.01 ? n.toExponential(1) : n.toFixed(2));

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}

/**
 * The read's extra conditions, judged on the exact count (a fixed number of requests, none in
 * flight at either end, so nothing spills in from the variant measured before): one native
 * command per request and no script; with the registry, a rare last-seen refresh. Scripts over
 * the timed rounds are shown too, and bound the registry's refresh rate.
 */
function readConditions(v: HttpVariantResult): { text: string; pass: boolean } {
  const registry = v.id === 'epoch-registry';
  const maxScripts = registry ? TARGETS.readRefreshShare : 0;
  const { requests, commands, scripts } = v.exact;
  return {
    text: `${int(commands)} commands and ${int(scripts)} scripts for ${int(requests)} requests; ${share(v.scriptsPerRequest)} scripts/req over the rounds`,
    pass:
      commands <= requests * (TARGETS.readCommands + maxScripts) &&
      scripts <= requests * maxScripts &&
      (!registry || v.scriptsPerRequest <= maxScripts),
  };
}

function readTarget(v: HttpVariantResult): string {
  const scripts =
    v.id === 'epoch-registry'
      ? `≤ ${TARGETS.readRefreshShare} scripts/req (the last-seen refresh)`
      : '0 scripts';
  return `≥ ${TARGETS.readVsKoaRedis.toFixed(2)}x koa-redis, ≥ ${TARGETS.readVsMinimal.toFixed(2)}x minimal, ${TARGETS.readCommands} native command, ${scripts}`;
}

/** Verdicts for one HTTP section, keyed by variant id. */
function httpVerdicts(
  name: HttpSectionName,
  section: HttpSectionResult,
  verdicts: Verdict[],
): Map<string, Verdict> {
  const byId = new Map<string, Verdict>();
  const judged = JUDGED[name];
  const koa = section.variants.find((x) => x.id === 'koa-redis');
  for (const v of section.variants.filter((x) => judged.ids.includes(x.id))) {
    const main = v.ratios[judged.versus] ?? Number.NaN;
    const errors = v.failures === 0 ? '' : `, ${v.failures} errors`;
    let row: Verdict;
    if (name === 'read') {
      const vsMin = v.ratios.minimal ?? Number.NaN;
      const conditions = readConditions(v);
      row = {
        section: 'read path',
        what: `${SECTION_LABELS[name]}, ${v.label}`,
        target: readTarget(v),
        measured: `${ratio(main)} koa-redis, ${ratio(vsMin)} minimal; ${conditions.text}${errors}`,
        pass: main >= judged.min && vsMin >= TARGETS.readVsMinimal && conditions.pass && v.failures === 0,
      };
    } else {
      const redisShare =
        name === 'rolling'
          ? `; Redis CPU per request ${ratio(v.redisCpuMicrosPerRequest / (koa?.redisCpuMicrosPerRequest ?? Number.NaN))} of koa-redis's`
          : '';
      row = {
        section: name === 'anonymous' ? 'read path' : 'write paths',
        what: `${SECTION_LABELS[name]}, ${v.label}`,
        target: `≥ ${judged.min.toFixed(2)}x ${judged.versus} req/s`,
        measured: `${ratio(main)} ${judged.versus} req/s${redisShare}${errors}`,
        pass: main >= judged.min && v.failures === 0,
      };
    }
    byId.set(v.id, row);
    verdicts.push(row);
  }
  return byId;
}

function httpTable(title: string, name: HttpSectionName, section: HttpSectionResult, verdicts: Verdict[]) {
  const { plan } = section;
  const rows = httpVerdicts(name, section, verdicts);
  const out = [
    `### ${title}`,
    '',
    `${plan.method} ${plan.path}, ${plan.connections} connections, warm-up ${plan.warmup} s, then ${plan.rounds} interleaved rounds of ${plan.duration} s; medians, and medians of same-round ratios. \`cookie B\`: bytes of the Cookie header the client sends back (session cookie and signature${plan.visitor === 'new' ? ', as the login hands it back' : ''}). \`Redis cmds/req\`: commands the app's client sent, counted exactly over ${int(section.variants[0]?.exact.requests ?? Number.NaN)} more requests with none in flight. \`scripts/req\`: EVAL/EVALSHA calls per request over all rounds (INFO commandstats). Clients: koa-redis brings its own ioredis 4 (RESP2); this store and the minimal one run ioredis 6 with \`protocol: 2\`, as docs/operations.md advises, except the \`ioredis RESP3\` row (ioredis 6's default).`,
    '',
  ];
  out.push(
    ...table(
      [
        'variant',
        'req/s',
        'p50 ms',
        'p99 ms',
        'Redis cmds/req',
        'scripts/req',
        'cookie B',
        'app CPU µs/req',
        'Redis CPU µs/req',
        'vs koa-redis',
        'vs minimal',
        'errors',
        'SPEC target',
      ],
      section.variants.map((v) => [
        v.label,
        int(v.rps),
        fixed(v.p50, 2),
        fixed(v.p99, 2),
        fixed(v.commandsPerRequest, 3),
        share(v.scriptsPerRequest),
        int(v.cookieBytes),
        fixed(v.appCpuMicrosPerRequest),
        fixed(v.redisCpuMicrosPerRequest),
        ratio(v.ratios['koa-redis']),
        ratio(v.ratios.minimal),
        String(v.failures),
        verdict(rows.get(v.id)?.pass),
      ]),
    ),
    '',
    "Redis INFO commandstats, last round, per request (a script's inner commands are listed too, and included in its time):",
    '',
    ...section.variants
      .filter((v) => Object.keys(v.commandStats).length > 0)
      .map((v) => {
        const requests = v.rounds[v.rounds.length - 1]?.requests ?? Number.NaN;
        const list = Object.entries(v.commandStats)
          .sort((a, b) => b[1].usec - a[1].usec)
          .map(
            ([command, c]) =>
              `${command} ${fixed(c.calls / requests, 2)} × ${fixed(c.usec / Math.max(c.calls, 1), 2)} µs`,
          )
          .join(', ');
        return `- ${v.label}: ${list}`;
      }),
    '',
  );
  return out;
}

function scalingTable(result: ScalingResult, verdicts: Verdict[]): string[] {
  const { plan, points } = result;
  const sizes = plan.sizes;
  const out = [
    '### Sign-out-everywhere scaling',
    '',
    `One user with ${sizes.map((s) => s.toLocaleString('en')).join(' / ')} sessions in a keyspace of ${(plan.background + Math.max(...sizes)).toLocaleString('en')} keys with TTLs at every size (the other users' keys make up the rest, so that only the user's share changes); a fresh Redis per size, ${plan.rounds} interleaved rounds, medians. Cells: client wall time · Redis CPU of the approach's commands (INFO commandstats) · round trips. SCAN uses COUNT ${plan.scanCount}.`,
    '',
  ];
  const rows: string[][] = [];
  for (const approach of Object.keys(APPROACHES) as Approach[]) {
    const mine = sizes.map((s) => points.find((p) => p.approach === approach && p.sessions === s));
    const cells = mine.map((p) =>
      p ? `${p.ms < 10 ? p.ms.toFixed(2) : int(p.ms)} ms · ${int(p.redisUs)} µs · ${int(p.trips)}` : 'n/a',
    );
    const first = mine[0];
    const last = mine[mine.length - 1];
    let pass: boolean | undefined;
    if (approach.startsWith('rotate') && first && last) {
      const timeGrowth = last.ms / first.ms;
      const cpuGrowth = last.redisUs / Math.max(first.redisUs, 1);
      const trips = Math.max(...mine.map((p) => Math.max(...(p?.roundTrips ?? [Number.NaN]))));
      // Judged on what the caller waits for; Redis CPU (µs, noisier at this scale) is shown beside it.
      pass = trips === TARGETS.rotateRoundTrips && timeGrowth <= TARGETS.flatFactor;
      verdicts.push({
        section: 'sign-out everywhere',
        what: `${APPROACHES[approach].label}, ${sizes[0]!.toLocaleString('en')} → ${sizes[sizes.length - 1]!.toLocaleString('en')} sessions`,
        target: `${TARGETS.rotateRoundTrips} round trip, flat (time grows ≤ ${TARGETS.flatFactor}x)`,
        measured: `${trips} round trip(s); time ${first.ms.toFixed(2)} → ${last.ms.toFixed(2)} ms (${timeGrowth.toFixed(1)}x), Redis CPU ${int(first.redisUs)} → ${int(last.redisUs)} µs (${cpuGrowth.toFixed(1)}x)`,
        pass,
      });
    }
    const growth = first && last ? `${(last.ms / first.ms).toFixed(1)}x` : 'n/a';
    rows.push([APPROACHES[approach].label, ...cells, growth, verdict(pass)]);
  }
  out.push(
    ...table(
      [
        'approach',
        ...sizes.map((s) => `${s.toLocaleString('en')} sessions`),
        `time ${sizes[0]!.toLocaleString('en')} → ${sizes[sizes.length - 1]!.toLocaleString('en')}`,
        'SPEC target',
      ],
      rows,
    ),
    '',
  );
  return out;
}

function memoryTable(result: MemoryResult, verdicts: Verdict[]): string[] {
  const { plan, points } = result;
  const anchor = points.find((p) => p.layout === 'koa-redis');
  const zset = points.find((p) => p.layout === 'koa-redis-zset');
  const out = [
    '### Memory per session',
    '',
    `${plan.sessions.toLocaleString('en')} sessions over ${plan.users.toLocaleString('en')} users, ${result.sessionJsonBytes} B of session JSON, a ${USER_AGENT.length}-character user agent; a fresh Redis per layout; INFO memory used_memory delta / sessions. This store's sessions are created by real logins over HTTP.`,
    '',
  ];
  const rows = points.map((p) => {
    const vs = anchor ? p.bytesPerSession / anchor.bytesPerSession : Number.NaN;
    let pass: boolean | undefined;
    if (p.layout === 'epoch' || p.layout === 'epoch-registry') {
      const limit = p.layout === 'epoch' ? TARGETS.memoryOff : TARGETS.memoryOn;
      pass = vs <= limit;
      verdicts.push({
        section: 'memory',
        what: `memory per session, ${LAYOUTS[p.layout]}`,
        target: `≤ ${limit.toFixed(2)}x the koa-redis layout`,
        measured: `${int(p.bytesPerSession)} B vs ${int(anchor?.bytesPerSession ?? Number.NaN)} B = ${ratio(vs)}`,
        pass,
      });
    }
    const vsZset = zset && p.layout !== 'koa-redis' ? ratio(p.bytesPerSession / zset.bytesPerSession) : '—';
    return [
      LAYOUTS[p.layout],
      int(p.keys),
      int(p.usedAfter - p.usedBefore),
      int(p.bytesPerSession),
      ratio(vs),
      vsZset,
      verdict(pass),
    ];
  });
  out.push(
    ...table(
      [
        'layout',
        'keys',
        'used_memory Δ B',
        'B/session',
        'vs koa-redis',
        'vs sorted-set index',
        'SPEC target',
      ],
      rows,
    ),
    '',
    'Where the bytes go, per session: MEMORY USAGE of each kind of key (value, name and entry), times that kind\'s keys per session; "rest" is the used_memory Δ minus their sum (dict tables, expires index, allocator).',
    '',
  );
  const kinds: KeyKind[] = ['session', 'epoch', 'registry', 'devices', 'index', 'other'];
  const present = kinds.filter((k) => points.some((p) => p.kinds[k]));
  out.push(
    ...table(
      ['layout', ...present.map((k) => `${k}: B/key × keys/session`), 'rest', 'total B/session'],
      points.map((p) => {
        let counted = 0;
        const cells = present.map((k) => {
          const entry = p.kinds[k];
          if (!entry) return '—';
          counted += entry.bytes / plan.sessions;
          return `${int(entry.bytes / entry.keys)} × ${fixed(entry.keys / plan.sessions, 2)} = ${int(entry.bytes / plan.sessions)}`;
        });
        return [LAYOUTS[p.layout], ...cells, int(p.bytesPerSession - counted), int(p.bytesPerSession)];
      }),
    ),
    '',
  );
  return out;
}

/** Issue 15: what encryption at rest costs a signed-in read, as a same-round ratio to the same store without it. */
function encryptionCost(section: HttpSectionResult): string[] {
  const encrypted = section.variants.find((v) => v.id === 'epoch-aes');
  const plain = section.variants.find((v) => v.id === 'epoch');
  if (!encrypted || !plain) return [];
  return [
    `Encryption at rest (\`aesGcmCodec\`, context, no target): ${ratio(encrypted.ratios.epoch)} the req/s of the same store without it, ${ratio(encrypted.ratios['koa-redis'])} koa-redis; app CPU ${fixed(encrypted.appCpuMicrosPerRequest)} µs/req against ${fixed(plain.appCpuMicrosPerRequest)} µs/req.`,
    '',
  ];
}

export function renderReport(results: Results): { lines: string[]; verdicts: Verdict[] } {
  const verdicts: Verdict[] = [];
  const lines: string[] = [];
  const http: [HttpSectionName, string][] = [
    ['read', 'Read path: signed-in GET, session unchanged'],
    ['anonymous', 'Anonymous read: GET that reads an anonymous session holding a cart'],
    ['rolling', 'Rolling touch: signed-in GET with rolling: true'],
    ['change', 'Session change: signed-in POST that changes one field'],
    ['login', 'Login: a new signed-in session per request'],
  ];
  for (const [name, title] of http) {
    const section = results[name];
    if (section) lines.push(...httpTable(title, name, section, verdicts));
    if (section && name === 'read') lines.push(...encryptionCost(section));
  }
  if (results.scaling) lines.push(...scalingTable(results.scaling, verdicts));
  if (results.memory) lines.push(...memoryTable(results.memory, verdicts));
  if (verdicts.length > 0) {
    lines.push(
      '### SPEC section 6 targets',
      '',
      ...table(
        ['section', 'what', 'target', 'measured', 'result'],
        verdicts.map((v) => [v.section, v.what, v.target, v.measured, verdict(v.pass)]),
      ),
      '',
    );
  }
  return { lines, verdicts };
}
