// The sign-in page: why you were signed out, what went wrong, the form, and the demo credentials.
import type { DemoAccount } from '../accounts.js';
import { duration } from './format.js';
import { type Html, html } from './html.js';
import { page } from './layout.js';

export interface SignInView {
  csrf: string;
  username?: string;
  /** Why this device was signed out (a revocation, an expiry, a sign-out). */
  notice?: { text: string; at?: string; kind: 'warn' | 'info' };
  /** What went wrong with the last attempt. */
  error?: string;
  /** "Remember me" was ticked on the last attempt. */
  remember?: boolean;
  /** The lifetimes the checkbox chooses between, in ms. */
  rememberMeMaxAge: number;
  idleMaxAge: number;
  /**
   * Shown in a box under the form so a newcomer can try the demo at once. These are the seeded
   * passwords, not the current ones (hashes cannot be read back): the card says so.
   */
  accounts: readonly DemoAccount[];
}

function noticeBanner(notice: NonNullable<SignInView['notice']>): Html {
  const warn = notice.kind === 'warn';
  return html`<div class="banner ${notice.kind}" role="${warn ? 'alert' : 'status'}" id="signed-out-reason">
  <strong>${warn ? 'You were signed out' : 'Signed out'}</strong>${notice.text}
  ${notice.at && html`<span class="meta"> (${notice.at})</span>`}</div>`;
}

export function signInPage(view: SignInView): string {
  const { notice, error } = view;
  const main = html`
<h1>Sign in</h1>
<p class="lead">Sign in on two browsers (or a normal and a private window) to see sessions move.</p>
${notice ? noticeBanner(notice) : ''}
${error && html`<div class="banner error" role="alert" id="signin-error">${error}</div>`}
<form class="card stack" method="post" action="/signin" novalidate>
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <label for="username">Username</label>
  <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none"
    spellcheck="false" required maxlength="64" value="${view.username ?? ''}"${view.username ? '' : html` autofocus`}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required
    maxlength="1024"${view.username ? html` autofocus` : ''}${error ? html` aria-describedby="signin-error"` : ''}>
  <div class="check">
    <input type="checkbox" id="remember" name="remember" value="yes" aria-describedby="remember-hint"${
      view.remember ? html` checked` : ''
    }>
    <label for="remember">Remember me for ${duration(view.rememberMeMaxAge)}</label>
  </div>
  <p class="hint" id="remember-hint">Otherwise this device is signed out when you close the browser, or after
    ${duration(view.idleMaxAge)} without a visit.</p>
  <button type="submit">Sign in</button>
</form>
<section class="card" aria-labelledby="demo-accounts">
  <h2 id="demo-accounts">Demo accounts</h2>
  <dl class="accounts">${view.accounts.map(
    (a) =>
      html`<dt>${a.username}</dt><dd>${a.password}${a.role === 'admin' && html` <span class="meta">· administrator</span>`}</dd>`,
  )}</dl>
  <p class="meta" id="demo-accounts-note">The passwords set at start-up. A password changed here replaces
  the one shown until the demo restarts, which sets these again.</p>
</section>`;
  return page({ title: 'Sign in', main, narrow: true });
}
