// Race torture on Express: seeded random interleavings of express-session requests against revocations of the same user.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Request, Response } from 'express';
import { parseExternalKey, RANDOM_LENGTH, userTag } from '../../lib/core/keys.js';
import type { ExpressSessionOptions } from '../../lib/express/index.js';
import { TEST_CLIENT } from '../support/clients.js';
import { allKeys } from '../support/redis-view.js';
import {
  BASE_SEED,
  CookieJar,
  globEscape,
  HttpClient,
  Prng,
  parseSessionKey,
  type Reply,
  record,
  scale,
} from '../support/reliability-kit.js';
import { installMutant, MUTANTS } from '../support/reliability-mutants.js';
import { closeClients, type ExpressTestApp, Gate, makeExpressApp } from './support.js';

/*
 * The Koa torture (test/reliability/race-torture.test.ts), compact, on express-session: each trial
 * signs one user in on 2 to 4 devices, then plays a seeded random schedule of requests (read,
 * touch, save, regenerate, login, logout, logoutOthers, write-after-logout, destroy-then-login,
 * destroy-then-write) together with rotate and revoke. A request loads its session, stops at a
 * gate and acts only when the schedule releases it, so "loaded before the revocation, wrote after
 * it" happens on purpose. Violations: served-after-revocation, resurrected, foreign, collateral,
 * server-error, crashed. `KES_SEED` and `KES_EXPRESS_RACE_TRIALS` replay and resize a run.
 */

const TRIALS = scale(1_000, 10_000, 'KES_EXPRESS_RACE_TRIALS');
const PARALLEL = 4;
const MAX_AGE = 600_000;

const CONFIGS: Record<string, Partial<ExpressSessionOptions>> = {
  rolling: { registry: true, rolling: true, maxAge: MAX_AGE },
  resave: { resave: true, maxAge: MAX_AGE },
  limit: { registry: true, maxSessions: 3, maxAge: MAX_AGE },
  plain: { maxAge: MAX_AGE },
};

type Kind =
  | 'read'
  | 'touch'
  | 'save'
  | 'regenerate'
  | 'login'
  | 'logout'
  | 'logoutOthers'
  | 'writeAfterLogout'
  | 'destroyThenLogin'
  | 'destroyThenWrite'
  | 'regenerateThenDestroy';
const COMMON: Kind[] = ['save', 'regenerate', 'login', 'logout', 'logoutOthers', 'writeAfterLogout'];
const KINDS: Record<string, Kind[]> = {
  rolling: ['touch', 'touch', ...COMMON, 'destroyThenLogin'],
  resave: ['touch', 'read', ...COMMON, 'destroyThenWrite'],
  limit: ['read', 'login', ...COMMON, 'destroyThenLogin', 'regenerateThenDestroy'],
  plain: ['read', 'touch', ...COMMON, 'destroyThenWrite', 'regenerateThenDestroy'],
};
/** Kinds that end the session the request presented, whatever else they do. */
const ENDING: Kind[] = [
  'regenerate',
  'login',
  'logout',
  'logoutOthers',
  'writeAfterLogout',
  'destroyThenLogin',
  'destroyThenWrite',
  'regenerateThenDestroy',
];

