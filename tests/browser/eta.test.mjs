// The ETA of a deployment on its way, in headless Chromium: the deployments page says when it
// is expected live ("live in ~N min", the 90th percentile in its tip and in the text a screen
// reader reads) and when each remaining step is expected to finish; the journey page draws the
// remaining steps as dashed "expected" spans up to the expected time.
//
// Run through run.sh, which sets SPEKTATE_BIN and CHROMIUM. Starts its own `spektate dashboard`
// over a store written here with `spektate record`: five finished deployments of frontend to
// dev whose step durations the test sets (image 8, 10, 12, 14, 16 min from its queue time;
// metadata 2, 2, 3, 3, 4; manifests 4, 5, 5, 6, 6; each synced by its own cluster 3, 4, 4, 5, 6
// min after its manifests), and one whose image run was queued 3 min ago and runs. Its ETA,
// worked out by hand from the service's history (its ring is not known before its metadata
// step): the image ends 12 min after its queue time (median of the past ones, all
// longer than the 3 min it has run), then metadata 3 min, manifests 5, the sync about 4: live
// about 24 min after its queue time; at the 90th percentile 16 + 4 + 6 + 6 = 32 min.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const PARTITION = 'eta';
const MIN = 60 * 1000;
// The viewer's zone: half an hour off any whole-hour zone, so a time shown in UTC or in the
// server's zone would not pass for it.
const ZONE = 'Asia/Kolkata';
const LOCALE = 'en-US';
const RUNNING = { p1: 9001, tag: 'frontend-9001' };
// [image, metadata, manifests, sync] minutes of each finished deployment.
const HISTORY = [
  [8, 2, 4, 3],
  [10, 2, 5, 4],
  [12, 3, 5, 4],
  [14, 3, 6, 5],
  [16, 4, 6, 6],
];

let work;
let dashboard;
let base;
let browser;
let queuedAt; // the running image's queue time

const iso = (t) => new Date(t).toISOString();
const hex = (n) => n.toString(16).padStart(40, '0');

function record(store, ...args) {
  execFileSync(env('SPEKTATE_BIN'), ['record', ...args, '--store', store, '--partition-key', PARTITION], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function recordHistory(store, t0) {
  HISTORY.forEach(([image, metadata, manifests, sync], i) => {
    const [p1, p2, p3] = [1000 + i, 2000 + i, 3000 + i];
    const tag = `frontend-${p1}`;
    const manifestCommit = hex(0xc000 + i);
    record(store, '--p1', String(p1), '--image-tag', tag, '--commit-id', hex(0xa000 + i), '--service', 'fabrikam/frontend',
      '--repository', 'https://github.com/fabrikam/frontend');
    record(store, '--p2', String(p2), '--image-tag', tag, '--hld-commit-id', hex(0xb000 + i), '--env', 'dev',
      '--repository', 'https://github.com/fabrikam/hld');
    record(store, '--p3', String(p3), '--hld-commit-id', hex(0xb000 + i), '--manifest-commit-id', manifestCommit,
      '--repository', 'https://github.com/fabrikam/manifests');
    const manifestsDone = t0 - sync * MIN;
    const metadataDone = manifestsDone - manifests * MIN;
    const imageDone = metadataDone - metadata * MIN;
    const queued = imageDone - image * MIN;
    const report = (id, q, s, f) => record(store, 'run', '--id', String(id), '--status', 'completed', '--result', 'succeeded',
      '--queued-at', iso(q), '--started-at', iso(s), '--finished-at', iso(f));
    report(p1, queued, queued + MIN, imageDone);
    report(p2, imageDone, imageDone + 0.5 * MIN, metadataDone);
    report(p3, metadataDone + 0.5 * MIN, metadataDone + MIN, manifestsDone);
  });
  // Each cluster reports what it runs now, `sync` minutes after the manifests.
  HISTORY.forEach((_, i) => record(store, 'sync', '--cluster', `dev-${i + 1}`, '--commit', hex(0xc000 + i)));
}

function recordRunning(store, t0) {
  queuedAt = t0 - 3 * MIN;
  record(store, '--p1', String(RUNNING.p1), '--image-tag', RUNNING.tag, '--commit-id', hex(0xa999), '--service', 'fabrikam/frontend',
    '--repository', 'https://github.com/fabrikam/frontend');
  record(store, 'run', '--id', String(RUNNING.p1), '--status', 'inProgress', '--queued-at', iso(queuedAt), '--started-at', iso(queuedAt + MIN));
}

function startDashboard(store) {
  const child = spawn(env('SPEKTATE_BIN'), [
    'dashboard', '--store', store, '--partition-key', PARTITION, '--port', '0', '--bind', '127.0.0.1', '--refresh', '2',
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
    child.on('exit', (code) => reject(new Error(`spektate dashboard exited (${code}): ${err}`)));
  });
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'spektate-eta-'));
  const store = `sqlite:${path.join(work, 'eta.db')}`;
  const t0 = Date.now();
  recordHistory(store, t0);
  recordRunning(store, t0);
  dashboard = await startDashboard(store);
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
  if (work) rmSync(work, { recursive: true, force: true });
});

