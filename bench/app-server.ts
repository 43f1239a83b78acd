// One benchmark app in its own process, so the load generator and the app do not share an event loop.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp, type VariantSpec } from './apps.js';

export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'stats'; commands: number; cpuMicros: number };

const send = (message: ServerMessage) => process.send?.(message);
const spec = JSON.parse(process.argv[2] ?? '{}') as VariantSpec;
const { app, commands, close } = buildApp(spec);
const server = createServer(app.callback());
server.keepAliveTimeout = 60_000;

async function shutdown(code: number): Promise<never> {
  server.closeAllConnections();
  server.close();
  await Promise.race([close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(code);
}

server.listen(0, '127.0.0.1', () => send({ type: 'ready', port: (server.address() as AddressInfo).port }));
process.on('message', (message: { type?: string }) => {
  if (message.type === 'stats') {
    const cpu = process.cpuUsage();
    send({ type: 'stats', commands: commands(), cpuMicros: cpu.user + cpu.system });
  }
});
// The parent went away (crash, ctrl-C): never outlive it.
process.on('disconnect', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));
// A closed terminal signals every process of the job: close the Redis clients rather than die mid-write.
process.on('SIGHUP', () => void shutdown(129));
