// Reading url-encoded forms with hard limits: 415 for other content types, 413 for anything too large.
import type { Context } from 'koa';

/** A whole form: a sign-in or password form is a few hundred bytes. */
export const FORM_LIMIT = 8 * 1024;

export type Form = URLSearchParams;

export async function readForm(ctx: Context, limit = FORM_LIMIT): Promise<Form> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    ctx.throw(415, 'This address accepts HTML form posts only (application/x-www-form-urlencoded).');
  }
  const tooLarge = `The form is too large (at most ${limit / 1024} KB).`;
  if (Number(ctx.get('content-length')) > limit) ctx.throw(413, tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  // Node discards whatever is left of the body after a 413, so the connection stays usable.
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) ctx.throw(413, tooLarge);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** One field as a string ('' when absent), or 413 when it is longer than `max` characters. */
export function field(ctx: Context, form: Form, name: string, label: string, max: number): string {
  const value = form.get(name) ?? '';
  if (value.length > max) ctx.throw(413, `The ${label} is too long (at most ${max} characters).`);
  return value;
}
