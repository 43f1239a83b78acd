// Stopping a long-running command (the demo, the bench, the test runner) every way it can be told to stop.
import { constants } from 'node:os';

export type StopReason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'parent-exited';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The conventional exit status after a stop: 128 + the signal's number (130 for Ctrl-C). */
export function exitCodeFor(reason: StopReason): number {
  return 128 + constants.signals[reason === 'parent-exited' ? 'SIGHUP' : reason];
}

/**
 * Calls `stop` once, on the first of:
 * - SIGINT (Ctrl-C), SIGTERM (`kill`, or npm passing on its own SIGTERM) and SIGHUP (the terminal
 *   closed). Node's default for each is to die on the spot, skipping every cleanup; redis-server
 *   even ignores SIGHUP, so a closed terminal used to leave it holding its port.
 * - the parent going away. npm does not pass SIGHUP on, and `kill -HUP <npm>` or a crash of npm
 *   leaves its child running with no signal at all: only a new parent id shows it.
 * A second signal while stopping does nothing: stop's own timeouts bound how long it takes.
 */
export function onShutdown(stop: (reason: StopReason) => void, pollMs = 500): void {
  let stopping = false;
  const once = (reason: StopReason) => {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    stop(reason);
  };
  for (const signal of SIGNALS) process.on(signal, () => once(signal));
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) once('parent-exited');
  }, pollMs);
  // Never the only thing keeping the process alive.
  watch.unref();
}