const users = new Map<string, string>();
const callback = (run: (done: (error?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => run((error) => (error ? reject(error) : resolve())));

async function opRoute(req: Request, res: Response, t: ExpressTestApp) {
  const q = req.query;
  res.locals.loadedUser = t.sessions.userId(req) ?? null;
  const gate = t.gates.get(String(q.gate));
  if (gate) {
    t.gates.delete(String(q.gate));
    await gate.pass();
  }
  const who = String(q.who ?? '');
  const session = () => req.session as unknown as Record<string, unknown>;
  switch (q.kind) {
    case 'save':
      session().who = who;
      session().n = Number(q.n);
      break;
    case 'regenerate':
      await callback((done) => req.session.regenerate(done));
      break;
    case 'login':
      session().who = who;
      res.locals.login = await t.sessions.login(req, users.get(String(q.user))!);
      break;
    case 'logout':
      await t.sessions.logout(req);
      break;
    case 'logoutOthers':
      res.locals.kept = t.sessions.userId(req) === undefined ? null : await t.sessions.logoutOthers(req);
      break;
    case 'writeAfterLogout': {
      const held = session();
      await t.sessions.logout(req);
      session().who = who;
      held.late = 'written after the logout';
      break;
    }
    case 'destroyThenLogin':
      await callback((done) => req.session.destroy(done));
      res.locals.login = await t.sessions.login(req, users.get(String(q.user))!);
      session().who = who;
      break;
    case 'destroyThenWrite': {
      const held = req.session;
      await callback((done) => req.session.destroy(done));
      (held as unknown as Record<string, unknown>).late = 'written after destroy';
      await callback((done) => held.save(done));
      break;
    }
    case 'regenerateThenDestroy':
      await callback((done) => req.session.regenerate(done));
      session().who = who;
      await callback((done) => req.session.destroy(done));
      break;
    default: // read, touch: express-session decides (touch, rolling, resave)
  }
}

/** The handle of the session a jar's cookie names (`s:<key>.<signature>`, URI-encoded). */
function handleOf(jarValue: string | undefined): string | undefined {
  if (jarValue === undefined) return undefined;
  const signed = decodeURIComponent(jarValue);
  return parseExternalKey(signed.slice(2, signed.lastIndexOf('.')))?.handle;
}

function issuedHandle(setCookie: string[]): string | undefined {
  const jar = new CookieJar();
  jar.absorb(setCookie);
  return handleOf(jar.sid);
}

interface Totals {
  trials: number;
  ops: Record<string, number>;
  straddling: number;
  snapshotted: number;
  probes: number;
  violations: Record<string, number>;
  examples: string[];
}

interface Op {
  id: number;
  kind: Kind;
  device: number;
  gate?: Gate;
  done?: Promise<void>;
  startedAt?: number;
  releasedAt?: number;
  snapshot?: string[];
}

type Step =
  | { op: Op; step: 'start' | 'release'; wait: boolean }
  | { call: 'rotate' | 'revoke'; device: number; wait: boolean };

function schedule(rng: Prng, config: string, devices: number): Step[] {
  const ops: Op[] = [];
  for (let i = rng.int(2, 6); i > 0; i--) {
    ops.push({ id: i, kind: rng.pick(KINDS[config]!), device: rng.int(0, devices - 1) });
  }
  const calls: Step[] = [];
  for (let i = rng.int(1, 2); i > 0; i--) calls.push({ call: 'rotate', device: 0, wait: rng.chance(0.5) });
  if (rng.chance(0.4)) calls.push({ call: 'revoke', device: rng.int(0, devices - 1), wait: rng.chance(0.5) });
  const steps: Step[] = [];
  const started: Op[] = [];
  while (ops.length + started.length + calls.length > 0) {
    const n = rng.int(0, ops.length + started.length + calls.length - 1);
    if (n < ops.length) {
      const [op] = ops.splice(n, 1);
      steps.push({ op: op!, step: 'start', wait: true });
      started.push(op!);
    } else if (n - ops.length < started.length) {
      steps.push({ op: started.splice(n - ops.length, 1)[0]!, step: 'release', wait: rng.chance(0.5) });
    } else {
      steps.push(calls.splice(n - ops.length - started.length, 1)[0]!);
    }
  }
  return steps;
}

class Trial {
  clock = 0;
  readonly known = new Map<string, string>();
  readonly deadAt = new Map<string, number>();
  readonly rotations: { calledAt: number; doneAt: number }[] = [];
  readonly jars: CookieJar[] = [];
  readonly tag: string;

  constructor(
    readonly seed: number,
    readonly t: ExpressTestApp,
    readonly client: HttpClient,
    readonly userId: string,
    readonly token: string,
    readonly totals: Totals,
  ) {
    this.tag = userTag(userId);
  }

  violation(kind: string, detail: string): void {
    this.totals.violations[kind] = (this.totals.violations[kind] ?? 0) + 1;
    if (this.totals.examples.length < 10) this.totals.examples.push(`seed ${this.seed}: ${kind}: ${detail}`);
  }

  markDead(handles: Iterable<string | undefined>): void {
    const at = ++this.clock;
    for (const handle of handles)
      if (handle !== undefined && !this.deadAt.has(handle)) this.deadAt.set(handle, at);
  }

  async handlesInRedis(): Promise<string[]> {
    const keys = await allKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*`);
    return keys.flatMap((key) => parseSessionKey(key)?.handle ?? []);
  }

  async request(jar: CookieJar, marker: string, kind: Kind, gate?: string): Promise<Reply> {
    const path = `/op?kind=${kind}&who=${marker}&user=${this.token}&n=${this.clock}${gate ? `&gate=${gate}` : ''}`;
    const reply = await this.client.send('POST', path, jar.header());
    jar.absorb(reply.setCookie);
    const issued = new CookieJar();
    issued.absorb(reply.setCookie);
    const handle = handleOf(issued.sid);
    if (handle !== undefined) this.known.set(handle, issued.sid!);
    if (reply.status >= 500) this.violation('server-error', `${kind} answered ${reply.status}`);
    const body = reply.body ?? {};
    if (body.userId != null && body.userId !== this.userId)
      this.violation('foreign', `${kind} served ${body.userId}`);
    if (body.data?.who !== undefined && body.data.who !== marker) {
      this.violation('foreign', `${kind} on ${marker} saw data of ${body.data.who}`);
    }
    return reply;
  }

  /** A fresh browser holding only this session's cookie must not reach a user. */
  async probeDead(handle: string, why: string): Promise<void> {
    const value = this.known.get(handle);
    if (value === undefined) return;
    this.totals.probes += 1;
    const reply = await this.client.send('GET', '/whoami', `sid=${value}`);
    if (reply.status >= 500) this.violation('server-error', `probe answered ${reply.status}`);
    if (reply.body?.userId !== null) this.violation(why, `session ${handle} was served after its revocation`);
  }

  /** Makes the session's stored expiry due, so express-session's touch or rolling save really writes. */
  async age(jar: CookieJar): Promise<void> {
    const handle = handleOf(jar.sid);
    if (handle === undefined) return;
    for (const key of await allKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*:${handle}`)) {
      const value = await this.t.redis.get(key);
      if (value === null) continue;
      const soon = (Date.now() + MAX_AGE / 3).toString(36).padStart(9, '0');
      await this.t.redis.set(key, soon + value.slice(9), 'PX', MAX_AGE / 3, 'XX');
    }
  }

  async start(op: Op): Promise<void> {
    const jar = this.jars[op.device]!;
    if (op.kind === 'touch') await this.age(jar);
    const presented = handleOf(jar.sid);
    op.gate = new Gate();
    const gateName = `${this.seed}-${op.id}`;
    this.t.gates.set(gateName, op.gate);
    const startedAt = ++this.clock;
    op.startedAt = startedAt;
    op.done = this.request(jar, `d${op.device}`, op.kind, gateName).then((reply) => {
      const body = reply.body ?? {};
      const deadSince = presented === undefined ? undefined : this.deadAt.get(presented);
      if (body.loadedUser !== null && deadSince !== undefined && deadSince < startedAt) {
        this.violation('served-after-revocation', `${op.kind} loaded ${presented} after its revocation`);
      }
      this.totals.ops[op.kind] = (this.totals.ops[op.kind] ?? 0) + 1;
      if (this.rotations.some((r) => startedAt < r.calledAt && (op.releasedAt ?? 0) > r.doneAt)) {
        this.totals.straddling += 1;
      }
      // A re-key of a session already revoked when this request wrote is revoked too.
      const child = issuedHandle(reply.setCookie);
      if (
        (op.kind === 'regenerate' || op.kind === 'logoutOthers') &&
        child !== undefined &&
        child !== presented &&
        deadSince !== undefined &&
        deadSince < (op.releasedAt ?? 0)
      ) {
        this.markDead([child]);
      }
      const ended: (string | undefined)[] = [];
      if (ENDING.includes(op.kind)) ended.push(presented);
      if (op.kind === 'logoutOthers' && body.kept === true) ended.push(...(op.snapshot ?? []));
      ended.push(...(body.login?.evicted ?? []));
      if (ended.length > 0) this.markDead(ended);
    });
    await Promise.race([op.gate.arrived, op.done]);
  }

  async release(op: Op): Promise<void> {
    if (op.kind === 'logoutOthers') op.snapshot = await this.handlesInRedis();
    op.releasedAt = ++this.clock;
    op.gate!.release();
    await op.done;
  }

  async rotate(): Promise<void> {
    const snapshot = await this.handlesInRedis();
    this.totals.snapshotted += snapshot.length;
    const calledAt = ++this.clock;
    await this.t.sessions.rotate(this.userId);
    this.markDead(snapshot);
    this.rotations.push({ calledAt, doneAt: this.clock });
    this.totals.ops.rotate = (this.totals.ops.rotate ?? 0) + 1;
    // Invariant 1: the moment rotate returns, no earlier session is served, whatever is in flight.
    await Promise.all(snapshot.map((handle) => this.probeDead(handle, 'served-after-revocation')));
  }

  async revoke(jar: CookieJar): Promise<void> {
    const handle = handleOf(jar.sid);
    if (handle === undefined) return;
    await this.t.sessions.revoke(this.userId, handle);
    this.markDead([handle]);
    this.totals.ops.revoke = (this.totals.ops.revoke ?? 0) + 1;
  }

  async run(steps: Step[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const step of steps) {
      const work =
        'call' in step
          ? step.call === 'rotate'
            ? this.rotate()
            : this.revoke(this.jars[step.device]!)
          : step.step === 'start'
            ? this.start(step.op)
            : this.release(step.op);
      if (step.wait) await work;
      else pending.push(work);
    }
    await Promise.all(pending);
  }

  async finalChecks(): Promise<void> {
    const epochValue = await this.t.redis.get(`sess:{${this.tag}}:e`);
    for (const handle of this.deadAt.keys()) {
      if (epochValue !== null) {
        const key = `sess:{${this.tag}}:${epochValue.slice(0, RANDOM_LENGTH)}:${handle}`;
        if ((await this.t.redis.exists(key)) === 1)
          this.violation('resurrected', `${handle} is under the current epoch`);
      }
      await this.probeDead(handle, 'resurrected');
    }
  }

  async cleanup(): Promise<void> {
    const keys = await allKeys(this.t.redis, `sess:{${globEscape(this.tag)}}:*`);
    if (keys.length > 0) await this.t.redis.unlink(...keys);
  }
}

