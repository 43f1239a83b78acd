// Type-level test, compiled by test/unit/client-types.test.ts: every client the store accepts type-checks, anything else fails.
import { Cluster, Redis } from 'ioredis';
import Koa from 'koa';
import { createClient, createCluster, RESP_TYPES } from 'redis';
import { createSessionAdmin, createSessions, EpochStore } from '../../lib/index.js';

const app = new Koa();
app.keys = ['k'];

createSessions(app, { redis: new Redis({ lazyConnect: true }) });
createSessions(app, { redis: new Cluster([{ port: 7000 }], { lazyConnect: true }) });
createSessions(app, { redis: createClient() });
createSessions(app, { redis: createClient({ RESP: 3 }) });
createSessions(app, { redis: createClient().withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) });
createSessions(app, { redis: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] }) });
createSessions(app, { redis: createCluster({ rootNodes: [], RESP: 3 }) });
new EpochStore({ redis: createClient(), legacy: { prefix: '', redis: new Redis({ lazyConnect: true }) } });
createSessionAdmin({ redis: createCluster({ rootNodes: [] }), registry: true });

// @ts-expect-error a URL is not a client
createSessions(app, { redis: 'redis://127.0.0.1:6379' });
// @ts-expect-error nor is an object without a client's methods
createSessions(app, { redis: {} });
// @ts-expect-error nor a bare get/set object
new EpochStore({ redis: { get: async () => null, set: async () => 'OK' } });
