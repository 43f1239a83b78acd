// Race torture: seeded random interleavings of session requests against revocations of the same user.
import { expect } from 'chai';
import type { Context } from 'koa';
import { RANDOM_LENGTH, userTag } from '../../lib/core/keys.js';
import type { EpochSessionOptions } from '../../lib/index.js';
import { closeClients, Gate, makeApp, type TestApp } from '../support/app.js';
import {
  BASE_SEED,
  CookieJar,
  globEscape,
  HttpClient,
  handleOf,
  issuedValue,
  type Listening,
  listen,
  Prng,
  parseSessionKey,
  type Reply,
  record,
  scale,
  scanKeys,
  signedCookie,
} from '../support/reliability-kit.js';
import { installMutant, MUTANTS } from '../support/reliability-mutants.js';

/*
 * Each trial signs one user in on 2 to 4 devices, then plays a random schedule of requests
 * (read, save, rolling touch, renew, regenerate, login, logout, logoutOthers, and since issue 11
 * "write after logout" and "null the session before login") together with
 * rotate and revoke calls. A request loads its session, stops at a gate, and only writes when the
 * schedule releases it, so "loaded before the revocation, wrote after it" happens on purpose,
 * not by luck; half of the steps are also left running while the next ones start, so real
 * concurrency is mixed in. The schedule comes from a seeded PRNG: `KES_SEED=<seed> KES_RACE_TRIALS=1`
 * replays a trial's schedule.
 *
 * Violations counted:
 * - served-after-revocation: a request that started after a revocation completed was served a
 *   session that revocation covered (invariant 1), or a probe right after rotate was;
 * - resurrected: at the end of the trial, a covered session is reachable again, or its key exists
 *   under the user's current epoch (invariant 2);
 * - foreign: a response named another user or carried another device's data (invariant 5);
 * - collateral: the bystander (another user) lost its session;
 * - server-error: any 5xx.
 */

const TRIALS = scale(1_000, 20_000, 'KES_RACE_TRIALS');
const PARALLEL = 4;
/** `KES_RACE_TRACE=1` prints every step of each trial that found a violation. */
const TRACE = process.env.KES_RACE_TRACE === '1';
const MAX_AGE = 600_000;

const CONFIGS: Record<string, Partial<EpochSessionOptions>> = {
  rolling: { registry: true, rolling: true, maxAge: MAX_AGE },
  renew: { renew: true, maxAge: MAX_AGE },
  limit: { registry: true, maxSessions: 3, maxAge: MAX_AGE },
  plain: { maxAge: MAX_AGE },
};

type HttpKind =
  | 'read'
  | 'touch'
  | 'renew'
  | 'save'
  | 'regenerate'
  | 'login'
  | 'logout'
  | 'logoutOthers'
  | 'writeAfterLogout'
  | 'nullThenLogin';
/** Issue 11: a request that ends its session and then writes, or drops it and then signs in. */
const ISSUE_11: HttpKind[] = ['writeAfterLogout', 'nullThenLogin'];
const KINDS: Record<string, HttpKind[]> = {
  rolling: ['touch', 'touch', 'save', 'regenerate', 'login', 'logout', 'logoutOthers', ...ISSUE_11],
  renew: ['renew', 'read', 'save', 'regenerate', 'login', 'logout', 'logoutOthers', ...ISSUE_11],
  limit: ['read', 'save', 'regenerate', 'login', 'login', 'logout', 'logoutOthers', ...ISSUE_11],
  plain: ['read', 'save', 'regenerate', 'login', 'logout', 'logoutOthers', ...ISSUE_11],
};
/** Kinds that end the session the request presented, whatever else they do. */
const ENDING: HttpKind[] = ['regenerate', 'login', 'logout', 'logoutOthers', ...ISSUE_11];

/** Ids of the users of running trials, by the token the routes receive. */
const users = new Map<string, string>();

