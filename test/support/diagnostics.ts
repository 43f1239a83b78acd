// Records what the package publishes on its diagnostics channels, for the Koa and Express tests.
import dc from 'node:diagnostics_channel';
import { CHANNELS } from '../../lib/index.js';

export const TRACED = ['read', 'write', 'login', 'rotate', 'revoke'] as const;
export const POINT = ['rejected', 'redisError'] as const;
const PHASES = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const;

export interface Published {
  /** `read`, … for the tracing channels; `rejected` or `redisError` for the plain ones. */
  channel: string;
  /** The tracing event (`start`, `end`, `asyncStart`, `asyncEnd`, `error`), or `publish`. */
  phase: string;
  /** A copy of the message as it was at this event. */
  fields: Record<string, unknown>;
  /** The message object itself, to check that one operation keeps one object. */
  message: object;
}

/** Subscribes to every channel; `stop()` unsubscribes. */
export function recordChannels() {
  const seen: Published[] = [];
  const stops: (() => void)[] = [];
  for (const name of TRACED) {
    const channel = dc.tracingChannel(CHANNELS[name]);
    const handlers = Object.fromEntries(
      PHASES.map((phase) => [
        phase,
        (message: object) => seen.push({ channel: name, phase, fields: { ...message }, message }),
      ]),
    ) as unknown as Parameters<typeof channel.subscribe>[0];
    channel.subscribe(handlers);
    stops.push(() => channel.unsubscribe(handlers));
  }
  for (const name of POINT) {
    const listener = (message: unknown) =>
      seen.push({
        channel: name,
        phase: 'publish',
        fields: { ...(message as object) },
        message: message as object,
      });
    dc.subscribe(CHANNELS[name], listener);
    stops.push(() => dc.unsubscribe(CHANNELS[name], listener));
  }
  return {
    seen,
    /** The messages of one channel at one phase (`start` by default for tracing channels). */
    of(channel: string, phase = channel === 'rejected' || channel === 'redisError' ? 'publish' : 'start') {
      return seen.filter((p) => p.channel === channel && p.phase === phase).map((p) => p.fields);
    },
    clear() {
      seen.length = 0;
    },
    stop() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}

/** True while anyone listens on any of the package's channels. */
export function anySubscribers(): boolean {
  return [
    ...TRACED.map((n) => dc.tracingChannel(CHANNELS[n]).hasSubscribers),
    ...POINT.map((n) => dc.hasSubscribers(CHANNELS[n])),
  ].some(Boolean);
}
