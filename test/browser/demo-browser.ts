// Shared by the demo's browser tests: Debian's Chromium through playwright-core, the demo on a free port, devices.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { DemoOptions } from '../../demo/app.js';
import { closeClients, makeDemo } from './demo-fixtures.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = new URL('../artifacts/', import.meta.url);

/** Every wait in these files is for a condition, bounded by this. */
export const WAIT = { timeout: 10_000 };

export const LAPTOP = {
  userAgent:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  viewport: { width: 1100, height: 720 },
};
export const PHONE = {
  userAgent:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  viewport: { width: 390, height: 800 },
  isMobile: true,
  hasTouch: true,
};
export const TABLET = {
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Safari/537.36',
  viewport: { width: 900, height: 700 },
};
export const DESKTOP = {
  userAgent: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  viewport: { width: 1100, height: 720 },
};

function missingChromium(): string {
  const install = 'Install it with: apt-get install -y chromium';
  return process.env.CI
    ? `The browser test needs Chromium at ${CHROMIUM}, and CI must provide it (.ci/run). ${install}`
    : `The browser test needs Chromium at ${CHROMIUM}. ${install}   (it is never skipped)`;
}

export type RunningDemo = Awaited<ReturnType<typeof makeDemo>> & { base: string };

export interface BrowserHarness {
  /** The demo on the test Redis, listening on 127.0.0.1 on a free port. */
  startDemo(options?: Partial<DemoOptions>): Promise<RunningDemo>;
  /** A new browser profile (its own cookies), closed after the test. */
  device(options: Parameters<Browser['newContext']>[0]): Promise<Page>;
  /** Opens another profile holding the given context's cookies: the same browser, restarted. */
  restart(page: Page, options: Parameters<Browser['newContext']>[0]): Promise<Page>;
}

/**
 * Registers the hooks of a browser suite in the calling `describe`: Chromium for the whole suite
 * (a failure, never a skip, when it is missing), and per test the demo server and the profiles.
 */
export function useBrowser(): BrowserHarness {
  let browser: Browser | undefined;
  let server: Server | undefined;
  const contexts: BrowserContext[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(missingChromium());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    if (server) {
      const closing = server;
      server = undefined;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    }
    await closeClients();
  });

  async function device(options: Parameters<Browser['newContext']>[0]): Promise<Page> {
    const context = await browser!.newContext(options);
    contexts.push(context);
    return context.newPage();
  }

  return {
    async startDemo(options = {}) {
      const demo = await makeDemo(options);
      server = createServer(demo.app.callback());
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return { ...demo, base: `http://127.0.0.1:${port}` };
    },
    device,
    async restart(page, options) {
      // What a browser keeps across a restart: the cookies with an expiry, not the session cookies.
      const kept = (await page.context().cookies()).filter((c) => c.expires !== -1);
      await page.context().close();
      const next = await device(options);
      await next.context().addCookies(kept);
      return next;
    },
  };
}

export async function signIn(
  page: Page,
  base: string,
  username: string,
  password: string,
  options: { remember?: boolean } = {},
): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  if (options.remember) await page.getByLabel('Remember me').check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`, WAIT);
}
