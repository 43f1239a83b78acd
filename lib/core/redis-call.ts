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
  const err = error as { message?: string };
  if (isReplyError(error) && !TRANSIENT.test(err.message ?? '')) {
    return new SessionError(`koa-epoch-session: Redis refused a session command: ${err.message}`, {
      cause: error,
    });
  }
  // Anything else is the connection: closed, offline, timed out, reconnecting (both clients).
  return new SessionStoreUnavailableError(error);
}

/**
 * An error reply from the server. ioredis names it `ReplyError`; node-redis's `ErrorReply` (and
 * its `SimpleError` and `BlobError`) set no name, so their class is looked for on the prototype
 * chain: the app's copy of node-redis is not ours, so `instanceof` cannot tell.
 */
function isReplyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return true;
  for (let proto = Object.getPrototypeOf(error); proto && proto !== Error.prototype; ) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/**
 * ioredis attaches the failed command to its errors, arguments included: session keys (which
 * spell the user id), sids' handles, epochs and session data. Errors travel to logs, events and
 * error trackers, so they keep only the command's name. node-redis attaches no command, but a
 * server that does not know a command quotes its first arguments in the reply ("unknown command
 * 'X', with args beginning with: ..."), whichever client sent it.
 */
function redact(error: unknown): void {
  const withCommand = error as { command?: { name?: unknown; args?: unknown } } | null;
  if (withCommand !== null && typeof withCommand === 'object' && withCommand.command) {
    withCommand.command = { name: withCommand.command.name, args: ['[redacted by koa-epoch-session]'] };
  }
  if (error instanceof Error && QUOTED_ARGS.test(error.message)) {
    const quoted = error.message;
    error.message = quoted.replace(QUOTED_ARGS, '$1[redacted by koa-epoch-session]');
    // The stack repeats the message as it was when the error was made.
    if (error.stack) error.stack = error.stack.replace(quoted, error.message);
  }
  const previous = (error as { previousErrors?: unknown[] } | null)?.previousErrors;
  if (Array.isArray(previous)) previous.forEach(redact);
}

const QUOTED_ARGS = /(with args beginning with: ).*/s;

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
