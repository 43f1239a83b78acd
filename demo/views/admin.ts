// The admin page: every account, its live sessions, and a button to sign it out everywhere.
import type { SessionInfo } from '../../lib/index.js';
import type { Account } from '../accounts.js';
import type { Flash } from '../session-data.js';
import { parseUserAgent } from '../user-agent.js';
import { html } from './html.js';
import { flashBanner, page, type SessionClock, type Viewer } from './layout.js';

export interface AdminView {
  viewer: Viewer;
  clock: SessionClock;
  users: { account: Account; sessions: SessionInfo[] }[];
  flash?: Flash;
}

export function adminPage(view: AdminView): string {
  const { viewer } = view;
  const rows = view.users.map(
    ({ account, sessions }) => html`<tr>
    <td><span class="device">${account.name}</span><div class="meta">${account.username}${
      account.role === 'admin' ? ' · administrator' : ''
    }</div></td>
    <td data-label="Sessions">${sessions.length}</td>
    <td class="hide-narrow">${
      sessions.length === 0
        ? html`<span class="meta">none</span>`
        : sessions.map((s) => parseUserAgent(s.userAgent).label).join(', ')
    }</td>
    <td class="actions"><form class="inline" method="post" action="/admin/users/${account.username}/sign-out">
      <input type="hidden" name="_csrf" value="${viewer.csrf}">
      <button class="danger small" type="submit" aria-label="Sign out every session of ${account.username}"${
        sessions.length === 0 ? html` disabled` : ''
      }>Sign out everywhere</button></form></td>
  </tr>`,
  );
  const main = html`
<h1>Admin</h1>
<p class="lead">Force a user off every device: one <code>rotate(userId, { reason })</code> call.
  Their devices learn why on their next request.</p>
${flashBanner(view.flash)}
<section class="card" aria-labelledby="users-heading">
  <h2 id="users-heading">Users</h2>
  <table>
    <caption class="visually-hidden">Accounts and their signed-in devices</caption>
    <thead><tr><th scope="col">User</th><th scope="col">Sessions</th>
      <th scope="col" class="hide-narrow">Devices</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody>${rows}</tbody>
  </table>
</section>`;
  return page({ title: 'Admin', main, viewer, clock: view.clock, path: '/admin' });
}
