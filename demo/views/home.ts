// The home page: who you are, new sign-in notices, and your devices with a sign-out button for each.
import type { SessionInfo } from '../../lib/index.js';
import type { Notice } from '../notices.js';
import type { Flash } from '../session-data.js';
import type { StoredSession } from '../stored-value.js';
import { parseUserAgent } from '../user-agent.js';
import { ago, clock as clockText, time } from './format.js';
import { type Html, html } from './html.js';
import { flashBanner, page, type SessionClock, type Viewer } from './layout.js';
import { storedValuePanel } from './stored-value.js';

export interface HomeView {
  viewer: Viewer;
  clock: SessionClock;
  devices: SessionInfo[];
  notices: Notice[];
  flash?: Flash;
  maxSessions: number;
  /** This session's raw value in Redis, for the encryption-at-rest panel. */
  stored?: StoredSession;
}

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function displayIp(ip: string): string {
  return ip.replace(/^::ffff:/, '') || 'unknown';
}

function noticeBanner(notice: Notice): Html {
  const device = parseUserAgent(notice.userAgent).label;
  return html`<div class="banner warn" role="alert"><strong>New sign-in to your account</strong>
    ${device} from ${displayIp(notice.ip)}, ${time(new Date(notice.at), clockText(new Date(notice.at)))}.
    ${notice.evicted > 0 && html`It signed out your oldest session to stay within the device limit.`}
    Not you? Sign that device out below and change your password.</div>`;
}

/**
 * When the session ends, as the registry records it. Only this device's own request knows what its
 * cookie is (koa-session's options); the other rows show their expiry, which tells a remembered
 * session ("in 30 days") from one that ends with the browser ("in 30 minutes") well enough.
 */
function expiryCell(session: SessionInfo, browserSession: boolean): Html {
  const note = session.current
    ? html` <span class="meta expiry-note">(${browserSession ? 'or when this browser closes' : 'remembered on this device'})</span>`
    : '';
  return html`<td data-label="Expires">${time(session.expiresAt, ago(session.expiresAt))}${note}</td>`;
}

function deviceRow(session: SessionInfo, csrf: string, fresh: Set<string>, browserSession: boolean): Html {
  const device = parseUserAgent(session.userAgent);
  const rowClass = session.current ? 'current' : fresh.has(session.id) ? 'fresh' : '';
  const action = session.current
    ? html`<form class="inline" method="post" action="/signout">
        <input type="hidden" name="_csrf" value="${csrf}">
        <button class="secondary small" type="submit" aria-label="Sign out this device">Sign out</button></form>`
    : html`<form class="inline" method="post" action="/devices/${session.id}/sign-out">
        <input type="hidden" name="_csrf" value="${csrf}">
        <button class="danger small" type="submit" aria-label="Sign out ${device.label}">Sign out</button></form>`;
  const badges = [
    session.current && html`<span class="badge">This device</span>`,
    device.mobile && html`<span class="badge muted">Mobile</span>`,
  ];
  return html`<tr class="${rowClass}" data-session-id="${session.id}">
    <td><span class="device">${device.label}</span>${badges}</td>
    <td data-label="IP address">${displayIp(session.ip)}</td>
    <td class="hide-narrow" data-label="Signed in">${time(session.createdAt, ago(session.createdAt))}</td>
    <td data-label="Last seen">${time(session.lastSeenAt, ago(session.lastSeenAt))}</td>
    ${expiryCell(session, browserSession)}
    <td class="actions">${action}</td>
  </tr>`;
}

export function homePage(view: HomeView): string {
  const { viewer, devices, notices } = view;
  const { account, csrf } = viewer;
  const others = devices.filter((d) => !d.current).length;
  const fresh = new Set(notices.map((n) => n.sessionId));
  // This device first, then the most recently active.
  const ordered = [...devices].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt.getTime() - a.lastSeenAt.getTime(),
  );
  const main = html`
<h1>Hello, ${account.name.split(' ')[0]}</h1>
<p class="lead">You are signed in as <strong>${account.username}</strong>${
    account.role === 'admin' ? ' (administrator)' : ''
  }.</p>
${flashBanner(view.flash)}
${notices.map(noticeBanner)}
<section class="card" aria-labelledby="devices-heading">
  <h2 id="devices-heading">Your devices <span class="count">${devices.length}</span></h2>
  <table>
    <caption class="visually-hidden">Devices signed in to this account</caption>
    <thead><tr><th scope="col">Device</th><th scope="col">IP address</th>
      <th scope="col" class="hide-narrow">Signed in</th><th scope="col">Last seen</th><th scope="col">Expires</th>
      <th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody>${ordered.map((d) => deviceRow(d, csrf, fresh, view.clock.browserSession))}</tbody>
  </table>
  <div class="row">
    <form class="inline" method="post" action="/devices/sign-out-others">
      <input type="hidden" name="_csrf" value="${csrf}">
      <button class="danger" type="submit"${others === 0 ? html` disabled` : ''}>Sign out all other devices</button>
    </form>
    <span class="meta">${
      view.maxSessions > 0
        ? `Up to ${view.maxSessions} devices at once; signing in on another ends the oldest session.`
        : ''
    }</span>
  </div>
</section>
<section class="card explain" aria-labelledby="how-heading">
  <h2 id="how-heading">What happens underneath</h2>
  <p>Every session of <strong>${account.username}</strong> lives in Redis under one random <em>epoch</em>.
    <a href="/account/password">Changing your password</a> rotates it: one write, and every other device is
    signed out at once, with no scan and no list to keep clean. Each signed-out device is told why on its next request.</p>
  <p class="meta">The device list is an optional registry: a sorted set that prunes itself and expires with the last session.</p>
</section>
${storedValuePanel(view.stored)}`;
  return page({ title: 'Your devices', main, viewer, clock: view.clock, path: '/' });
}
