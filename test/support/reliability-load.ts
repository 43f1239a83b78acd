// A bounded loopback load of signed-in users doing mixed reads and writes, judging every response.
import { CookieJar, type HttpClient, percentile, type Reply } from './reliability-kit.js';

/*
 * Each virtual user signs in, then loops: read its session, or write a counter that only grows.
 * One request at a time per user, so the counter's acknowledged values are ordered: after a 200 to
 * `set n=k`, any later read of that session must show n >= k (else an acknowledged write was lost),
 * and n <= the last value tried (else something wrote a value nobody sent). Every response is
 * classified; a response naming another user, or carrying another user's marker, is foreign.
 */

export interface Outcome {
  at: number;
  vu: number;
  kind: 'ok' | 'unavailable' | 'lost-session' | 'foreign' | 'lost-write' | 'unexpected' | 'client-error';
  detail?: string;
}

export interface LoadFigures {
  requests: number;
  ok: number;
  unavailable: number;
  lostSessions: number;
  lostWrites: number;
  foreign: number;
  unexpected: number;
  clientErrors: number;
  acknowledgedWrites: number;
  logins: number;
  unavailableP50ms: number;
  unavailableMaxMs: number;
}

class VirtualUser {
  readonly jar = new CookieJar();
  signedIn = false;
  lastAck = 0;
  lastTry = 0;
  acked = 0;
  oks = 0;
  unavailable = 0;
  /** Cookies of sessions this user saw end: they must never sign anyone in again. */
  readonly ended: string[] = [];
  constructor(
    readonly index: number,
    readonly userId: string,
  ) {}
}

export class Load {
  readonly vus: VirtualUser[];
  readonly outcomes: Outcome[] = [];
  readonly started = performance.now();
  readonly unavailableMs: number[] = [];
  /** Latency of every answered request, whatever its status. */
  readonly answeredMs: number[] = [];
  /** When each user's current request was sent (this load's clock), while it is in flight. */
  readonly inflightSince = new Map<number, number>();
  running = false;
  #loops: Promise<void>[] = [];

  constructor(
    readonly client: HttpClient,
    users: number,
    readonly name: string,
    /** Pause after a 503 before the next try, as a client backs off. */
    readonly backoffMs = 20,
  ) {
    this.vus = Array.from({ length: users }, (_, i) => new VirtualUser(i, `${name}-user-${i}`));
  }

  now(): number {
    return performance.now() - this.started;
  }

  start(): void {
    this.running = true;
    this.#loops = this.vus.map((vu) => this.#loop(vu));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.#loops);
  }

