// The OpenTelemetry and Prometheus recipes of docs/operations.md, taken from the page, type-checked and run against a real app.

import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import Koa from 'koa';
import supertest from 'supertest';
import { createSessions } from '../../lib/index.js';
import { APP_KEYS, closeClients, makeApp } from '../support/app.js';
import { anySubscribers } from '../support/diagnostics.js';
import { freePort } from '../support/redis-server.js';
import { captured } from '../support/replay.js';

const root = new URL('../../', import.meta.url);

/** The ```ts block after `<!-- recipe: name -->` in docs/operations.md. */
function recipe(name: string): string {
  const page = readFileSync(new URL('docs/operations.md', root), 'utf8');
  const block = new RegExp(`<!-- recipe: ${name} -->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(page)?.[1];
  if (!block) throw new Error(`docs/operations.md has no ${name} recipe`);
  return block;
}

/**
 * The app the recipes observe: login, a read, a save, a rotation, the revoked cookie presented
 * again, and a read while Redis is unreachable (an app on a client of a closed port, shown the
 * same signed cookie). Returns the login's session id.
 */
async function traffic(): Promise<string> {
  const t = makeApp();
  const agent = t.agent();
  const login = await agent.post('/login?user=alice').expect(200);
  await agent.get('/whoami').expect(200);
  await agent.post('/set?theme=dark').expect(200);
  await t.sessions.rotate('alice', { reason: 'password-changed' });
  expect((await agent.get('/whoami').expect(200)).body.revoked).to.equal('password-changed');

  const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: () => null,
  });
  down.on('error', () => {});
  try {
    const app = new Koa();
    app.keys = APP_KEYS;
    app.silent = true;
    const sessions = createSessions(app, { redis: down });
    app.use(sessions.middleware);
    app.use((ctx) => {
      ctx.body = { userId: sessions.userId(ctx) ?? null };
    });
    await supertest(app.callback()).get('/').set('Cookie', captured(login)!).expect(503);
  } finally {
    down.disconnect();
  }
  return login.body.login.sessionId;
}

/** OpenTelemetry's context manager contract on AsyncLocalStorage, as the Node SDK's is: spans nest. */
function asyncContextManager(root: unknown) {
  const storage = new AsyncLocalStorage<unknown>();
  return {
    active: () => storage.getStore() ?? root,
    with: (context: unknown, fn: (...args: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]) =>
      storage.run(context, () => fn.apply(thisArg, args)),
    bind: <T>(_context: unknown, target: T) => target,
    enable() {
      return this;
    },
    disable() {
      storage.disable();
      return this;
    },
  };
}

describe('docs/operations.md: the diagnostics recipes run as written', function () {
  this.timeout(30_000);
  let dir: string;
  let stop: (() => void) | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kes-recipes-'));
    symlinkSync(fileURLToPath(new URL('node_modules', root)), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(join(dir, 'opentelemetry.ts'), recipe('opentelemetry'));
    writeFileSync(join(dir, 'prometheus.ts'), recipe('prometheus'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    stop?.();
    stop = undefined;
    await closeClients();
    expect(anySubscribers(), 'the recipe stopped listening').to.equal(false);
  });

  it('both recipes type-check as written (strict TypeScript, the packages they name)', () => {
    const compilerOptions = {
      strict: true,
      module: 'NodeNext',
      target: 'ES2023',
      noEmit: true,
      types: ['node'],
    };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['opentelemetry.ts', 'prometheus.ts'] }),
    );
    const tsc = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('node_modules/typescript/bin/tsc', root)), '-p', dir],
      { encoding: 'utf8' },
    );
    expect(tsc.stdout + tsc.stderr).to.equal('');
    expect(tsc.status).to.equal(0);
  });

  it('OpenTelemetry: a span per operation, a child of the request span, with the outcome, no user id, and the Redis error recorded', async () => {
    const api = await import('@opentelemetry/api');
    const sdk = await import('@opentelemetry/sdk-trace-base');
    const { traceSessions } = (await import(pathToFileURL(join(dir, 'opentelemetry.ts')).href)) as {
      traceSessions: (tracer: unknown) => () => void;
    };
    const exporter = new sdk.InMemorySpanExporter();
    const provider = new sdk.BasicTracerProvider({ spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('test');
    const manager = asyncContextManager(api.ROOT_CONTEXT);
    api.context.setGlobalContextManager(manager as never);
    try {
      stop = traceSessions(tracer);
      // The request's span, active while the request runs, as HTTP instrumentation would make it.
      const request = tracer.startSpan('request');
      const sessionId = await api.context.with(api.trace.setSpan(api.context.active(), request), traffic);
      request.end();

      const spans = exporter.getFinishedSpans().filter((s) => s.name !== 'request');
      const named = (name: string) => spans.filter((s) => s.name === name);
      expect(spans.map((s) => s.name).sort()).to.deep.equal([
        'session.login',
        'session.read',
        'session.read',
        'session.read',
        'session.read',
        'session.rotate',
        'session.write',
      ]);
      for (const span of spans) {
        expect(span.parentSpanContext?.spanId, `${span.name} is a child of the request`).to.equal(
          request.spanContext().spanId,
        );
        expect(JSON.stringify(span.attributes), `${span.name} carries no user id`).to.not.include('alice');
      }
      expect(named('session.login')[0]!.attributes).to.deep.equal({
        'session.sessionId': sessionId,
        'session.adopted': false,
        'session.result': 'created',
      });
      expect(named('session.rotate')[0]!.attributes).to.deep.equal({
        'session.scope': 'all',
        'session.reason': 'password-changed',
        'session.result': true,
      });
      expect(named('session.write')[0]!.attributes).to.include({
        'session.mode': 'update',
        'session.result': true,
      });
      const reads = named('session.read').map((s) => [s.attributes['session.result'], s.status.code]);
      const { UNSET, ERROR } = api.SpanStatusCode;
      expect(reads).to.deep.equal([
        [true, UNSET],
        [true, UNSET],
        [false, UNSET],
        [undefined, ERROR],
      ]);
      const failed = named('session.read')[3]!;
      expect(failed.events.map((e) => e.name)).to.deep.equal(['exception']);
      expect(failed.events[0]!.attributes!['exception.type']).to.equal('SessionStoreUnavailableError');
    } finally {
      api.context.disable();
      await provider.shutdown();
    }
  });

  it('Prometheus: rejected sessions by reason, read and write durations, Redis errors by name', async () => {
    const client = await import('prom-client');
    const { sessionMetrics } = (await import(pathToFileURL(join(dir, 'prometheus.ts')).href)) as {
      sessionMetrics: (registry: unknown) => () => void;
    };
    const registry = new client.Registry();
    stop = sessionMetrics(registry);
    await traffic();
    const text = await registry.metrics();
    const value = (sample: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      return line === undefined ? undefined : Number(line.slice(sample.length + 1));
    };
    expect(value('session_rejected_total{reason="password-changed"}')).to.equal(1);
    expect(value('session_redis_errors_total{error="SessionStoreUnavailableError"}')).to.equal(1);
    const count = 'session_operation_duration_seconds_count';
    expect(value(`${count}{operation="read",outcome="ok"}`)).to.equal(3);
    expect(value(`${count}{operation="read",outcome="error"}`)).to.equal(1);
    expect(value(`${count}{operation="write",outcome="ok"}`)).to.equal(1);
    const seconds = value('session_operation_duration_seconds_sum{operation="read",outcome="ok"}')!;
    expect(seconds).to.be.greaterThan(0).and.lessThan(10);
  });
});
