// Deployments whose runs the CI no longer keeps, in headless Chromium: hidden by default, shown
// with an "expired" badge when "Show expired" is on, the choice kept in the URL
// (`includeExpired=true`) as the other filters are.
//
// The data is the busy Azure DevOps Server project of dashboard-azdo.mjs, read by `spektate
// dashboard --org --project --azdo-url`, plus one deployment whose builds the project no longer
// has: the fake lists the other builds asked for in the same call and leaves these out, as Azure
// DevOps does once its retention deleted them.
//
// Run through run.sh, which sets SPEKTATE_BIN and CHROMIUM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { COLLECTION, PROJECT, recordJourneys, sha, startFakeAzureDevOps } from './dashboard-azdo.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const TIP = 'the CI no longer keeps these runs; shown from what was recorded and last fetched';
// The expired deployment: an image build and a manifest build the project no longer has.
const GONE = { build: 1990, manifestBuild: 5990, tag: 'frontend-1990' };

let fake;
let work;
let dashboard;
let base;
let browser;

function recordGone(spektate, store) {
  const env = { ...process.env, SPEKTATE_STORE: store, SPEKTATE_PARTITION_KEY: COLLECTION };
  const run = (...args) => {
    const r = spawnSync(spektate, ['record', ...args], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`spektate record ${args.join(' ')}: ${r.stderr}`);
  };
  // Built from a commit the project still has (its author is still known).
  const commit = fake.journeys[39].commit;
  run('--p1', String(GONE.build), '--image-tag', GONE.tag, '--commit-id', commit, '--service', 'frontend',
    '--repository', fake.repoUrl('frontend'));
  run('--p2', String(GONE.build), '--image-tag', GONE.tag, '--hld-commit-id', sha('hld-gone'), '--env', 'dev',
    '--repository', fake.repoUrl('hello-hld'));
  run('--p3', String(GONE.manifestBuild), '--hld-commit-id', sha('hld-gone'), '--manifest-commit-id', sha('manifest-gone'),
    '--repository', fake.repoUrl('hello-manifests'));
}

function startDashboard(spektate, store, azdo) {
  const child = spawn(spektate, [
    'dashboard', '--store', store, '--partition-key', COLLECTION, '--port', '0', '--bind', '127.0.0.1', '--refresh', '2',
    '--org', COLLECTION, '--project', PROJECT, '--azdo-url', azdo,
  ], { env: { ...process.env, SPEKTATE_AZDO_TOKEN: 'fake-pat-for-the-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const url = out.match(/http:\/\/127\.0\.0\.1:\d+\/\S*/);
      if (url) resolve({ child, url: url[0] });
    });
    child.on('exit', (code) => reject(new Error(`spektate dashboard exited (${code}): ${err}`)));
  });
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'spektate-expired-'));
  fake = await startFakeAzureDevOps(Date.now());
  const store = `sqlite:${path.join(work, 'fabrikam.db')}`;
  recordJourneys(env('SPEKTATE_BIN'), store, fake);
  recordGone(env('SPEKTATE_BIN'), store);
  dashboard = await startDashboard(env('SPEKTATE_BIN'), store, fake.url);
  base = dashboard.url.replace(/\/$/, '');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  dashboard?.child.kill('SIGTERM');
  await fake?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function open(query = '') {
  const page = await browser.newPage({ viewport: { width: 1680, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== new URL(base).origin) problems.push(`request outside the server: ${r.url()}`);
  });
  await page.goto(`${base}/${query}`);
  return { page, problems };
}

/** The API's answer once the server has read the project. */
async function api(query) {
  for (let i = 0; i < 100; i += 1) {
    const res = await fetch(`${base}/api/deployments?${query}`);
    if (res.ok) return res.json();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`/api/deployments?${query} never answered`);
}

const search = (page) => new URL(page.url()).searchParams;

