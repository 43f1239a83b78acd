// What a command started, seen from outside: its process tree (ps), and whether a TCP port still answers.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { createConnection } from 'node:net';

export interface Proc {
  pid: number;
  ppid: number;
  /** ps's STAT: "Z" is a zombie, gone but not yet reaped. */
  state: string;
  args: string;
}

export function processes(): Proc[] {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, pid, ppid, state, args]) => ({
      pid: Number(pid),
      ppid: Number(ppid),
      state: state!,
      args: args!,
    }));
}

/** The process and everything below it, as the process table shows them now. */
export function tree(rootPid: number): Proc[] {
  const all = processes();
  const found = all.filter((p) => p.pid === rootPid);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((p) => p.ppid === found[i]!.pid));
  return found;
}

/** Those of `procs` still running (a zombie has exited: only its exit status waits to be read). */
export function stillRunning(procs: Proc[]): Proc[] {
  const now = new Map(processes().map((p) => [p.pid, p]));
  return procs.filter((p) => {
    const current = now.get(p.pid);
    return current !== undefined && !current.state.startsWith('Z') && current.args === p.args;
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when nothing accepts connections on the port. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** The ports of the redis-servers in a tree ("redis-server 127.0.0.1:PORT" is how Redis names itself). */
export function redisPorts(procs: Proc[]): number[] {
  return procs.flatMap((p) => {
    const m = /^redis-server \S*:(\d+)/.exec(p.args);
    return m ? [Number(m[1])] : [];
  });
}

export interface Command {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts `npm <args>` as a terminal would: in a process group of its own, so that a signal to the
 * group is what Ctrl-C (SIGINT) or closing the terminal (SIGHUP) sends.
 */
export function startNpm(args: string[], cwd: string, env: NodeJS.ProcessEnv): Command {
  const child = spawn('npm', args, { cwd, env, detached: true, stdio: 'pipe' });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** An environment as a person's shell would give it: nothing from the outer `npm test` or its hooks. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|KES_|REDIS_URL$|INIT_CWD$)/i.test(k)),
  );
  return { ...env, ...extra };
}

/** Kills whatever is left of a test's command, so that a failed test leaves nothing either. */
export function killTree(procs: Proc[]): void {
  for (const p of stillRunning(procs)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
}

export type Target = 'the npm process' | 'the process group';

/**
 * Waits until `ready` holds, takes the tree, sends `signal` to npm alone or to its whole group (as
 * a terminal does), and waits until every process of the tree is gone and every port it held is
 * free. Returns what the command printed.
 */
export async function stopAndCheck(
  command: Command,
  signal: NodeJS.Signals,
  target: Target,
  ready: (output: string, procs: Proc[]) => boolean,
  ports: number[] = [],
): Promise<{ output: string; procs: Proc[] }> {
  const npm = command.child.pid!;
  let exited = false;
  void command.exited.then(() => {
    exited = true;
  });
  const procs = await waitFor('the command to be ready', () => {
    if (exited) throw new Error(`the command exited before it was ready:\n${command.output()}`);
    const now = tree(npm);
    return ready(command.output(), now) && now;
  });
  try {
    process.kill(target === 'the npm process' ? npm : -npm, signal);
    await waitFor('every process it started to end', () => stillRunning(procs).length === 0, 15_000).catch(
      (error: Error) => {
        const left = stillRunning(procs).map((p) => `${p.pid} ${p.args}`);
        throw new Error(
          `${error.message}; still running:\n${left.join('\n')}\n--- output:\n${command.output()}`,
        );
      },
    );
    for (const port of [...ports, ...redisPorts(procs)]) {
      if (!(await portIsFree(port))) throw new Error(`port ${port} still accepts connections`);
    }
    return { output: command.output(), procs };
  } finally {
    killTree(procs);
  }
}