// A page and what must not happen on it: script errors, dialogs, CSP violations (reported as
// console errors), requests anywhere but the server.
async function open(url) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, locale: LOCALE, timezoneId: ZONE, colorScheme: 'light' });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') problems.push(`request outside the server: ${r.url()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/** A time as the page writes it in the viewer's zone: the time alone today, else date and time. */
function clock(isoTime) {
  const d = new Date(isoTime);
  const day = (x) => x.toLocaleDateString(LOCALE, { timeZone: ZONE });
  return day(d) === day(new Date())
    ? d.toLocaleTimeString(LOCALE, { timeZone: ZONE })
    : d.toLocaleString(LOCALE, { timeZone: ZONE, dateStyle: 'medium', timeStyle: 'medium' });
}

/** The running deployment as the API gives it. */
async function running() {
  for (let i = 0; i < 50; i += 1) {
    const body = await (await fetch(`${base}/api/deployments?imageTag=${RUNNING.tag}`)).json().catch(() => ({}));
    const d = body.deployments?.[0];
    if (d?.eta) return d;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the API gives the running deployment no ETA');
}

const minutes = (from, to) => (Date.parse(to) - Date.parse(from)) / MIN;
const near = (actual, expected, tolerance, what) => assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} (±${tolerance})`);

// Its ring is not known before its metadata step: the estimate rests on the service's history.
test('the API estimates the running deployment as worked out by hand', async () => {
  const { eta } = await running();
  assert.deepEqual(eta.steps.map((s) => [s.segment, s.basis, s.samples]), [
    ['image', 'service', 5], ['metadata', 'service', 5], ['manifests', 'service', 5], ['sync', 'service', 5],
  ]);
  const [image, metadata, manifests, sync] = eta.steps;
  const q = iso(queuedAt);
  assert.equal(minutes(q, image.expectedAt), 12, 'the image ends at the median of the past images');
  assert.equal(minutes(q, image.p90At), 16, 'the longest of five at the 90th percentile');
  assert.equal(minutes(image.expectedAt, metadata.expectedAt), 3);
  assert.equal(minutes(image.p90At, metadata.p90At), 4);
  assert.equal(minutes(metadata.expectedAt, manifests.expectedAt), 5);
  assert.equal(minutes(metadata.p90At, manifests.p90At), 6);
  // The clusters reported a few seconds after the test set its times.
  near(minutes(manifests.expectedAt, sync.expectedAt), 4, 1, 'sync (median)');
  near(minutes(manifests.p90At, sync.p90At), 6, 1, 'sync (p90)');
  assert.equal(eta.liveAt, sync.expectedAt);
  assert.equal(eta.liveP90At, sync.p90At);
});

test('a deployment in progress shows when it is expected live and when each remaining step ends', async () => {
  const d = await running();
  const { page, problems } = await open(`${base}/index.html`);
  const row = page.locator(`#rows tr[data-id="${d.id}"]`);
  await row.getByTestId('eta').waitFor();
  const shown = await row.evaluate((tr) => {
    const eta = tr.querySelector('[data-testid="eta"]');
    const hidden = eta.querySelector('.eta-p90').getBoundingClientRect();
    return {
      visible: eta.querySelector('.eta-median').textContent,
      read: eta.textContent,
      tip: eta.title,
      hiddenSize: [hidden.width, hidden.height],
      expected: [...tr.querySelectorAll('.expected')].map((e) => ({
        column: e.closest('td').className,
        segment: e.dataset.segment,
        text: e.querySelector('.expected-at').textContent,
        read: e.textContent,
        tip: e.title,
      })),
    };
  });
  const now = Date.now();
  const left = (t) => Math.round((Date.parse(t) - now) / MIN);
  const eta = d.eta;

  // "live in ~N min": N the minutes to the API's median, about 24 - 3 = 21 by hand.
  const n = Number(shown.visible.match(/^live in ~(\d+) min$/)?.[1]);
  assert.ok(Number.isInteger(n), `the row says when it is expected live: ${shown.visible}`);
  near(n, left(eta.liveAt), 1, 'minutes to the median');
  near(n, 21, 2, 'minutes to the median, by hand');
  // The p90 is read out (hidden from sight) and in the tip, at the viewer's local time.
  const p = Number(shown.read.match(/, 90% sure within ~(\d+) min$/)?.[1]);
  near(p, left(eta.liveP90At), 1, 'minutes to the p90');
  near(p, 29, 2, 'minutes to the p90, by hand');
  assert.ok(shown.hiddenSize[0] <= 1 && shown.hiddenSize[1] <= 1, `the p90 words are for screen readers only: ${shown.hiddenSize}`);
  assert.ok(shown.tip.startsWith(`Expected live at ${clock(eta.liveAt)} (median), by ${clock(eta.liveP90At)} at the 90th percentile`), shown.tip);
  assert.ok(shown.tip.includes('estimated from past deployments of this service'), shown.tip);

  // Each remaining step under its column, at the API's time in the viewer's zone.
  assert.deepEqual(shown.expected.map((e) => [e.column, e.segment]), [
    ['c-image', 'image'], ['c-metadata', 'metadata'], ['c-manifest', 'manifests'], ['c-clusters', 'sync'],
  ]);
  shown.expected.forEach((e, i) => {
    const step = eta.steps[i];
    assert.equal(e.text, `expected ${clock(step.expectedAt)}`);
    assert.equal(e.read, `expected ${clock(step.expectedAt)}, 90% sure by ${clock(step.p90At)}`);
    assert.ok(e.tip.includes(`expected to finish at ${clock(step.expectedAt)} (median), by ${clock(step.p90At)} at the 90th percentile; from 5 past durations of this service`), e.tip);
  });
  // The image's own cell still shows its run; the empty cells give their dash to the estimate.
  assert.match(await row.locator('td.c-image').textContent(), /^9001/);
  assert.equal(await row.locator('td.c-manifest .none').count(), 0);
  // Finished deployments have none.
  assert.equal(await page.locator('#rows tr [data-testid="eta"]').count(), 1);
  assert.equal(await page.locator('#rows tr .expected').count(), 4);
  assert.deepEqual(problems, []);
  await page.close();
});

