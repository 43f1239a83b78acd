// What every benchmark shares: the session data, the user agent, app keys and cookie settings.

/** A small, typical session (a cart, a locale, a CSRF token): about 150 bytes of JSON. */
export const SESSION_DATA = Object.freeze({
  cart: [
    { sku: 'SKU-104233', qty: 2 },
    { sku: 'SKU-220871', qty: 1 },
  ],
  locale: 'en-GB',
  theme: 'dark',
  csrf: 'q3Jx0vT9bLk2YwZp8mNc4A',
  flash: 'Saved',
});

/** A realistic desktop browser user agent (111 characters), sent by every request so the registry stores it. */
export const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

export const APP_KEYS = ['bench-signing-key'];
export const COOKIE_NAME = 'sid';
export const MAX_AGE = 86_400_000;

/** Every session variant uses the same cookie settings, so the cookie work is the same. */
export const COOKIE_OPTIONS = Object.freeze({
  key: COOKIE_NAME,
  maxAge: MAX_AGE,
  httpOnly: true,
  signed: true,
  sameSite: 'lax' as const,
});

export function benchUser(index: number): string {
  return `bench-user-${String(index).padStart(6, '0')}`;
}