/** Loads the session, waits at its gate, then acts. Answers who it loaded and who it is now. */
async function opRoute(ctx: Context, t: TestApp): Promise<void> {
  const q = ctx.query;
  ctx.state.loadedUser = t.sessions.userId(ctx) ?? null;
  const gate = q.gate === undefined ? undefined : t.gates.get(String(q.gate));
  if (gate) {
    t.gates.delete(String(q.gate));
    await gate.pass();
  }
  const who = String(q.who ?? '');
  switch (q.kind) {
    case 'save':
      ctx.session!.who = who;
      ctx.session!.n = Number(q.n);
      break;
    case 'regenerate':
      await ctx.session!.regenerate();
      break;
    case 'login':
      ctx.session!.who = who;
      ctx.state.login = await t.sessions.login(ctx, users.get(String(q.user))!);
      break;
    case 'logout':
      await t.sessions.logout(ctx);
      break;
    case 'logoutOthers':
      ctx.state.kept = t.sessions.userId(ctx) === undefined ? null : await t.sessions.logoutOthers(ctx);
      break;
    case 'writeAfterLogout': {
      // The flash-after-logout pattern: a new object, or a field set on it, and a late write to
      // the object the request held before the logout. None may bring the ended session back.
      const held = ctx.session;
      await t.sessions.logout(ctx);
      if (Number(q.n) % 2 === 0) {
        ctx.session = { who, flash: 'signed out' };
      } else {
        ctx.session = {};
        ctx.session!.who = who;
      }
      if (held) held.late = 'written after the logout';
      break;
    }
    case 'nullThenLogin':
      void ctx.session;
      ctx.session = null;
      ctx.state.login = await t.sessions.login(ctx, users.get(String(q.user))!);
      ctx.session!.who = who;
      break;
    default: // read, touch, renew: koa-session decides on the write (rolling, renew)
  }
}

interface Device {
  marker: string;
  jar: CookieJar;
}

interface HttpOp {
  type: 'http';
  id: number;
  kind: HttpKind;
  device: number;
  startedAt?: number;
  releasedAt?: number;
  gate?: Gate;
  done?: Promise<void>;
  snapshot?: string[];
}

interface DirectOp {
  type: 'rotate' | 'revoke';
  id: number;
  device: number;
}

type Step =
  | { op: HttpOp; step: 'start' | 'release'; wait: boolean }
  | { op: DirectOp; step: 'call'; wait: boolean };

interface Totals {
  trials: number;
  ops: Record<string, number>;
  revocations: number;
  straddling: number;
  /** Re-keys (regenerate, logoutOthers) released after their session's revocation: the new id must be dead. */
  derived: number;
  /** Sessions found in Redis just before a rotate: what the resurrection checks cover. */
  snapshotted: number;
  probes: number;
  violations: Record<string, number>;
  examples: string[];
}

function userIdFor(rng: Prng, trial: number): string {
  return rng.pick([
    `rt-user-${trial}`,
    `rt:${trial}:{tag}*?[a-z]\\`,
    `rt ü ${trial} 😀 漢字`,
    `rt'; redis.call('FLUSHALL') -- ${trial}`,
    `${'L'.repeat(80)}${trial}`, // longer than 60 bytes: a hashed tag
  ]);
}

function schedule(rng: Prng, config: string, devices: number): Step[] {
  const http: HttpOp[] = [];
  const direct: DirectOp[] = [];
  let id = 0;
  for (let i = rng.int(2, 6); i > 0; i--) {
    http.push({ type: 'http', id: id++, kind: rng.pick(KINDS[config]!), device: rng.int(0, devices - 1) });
  }
  for (let i = rng.int(1, 2); i > 0; i--) direct.push({ type: 'rotate', id: id++, device: 0 });
  if (rng.chance(0.4)) direct.push({ type: 'revoke', id: id++, device: rng.int(0, devices - 1) });
  // A random merge of the steps that keeps each request's start before its release.
  const steps: Step[] = [];
  const notStarted = [...http];
  const started: HttpOp[] = [];
  const calls = [...direct];
  while (notStarted.length + started.length + calls.length > 0) {
    const choices = notStarted.length + started.length + calls.length;
    let n = rng.int(0, choices - 1);
    if (n < notStarted.length) {
      const [op] = notStarted.splice(n, 1);
      steps.push({ op: op!, step: 'start', wait: true });
      started.push(op!);
      continue;
    }
    n -= notStarted.length;
    if (n < started.length) {
      const [op] = started.splice(n, 1);
      steps.push({ op: op!, step: 'release', wait: rng.chance(0.5) });
      continue;
    }
    n -= started.length;
    const [op] = calls.splice(n, 1);
    steps.push({ op: op!, step: 'call', wait: rng.chance(0.5) });
  }
  return steps;
}

