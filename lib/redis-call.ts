// Turns Redis failures into the package's errors, and checks the shape of every reply.
import { SessionError, SessionStoreUnavailableError } from './errors.js';

/**
 * Redis replies that mean "not now" rather than "wrong": the request gets a 503 and the client
 * can retry. Anything else Redis refuses is a bug or a misconfiguration (say, a prefix shared with
 * keys of another type) and surfaces as a plain SessionError with the cause attached.
 */
const TRANSIENT = /^(OOM|LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

export async function redisCall<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw asSessionError(error);
  }
}

export function asSessionError(error: unknown): Error {
  if (error instanceof SessionError) return error;
  redact(error);
  const err = error as { name?: string; message?: string };
  if (err?.name === 'ReplyError' && !TRANSIENT.test(err.message ?? '')) {
    return new SessionError(`koa-epoch-session: Redis refused a session command: ${err.message}`, {
      cause: error,
    });
  }
  return new SessionStoreUnavailableError(error);
}

/**
 * ioredis attaches the failed command to its errors, arguments included: session keys (which
 * spell the user id), sids' handles, epochs and session data. Errors travel to logs, events and
 * error trackers, so they keep only the command's name.
 */
function redact(error: unknown): void {
  const withCommand = error as { command?: { name?: unknown; args?: unknown } } | null;
  if (withCommand !== null && typeof withCommand === 'object' && withCommand.command) {
    withCommand.command = { name: withCommand.command.name, args: ['[redacted by koa-epoch-session]'] };
  }
  const previous = (error as { previousErrors?: unknown[] } | null)?.previousErrors;
  if (Array.isArray(previous)) previous.forEach(redact);
}

/** A reply of the wrong shape. Says what it was, never what it held: replies carry session data. */
export function badReply(script: string, reply: unknown): SessionError {
  const shape = Array.isArray(reply) ? `an array of ${reply.length}` : reply === null ? 'null' : typeof reply;
  return new SessionError(
    `koa-epoch-session: unexpected reply from the ${script} step (${shape}); is the client set up with ` +
      'options that change reply types (stringNumbers, a custom reply transformer)?',
  );
}

export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

export function asInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}
