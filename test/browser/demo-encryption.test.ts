// The demo in Chromium: the "What Redis holds for this session" panel, on a laptop and a phone, and its picture for docs/demo.md.
import { copyFileSync, mkdirSync } from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { ARTIFACTS, LAPTOP, PHONE, signIn, useBrowser } from './demo-browser.js';

const DOC_IMAGES = new URL('../../docs/images/', import.meta.url);
const DOC_IMAGE = 'demo-encryption-at-rest.png';

describe('demo in a real browser: encryption at rest', function () {
  this.timeout(60_000);
  const { startDemo, device } = useBrowser();

  const panel = (page: Page) =>
    page
      .locator('section')
      .filter({ has: page.getByRole('heading', { name: 'What Redis holds for this session' }) });

  it('shows the stored value under the device list: expiry and header in clear, then {~g and the key id, on any width', async () => {
    const demo = await startDemo({ statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);
    await signIn(laptop, demo.base, 'alice', 'wonderland');
    await signIn(phone, demo.base, 'alice', 'wonderland');

    for (const page of [laptop, phone]) {
      const section = panel(page);
      await section.scrollIntoViewIfNeeded();
      expect(await section.isVisible()).to.equal(true);
      const value = await section.locator('pre.stored').innerText();
      expect(value).to.match(
        /^[0-9a-z]{9}[0-9a-z]{14}[A-Za-z0-9_-]{6}\{~g[A-Za-z0-9_-]{6}[A-Za-z0-9_-]{82}…$/,
      );
      const keyId = value.slice(32, 38);
      expect(await section.innerText()).to.include(`${keyId}, the id of the key that encrypted it`);
      // The long value wraps inside the card instead of widening the page.
      // (A string, evaluated in the page: this project's TypeScript has no DOM types.)
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow, 'the page scrolls sideways').to.be.at.most(0);
    }

    const path = new URL(DOC_IMAGE, ARTIFACTS);
    await panel(laptop).screenshot({ path: path.pathname });
    if (process.env.KES_UPDATE_DOCS_IMAGES === '1') {
      mkdirSync(DOC_IMAGES, { recursive: true });
      copyFileSync(path, new URL(DOC_IMAGE, DOC_IMAGES));
    }
  });
});
