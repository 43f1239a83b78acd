// Private redis-server processes for tests, the demo and the benchmarks: free port, no persistence, PING before use.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT =
  'redis-server was not found on PATH. Install it (Debian/Ubuntu: apt-get install -y redis-server; ' +
  'macOS: brew install redis), or set REDIS_URL to a Redis you own, for example REDIS_URL=redis://127.0.0.1:6379/15';

export function redisServerAvailable(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Resolves once the server answers PING; never a fixed sleep. */
export async function waitForPing(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host });
      let answer = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        answer += chunk.toString();
        if (answer.includes('\r\n')) {
          socket.destroy();
          resolve(answer.startsWith('+PONG'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Servers still running, killed when this process exits however it exits (process.exit, an
 * uncaught error, mocha's --exit): a redis-server outliving its owner holds its port and memory.
 * Signals are the owner's to handle (test/support/shutdown.ts); this is the last resort.
 */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function killOnExit(child: ChildProcess, dir: string): void {
  running.set(child, dir);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [server, serverDir] of running) {
      // SIGKILL: nothing can be awaited in an exit handler, and it also ends a server paused by SIGSTOP.
      server.kill('SIGKILL');
      rmSync(serverDir, { recursive: true, force: true });
    }
  });
}

export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  /** Sends a signal (SIGKILL, SIGSTOP, SIGCONT) without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** Starts the server again on the same port after a kill. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(
  options: { args?: string[]; port?: number } = {},
): Promise<RedisServer> {
  if (!redisServerAvailable()) throw new Error(INSTALL_HINT);
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'kes-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    '',
    '--loglevel',
    'warning',
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    killOnExit(child, dir);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`redis-server exited early with code ${code}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPing(port), exited]);
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return child;
    },
    signal: (signal) => {
      child.kill(signal);
    },
    restart: launch,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGCONT');
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
