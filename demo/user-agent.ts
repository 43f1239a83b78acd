// Device labels for the device list ("Chrome 126 on macOS"), read from the User-Agent header by bowser.
import Bowser from 'bowser';

export interface Device {
  /** "Chrome 126", "Safari 17", or "Unknown browser". */
  browser: string;
  /** "macOS", "iOS", "Android", or "Unknown OS". */
  os: string;
  /** Phones and tablets, for the "Mobile" badge. */
  mobile: boolean;
  /** "Chrome 126 on macOS". */
  label: string;
}

/** bowser's names are exact but long; a device table has one narrow column for them. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  'Microsoft Edge': 'Edge',
  'Samsung Internet for Android': 'Samsung Internet',
};

/**
 * Real user agents stay well under this; the header is attacker-chosen, so capping it bounds the
 * work bowser's several dozen patterns can be made to do on one request.
 */
const MAX_LENGTH = 512;

/**
 * For a client it does not recognise, bowser returns the header's own text before a "/" as the
 * name ("Mozilla" for `Mozilla/5.0 (compatible; …)`, or 500 characters of anything). Only names
 * from its table of known browsers are shown; the rest are "Unknown browser".
 */
const KNOWN_BROWSERS: ReadonlySet<string> = new Set(Object.values(Bowser.BROWSER_MAP));

const UNKNOWN: Device = Object.freeze({
  browser: 'Unknown browser',
  os: 'Unknown OS',
  mobile: false,
  label: 'Unknown browser on Unknown OS',
});

export function parseUserAgent(header: string | undefined): Device {
  const ua = (header ?? '').slice(0, MAX_LENGTH);
  // bowser throws on an empty string; a client that sends no header is simply unknown.
  if (ua.trim() === '') return UNKNOWN;
  const parsed = Bowser.getParser(ua);
  const { name, version } = parsed.getBrowser();
  // The major version is what people recognise ("Chrome 126"); a hostile header's 400-digit
  // "version" is dropped rather than stretching the label.
  const major = /^\d{1,5}(?=\.|$)/.exec(version ?? '')?.[0];
  const browser =
    name && KNOWN_BROWSERS.has(name)
      ? [SHORT_NAMES[name] ?? name, major].filter(Boolean).join(' ')
      : UNKNOWN.browser;
  const os = parsed.getOSName() || UNKNOWN.os;
  const platform = parsed.getPlatformType();
  const mobile = platform === 'mobile' || platform === 'tablet';
  return { browser, os, mobile, label: `${browser} on ${os}` };
}
