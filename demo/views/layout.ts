// The page frame: head, header with navigation and sign-out, the session countdown, and the CSP that allows it.
import { createHash } from 'node:crypto';
import type { Account } from '../accounts.js';
import type { Flash } from '../session-data.js';
import { countdown, time } from './format.js';
import { type Html, html, raw } from './html.js';
import { PAGE_SCRIPT } from './page-script.js';
import { STYLES } from './styles.js';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/** Nothing runs or loads but the page's own style and script, allowed by hash. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${sha256(STYLES)}`,
  `script-src ${sha256(PAGE_SCRIPT)}`,
  "connect-src 'self'",
  'img-src data:',
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export interface Viewer {
  account: Account;
  csrf: string;
}

export interface SessionClock {
  expiresAt: Date | undefined;
  /** A sign-in without "Remember me": its cookie also ends when the browser closes. */
  browserSession: boolean;
  /** Name of the companion cookie the page script reads. */
  companion: string;
  pollMs: number;
}

export interface PageOptions {
  title: string;
  main: Html;
  /** Set on signed-in pages: navigation, sign-out button and countdown. */
  viewer?: Viewer;
  clock?: SessionClock;
  /** The path whose nav link is marked current. */
  path?: string;
  narrow?: boolean;
}

const NAV = [
  { href: '/', label: 'Devices', admin: false },
  { href: '/account/password', label: 'Change password', admin: false },
  { href: '/admin', label: 'Admin', admin: true },
];

function header(viewer: Viewer | undefined, path: string | undefined): Html {
  return html`<header class="top"><div class="inner">
    <a class="brand" href="/">koa-epoch-session <span>demo</span></a>
    ${viewer ? signedInHeader(viewer, path) : ''}
  </div></header>`;
}

function signedInHeader(viewer: Viewer, path: string | undefined): Html {
  const links = NAV.filter((item) => !item.admin || viewer.account.role === 'admin').map((item) => {
    const current = item.href === path ? raw(' aria-current="page"') : '';
    return html`<li><a href="${item.href}"${current}>${item.label}</a></li>`;
  });
  return html`<nav aria-label="Main"><ul>${links}</ul></nav>
    <div class="who"><span>Signed in as <strong>${viewer.account.name}</strong></span>
      <form class="inline" method="post" action="/signout">
        <input type="hidden" name="_csrf" value="${viewer.csrf}">
        <button class="secondary small" type="submit">Sign out</button>
      </form></div>`;
}

function sessionBar(clock: SessionClock | undefined): Html {
  if (!clock?.expiresAt) return html``;
  const left = clock.expiresAt.getTime() - Date.now();
  return html`<div class="sessionbar">Session expires in
    <strong id="countdown" role="timer" aria-live="off">${countdown(left)}</strong>
    (${time(clock.expiresAt)})${clock.browserSession ? ', or when you close the browser' : ''}.<span
    class="hide-narrow"> This page checks the session every ${Math.round(clock.pollMs / 1000)} s and
    returns to sign-in if it ends.</span></div>`;
}

export function page(options: PageOptions): string {
  const { title, main, viewer, clock, path, narrow } = options;
  const data = clock?.expiresAt
    ? html` data-companion="${clock.companion}" data-poll="${clock.pollMs}" data-expires="${clock.expiresAt.getTime()}"`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · koa-epoch-session demo</title>
<link rel="icon" href="data:,">
<style>${raw(STYLES)}</style>
</head>
<body${data}>
<a class="skip" href="#main">Skip to content</a>
${header(viewer, path)}
${sessionBar(clock)}
<main id="main"${narrow ? raw(' class="narrow"') : ''}>
${main}
</main>
<footer>Sessions live in Redis under a per-user epoch (koa-epoch-session). Every key expires on its own.</footer>
${clock?.expiresAt && html`<script>${raw(PAGE_SCRIPT)}</script>`}
</body>
</html>`.value;
}

export function flashBanner(flash: Flash | undefined): Html {
  if (!flash) return html``;
  const role = flash.kind === 'error' ? 'alert' : 'status';
  return html`<div class="banner ${flash.kind}" role="${role}">${flash.text}</div>`;
}