class Trial {
  clock = 0;
  readonly known = new Map<string, string>();
  readonly deadAt = new Map<string, number>();
  readonly pending: Promise<void>[] = [];
  readonly rotations: { calledAt: number; doneAt: number }[] = [];
  readonly devices: Device[] = [];
  readonly trace: string[] = [];
  readonly tag: string;

  constructor(
    readonly seed: number,
    readonly t: TestApp,
    readonly client: HttpClient,
    readonly userId: string,
    readonly token: string,
    readonly totals: Totals,
  ) {
    this.tag = userTag(userId);
  }

  log(line: string): void {
    if (TRACE) this.trace.push(`${this.clock} ${line}`);
  }

  violation(kind: string, detail: string): void {
    this.log(`VIOLATION ${kind}: ${detail}`);
    this.totals.violations[kind] = (this.totals.violations[kind] ?? 0) + 1;
    if (this.totals.examples.length < 10) this.totals.examples.push(`seed ${this.seed}: ${kind}: ${detail}`);
  }

  remember(reply: Reply): void {
    const value = issuedValue(reply.setCookie);
    const handle = handleOf(value);
    if (value !== undefined && handle !== undefined) this.known.set(handle, value);
  }

  markDead(handles: Iterable<string | undefined>): void {
    const at = ++this.clock;
    this.log(`dead: ${[...handles].join(' ')}`);
    for (const handle of handles) {
      if (handle !== undefined && !this.deadAt.has(handle)) this.deadAt.set(handle, at);
    }
  }

