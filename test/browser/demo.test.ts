// The demo in a real browser: two devices signed in as one user, a password change, revocation, limits.
import { copyFileSync, mkdirSync } from 'node:fs';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { ARTIFACTS, DESKTOP, LAPTOP, PHONE, signIn, TABLET, useBrowser, WAIT } from './demo-browser.js';
import { noticesWritten } from './demo-fixtures.js';

const DOC_IMAGES = new URL('../../docs/images/', import.meta.url);
/** Screenshots worth committing: copied into docs/images when KES_UPDATE_DOCS_IMAGES=1. */
const FOR_DOCS = new Set([
  'demo-laptop-devices.png',
  'demo-phone-devices.png',
  'demo-laptop-password-changed.png',
  'demo-phone-signed-out.png',
  'demo-session-limit.png',
  'demo-admin.png',
]);

describe('demo in a real browser (Chromium)', function () {
  this.timeout(60_000);
  const { startDemo, device } = useBrowser();

  async function shot(page: Page, name: string): Promise<void> {
    const path = new URL(name, ARTIFACTS);
    await page.screenshot({ path: path.pathname, fullPage: true });
    if (process.env.KES_UPDATE_DOCS_IMAGES === '1' && FOR_DOCS.has(name)) {
      mkdirSync(DOC_IMAGES, { recursive: true });
      copyFileSync(path, new URL(name, DOC_IMAGES));
    }
  }

  const rows = (page: Page) => page.locator('tbody tr');
  const reason = (page: Page) => page.locator('#signed-out-reason');

  it('laptop changes the password: the phone lands on sign-in with the reason, the laptop stays', async () => {
    // A long poll, so that the phone's next navigation, not its page script, meets the revocation.
    const demo = await startDemo({ statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);

    await signIn(laptop, demo.base, 'alice', 'wonderland');
    const noticed = noticesWritten(demo);
    await signIn(phone, demo.base, 'alice', 'wonderland');
    await noticed;

    expect(await rows(phone).count()).to.equal(2);
    const thisPhone = rows(phone).filter({ hasText: 'This device' });
    expect(await thisPhone.textContent()).to.include('Safari 17 on iOS');
    await shot(phone, 'demo-phone-devices.png');

    await laptop.reload();
    await laptop.getByText('New sign-in to your account').waitFor(WAIT);
    expect(await laptop.getByRole('alert').first().textContent()).to.include(
      'Safari 17 on iOS from 127.0.0.1',
    );
    expect(await rows(laptop).count()).to.equal(2);
    expect(await laptop.locator('#countdown').textContent()).to.match(/^(29|30):\d\d$/);
    await shot(laptop, 'demo-laptop-devices.png');

    await laptop.getByRole('link', { name: 'Change password' }).click();
    await laptop.getByLabel('Current password').fill('wonderland');
    await laptop.getByLabel('New password', { exact: true }).fill('through-the-looking-glass');
    await laptop.getByLabel('Repeat the new password').fill('through-the-looking-glass');
    await laptop.getByRole('button', { name: 'Change password and sign out other devices' }).click();
    await laptop.waitForURL(`${demo.base}/`, WAIT);
    await laptop.getByText('Password changed.').waitFor(WAIT);
    expect(await rows(laptop).count()).to.equal(1);
    await shot(laptop, 'demo-laptop-password-changed.png');

    // The phone's next navigation: to sign-in, saying why.
    await phone.getByRole('link', { name: 'Devices' }).click();
    await phone.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await reason(phone).textContent()).to.include('Your password was changed on another device');
    await shot(phone, 'demo-phone-signed-out.png');

    // The laptop is still signed in, and stays so.
    await laptop.reload();
    expect(laptop.url()).to.equal(`${demo.base}/`);
    expect(await rows(laptop).count()).to.equal(1);

    // The old password no longer works; the new one does.
    await phone.getByLabel('Username').fill('alice');
    await phone.getByLabel('Password', { exact: true }).fill('wonderland');
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.locator('#signin-error').waitFor(WAIT);
    expect(await phone.locator('#signin-error').textContent()).to.equal('Wrong username or password.');
    await shot(phone, 'demo-signin-failed.png');
    await signIn(phone, demo.base, 'alice', 'through-the-looking-glass');
    expect(await rows(phone).count()).to.equal(2);
  });

  it('revoking one device: its open page notices by itself; "sign out all others" ends the rest', async () => {
    const demo = await startDemo({ statusPollMs: 500 });
    const laptop = await device(LAPTOP);
    const phone = await device(PHONE);
    const tablet = await device(TABLET);
    for (const page of [laptop, phone, tablet]) await signIn(page, demo.base, 'alice', 'wonderland');

    await laptop.reload();
    expect(await rows(laptop).count()).to.equal(3);
    await laptop.getByRole('button', { name: 'Sign out Safari 17 on iOS' }).click();
    await laptop.getByText('That device has been signed out.').waitFor(WAIT);
    expect(await rows(laptop).count()).to.equal(2);

    // Nobody touches the phone: its page script polls /session/status and goes to sign-in.
    await phone.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await reason(phone).textContent()).to.include('This device was signed out from another device.');

    await laptop.getByRole('button', { name: 'Sign out all other devices' }).click();
    await laptop.getByText('Every other device has been signed out.').waitFor(WAIT);
    expect(await rows(laptop).count()).to.equal(1);
    await tablet.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await reason(tablet).textContent()).to.include('Sign out all other devices');
    await laptop.reload();
    expect(laptop.url()).to.equal(`${demo.base}/`);
  });

  it('at the device limit, the oldest session is signed out and told why', async () => {
    const demo = await startDemo({ maxSessions: 3, statusPollMs: 600_000 });
    const pages = [await device(LAPTOP), await device(PHONE), await device(TABLET), await device(DESKTOP)];
    for (const page of pages.slice(0, 3)) await signIn(page, demo.base, 'bob', 'can-we-fix-it');
    const noticed = noticesWritten(demo);
    await signIn(pages[3]!, demo.base, 'bob', 'can-we-fix-it');
    await noticed;
    const [oldest, phone, , newest] = pages as [Page, Page, Page, Page];

    expect(await rows(newest).count()).to.equal(3);
    const listed = (await rows(newest).allTextContents()).join('\n');
    expect(listed).to.include('Firefox 127 on Linux').and.not.include('Chrome 126 on macOS');
    await phone.reload();
    await phone.getByRole('alert').filter({ hasText: 'signed out your oldest session' }).waitFor(WAIT);
    await shot(phone, 'demo-session-limit.png');

    await oldest.reload();
    await oldest.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await reason(oldest).textContent()).to.include('this device, the oldest session, was signed out');
  });

  it('an admin forces a user off every device', async () => {
    const demo = await startDemo({ statusPollMs: 500 });
    const admin = await device(LAPTOP);
    const phone = await device(PHONE);
    await signIn(phone, demo.base, 'alice', 'wonderland');
    await signIn(admin, demo.base, 'admin', 'admin-demo');
    await admin.getByRole('link', { name: 'Admin' }).click();
    await admin.waitForURL(`${demo.base}/admin`, WAIT);
    await shot(admin, 'demo-admin.png');
    await admin.getByRole('button', { name: 'Sign out every session of alice' }).click();
    await admin.getByText('Alice Liddell has been signed out of every device.').waitFor(WAIT);
    await phone.waitForURL(`${demo.base}/signin`, WAIT);
    expect(await reason(phone).textContent()).to.include('An administrator signed you out');
  });

  it('counts down from the companion cookie and returns to sign-in when the session expires', async () => {
    const demo = await startDemo({ maxAge: 6_000, statusPollMs: 600_000 });
    const laptop = await device(LAPTOP);
    await signIn(laptop, demo.base, 'alice', 'wonderland');
    const companion = (await laptop.context().cookies()).find((c) => c.name === 'sid_expires');
    expect(companion?.httpOnly).to.equal(false);
    expect(Number(companion?.value)).to.be.within(Date.now(), Date.now() + 7_000);
    expect(await laptop.locator('#countdown').textContent()).to.match(/^0:0[0-6]$/);
    await laptop.waitForURL(`${demo.base}/signin?expired=1`, WAIT);
    expect(await reason(laptop).textContent()).to.include('Your session expired.');
  });
});
