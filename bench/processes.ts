// Everything the bench starts is registered here and stopped on exit, on error and on every stop signal.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from '../test/support/redis-server.js';
import { exitCodeFor, onShutdown } from '../test/support/shutdown.js';
import type { ServerMessage } from './app-server.js';
import type { VariantSpec } from './apps.js';

type Stopper = () => Promise<void>;
const running = new Set<Stopper>();

function track(stop: Stopper): Stopper {
  const once: Stopper = async () => {
    if (!running.delete(once)) return;
    await stop();
  };
  running.add(once);
  return once;
}

/** Stops every process still running, newest first, each bounded in time. */
export async function stopAll(): Promise<void> {
  for (const stop of [...running].reverse()) {
    await Promise.race([stop().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
}

// Ctrl-C, kill, a closed terminal, or npm gone (which passes no SIGHUP on): stop all, then exit.
let shuttingDown = false;
onShutdown((reason) => {
  shuttingDown = true;
  process.stderr.write(`\nbench: ${reason}, stopping ${running.size} process(es)\n`);
  void stopAll().finally(() => process.exit(exitCodeFor(reason)));
});

/** A private redis-server on a free loopback port, stopped with the bench. */
export async function privateRedis(args: string[] = []): Promise<RedisServer & { stop: Stopper }> {
  const server = await startRedisServer({ args });
  // Bind the helper's own stop before replacing it, or the tracked stop would call itself.
  const stopServer = server.stop.bind(server);
  const stop = track(stopServer);
  return Object.assign(server, { stop });
}

export interface AppProcess {
  url: string;
  spec: VariantSpec;
  /** Redis commands sent and CPU microseconds used by the app process so far. */
  stats(): Promise<{ commands: number; cpuMicros: number }>;
  stop: Stopper;
}

const SERVER = fileURLToPath(new URL('./app-server.ts', import.meta.url));

export async function startApp(spec: VariantSpec, extraNodeArgs: string[] = []): Promise<AppProcess> {
  const child: ChildProcess = fork(SERVER, [JSON.stringify(spec)], {
    execArgv: ['--import', 'tsx', ...extraNodeArgs],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = track(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM, not an IPC message: an app still loading has no message handler yet and would
      // miss it, making every stop during start-up wait for the SIGKILL below.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench: app process did not start in 20 s')), 20_000);
    child.once('exit', (code) => {
      // Stopped on purpose: the bench is exiting, and a start-up failure here would only be noise.
      if (!shuttingDown) reject(new Error(`bench: app process exited with code ${code}`));
    });
    child.on('message', (message: ServerMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  let pending: ((stats: { commands: number; cpuMicros: number }) => void)[] = [];
  child.on('message', (message: ServerMessage) => {
    if (message.type !== 'stats') return;
    const waiting = pending;
    pending = [];
    for (const resolve of waiting) resolve({ commands: message.commands, cpuMicros: message.cpuMicros });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    spec,
    stats: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('bench: app process did not report stats')), 5000);
        pending.push((stats) => {
          clearTimeout(timer);
          resolve(stats);
        });
        child.send({ type: 'stats' });
      }),
    stop,
  };
}