  #note(vu: VirtualUser, kind: Outcome['kind'], detail?: string): void {
    this.outcomes.push({ at: this.now(), vu: vu.index, kind, ...(detail === undefined ? {} : { detail }) });
  }

  async #loop(vu: VirtualUser): Promise<void> {
    let step = 0;
    while (this.running) {
      step += 1;
      await this.step(vu, step % 2 === 0 ? 'write' : 'read');
    }
  }

  /** One request of one user, judged. Public so a test can run a final read pass. */
  async step(vu: VirtualUser, what: 'read' | 'write'): Promise<void> {
    let reply: Reply;
    const writing = vu.signedIn && what === 'write';
    const next = vu.lastTry + 1;
    const path = !vu.signedIn
      ? `/login?user=${vu.userId}`
      : writing
        ? `/set?n=${next}&who=${vu.userId}`
        : '/whoami';
    if (writing) vu.lastTry = next;
    this.inflightSince.set(vu.index, this.now());
    try {
      reply = await this.client.send(
        vu.signedIn ? (writing ? 'POST' : 'GET') : 'POST',
        path,
        vu.jar.header(),
      );
    } catch (error) {
      this.#note(vu, 'client-error', (error as Error).message);
      return;
    } finally {
      this.inflightSince.delete(vu.index);
    }
    this.answeredMs.push(reply.ms);
    const body = reply.body ?? {};
    if (reply.status === 503 && body.error === 'SessionStoreUnavailableError') {
      vu.unavailable += 1;
      this.unavailableMs.push(reply.ms);
      this.#note(vu, 'unavailable');
      if (this.running) await new Promise((r) => setTimeout(r, this.backoffMs));
      return;
    }
    if (reply.status !== 200) {
      this.#note(vu, 'unexpected', `${reply.status} ${JSON.stringify(body).slice(0, 300)}`);
      return;
    }
    const previous = vu.jar.sid;
    vu.jar.absorb(reply.setCookie);
    if (body.userId !== null && body.userId !== vu.userId) {
      this.#note(vu, 'foreign', `served ${JSON.stringify(body.userId)}`);
      return;
    }
    const data = body.data ?? {};
    if (data.who !== undefined && data.who !== vu.userId) {
      this.#note(vu, 'foreign', `saw data of ${data.who}`);
      return;
    }
    if (!vu.signedIn) {
      if (body.userId === vu.userId) {
        vu.signedIn = true;
        // Login carries anonymous data over: a write that landed in an anonymous session counts.
        vu.lastAck = Number(data.n ?? 0);
        vu.lastTry = vu.lastAck;
      }
      vu.oks += 1;
      this.#note(vu, 'ok');
      return;
    }
    if (body.userId === null) {
      // The session is gone (Redis lost or evicted it): the user must sign in again.
      if (previous !== undefined) vu.ended.push(previous);
      vu.signedIn = false;
      this.#note(vu, 'lost-session', `n was ${vu.lastAck}`);
      return;
    }
    const n = Number(data.n ?? 0);
    if (writing) {
      vu.lastAck = next;
      vu.acked += 1;
    } else if (n < vu.lastAck || n > vu.lastTry) {
      this.#note(vu, 'lost-write', `read n=${n}, acknowledged ${vu.lastAck}, tried ${vu.lastTry}`);
      return;
    }
    vu.oks += 1;
    this.#note(vu, 'ok');
  }

  count(kind: Outcome['kind'], from = 0, to = Number.POSITIVE_INFINITY): number {
    return this.outcomes.filter((o) => o.kind === kind && o.at >= from && o.at <= to).length;
  }

  /** Every user has had at least `n` successful requests since `since` (ms on this load's clock). */
  everyoneOkSince(since: number, n = 1): boolean {
    const counts = new Map<number, number>();
    for (const o of this.outcomes)
      if (o.kind === 'ok' && o.at >= since) counts.set(o.vu, (counts.get(o.vu) ?? 0) + 1);
    return this.vus.every((vu) => (counts.get(vu.index) ?? 0) >= n);
  }

  /** Every user has seen at least `n` 503s since `since`. */
  everyoneUnavailableSince(since: number, n = 1): boolean {
    const counts = new Map<number, number>();
    for (const o of this.outcomes) {
      if (o.kind === 'unavailable' && o.at >= since) counts.set(o.vu, (counts.get(o.vu) ?? 0) + 1);
    }
    return this.vus.every((vu) => (counts.get(vu.index) ?? 0) >= n);
  }

  /** Every user has a request that has been waiting for at least `ms`. */
  everyoneWaitingFor(ms: number): boolean {
    const now = this.now();
    return this.vus.every((vu) => {
      const since = this.inflightSince.get(vu.index);
      return since !== undefined && now - since >= ms;
    });
  }

  /** Milliseconds from `since` to the first success, and to the moment every user had one. */
  recovery(since: number): { first: number; all: number } {
    const firsts = new Map<number, number>();
    for (const o of this.outcomes) {
      if (o.kind === 'ok' && o.at >= since && !firsts.has(o.vu)) firsts.set(o.vu, o.at - since);
    }
    const values = [...firsts.values()];
    return {
      first: values.length ? Math.min(...values) : Number.NaN,
      all: firsts.size === this.vus.length ? Math.max(...values) : Number.NaN,
    };
  }

  figures(): LoadFigures {
    return {
      requests: this.outcomes.length,
      ok: this.count('ok'),
      unavailable: this.count('unavailable'),
      lostSessions: this.count('lost-session'),
      lostWrites: this.count('lost-write'),
      foreign: this.count('foreign'),
      unexpected: this.count('unexpected'),
      clientErrors: this.count('client-error'),
      acknowledgedWrites: this.vus.reduce((sum, vu) => sum + vu.acked, 0),
      logins: this.vus.length + this.count('lost-session'),
      unavailableP50ms: percentile(this.unavailableMs, 50),
      unavailableMaxMs: percentile(this.unavailableMs, 100),
    };
  }

  /** Details of the outcomes a test asserts never happen, for the failure message. */
  problems(kinds: Outcome['kind'][]): string[] {
    return this.outcomes
      .filter((o) => kinds.includes(o.kind))
      .slice(0, 10)
      .map((o) => `${o.at.toFixed(0)} ms, user ${o.vu}: ${o.kind} ${o.detail ?? ''}`);
  }
}
