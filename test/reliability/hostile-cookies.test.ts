// Hostile cookies: generated and mutated session cookies thrown at a running app, and at the store behind the signature.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Context } from 'koa';
import { newSid, userTag } from '../../lib/core/keys.js';
import { closeClients, makeApp, type TestApp } from '../support/app.js';
import { HOSTILE_IDS } from '../support/hostile-ids.js';
import {
  BASE_SEED,
  CookieJar,
  HttpClient,
  type Listening,
  LONG,
  listen,
  percentile,
  record,
  scale,
  sign,
} from '../support/reliability-kit.js';

/*
 * Victims (ordinary ids, every hostile id, an anonymous visitor) each hold a session with a secret.
 * Then every input is checked against one oracle: a response may name user X or carry X's secret
 * only if the cookie value the signature layer accepted is exactly the value issued to X. Anything
 * else must be a fresh anonymous session, with no 5xx. The same oracle runs on the store's get()
 * directly, with validly signed forgeries, so the checks behind the signature are tested too.
 */

const RUNS = {
  randomBytes: scale(2_000, 20_000, 'KES_COOKIE_RUNS'),
  mutated: scale(4_000, 40_000, 'KES_COOKIE_RUNS'),
  forged: scale(3_000, 30_000, 'KES_COOKIE_RUNS'),
  large: scale(500, 5_000, 'KES_COOKIE_RUNS'),
  rawSocket: scale(500, 5_000, 'KES_COOKIE_RUNS'),
  storeLayer: scale(3_000, 30_000, 'KES_COOKIE_RUNS'),
};

interface Victim {
  userId: string | null;
  value: string;
  sig: string;
  secret: string;
  tag: string | undefined;
  sid: string;
}

const victimIds = new Map<string, string>();

const routes = {
  /** Who the request is, and which session cookie value the signature layer accepted. */
  'GET /whoami': (ctx: Context) => {
    ctx.state.accepted = ctx.cookies.get('sid', { signed: true }) ?? null;
  },
  'POST /victim': async (ctx: Context, t: TestApp) => {
    const id = victimIds.get(String(ctx.query.token));
    if (id !== undefined) await t.sessions.login(ctx, id);
    ctx.session!.secret = String(ctx.query.secret);
  },
};

/** Glob, Lua, key-layout and encoding metacharacters, and the separators of our own format. */
const META = [
  '*',
  '?',
  '[',
  ']',
  '[a-z]',
  '\\',
  "'",
  '"',
  ']]',
  '[[',
  '--',
  '..',
  '%',
  '%00',
  '%2e',
  '{',
  '}',
  '{}',
  ':',
  '.',
  '~',
  '=',
  ',',
  ' ',
  '\t',
  'é',
  '\u00ff',
  'redis.call("FLUSHALL")',
  'KEYS[1]',
  '\\0',
];
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Header-safe latin1: what a client can put in a Cookie header at all (see rawSocket for the rest). */
function headerSafe(bytes: Uint8Array): string {
  return Array.from(bytes, (b) =>
    b === 0x09 || (b >= 0x20 && b !== 0x7f) ? String.fromCharCode(b) : B64URL[b % 64]!,
  ).join('');
}

