// The "confirm your password" step: shown instead of a page that needs a recent sign-in when the last one is too old.
import { duration, time } from './format.js';
import { html } from './html.js';
import { page, type SessionClock, type Viewer } from './layout.js';

export interface ConfirmView {
  viewer: Viewer;
  clock: SessionClock;
  /** The page to return to once the password is confirmed (one of the pages that ask for it). */
  next: string;
  /** What the page is for, in a few words: "change your password". */
  action: string;
  /** When the user last signed in or confirmed the password. */
  authenticatedAt: Date | undefined;
  freshForMs: number;
  /** A form was posted with a stale sign-in: it was not applied. */
  unsaved?: boolean;
  error?: string;
}

export function confirmPage(view: ConfirmView): string {
  const { viewer, error, authenticatedAt } = view;
  const described = error ? html` aria-describedby="confirm-error"` : '';
  const main = html`
<h1>Confirm your password</h1>
<p class="lead">To ${view.action}, you need to have signed in within the last ${duration(view.freshForMs)}.
  ${authenticatedAt && html`You last signed in or confirmed your password at ${time(authenticatedAt)}.`}
  Enter your password to go on; you stay signed in either way.</p>
${
  view.unsaved &&
  html`<div class="banner info" role="status" id="confirm-unsaved">Nothing was changed. Confirm your password,
  then fill in the form again.</div>`
}
${error && html`<div class="banner error" role="alert" id="confirm-error">${error}</div>`}
<form class="card stack" method="post" action="/account/confirm" novalidate>
  <input type="hidden" name="_csrf" value="${viewer.csrf}">
  <input type="hidden" name="next" value="${view.next}">
  <input type="text" name="username" value="${viewer.account.username}" autocomplete="username" hidden>
  <label for="confirm-password">Password</label>
  <input type="password" id="confirm-password" name="password" autocomplete="current-password" required
    maxlength="1024" autofocus${described}>
  <button type="submit">Confirm and continue</button>
</form>
<p class="meta"><a href="/">Back to your devices</a></p>`;
  return page({
    title: 'Confirm your password',
    main,
    viewer,
    clock: view.clock,
    path: view.next,
    narrow: true,
  });
}