  /** Every session handle of the user in Redis now, under any epoch. */
  async handlesInRedis(): Promise<string[]> {
    const keys = await scanKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*`);
    return keys.flatMap((key) => parseSessionKey(key)?.handle ?? []);
  }

  async request(device: Device, kind: HttpKind, gate?: string): Promise<Reply> {
    const path =
      `/op?kind=${kind}&who=${device.marker}&user=${this.token}&n=${this.clock}` +
      (gate === undefined ? '' : `&gate=${gate}`);
    const reply = await this.client.send('POST', path, device.jar.header());
    device.jar.absorb(reply.setCookie);
    this.remember(reply);
    if (reply.status >= 500) this.violation('server-error', `${kind} answered ${reply.status}`);
    const body = reply.body ?? {};
    if (body.userId !== null && body.userId !== undefined && body.userId !== this.userId) {
      this.violation('foreign', `${kind} was served user ${JSON.stringify(body.userId)}`);
    }
    if (body.data?.who !== undefined && body.data.who !== device.marker) {
      this.violation('foreign', `${kind} on ${device.marker} saw data of ${body.data.who}`);
    }
    return reply;
  }

  /** A request from a fresh browser holding only this cookie: must not reach a user. */
  async probeDead(handle: string, why: string): Promise<void> {
    const value = this.known.get(handle);
    if (value === undefined) return;
    this.totals.probes += 1;
    const reply = await this.client.send('GET', '/whoami', signedCookie(value));
    if (reply.status >= 500) this.violation('server-error', `probe answered ${reply.status}`);
    if (reply.body?.userId !== null) this.violation(why, `session ${handle} was served after its revocation`);
  }

  async renewable(device: Device): Promise<void> {
    // Age the key below half its lifetime, so koa-session renews it on this request.
    const handle = handleOf(device.jar.sid);
    if (handle === undefined) return;
    for (const key of await scanKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*:${handle}`)) {
      await this.t.redis.pexpire(key, MAX_AGE / 3);
    }
  }

  async start(op: HttpOp): Promise<void> {
    const device = this.devices[op.device]!;
    if (op.kind === 'renew') await this.renewable(device);
    const presented = handleOf(device.jar.sid);
    op.gate = new Gate();
    const gateName = `${this.seed}-${op.id}`;
    this.t.gates.set(gateName, op.gate);
    op.startedAt = ++this.clock;
    const startedAt = op.startedAt;
    this.log(`start #${op.id} ${op.kind} d${op.device} presenting ${presented}`);
    op.done = this.request(device, op.kind, gateName).then((reply) => {
      const body = reply.body ?? {};
      this.log(
        `done #${op.id} ${op.kind}: ${reply.status} loaded=${body.loadedUser} now=${body.userId} kept=${body.kept} ` +
          `issued=${handleOf(issuedValue(reply.setCookie))} evicted=${body.login?.evicted}`,
      );
      const deadSince = presented === undefined ? undefined : this.deadAt.get(presented);
      if (body.loadedUser !== null && deadSince !== undefined && deadSince < startedAt) {
        this.violation('served-after-revocation', `${op.kind} loaded ${presented} after its revocation`);
      }
      this.totals.ops[op.kind] = (this.totals.ops[op.kind] ?? 0) + 1;
      if (this.rotations.some((r) => startedAt < r.calledAt && (op.releasedAt ?? 0) > r.doneAt)) {
        this.totals.straddling += 1;
      }
      // A session re-keyed from one already revoked when this request wrote is revoked too.
      const child = handleOf(issuedValue(reply.setCookie));
      if (
        (op.kind === 'regenerate' || op.kind === 'logoutOthers') &&
        child !== undefined &&
        child !== presented &&
        deadSince !== undefined &&
        deadSince < (op.releasedAt ?? 0)
      ) {
        this.totals.derived += 1;
        this.markDead([child]);
      }
      // What this request itself ended: the session it presented, and what logoutOthers or the limit swept.
      const ended: (string | undefined)[] = [];
      if (ENDING.includes(op.kind)) ended.push(presented);
      if (op.kind === 'logoutOthers' && body.kept === true) ended.push(...(op.snapshot ?? []));
      if (op.kind === 'login' || op.kind === 'nullThenLogin') ended.push(...(body.login?.evicted ?? []));
      if (ended.length > 0) {
        this.totals.revocations += 1;
        this.markDead(ended);
      }
    });
    await Promise.race([op.gate.arrived, op.done]);
  }

  async release(op: HttpOp): Promise<void> {
    if (op.kind === 'logoutOthers') op.snapshot = await this.handlesInRedis();
    op.releasedAt = ++this.clock;
    this.log(`release #${op.id} ${op.kind}${op.snapshot ? ` snapshot ${op.snapshot.join(' ')}` : ''}`);
    op.gate!.release();
    await op.done;
  }

  async rotate(): Promise<void> {
    const snapshot = await this.handlesInRedis();
    this.totals.snapshotted += snapshot.length;
    const calledAt = ++this.clock;
    this.log(`rotate called, snapshot ${snapshot.join(' ')}`);
    await this.t.sessions.rotate(this.userId);
    this.log('rotate returned');
    this.markDead(snapshot);
    this.rotations.push({ calledAt, doneAt: this.clock });
    this.totals.revocations += 1;
    this.totals.ops.rotate = (this.totals.ops.rotate ?? 0) + 1;
    // Invariant 1: the moment rotate returns, no earlier session is served, whatever is in flight.
    await Promise.all(snapshot.map((handle) => this.probeDead(handle, 'served-after-revocation')));
  }

  async revoke(device: Device): Promise<void> {
    const handle = handleOf(device.jar.sid);
    if (handle === undefined) return;
    this.log(`revoke ${handle} called`);
    await this.t.sessions.revoke(this.userId, handle);
    this.log(`revoke ${handle} returned`);
    this.markDead([handle]);
    this.totals.revocations += 1;
    this.totals.ops.revoke = (this.totals.ops.revoke ?? 0) + 1;
  }

  async run(steps: Step[]): Promise<void> {
    for (const step of steps) {
      let work: Promise<void>;
      if (step.step === 'start') work = this.start(step.op);
      else if (step.step === 'release') work = this.release(step.op);
      else if (step.op.type === 'rotate') work = this.rotate();
      else work = this.revoke(this.devices[step.op.device]!);
      if (step.wait) await work;
      else this.pending.push(work);
    }
    await Promise.all(this.pending);
  }

  async finalChecks(): Promise<void> {
    const epochValue = await this.t.redis.get(`sess:{${this.tag}}:e`);
    for (const handle of this.deadAt.keys()) {
      if (epochValue !== null) {
        const key = `sess:{${this.tag}}:${epochValue.slice(0, RANDOM_LENGTH)}:${handle}`;
        if ((await this.t.redis.exists(key)) === 1) {
          this.violation('resurrected', `${handle} exists under the current epoch`);
        }
      }
      await this.probeDead(handle, 'resurrected');
    }
  }

  async cleanup(): Promise<void> {
    const keys = await scanKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*`);
    if (keys.length > 0) await this.t.redis.unlink(...keys);
  }
}

type Apps = Record<string, { t: TestApp; server: Listening; client: HttpClient }>;

async function startApps(mutate?: (t: TestApp) => void): Promise<Apps> {
  const apps: Apps = {};
  for (const [name, options] of Object.entries(CONFIGS)) {
    const t = makeApp(options, { 'POST /op': opRoute });
    mutate?.(t);
    const server = await listen(t.app);
    apps[name] = { t, server, client: new HttpClient(server.port) };
  }
  return apps;
}

async function stopApps(apps: Apps): Promise<void> {
  for (const { server, client } of Object.values(apps)) {
    client.close();
    await server.close();
  }
}

async function torture(apps: Apps, trials: number, baseSeed: number): Promise<Totals> {
  const totals: Totals = {
    trials: 0,
    ops: {},
    revocations: 0,
    straddling: 0,
    derived: 0,
    snapshotted: 0,
    probes: 0,
    violations: {},
    examples: [],
  };
  const configNames = Object.keys(CONFIGS);
  let next = 0;

  async function runTrial(index: number): Promise<void> {
    const seed = baseSeed + index;
    const rng = new Prng(seed);
    const config = rng.pick(configNames);
    const { t, client } = apps[config]!;
    const userId = userIdFor(rng, seed);
    const bystanderId = `rt-bystander-${seed}`;
    const token = `u${seed}`;
    const bystanderToken = `v${seed}`;
    users.set(token, userId);
    users.set(bystanderToken, bystanderId);
    const trial = new Trial(seed, t, client, userId, token, totals);
    const bystander = new Trial(seed, t, client, bystanderId, bystanderToken, totals);
    try {
      for (let i = rng.int(2, 4); i > 0; i--) {
        const device = { marker: `d${trial.devices.length}`, jar: new CookieJar() };
        trial.devices.push(device);
        await trial.request(device, 'login');
      }
      const outsider = { marker: 'bystander', jar: new CookieJar() };
      await bystander.request(outsider, 'login');
      await trial.run(schedule(rng, config, trial.devices.length));
      await trial.finalChecks();
      const check = await client.send('GET', '/whoami', outsider.jar.header());
      if (check.body?.userId !== bystanderId || check.body?.data?.who !== 'bystander') {
        trial.violation('collateral', `the bystander lost its session: ${JSON.stringify(check.body)}`);
      }
      totals.trials += 1;
    } catch (error) {
      trial.violation('crashed', String((error as Error)?.stack ?? error));
    } finally {
      if (TRACE && trial.trace.some((line) => line.includes('VIOLATION'))) {
        process.stdout.write(
          `\n--- trial ${seed} (${config}, ${JSON.stringify(userId)})\n${trial.trace.join('\n')}\n`,
        );
      }
      await trial.cleanup();
      await bystander.cleanup();
      users.delete(token);
      users.delete(bystanderToken);
    }
  }

  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < trials) await runTrial(next++);
    }),
  );
  return totals;
}

function violationCount(totals: Totals): number {
  return Object.values(totals.violations).reduce((a, b) => a + b, 0);
}

describe('race torture: random interleavings against rotate, revoke and logoutOthers (invariants 1, 2, 5, 6)', () => {
  afterEach(closeClients);

  it(`${TRIALS} seeded trials: no session survives a completed revocation, none is resurrected or leaked`, async function () {
    this.timeout(TRIALS * 200 + 30_000);
    const apps = await startApps();
    const started = performance.now();
    try {
      const totals = await torture(apps, TRIALS, BASE_SEED);
      record('race torture', {
        trials: totals.trials,
        seeds: `${BASE_SEED}..${BASE_SEED + TRIALS - 1}`,
        requests: Object.values(totals.ops).reduce((a, b) => a + b, 0),
        revocations: totals.revocations,
        straddling: totals.straddling,
        derived: totals.derived,
        snapshotted: totals.snapshotted,
        probes: totals.probes,
        violations: violationCount(totals),
        seconds: (performance.now() - started) / 1000,
      });
      record('race torture ops', totals.ops);
      expect(totals.examples, 'first violations').to.deep.equal([]);
      expect(violationCount(totals)).to.equal(0);
      expect(totals.trials).to.equal(TRIALS);
      // The torture is only worth something if requests really straddled revocations.
      // And if the oracle saw the sessions: a layout it cannot parse would make every check vacuous.
      if (TRIALS >= 100) expect(totals.straddling).to.be.greaterThan(TRIALS / 10);
      expect(totals.snapshotted, 'sessions seen in Redis before the rotations').to.be.at.least(TRIALS);
    } finally {
      await stopApps(apps);
    }
  });

  for (const mutant of Object.values(MUTANTS)) {
    const { name } = mutant;
    it(`catches a broken store within 200 trials (mutant: ${name})`, async function () {
      this.timeout(60_000);
      const apps = await startApps((t) => installMutant(t.redis, mutant));
      try {
        const totals = await torture(apps, 200, BASE_SEED);
        record(`race torture mutant "${name}"`, {
          trials: totals.trials,
          violations: violationCount(totals),
        });
        expect(violationCount(totals)).to.be.greaterThan(0);
      } finally {
        await stopApps(apps);
      }
    });
  }
});

describe('race torture, minimal reproductions: a re-key released after its session ended elsewhere', () => {
  afterEach(closeClients);

  for (const ending of ['revoke', 'logout', 'rotate'] as const) {
    it(`a regenerate that loaded the session before a ${ending} does not bring it back under a new id`, async () => {
      const t = makeApp({}, { 'POST /op': opRoute });
      users.set('repro', 'repro-user');
      const device = t.agent();
      await device.post('/op?kind=login&user=repro&who=laptop').expect(200);
      const gate = new Gate();
      t.gates.set('repro', gate);
      const held = device.post('/op?kind=regenerate&gate=repro').then((r) => r);
      await gate.arrived;

      if (ending === 'revoke') {
        const [session] = (await scanKeys(t.redis, 'sess:{*}:*')).flatMap((k) => parseSessionKey(k) ?? []);
        expect(await t.sessions.revoke('repro-user', session!.handle)).to.equal(true);
      } else if (ending === 'logout') {
        // The same browser signs out in another tab while the regenerate is in flight.
        const out = await device.post('/op?kind=logout').expect(200);
        expect(out.body.userId).to.equal(null);
      } else {
        expect(await t.sessions.rotate('repro-user')).to.equal(true);
      }
      gate.release();
      const regenerated = await held;
      expect(regenerated.status).to.equal(200);

      const setCookie = (regenerated.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
      // The store refused to continue the session: the response sets no sid cookie at all (it
      // takes back koa-session's own clearing too), so the browser keeps the cookie it had.
      expect(
        setCookie.filter((line) => line.startsWith('sid=') || line.startsWith('sid.sig=')),
        'the refused regenerate answered with no sid cookie',
      ).to.deep.equal([]);
      expect(issuedValue(setCookie), 'no new id was issued').to.equal(undefined);
      // The cookie the browser kept names the ended session: it reaches nothing.
      const kept = await device.get('/whoami').expect(200);
      expect(kept.body.userId, `the kept cookie still signs in after the ${ending}`).to.equal(null);

      users.delete('repro');
    });
  }
});
