// A small user-agent parser: enough to tell "Chrome on macOS" from "Safari on iOS" in a device list.

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

/**
 * Order matters: most browsers claim to be several others (Edge says Chrome and Safari, Chrome
 * says Safari), so the most specific token is tried first. Each pattern is linear: no nested
 * quantifiers, and the input is capped, so a hostile header costs nothing.
 */
const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/\bOPR\/(\d+)/, 'Opera'],
  [/\bSamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/\bHeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/\b(?:Chrome|CriOS|Chromium)\/(\d+)/, 'Chrome'],
  [/\bVersion\/(\d+)[^ ]* (?:Mobile\/\S+ )?Safari\//, 'Safari'],
  [/\bcurl\/(\d+)/, 'curl'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\bWindows Phone\b/, 'Windows Phone'],
  [/\bWindows\b/, 'Windows'],
  [/\b(?:iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\b(?:Macintosh|Mac OS X)\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

const MAX_LENGTH = 512;

export function parseUserAgent(header: string | undefined): Device {
  const ua = (header ?? '').slice(0, MAX_LENGTH);
  let browser = 'Unknown browser';
  for (const [pattern, name] of BROWSERS) {
    const match = pattern.exec(ua);
    if (match) {
      browser = `${name} ${match[1]}`;
      break;
    }
  }
  const os = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1] ?? 'Unknown OS';
  const mobile = /\b(?:Mobi|iPhone|iPad|Android|Tablet)/.test(ua);
  return { browser, os, mobile, label: `${browser} on ${os}` };
}