// The timeline as a person reads it: per row its name and value, each drawn span's kind, left
// edge and width, each p90 whisker, and the line where it is expected live.
function drawingOf(page) {
  return page.evaluate(() => {
    const svg = document.querySelector('figure[data-metric="journey"] svg');
    const box = (n) => n.getBoundingClientRect();
    const line = svg.querySelector('line.eta-line');
    return {
      ariaLabel: svg.getAttribute('aria-label'),
      title: svg.querySelector(':scope > title')?.textContent ?? '',
      rows: [...svg.querySelectorAll('g.row')].map((g) => ({
        name: g.querySelector('text.key').textContent,
        value: g.querySelector('text.value').textContent,
        valueLeft: box(g.querySelector('text.value')).left,
        spans: [...g.querySelectorAll('rect.span')].map((r) => ({
          kind: r.dataset.kind, left: box(r).left, width: box(r).width, dashed: getComputedStyle(r).strokeDasharray, tip: r.querySelector('title').textContent,
        })),
        p90: [...g.querySelectorAll('line.p90')].map((l) => ({ left: box(l).left, width: box(l).width })),
      })),
      etaLine: line ? box(line).left + box(line).width / 2 : null,
      legend: [...document.querySelectorAll('.legend li')].map((li) => li.textContent),
      note: document.querySelector('[data-testid="eta"]').textContent,
    };
  });
}

