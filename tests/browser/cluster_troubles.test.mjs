// A cluster's failure on the page: a Flux v2 cluster reports through `spektate serve`'s
// webhook (events signed as notification-controller signs them) that it applied one
// deployment's manifests and failed its health check on the next; the page's cluster cell
// shows the first cluster synced and the failure as a chip of its own, its reason and
// message in the tooltip, markup in the message kept as text.
//
// Run through run.sh, which sets SPEKTATE_BIN, CHROMIUM and SCREENSHOT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const SECRET = 'flux-hmac-browser-7c1e';
const M1 = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const M2 = '9f8e7d6c5b4a39281706f5e4d3c2b1a098765432';
let work;
let server;
let base;
let browser;

function record(store, args) {
  execFileSync(env('SPEKTATE_BIN'), ['record', '--store', store, '-p', 'fabrikam', ...args], { stdio: 'pipe' });
}

function startServe(store, secretFile) {
  const child = spawn(env('SPEKTATE_BIN'), [
    'serve', '--store', store, '-p', 'fabrikam', '--port', '0', '--bind', '127.0.0.1', '--refresh', '1',
    '--flux-secret-file', secretFile,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const url = out.match(/http:\/\/127\.0\.0\.1:\d+\/\S*/);
      if (url) resolve({ child, url: url[0] });
    });
    child.on('exit', (code) => reject(new Error(`spektate serve exited (${code}): ${err}`)));
  });
}

// An event as Go's json.Marshal writes Flux's eventv1.Event, posted as notification-controller does.
async function flux(cluster, { severity, reason, message, commit, at }) {
  const body = JSON.stringify({
    involvedObject: {
      kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: '7d0cdc51-ddcf-4743-b223-83ca5c699632',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    },
    severity, timestamp: at, message, reason,
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: 'kustomize-controller',
  });
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const r = await fetch(`${base}/api/flux/${cluster}`, {
    method: 'POST', body, headers: { 'Content-Type': 'application/json', 'X-Signature': signature, 'gotk-component': 'kustomize-controller' },
  });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  mkdirSync(env('SCREENSHOT_DIR'), { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'spektate-troubles-'));
  const store = `sqlite:${path.join(work, 'fabrikam.db')}`;
  for (const [n, m] of [[1, M1], [2, M2]]) {
    const hld = `${n}`.repeat(7) + 'd'.repeat(33);
    record(store, ['--p2', `20${n}`, '--image-tag', `frontend-10${n}`, '--hld-commit-id', hld, '--env', 'prod', '--service', 'fabrikam/frontend']);
    record(store, ['--p3', `30${n}`, '--hld-commit-id', hld, '--manifest-commit-id', m, '--repository', 'https://github.com/fabrikam/manifests']);
  }
  const secretFile = path.join(work, 'flux-secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  server = await startServe(store, secretFile);
  base = server.url.replace(/\/$/, '');
  const now = Date.now();
  await flux('west-eu', {
    severity: 'info', reason: 'ReconciliationSucceeded', message: 'Reconciliation finished in 1.2s, next run in 10m0s',
    commit: M2, at: new Date(now - 20 * 60000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  await flux('east-us', {
    severity: 'info', reason: 'ReconciliationSucceeded', message: 'Reconciliation finished in 1.1s, next run in 10m0s',
    commit: M1, at: new Date(now - 30 * 60000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  await flux('east-us', {
    severity: 'error', reason: 'HealthCheckFailed',
    message: "Deployment/prod/frontend status: 'Failed' <img src=x onerror=alert(1)>",
    commit: M2, at: new Date(now - 10 * 60000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the failed cluster shows on the cluster cell beside the synced one', async () => {
  const context = await browser.newContext({ viewport: { width: 1680, height: 700 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  await page.goto(`${base}/`);
  await page.waitForSelector('#rows tr .cluster-trouble');
  const rows = await page.evaluate(() => [...document.querySelectorAll('#rows tr')].map((tr) => ({
    image: (tr.querySelector('.c-metadata')?.textContent ?? '').trim(),
    clusters: [...tr.querySelectorAll('.c-clusters .cluster')].map((c) => c.textContent.trim()),
    troubles: [...tr.querySelectorAll('.c-clusters .cluster-trouble')].map((c) => ({ text: c.textContent.trim(), title: c.title })),
    markup: tr.querySelectorAll('.c-clusters img').length,
  })));
  const newer = rows.find((r) => r.image.includes('frontend-102'));
  const older = rows.find((r) => r.image.includes('frontend-101'));
  assert.ok(newer && older, JSON.stringify(rows));
  assert.deepEqual(newer.clusters, ['west-eu']);
  assert.equal(newer.troubles.length, 1, JSON.stringify(newer));
  assert.equal(newer.troubles[0].text, 'east-us failed');
  assert.match(newer.troubles[0].title, /east-us failed to apply 9f8e7d6/);
  assert.match(newer.troubles[0].title, /HealthCheckFailed/);
  assert.match(newer.troubles[0].title, /<img src=x onerror=alert\(1\)>/);
  assert.equal(newer.markup, 0, 'markup in a message stays text');
  assert.deepEqual(older.clusters, ['east-us'], 'east-us still runs the older commit');
  assert.deepEqual(older.troubles, []);
  await page.screenshot({ path: path.join(env('SCREENSHOT_DIR'), 'dashboard-cluster-troubles.png') });
  assert.deepEqual(problems, []);
  await context.close();
});
