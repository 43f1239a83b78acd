// The demo in Chromium: "Remember me" cookies, and the password confirmation a stale sign-in meets before changing the password.
import { copyFileSync, mkdirSync } from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { ARTIFACTS, LAPTOP, PHONE, signIn, useBrowser, WAIT } from './demo-browser.js';

const DAY_S = 24 * 3600;
const DOC_IMAGES = new URL('../../docs/images/', import.meta.url);
const FOR_DOCS = new Set(['demo-remember-me.png', 'demo-confirm-password.png']);

describe('demo in a real browser: remember me and recent sign-in', function () {
  this.timeout(60_000);
  const { startDemo, device, restart } = useBrowser();

  async function shot(page: Page, name: string): Promise<void> {
    const path = new URL(name, ARTIFACTS);
    await page.screenshot({ path: path.pathname, fullPage: true });
    if (process.env.KES_UPDATE_DOCS_IMAGES === '1' && FOR_DOCS.has(name)) {
      mkdirSync(DOC_IMAGES, { recursive: true });
      copyFileSync(path, new URL(name, DOC_IMAGES));
    }
  }

  const rows = (page: Page) => page.locator('tbody tr');
  const sessionCookie = async (page: Page) => (await page.context().cookies()).find((c) => c.name === 'sid');

  async function changePassword(page: Page, current: string, next: string): Promise<void> {
    await page.getByLabel('Current password').fill(current);
    await page.getByLabel('New password', { exact: true }).fill(next);
    await page.getByLabel('Repeat the new password').fill(next);
    await page.getByRole('button', { name: 'Change password and sign out other devices' }).click();
  }

  it('Remember me: unticked, a cookie that ends with the browser; ticked, one for 30 days; the list shows both', async () => {
    const demo = await startDemo({ statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);
    await signIn(laptop, demo.base, 'alice', 'wonderland');
    await signIn(phone, demo.base, 'alice', 'wonderland', { remember: true });

    // Playwright reports a browser-session cookie (no Expires, no Max-Age) as expires -1.
    expect((await sessionCookie(laptop))?.expires).to.equal(-1);
    const remembered = (await sessionCookie(phone))?.expires ?? -1;
    expect(remembered - Date.now() / 1000).to.be.within(30 * DAY_S - 60, 30 * DAY_S + 1);

    // Each device's row says when it ends: the phone in 30 days, the laptop in 30 minutes.
    await laptop.reload();
    const laptopRow = rows(laptop).filter({ hasText: 'This device' });
    const phoneRow = rows(laptop).filter({ hasText: 'Safari 17 on iOS' });
    expect(await laptopRow.locator('td[data-label="Expires"]').innerText()).to.match(
      /^in 30 minutes\s+\(or when this browser closes\)$/,
    );
    expect(await phoneRow.locator('td[data-label="Expires"]').innerText()).to.equal('in 30 days');
    expect(await laptop.locator('.sessionbar').innerText()).to.include('or when you close the browser');
    expect(await phone.locator('#countdown').innerText()).to.match(/^(29d 23|30d 00):\d\d:\d\d$/);
    expect(
      await rows(phone).filter({ hasText: 'This device' }).locator('td[data-label="Expires"]').innerText(),
    ).to.match(/^in 30 days \(remembered on this device\)$/);
    await shot(laptop, 'demo-remember-me.png');

    // Both browsers restart: the laptop forgot its session cookie, the phone kept its own.
    const laptopAgain = await restart(laptop, LAPTOP);
    await laptopAgain.goto(`${demo.base}/`);
    await laptopAgain.waitForURL(`${demo.base}/signin`, WAIT);
    const phoneAgain = await restart(phone, PHONE);
    await phoneAgain.goto(`${demo.base}/`);
    expect(phoneAgain.url()).to.equal(`${demo.base}/`);
    expect(await phoneAgain.getByRole('heading', { name: 'Hello, Alice' }).count()).to.equal(1);
  });

  it('a stale sign-in: the password change asks for the password, refuses a wrong one, then goes on and signs out the others', async () => {
    const freshForMs = 3000;
    const demo = await startDemo({ freshForMs, statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);
    await signIn(laptop, demo.base, 'alice', 'wonderland');
    await signIn(phone, demo.base, 'alice', 'wonderland');
    // The window is short so that the sign-in goes stale in seconds, not ten minutes.
    await laptop.waitForTimeout(freshForMs + 200);

    await laptop.getByRole('link', { name: 'Change password' }).click();
    await laptop.getByRole('heading', { name: 'Confirm your password' }).waitFor(WAIT);
    expect(laptop.url()).to.equal(`${demo.base}/account/password`);
    expect(await laptop.getByLabel('Current password').count()).to.equal(
      0,
      'no form before the confirmation',
    );
    await shot(laptop, 'demo-confirm-password.png');

    await laptop.getByLabel('Password', { exact: true }).fill('not-my-password');
    await laptop.getByRole('button', { name: 'Confirm and continue' }).click();
    await laptop.locator('#confirm-error').waitFor(WAIT);
    expect(await laptop.locator('#confirm-error').innerText()).to.equal('That password is not right.');

    await laptop.getByLabel('Password', { exact: true }).fill('wonderland');
    await laptop.getByRole('button', { name: 'Confirm and continue' }).click();
    await laptop.waitForURL(`${demo.base}/account/password`, WAIT);
    await laptop.getByText('Password confirmed.').waitFor(WAIT);
    await changePassword(laptop, 'wonderland', 'through-the-looking-glass');
    await laptop.waitForURL(`${demo.base}/`, WAIT);
    await laptop.getByText('Password changed.').waitFor(WAIT);
    expect(await rows(laptop).count()).to.equal(1);

    await phone.reload();
    await phone.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await phone.locator('#signed-out-reason').innerText()).to.include(
      'Your password was changed on another device',
    );
  });

  it('a fresh sign-in goes straight to the form, and a remembered device stays remembered after the change', async () => {
    const demo = await startDemo({ statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);
    await signIn(laptop, demo.base, 'alice', 'wonderland');
    await signIn(phone, demo.base, 'alice', 'wonderland', { remember: true });
    const before = await sessionCookie(phone);

    await phone.goto(`${demo.base}/account/password`);
    await phone.getByRole('heading', { name: 'Change password' }).waitFor(WAIT);
    expect(await phone.getByRole('heading', { name: 'Confirm your password' }).count()).to.equal(0);
    await changePassword(phone, 'wonderland', 'through-the-looking-glass');
    await phone.waitForURL(`${demo.base}/`, WAIT);
    await phone.getByText('Password changed.').waitFor(WAIT);

    const after = await sessionCookie(phone);
    expect(after?.value).to.not.equal(before?.value, 'a new sid under the new epoch');
    expect((after?.expires ?? -1) - Date.now() / 1000).to.be.within(30 * DAY_S - 60, 30 * DAY_S + 1);
    await laptop.reload();
    await laptop.waitForURL(`${demo.base}/signin`, WAIT);
  });
});
