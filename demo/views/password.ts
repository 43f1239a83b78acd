// The change-password form.
import { html } from './html.js';
import { page, type SessionClock, type Viewer } from './layout.js';

export interface PasswordView {
  viewer: Viewer;
  clock: SessionClock;
  error?: string;
  otherDevices: number;
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
${error && html`<div class="banner error" role="alert" id="password-error">${error}</div>`}
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
