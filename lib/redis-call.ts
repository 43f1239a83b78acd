// Turns Redis failures into the package's errors, and checks the shape of every script reply.
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
  const err = error as { name?: string; message?: string };
  if (err?.name === 'ReplyError' && !TRANSIENT.test(err.message ?? '')) {
    return new SessionError(`koa-epoch-session: Redis refused a session command: ${err.message}`, {
      cause: error,
    });
  }
  return new SessionStoreUnavailableError(error);
}

export function badReply(script: string, reply: unknown): SessionError {
  return new SessionError(
    `koa-epoch-session: unexpected reply from the ${script} script: ${JSON.stringify(reply)?.slice(0, 200)}`,
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
