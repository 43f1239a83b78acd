// The error page: a title and a plain sentence for every status the demo sends, never a stack trace.
import { html } from './html.js';
import { page } from './layout.js';

const TITLES: Record<number, string> = {
  400: 'That request did not make sense',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Page not found',
  405: 'Method not allowed',
  409: 'Too many devices',
  413: 'Too much data',
  415: 'Unsupported form',
  429: 'Too many attempts',
  500: 'Something went wrong',
  503: 'Temporarily unavailable',
};

const DEFAULT_MESSAGES: Record<number, string> = {
  404: 'There is nothing at this address.',
  405: 'This address does not accept that kind of request.',
  409: 'This account is already signed in on as many devices as it may use. Sign out on one of them first.',
  500: 'The server hit an unexpected problem. It has been logged; please try again.',
  503: 'The session store (Redis) cannot be reached right now. Nothing was changed; try again in a moment.',
};

export function errorTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? TITLES[500]! : TITLES[400]!);
}

export function errorMessage(status: number, message?: string): string {
  return (
    message ||
    DEFAULT_MESSAGES[status] ||
    (status >= 500 ? DEFAULT_MESSAGES[500]! : 'Please go back and try again.')
  );
}

export function errorPage(status: number, message?: string): string {
  const main = html`
<h1>${errorTitle(status)}</h1>
<div class="banner error" role="alert">${errorMessage(status, message)}</div>
<p><a href="/">Back to the start</a> <span class="meta">· error ${status}</span></p>`;
  return page({ title: errorTitle(status), main, narrow: true });
}