type Apps = Record<string, { t: ExpressTestApp; client: HttpClient; close: () => Promise<void> }>;

async function startApps(mutate?: (t: ExpressTestApp) => void): Promise<Apps> {
  const apps: Apps = {};
  for (const [name, options] of Object.entries(CONFIGS)) {
    const t = makeExpressApp(options, { 'POST /op': (req, res, app) => opRoute(req, res, app) });
    mutate?.(t);
    const server = createServer(t.app);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new HttpClient((server.address() as AddressInfo).port);
    const close = () =>
      new Promise<void>((resolve) => {
        client.close();
        server.closeAllConnections();
        server.close(() => resolve());
      });
    apps[name] = { t, client, close };
  }
  return apps;
}

async function torture(apps: Apps, trials: number, baseSeed: number): Promise<Totals> {
  const totals: Totals = {
    trials: 0,
    ops: {},
    straddling: 0,
    snapshotted: 0,
    probes: 0,
    violations: {},
    examples: [],
  };
  let next = 0;
  async function runTrial(index: number): Promise<void> {
    const seed = baseSeed + index;
    const rng = new Prng(seed);
    const config = rng.pick(Object.keys(CONFIGS));
    const { t, client } = apps[config]!;
    const userId = rng.pick([
      `et-user-${seed}`,
      `et:${seed}:{tag}*?[a-z]`,
      `et ü ${seed} 😀`,
      `${'L'.repeat(80)}${seed}`,
    ]);
    const token = `u${seed}`;
    const bystanderToken = `v${seed}`;
    users.set(token, userId);
    users.set(bystanderToken, `et-bystander-${seed}`);
    const trial = new Trial(seed, t, client, userId, token, totals);
    const bystander = new Trial(seed, t, client, `et-bystander-${seed}`, bystanderToken, totals);
    try {
      for (let i = rng.int(2, 4); i > 0; i--) {
        const jar = new CookieJar();
        trial.jars.push(jar);
        await trial.request(jar, `d${trial.jars.length - 1}`, 'login');
      }
      const outsider = new CookieJar();
      await bystander.request(outsider, 'bystander', 'login');
      await trial.run(schedule(rng, config, trial.jars.length));
      await trial.finalChecks();
      const check = await client.send('GET', '/whoami', outsider.header());
      if (check.body?.userId !== `et-bystander-${seed}` || check.body?.data?.who !== 'bystander') {
        trial.violation('collateral', `the bystander lost its session: ${JSON.stringify(check.body)}`);
      }
      totals.trials += 1;
    } catch (error) {
      trial.violation('crashed', String((error as Error)?.stack ?? error));
    } finally {
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

const violationCount = (totals: Totals) => Object.values(totals.violations).reduce((a, b) => a + b, 0);

describe('express race torture: random interleavings against rotate, revoke and logoutOthers (invariants 1, 2, 5, 6)', () => {
  afterEach(closeClients);

  it(`${TRIALS} seeded trials on express-session: no session survives a completed revocation, none is resurrected or leaked`, async function () {
    this.timeout(TRIALS * 200 + 30_000);
    const apps = await startApps();
    const started = performance.now();
    try {
      const totals = await torture(apps, TRIALS, BASE_SEED);
      record('express race torture', {
        trials: totals.trials,
        seeds: `${BASE_SEED}..${BASE_SEED + TRIALS - 1}`,
        requests: Object.values(totals.ops).reduce((a, b) => a + b, 0),
        straddling: totals.straddling,
        snapshotted: totals.snapshotted,
        probes: totals.probes,
        violations: violationCount(totals),
        seconds: (performance.now() - started) / 1000,
      });
      record('express race torture ops', totals.ops);
      expect(totals.examples, 'first violations').to.deep.equal([]);
      expect(violationCount(totals)).to.equal(0);
      expect(totals.trials).to.equal(TRIALS);
      if (TRIALS >= 100) expect(totals.straddling).to.be.greaterThan(TRIALS / 10);
      expect(totals.snapshotted).to.be.at.least(TRIALS);
    } finally {
      for (const app of Object.values(apps)) await app.close();
    }
  });

  // The mutant replaces a script through ioredis's defineCommand, which the node-redis driver does
  // not use; it shows the torture can fail, which does not depend on the client, so it is defined
  // for the ioredis runs only (never a skip).
  const mutantTest = TEST_CLIENT === 'node-redis' ? undefined : it;
  mutantTest?.(
    'catches a broken store within 200 trials (mutant: logoutOthers does not check its own session)',
    async function () {
      this.timeout(60_000);
      const apps = await startApps((t) => installMutant(t.redis, MUTANTS.logoutOthersUnchecked));
      try {
        const totals = await torture(apps, 200, BASE_SEED);
        record('express race torture mutant', { trials: totals.trials, violations: violationCount(totals) });
        expect(violationCount(totals)).to.be.greaterThan(0);
      } finally {
        for (const app of Object.values(apps)) await app.close();
      }
    },
  );
});