test('the journey page draws the remaining steps as dashed expected spans up to the ETA', async () => {
  const d = await running();
  const { page, problems } = await open(`${base}/journey.html?id=${encodeURIComponent(d.id)}`);
  await page.waitForSelector('figure[data-metric="journey"] rect.span-expected');
  const drawn = await drawingOf(page);
  const eta = d.eta;
  assert.equal(drawn.ariaLabel, drawn.title);
  assert.deepEqual(drawn.rows.map((r) => r.name), ['Image 9001', 'Metadata (expected)', 'Manifests (expected)', 'Sync (expected)']);
  const [image, metadata, manifests, sync] = drawn.rows;
  assert.deepEqual(image.spans.map((s) => s.kind), ['queued', 'running', 'expected']);
  for (const r of [metadata, manifests, sync]) assert.deepEqual(r.spans.map((s) => s.kind), ['expected']);
  const expected = drawn.rows.map((r) => r.spans.find((s) => s.kind === 'expected'));
  for (const s of expected) assert.notEqual(s.dashed, 'none', 'an expected span is dashed');
  assert.equal(image.spans[0].dashed, 'none', 'a reported span is not');

  // One time axis: the reported queue of 1 min is the ruler.
  const perMinute = image.spans[0].width / 1;
  const inMinutes = (px) => px / perMinute;
  const close = (actual, want, what) => assert.ok(Math.abs(actual - want) < 0.05, `${what}: ${actual} min is not ${want}`);
  // The running image: reported until now, expected from now to 12 min after its queue time.
  close(inMinutes(image.spans[2].left + image.spans[2].width - image.spans[0].left), 12, 'the image expected to end 12 min after its queue time');
  close(inMinutes(image.spans[2].left - (image.spans[1].left + image.spans[1].width)), 0, 'expected from where it has run to');
  // Then each later step, one after the other, as long as the API's estimate says.
  close(inMinutes(expected[1].width), 3, 'metadata');
  close(inMinutes(expected[2].width), 5, 'manifests');
  close(inMinutes(expected[3].width), minutes(eta.steps[2].expectedAt, eta.steps[3].expectedAt), 'sync');
  for (let i = 1; i < 4; i += 1) {
    close(inMinutes(expected[i].left - (expected[i - 1].left + expected[i - 1].width)), 0, `${drawn.rows[i].name} starts where the step before ends`);
  }
  // Each step's p90 whisker runs from its expected end to its p90 (4, 5, 6 min, then the sync's).
  drawn.rows.forEach((r, i) => {
    const step = eta.steps[i];
    assert.equal(r.p90.length, 1, `${r.name} has a p90 whisker`);
    close(inMinutes(r.p90[0].width), minutes(step.expectedAt, step.p90At), `${r.name} p90`);
    close(inMinutes(r.p90[0].left - (expected[i].left + expected[i].width)), 0, `${r.name} p90 from the expected end`);
  });
  assert.deepEqual(drawn.rows.slice(0, 3).map((r) => inMinutes(r.p90[0].width).toFixed(1)), ['4.0', '5.0', '6.0']);
  // The line where it is expected live: about 24 min after the image's queue time.
  close(inMinutes(drawn.etaLine - image.spans[0].left), minutes(iso(queuedAt), eta.liveAt), 'the ETA line');
  near(inMinutes(drawn.etaLine - image.spans[0].left), 24, 1, 'the ETA line, by hand');

  // In words: the rows' values, the tips, the note and the text alternative, in local time.
  assert.deepEqual(drawn.rows.slice(1).map((r) => r.value), eta.steps.slice(1).map((s) => `by ${clock(s.expectedAt)}`));
  assert.ok(expected[1].tip.startsWith(`Metadata, expected: 3 min, finishing at ${clock(eta.steps[1].expectedAt)} (median); by ${clock(eta.steps[1].p90At)} at the 90th percentile`), expected[1].tip);
  assert.ok(expected[0].tip.includes(' more, finishing at '), expected[0].tip);
  assert.equal(drawn.note, `Expected live at ${clock(eta.liveAt)} (median), by ${clock(eta.liveP90At)} at the 90th percentile; the dashed spans are the remaining steps.`);
  const words = eta.steps.map((s) => `${{ image: 'Image', metadata: 'Metadata', manifests: 'Manifests', sync: 'Sync' }[s.segment]} by ${clock(s.expectedAt)} (90%: ${clock(s.p90At)})`).join(', ');
  assert.ok(drawn.ariaLabel.includes(`Expected: ${words}; live at ${clock(eta.liveAt)} (90%: ${clock(eta.liveP90At)}), from past deployments of this service.`), drawn.ariaLabel);
  assert.deepEqual(drawn.legend.slice(-2), ['expected (median)', '90th percentile']);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the journey of a finished deployment draws nothing expected', async () => {
  const body = await (await fetch(`${base}/api/deployments?imageTag=frontend-1000`)).json();
  const d = body.deployments[0];
  assert.equal(d.eta, undefined);
  const { page, problems } = await open(`${base}/journey.html?id=${encodeURIComponent(d.id)}`);
  await page.waitForSelector('figure[data-metric="journey"]');
  assert.equal(await page.locator('rect.span-expected').count(), 0);
  assert.equal(await page.locator('line.eta-line').count(), 0);
  assert.equal(await page.getByTestId('eta').isHidden(), true);
  assert.deepEqual(await page.locator('.legend li').allTextContents(), ['waiting', 'queued', 'running', 'waiting for approval', 'sync lag']);
  assert.deepEqual(problems, []);
  await page.close();
});