/** UTF-8 text as the latin1 string a header carries. */
function asHeader(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

describe('hostile cookies: generated, mutated and forged session cookies (invariants 5 and 8)', function () {
  this.timeout(LONG ? 1_800_000 : 60_000);
  let t: TestApp;
  let server: Listening;
  let client: HttpClient;
  /** Sessions that are live: the oracle's list of who may be reached, and by which value. */
  const victims: Victim[] = [];
  /** Every issued cookie, revoked ones included: what mutations start from. */
  const sources: Victim[] = [];
  const counts = { inputs: 0, status5xx: 0, signedIn: 0, fresh: 0, status4xx: 0, revokedShown: 0 };
  const violations: string[] = [];
  const latencies: number[] = [];
  let keysBefore: string[] = [];

  function judge(input: string, status: number, text: string): void {
    counts.inputs += 1;
    if (status >= 500) {
      counts.status5xx += 1;
      violations.push(`${status} for ${JSON.stringify(input.slice(0, 200))}`);
      return;
    }
    if (status !== 200) {
      counts.status4xx += 1;
    }
    let body: { userId?: unknown; accepted?: unknown; revoked?: unknown } = {};
    try {
      body = JSON.parse(text);
    } catch {
      // Node's 400 for an unparseable request: no body to judge, but it must not carry a secret.
    }
    const owner = victims.find((v) => v.value === body.accepted);
    if (body.userId !== null && body.userId !== undefined) {
      counts.signedIn += 1;
      if (owner === undefined || owner.userId !== body.userId) {
        violations.push(
          `served user ${JSON.stringify(body.userId)} for ${JSON.stringify(input.slice(0, 200))}`,
        );
      }
    } else if (status === 200) {
      counts.fresh += 1;
    }
    if (body.revoked !== null && body.revoked !== undefined) counts.revokedShown += 1;
    for (const victim of victims) {
      if (text.includes(victim.secret) && owner !== victim) {
        violations.push(`${victim.secret} leaked for ${JSON.stringify(input.slice(0, 200))}`);
      }
    }
  }

  async function send(cookieHeader: string): Promise<void> {
    const reply = await client.send('GET', '/whoami', cookieHeader);
    latencies.push(reply.ms);
    judge(cookieHeader, reply.status, JSON.stringify(reply.body));
  }

  function check(): void {
    if (violations.length > 0) throw new Error(`violations: ${violations.slice(0, 5).join('; ')}`);
  }

  before(async () => {
    t = makeApp({ registry: true, rolling: true }, routes);
    server = await listen(t.app);
    client = new HttpClient(server.port, 16);
  });

  /** The root hook flushes Redis after every test: each test gets its victims afresh. */
  beforeEach(async function () {
    this.timeout(60_000);
    victims.length = 0;
    sources.length = 0;
    const ids: (string | null)[] = [
      'alice',
      'bob',
      ...HOSTILE_IDS.filter((id) => Buffer.byteLength(id) < 1_000),
      null,
    ];
    for (const [i, id] of ids.entries()) {
      const secret = `SECRET-${i}-${randomBytes(6).toString('hex')}`;
      if (id !== null) victimIds.set(`v${i}`, id);
      const reply = await client.send('POST', `/victim?token=v${i}&secret=${secret}`);
      const jar = new CookieJar();
      jar.absorb(reply.setCookie);
      const value = jar.sid!;
      const dot = value.indexOf('.');
      sources.push({
        userId: id,
        value,
        sig: jar.values.get('sid.sig')!,
        secret,
        tag: dot === -1 ? undefined : value.slice(0, dot),
        sid: value.slice(dot + 1),
      });
      if (id !== null) expect(value.startsWith(`${userTag(id)}.`)).to.equal(true);
    }
    // Bob was signed out everywhere: his cookie is a source of mutations, but reaches no one.
    await t.sessions.rotate('bob', { reason: 'password-changed' });
    victims.push(...sources.filter((v) => v.userId !== 'bob'));
    keysBefore = (await t.redis.keys('*')).sort();
  });

  /** Hostile input left every victim's session as it was, and created, renamed or removed no key. */
  afterEach(async () => {
    for (const victim of victims) {
      const reply = await client.send('GET', '/whoami', `sid=${victim.value}; sid.sig=${victim.sig}`);
      expect(reply.body.userId).to.equal(victim.userId);
      expect(reply.body.data.secret).to.equal(victim.secret);
    }
    expect((await t.redis.keys('*')).sort()).to.deep.equal(keysBefore);
  });

  after(async () => {
    client.close();
    await server.close();
    await closeClients();
    record('hostile cookies', {
      ...counts,
      violations: violations.length,
      p50ms: percentile(latencies, 50),
      p99ms: percentile(latencies, 99),
      maxms: percentile(latencies, 100),
    });
  });

  it(`${RUNS.randomBytes} random byte strings as the Cookie header, the session cookie and its signature`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom('header', 'value', 'value+sig'),
        async (a, b, shape) => {
          const header =
            shape === 'header'
              ? headerSafe(a)
              : shape === 'value'
                ? `sid=${headerSafe(a).replace(/;/g, '')}`
                : `sid=${headerSafe(a).replace(/;/g, '')}; sid.sig=${headerSafe(b).replace(/;/g, '')}`;
          await send(header);
          check();
        },
      ),
      { seed: BASE_SEED, numRuns: RUNS.randomBytes },
    );
  });

  it(`${RUNS.mutated} mutations of real cookies: truncations, flips, other users' tags, swapped and re-signed parts`, async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate'), at: fc.nat(60) }),
      fc.record({ kind: fc.constant('flip'), at: fc.nat(60), to: fc.constantFrom(...B64URL, ...META) }),
      fc.record({ kind: fc.constant('insert'), at: fc.nat(60), to: fc.constantFrom(...B64URL, ...META) }),
      fc.record({ kind: fc.constant('delete'), at: fc.nat(60) }),
      fc.record({ kind: fc.constant('other-tag'), other: fc.nat(100) }),
      fc.record({ kind: fc.constant('other-sid'), other: fc.nat(100) }),
      fc.record({ kind: fc.constant('no-tag') }),
      fc.record({ kind: fc.constant('case') }),
      fc.record({ kind: fc.constant('append'), to: fc.constantFrom(...META) }),
      fc.record({ kind: fc.constant('prepend'), to: fc.constantFrom(...META) }),
      fc.record({ kind: fc.constant('fresh-sid') }),
    );
    const signature = fc.constantFrom('original', 'forged', 'none', 'other', 'garbage');
    const layout = fc.constantFrom('single', 'mutant-first', 'original-first', 'spaces');
    await fc.assert(
      fc.asyncProperty(fc.nat(1_000), mutation, signature, layout, async (which, m, sigMode, arrangement) => {
        const victim = sources[which % sources.length]!;
        const other = sources[((m as { other?: number }).other ?? 0) % sources.length]!;
        const v = victim.value;
        const at = Math.min((m as { at?: number }).at ?? 0, v.length);
        const to = (m as { to?: string }).to ?? '';
        let value: string;
        switch (m.kind) {
          case 'truncate':
            value = v.slice(0, at);
            break;
          case 'flip':
            value = v.slice(0, at) + to + v.slice(at + 1);
            break;
          case 'insert':
            value = v.slice(0, at) + to + v.slice(at);
            break;
          case 'delete':
            value = v.slice(0, at) + v.slice(at + 1);
            break;
          case 'other-tag':
            value = other.tag === undefined ? victim.sid : `${other.tag}.${victim.sid}`;
            break;
          case 'other-sid':
            value = victim.tag === undefined ? other.sid : `${victim.tag}.${other.sid}`;
            break;
          case 'no-tag':
            value = victim.sid;
            break;
          case 'case':
            value = v.replace(/[a-z]/g, (c) => c.toUpperCase());
            break;
          case 'append':
            value = v + to;
            break;
          case 'prepend':
            value = to + v;
            break;
          default:
            value = `${victim.tag ?? ''}${victim.tag === undefined ? '' : '.'}${newSid(Date.now())}`;
        }
        value = asHeader(value).replace(/;/g, '');
        const sig =
          sigMode === 'original'
            ? victim.sig
            : sigMode === 'forged'
              ? sign(`sid=${value}`)
              : sigMode === 'other'
                ? other.sig
                : sigMode === 'garbage'
                  ? sign(`sid=${v}`).split('').reverse().join('')
                  : undefined;
        const mutant = sig === undefined ? `sid=${value}` : `sid=${value}; sid.sig=${sig}`;
        const original = `sid=${victim.value}; sid.sig=${victim.sig}`;
        const header =
          arrangement === 'mutant-first'
            ? `${mutant}; ${original}`
            : arrangement === 'original-first'
              ? `${original}; ${mutant}`
              : arrangement === 'spaces'
                ? ` ${mutant.replace('; ', ' ;  ')} `
                : mutant;
        await send(header);
        check();
      }),
      { seed: BASE_SEED + 1, numRuns: RUNS.mutated },
    );
  });

  it(`${RUNS.forged} validly signed forgeries: well-formed and malformed tags and sids, glob and Lua metacharacters`, async () => {
    const tagPart = fc.oneof(
      fc.constantFrom(...sources.flatMap((v) => (v.tag === undefined ? [] : [v.tag]))),
      fc
        .string({ unit: 'binary', maxLength: 70 })
        .map((id) => (id === '' ? 'x' : userTag(id.toWellFormed()))),
      fc.string({ unit: fc.constantFrom(...B64URL), minLength: 43, maxLength: 43 }).map((s) => `~${s}`),
      fc.array(fc.constantFrom(...META, ...B64URL), { maxLength: 30 }).map((parts) => parts.join('')),
      fc.constant(''),
    );
    const sidPart = fc.oneof(
      fc.constantFrom(...sources.map((v) => v.sid)),
      fc.integer({ min: 0, max: 2 ** 40 }).map((time) => newSid(time)),
      fc.string({ unit: fc.constantFrom(...B64URL), minLength: 30, maxLength: 30 }),
      fc.array(fc.constantFrom(...META, ...B64URL), { maxLength: 40 }).map((parts) => parts.join('')),
    );
    await fc.assert(
      fc.asyncProperty(tagPart, sidPart, fc.boolean(), async (tag, sid, dotted) => {
        const value = asHeader(dotted ? `${tag}.${sid}` : `${tag}${sid}`).replace(/;/g, '');
        await send(`sid=${value}; sid.sig=${sign(`sid=${value}`)}`);
        check();
      }),
      { seed: BASE_SEED + 2, numRuns: RUNS.forged },
    );
  });

  it(`${RUNS.large} values of 8 KB, signed and unsigned`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...META, ...sources.map((v) => v.value)),
        fc.nat(8_192),
        fc.boolean(),
        async (unit, cut, signed) => {
          const value = asHeader(unit.repeat(Math.ceil(8_192 / unit.length)).slice(0, 8_192)).replace(
            /;/g,
            '',
          );
          const spliced = value.slice(0, cut) + victims[0]!.value + value.slice(cut);
          const big = spliced.slice(0, 8_192);
          await send(signed ? `sid=${big}; sid.sig=${sign(`sid=${big}`)}` : `sid=${big}`);
          check();
        },
      ),
      { seed: BASE_SEED + 3, numRuns: RUNS.large },
    );
  });

  it(`${RUNS.rawSocket} raw requests with any bytes in the Cookie header (CR, LF, NUL included)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const request = Buffer.concat([
          Buffer.from('GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid='),
          Buffer.from(bytes),
          Buffer.from('\r\nConnection: close\r\n\r\n'),
        ]);
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(server.port, '127.0.0.1');
          const chunks: Buffer[] = [];
          socket.setTimeout(5_000, () => socket.destroy(new Error('raw request timed out')));
          socket.on('data', (chunk) => chunks.push(chunk));
          socket.on('error', reject);
          socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
          socket.end(request);
        });
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
        const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
        expect(status, 'an HTTP answer').to.be.within(200, 599);
        judge(Buffer.from(bytes).toString('latin1'), status, body);
        check();
      }),
      { seed: BASE_SEED + 4, numRuns: RUNS.rawSocket },
    );
  });

  it(`${RUNS.storeLayer} values straight to the store's get(): any string, never a throw, never another session`, async () => {
    const store = t.sessions.store;
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 120 }),
          fc.string({
            unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
            maxLength: 80,
          }),
          fc
            .tuple(fc.constantFrom(...sources), fc.constantFrom(...META), fc.nat(60))
            .map(([v, meta, at]) => v.value.slice(0, at) + meta + v.value.slice(at)),
          fc
            .tuple(fc.constantFrom(...sources), fc.constantFrom(...sources))
            .map(([a, b]) => `${a.tag ?? ''}.${b.sid}`),
        ),
        async (value) => {
          tried += 1;
          const data = await store.get(value, undefined, { ctx: {} });
          const owner = victims.find((v) => v.value === value);
          if (data !== undefined && owner === undefined) {
            throw new Error(`store.get(${JSON.stringify(value)}) returned a session`);
          }
          if (data !== undefined && data.secret !== owner!.secret) throw new Error('wrong session data');
        },
      ),
      { seed: BASE_SEED + 5, numRuns: RUNS.storeLayer },
    );
    record('hostile cookies, store layer', { values: tried, sessionsReturned: 0 });
    expect(tried).to.equal(RUNS.storeLayer);
  });

  it('all inputs together: zero 5xx, zero foreign sessions or secrets', () => {
    expect(violations).to.deep.equal([]);
    expect(counts.status5xx).to.equal(0);
    const minimum = RUNS.randomBytes + RUNS.mutated + RUNS.forged + RUNS.large + RUNS.rawSocket;
    expect(counts.inputs).to.be.at.least(minimum);
    expect(counts.signedIn, 'some mutations legitimately kept the original cookie').to.be.greaterThan(0);
    expect(counts.fresh).to.be.greaterThan(minimum / 2);
  });
});
