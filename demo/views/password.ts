// The change-password form.
import type { Flash } from '../session-data.js';
import { duration, time } from './format.js';
import { html } from './html.js';
import { flashBanner, page, type SessionClock, type Viewer } from './layout.js';

export interface PasswordView {
  viewer: Viewer;
  clock: SessionClock;
  error?: string;
  flash?: Flash;
  otherDevices: number;
  /** When the user last signed in or confirmed the password: this page needs it to be recent. */
  authenticatedAt: Date | undefined;
  freshForMs: number;
}

export const MIN_PASSWORD = 8;

export function passwordPage(view: PasswordView): string {
  const { viewer, error, otherDevices } = view;
  const described = error ? html` aria-describedby="password-error"` : '';
  const main = html`
<h1>Change password</h1>
<p class="lead">Changing the password signs out every other device${
    otherDevices > 0 ? ` (${otherDevices} now)` : ''
  }. This one stays signed in.</p>
${flashBanner(view.flash)}
${error && html`<div class="banner error" role="alert" id="password-error">${error}</div>`}
${
  view.authenticatedAt &&
  html`<p class="meta" id="fresh-note">You signed in or confirmed your password at
  ${time(view.authenticatedAt)}. This page needs that within the last
  ${duration(view.freshForMs)}, or it asks for your password first.</p>`
}
<form class="card stack" method="post" action="/account/password" novalidate>
  <input type="hidden" name="_csrf" value="${viewer.csrf}">
  <input type="text" name="username" value="${viewer.account.username}" autocomplete="username" hidden>
  <label for="current">Current password</label>
  <input type="password" id="current" name="current" autocomplete="current-password" required maxlength="1024"${described}>
  <label for="next">New password</label>
  <input type="password" id="next" name="next" autocomplete="new-password" required minlength="${MIN_PASSWORD}"
    maxlength="1024" aria-describedby="next-hint">
  <p class="hint" id="next-hint">At least ${MIN_PASSWORD} characters.</p>
  <label for="confirm">Repeat the new password</label>
  <input type="password" id="confirm" name="confirm" autocomplete="new-password" required maxlength="1024">
  <button type="submit">Change password and sign out other devices</button>
</form>`;
  return page({
    title: 'Change password',
    main,
    viewer,
    clock: view.clock,
    path: '/account/password',
    narrow: false,
  });
}
