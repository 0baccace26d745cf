// End-to-end tests of the dashboard `skuswap serve` serves at `/`, in Debian's chromium driven
// by playwright-core: the source article's manual procedure for Wingtip Toys (buy, reassign
// every user, suspend, advance 121 days, see it de-provisioned), the refusal to suspend an Open
// subscription, and the red banner after clearing a license before ticking its successor.
// Run by scripts/browser-tests.sh, which starts the server; screenshots go to ARTIFACTS.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const BASE = process.env.SKUSWAP_URL ?? 'http://127.0.0.1:8093';
const ARTIFACTS = process.env.ARTIFACTS ?? 'browser-artifacts';
const WINGTIP = '3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10';
const NORTHWIND = '7d4a2c89-1e5f-4b3a-9c68-2a7e5d1b8f30';
// The article's mapping for Wingtip Toys.
const SUCCESSOR = {
  'Microsoft Dynamics AX Enterprise': 'Dynamics 365 for Unified Operations plan',
  'Microsoft Dynamics AX Task': 'Dynamics 365 for Activity',
};

let browser;
let page;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
});

after(async () => {
  await browser?.close();
});

beforeEach(async () => {
  // A fresh copy of the article's tenants for every test.
  const r = await fetch(`${BASE}/admin/scenario`, { method: 'POST', body: JSON.stringify({ name: 'article' }) });
  assert.equal(r.status, 200, await r.text());
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
});

async function shot(name) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
}

async function banner() {
  const el = page.locator('#invariants');
  return { bad: (await el.getAttribute('class')) === 'banner', text: (await el.textContent()).trim() };
}

async function submit() {
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Submit' }).click()]);
}

/// Users of a customer holding `license` (their "Manage licenses" links).
async function holders(customer, license) {
  await page.goto(`${BASE}/customers/${customer}`);
  return page.$$eval(
    'tr[data-user]',
    (rows, license) =>
      rows.filter((r) => r.children[1].textContent.includes(license)).map((r) => r.querySelector('a').href),
    license,
  );
}

test('the article walkthrough: buy, reassign every user, suspend, and see it de-provisioned', async () => {
  await page.goto(`${BASE}/`);
  await shot('01-dashboard');
  await page.getByRole('link', { name: 'Customers' }).click();
  await page.getByLabel('Search customers').fill('Wingtip');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: 'Wingtip Toys' }).click();
  assert.match(page.url(), new RegExp(`/customers/${WINGTIP}$`));
  await shot('02-customer-before');
  assert.match(await page.locator('tbody').first().textContent(), /Expires on/);

  // Add subscriptions: enough seats of each successor for every holder of the old one.
  for (const [old, successor] of Object.entries(SUCCESSOR)) {
    const n = (await holders(WINGTIP, old)).length;
    await page.goto(`${BASE}/customers/${WINGTIP}`);
    await page.getByRole('link', { name: 'Add subscriptions' }).click();
    await page.getByLabel('Offer').selectOption({ label: successor });
    // Unified Operations sells at least 20 seats: the form shows Partner Center's refusal first.
    await page.getByLabel('Number of licenses').fill(String(Math.max(n, 1)));
    await submit();
    if (await page.locator('.error').count()) {
      assert.match(await page.locator('.error').textContent(), /outside the allowed range/);
      await shot('03-order-refused');
      await page.getByLabel('Offer').selectOption({ label: successor });
      await page.getByLabel('Number of licenses').fill('20');
      await submit();
    }
    assert.match(page.url(), new RegExp(`/customers/${WINGTIP}$`), 'the order did not go through');
  }

  // Manage licenses, one user at a time: clear the old license and tick the new one, one Submit.
  for (const [old, successor] of Object.entries(SUCCESSOR)) {
    for (const href of await holders(WINGTIP, old)) {
      await page.goto(href);
      await page.getByLabel(old, { exact: false }).uncheck();
      await page.getByLabel(successor, { exact: false }).check();
      await submit();
      assert.match(await page.locator('#confirmation').textContent(), /were saved/);
      assert.equal((await banner()).bad, false, (await banner()).text);
    }
  }
  await shot('04-license-confirmation');

  // Suspend the old subscriptions.
  await page.goto(`${BASE}/customers/${WINGTIP}`);
  for (const old of Object.keys(SUCCESSOR)) {
    await page.goto(`${BASE}/customers/${WINGTIP}`);
    await page.getByRole('link', { name: old, exact: true }).click();
    await page.getByLabel('Status').selectOption('suspended');
    await submit();
    assert.match(await page.locator('#status-line').textContent(), /Suspended; de-provisioned on 2017-10-31/);
  }
  await shot('05-suspended');
  assert.equal((await banner()).bad, false, (await banner()).text);

  // 121 days later it is gone, and nobody lost a license.
  await page.goto(`${BASE}/`);
  await page.getByLabel('days').fill('121');
  await page.getByRole('button', { name: 'Advance' }).click();
  await page.goto(`${BASE}/customers/${WINGTIP}`);
  const rows = await page.locator('tr[data-subscription]').allTextContents();
  for (const old of Object.keys(SUCCESSOR)) {
    assert.ok(rows.some((r) => r.includes(old) && r.includes('De-provisioned')), rows.join('\n'));
  }
  assert.equal((await banner()).bad, false, (await banner()).text);
  await shot('06-deprovisioned');
  const verdict = await (await fetch(`${BASE}/admin/invariants`)).json();
  assert.equal(verdict.ok, true, JSON.stringify(verdict.violations?.[0]));
});

test('clearing a license before ticking its successor, in two submits, raises the red banner', async () => {
  // Seats first (the shortcut through the API is not what is under test here).
  await page.goto(`${BASE}/customers/${WINGTIP}/add-subscriptions`);
  await page.getByLabel('Offer').selectOption({ label: SUCCESSOR['Microsoft Dynamics AX Task'] });
  await page.getByLabel('Number of licenses').fill('5');
  await submit();
  const [href] = await holders(WINGTIP, 'Microsoft Dynamics AX Task');
  assert.ok(href, 'Wingtip has an AX Task user');

  // Keyboard only: Space toggles a checkbox, Enter submits.
  await page.goto(href);
  await page.getByLabel('Microsoft Dynamics AX Task', { exact: false }).press('Space');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Submit' }).press('Enter')]);
  assert.match(await page.locator('#confirmation').textContent(), /Removed: Microsoft Dynamics AX Task/);
  const after = await banner();
  assert.equal(after.bad, true, 'no red banner after leaving a user without a license');
  assert.match(after.text, /lost their last effective dynamics license/);
  await shot('07-red-banner');

  await page.goto(href);
  await page.getByLabel(SUCCESSOR['Microsoft Dynamics AX Task'], { exact: false }).press('Space');
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Submit' }).press('Enter')]);
  assert.equal((await banner()).bad, true, 'the violation is history: the banner stays');
});

test('an Open subscription is not the partner\'s: its seats show, the subscription does not', async () => {
  await page.goto(`${BASE}/customers/${NORTHWIND}`);
  assert.equal(await page.locator('tr[data-subscription]', { hasText: 'Open' }).count(), 0);
  const seats = page.locator('tr[data-sku]', { hasText: 'Dynamics CRM' }).first();
  assert.match(await seats.textContent(), /\d/);
  await shot('08-open-not-shown');
});
