// The page script: a countdown from the companion cookie, and a poll of /session/status.
// It is a constant (configured through data- attributes), so the CSP can allow it by hash.

/**
 * The session cookie is HttpOnly, so the page cannot see it. The companion cookie carries only
 * the expiry time and moves in step with it; /session/status is the authority. The script leaves
 * for the sign-in page only when the server says the session is gone, so a missing companion
 * cookie can never cause a redirect loop. On a revocation it goes to /signin without a query: the
 * revoked cookie is still presented there, and the page shows why it was revoked.
 */
export const PAGE_SCRIPT = `
(() => {
  'use strict';
  const body = document.body;
  const out = document.getElementById('countdown');
  const cookieName = body.dataset.companion;
  if (!out || !cookieName) return;
  const pollMs = Number(body.dataset.poll) || 15000;
  let fallback = Number(body.dataset.expires) || 0;
  let hadCookie = false;
  let checking = false;
  let leaving = false;
  let lastExpiredCheck = 0;

  function companion() {
    for (const part of document.cookie.split('; ')) {
      const eq = part.indexOf('=');
      if (part.slice(0, eq) !== cookieName) continue;
      const value = Number(part.slice(eq + 1));
      if (Number.isFinite(value) && value > 0) return value;
    }
    return undefined;
  }

  function format(ms) {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    const mm = String(m).padStart(2, '0');
    if (d > 0) return d + 'd ' + String(h).padStart(2, '0') + ':' + mm + ':' + s;
    return h > 0 ? h + ':' + mm + ':' + s : m + ':' + s;
  }

  function leave(query) {
    if (leaving) return;
    leaving = true;
    location.assign('/signin' + query);
  }

  async function check(expired) {
    if (checking || leaving) return;
    checking = true;
    try {
      const res = await fetch('/session/status', { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!res.ok) throw new Error('status ' + res.status);
      const status = await res.json();
      if (status.alive) {
        fallback = Date.parse(status.expiresAt) || fallback;
      } else {
        leave(status.reason ? '' : '?expired=1');
      }
    } catch {
      // Unreachable server: stay put, unless the session has certainly run out.
      if (expired) leave('?expired=1');
    } finally {
      checking = false;
    }
  }

  function tick() {
    const fromCookie = companion();
    if (fromCookie !== undefined) hadCookie = true;
    else if (hadCookie) {
      // The companion was cleared (sign-out in another tab, or a revocation seen by a request).
      hadCookie = false;
      check(false);
    }
    const left = (fromCookie ?? fallback) - Date.now();
    out.textContent = format(left);
    // At zero, ask the server; at most every few seconds, in case this clock runs ahead of it.
    if (left <= 0 && Date.now() - lastExpiredCheck > 5000) {
      lastExpiredCheck = Date.now();
      check(true);
    }
  }

  tick();
  setInterval(tick, 1000);
  setInterval(() => check(false), pollMs);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') check(false);
  });
})();
`;