test('the API hides the expired deployment unless asked, and marks it expired', async () => {
  const hidden = await api(`imageTag=${GONE.tag}`);
  assert.equal(hidden.total, 0);
  const shown = await api(`imageTag=${GONE.tag}&includeExpired=true`);
  assert.equal(shown.total, 1);
  assert.equal(shown.deployments[0].expired, true);
  const live = await api('imageTag=frontend-2000&includeExpired=true');
  assert.equal(live.deployments[0].expired, false);
});

test('"Show expired" shows and hides the expired deployment, with its badge, and keeps includeExpired in the URL', async () => {
  const { page, problems } = await open(`?keyword=${GONE.tag}`);
  await page.waitForSelector('#empty:not([hidden])');
  const toggle = page.getByTestId('include-expired');
  assert.equal(await toggle.isChecked(), false);
  assert.equal(await page.locator('#rows tr').count(), 0);

  await toggle.check();
  const row = page.locator('#rows tr[data-expired="true"]');
  await row.waitFor();
  assert.equal(await page.locator('#rows tr').count(), 1);
  assert.equal(search(page).get('includeExpired'), 'true');
  assert.equal(search(page).get('keyword'), GONE.tag, 'the other filters stay');
  const badge = row.getByTestId('expired');
  assert.equal((await badge.textContent()).trim(), 'expired');
  assert.equal(await badge.getAttribute('title'), TIP);
  assert.ok(await badge.isVisible());
  assert.match(await row.locator('td.c-metadata').textContent(), new RegExp(GONE.tag));
  // Its runs show as expired too.
  assert.deepEqual(await row.locator('.step').evaluateAll((s) => s.map((x) => x.dataset.state)), ['expired', 'expired', 'expired']);
  assert.equal(await page.locator('#clear').isVisible(), true, 'showing expired deployments counts as a filter');

  // The link keeps the choice: a new page opens with the toggle on and the row shown.
  const again = await open(`?${search(page)}`);
  await again.page.locator('#rows tr[data-expired="true"]').waitFor();
  assert.equal(await again.page.getByTestId('include-expired').isChecked(), true);
  assert.deepEqual(again.problems, []);
  await again.page.close();

  await toggle.uncheck();
  await page.waitForSelector('#empty:not([hidden])');
  assert.equal(await page.locator('#rows tr').count(), 0);
  assert.equal(search(page).has('includeExpired'), false);
  assert.equal(search(page).get('keyword'), GONE.tag);
  assert.deepEqual(problems, []);
  await page.close();
});

test('without the toggle, the table has no expired row and no badge; with it, only the expired one has a badge', async () => {
  const { page, problems } = await open('?service=frontend&limit=100');
  await page.waitForSelector('#rows tr');
  const plain = await page.locator('#rows tr').count();
  assert.equal(await page.getByTestId('expired').count(), 0);
  await page.getByTestId('include-expired').check();
  await page.waitForFunction((n) => document.querySelectorAll('#rows tr').length === n + 1, plain);
  assert.equal(await page.getByTestId('expired').count(), 1);
  assert.equal(await page.locator('#rows tr[data-expired="true"] td.c-metadata').textContent().then((t) => t.includes(GONE.tag)), true);
  // Clear filters puts the page back to its defaults, expired deployments hidden.
  await page.locator('#clear').click();
  await page.waitForFunction(() => !document.querySelector('#rows tr[data-expired="true"]'));
  assert.equal(await page.getByTestId('include-expired').isChecked(), false);
  assert.equal(search(page).has('includeExpired'), false);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a bad includeExpired in the URL is named, and the expired deployments stay hidden', async () => {
  const { page, problems } = await open(`?keyword=${GONE.tag}&includeExpired=maybe`);
  await page.waitForSelector('#notice:not([hidden])');
  assert.match(await page.textContent('#notice-text'), /includeExpired=maybe is not true or false/);
  assert.equal(await page.getByTestId('include-expired').isChecked(), false);
  await page.waitForSelector('#empty:not([hidden])');
  assert.deepEqual(problems, []);
  await page.close();
});
