// The Spektate dashboard in headless Chromium: what a person sees and does on the page.
//
// Run through run.sh, which starts the servers and sets:
//   FABRIKAM_URL  `fabrikam --serve`, playing the talk's scenario while the page is open
//   SPEKTATE_URL  `spektate dashboard` over the Fabrikam store, plus a record with a hostile service name
//   SPEKTATE_PID  its process, stopped by the last test to see the page lose the server
//   HOSTILE_URL   the dashboard mounted at /spektate over a provider whose every text is markup
//   CHROMIUM, BROWSER_PROFILE, SCREENSHOT_DIR
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const shots = env('SCREENSHOT_DIR');
let context;

before(async () => {
  mkdirSync(shots, { recursive: true });
  // The system's Chromium, with a fresh profile; nothing is downloaded.
  context = await chromium.launchPersistentContext(env('BROWSER_PROFILE'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1680, height: 860 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
  });
});

after(async () => {
  await context?.close();
});

// Opens a page and collects what must not happen: script errors, dialogs (an injected
// alert()), CSP violations, requests anywhere but the server.
async function open(url) {
  const page = await context.newPage();
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

// The table as a person reads it.
function rowsOf(page) {
  return page.evaluate(() => [...document.querySelectorAll('#rows tr')].map((tr) => {
    const text = (sel) => (tr.querySelector(sel)?.textContent ?? '').trim();
    return {
      id: tr.dataset.id,
      state: tr.dataset.state,
      kind: tr.dataset.kind,
      stateLabel: text('.c-state'),
      stateIcon: tr.querySelector('.c-state use')?.getAttribute('href'),
      service: text('.c-service'),
      ring: text('.c-ring'),
      author: text('.c-author .name') || text('.c-author'),
      image: text('.c-image'),
      imageState: tr.querySelector('.c-image .step')?.dataset.state,
      metadata: text('.c-metadata'),
      prId: text('.c-pr .pr-id'),
      prTitle: text('.c-pr .pr-title'),
      mergedBy: text('.c-merged .name') || text('.c-merged'),
      manifest: text('.c-manifest'),
      manifestState: tr.querySelector('.c-manifest .step')?.dataset.state,
      updated: text('.c-updated'),
      clusters: [...tr.querySelectorAll('.cluster')].map((c) => c.textContent.trim()),
      live: [...tr.querySelectorAll('.cluster-live')].map((c) => c.textContent.trim()),
      troubles: [...tr.querySelectorAll('.cluster-trouble')].map((c) => c.textContent.trim()),
      links: Object.fromEntries([...tr.querySelectorAll('a')].map((a) => [a.textContent.trim(), a.href])),
    };
  }));
}

function waitForRows(page, count, timeout = 20000) {
  return page.waitForFunction((n) => document.querySelectorAll('#rows tr').length === n, count, { timeout });
}

const find = (rows, pred, what) => {
  const row = rows.find(pred);
  assert.ok(row, `no row ${what} in ${JSON.stringify(rows, null, 1)}`);
  return row;
};

test('the Fabrikam scenario moves through the page in place, without a reload', { timeout: 120000 }, async () => {
  // Manual HLD edits are hidden unless asked for; the scenario has one.
  const { page, problems } = await open(`${env('FABRIKAM_URL').replace(/\/$/, '')}/?type=deployment&type=manual-hld-edit`);
  // Every state and cluster list each row shows, as it changes.
  await page.evaluate(() => {
    window.seenStates = {};
    const note = (tr) => {
      if (!tr || !tr.dataset || !tr.dataset.id) return;
      const seen = (window.seenStates[tr.dataset.id] ||= []);
      const now = `${tr.dataset.state}|${[...tr.querySelectorAll('.cluster')].map((c) => c.textContent).join(',')}`;
      if (seen[seen.length - 1] !== now) seen.push(now);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        note(r.target.closest ? r.target.closest('tr') : null);
        for (const n of r.addedNodes) if (n.nodeName === 'TR') note(n);
      }
    }).observe(document.getElementById('rows'), { subtree: true, childList: true, attributes: true });
    document.querySelectorAll('#rows tr').forEach(note);
  });

  // Both approval PRs open: the moment of the talk's screenshot.
  await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-state=waitingForApproval]').length === 2, null, { timeout: 60000 });
  const waiting = (await rowsOf(page)).filter((r) => r.state === 'waitingForApproval');
  assert.deepEqual(waiting.map((r) => [r.stateLabel, r.stateIcon]), [['Waiting for approval', '#i-waiting'], ['Waiting for approval', '#i-waiting']]);
  await page.screenshot({ path: path.join(shots, 'dashboard-live.png'), animations: 'disabled' });

  // The last step: Erin's backend change reaches east-us and central-us; west-eu fails on it.
  // The step writes one report after another and the page may show any moment between them:
  // wait for its last one, west-eu's failed health check.
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#rows tr')];
    return rows.length === 4 && rows.some((tr) => tr.querySelector('.c-service').textContent === 'backend' && tr.querySelector('.cluster-trouble'));
  }, null, { timeout: 90000 });
  const seen = await page.evaluate(() => window.seenStates);
  assert.ok(seen, 'the page was reloaded: what it saw is gone');
  const rows = await rowsOf(page);

  const dev = find(rows, (r) => r.service === 'frontend' && r.ring === 'dev', 'frontend/dev');
  assert.ok(seen[dev.id].some((s) => s.startsWith('inProgress|')), `frontend/dev was never shown in progress: ${seen[dev.id]}`);
  // east-us and west-eu apply the dev manifests (central-us's notification comes late).
  assert.ok(seen[dev.id].includes('succeeded|east-us,west-eu'), `frontend/dev was never shown synced to its clusters: ${seen[dev.id]}`);
  assert.equal(dev.state, 'succeeded');
  assert.deepEqual(dev.clusters, ['west-eu'], 'east-us and central-us now run the backend commit; west-eu failed on it');
  assert.deepEqual(dev.live, ['live in central-us', 'live in east-us'], 'still running there under the backend commit');
  assert.deepEqual(dev.troubles, []);
  assert.equal(dev.author, 'Alice');
  assert.match(dev.image, /1001/);
  assert.match(dev.metadata, /3001.*frontend-1001/s);
  assert.equal(dev.prId, '#41');
  assert.equal(dev.prTitle, 'Update frontend-1001 in ring dev');
  assert.equal(dev.mergedBy, 'Carol');
  assert.match(dev.manifest, /5001.*e9f8a7b/s);

  const backend = find(rows, (r) => r.service === 'backend', 'backend');
  assert.ok(seen[backend.id].includes('waitingForApproval|'), `backend never waited for approval: ${seen[backend.id]}`);
  assert.equal(seen[backend.id].at(-1), 'succeeded|central-us,east-us');
  assert.deepEqual(backend.troubles, ['west-eu failed'], "west-eu's failed health check on the cluster step");
  assert.equal(backend.stateLabel, 'Succeeded');
  assert.equal(backend.ring, 'securitybugfix');
  assert.equal(backend.mergedBy, 'Erin');

  const master = find(rows, (r) => r.ring === 'master', 'frontend/master');
  assert.equal(master.state, 'failed');
  assert.equal(master.stateLabel, 'Failed');
  assert.equal(master.manifestState, 'failed');
  assert.equal(master.mergedBy, 'Carol');

  const edit = find(rows, (r) => r.kind === 'manualHldEdit', 'manual HLD edit');
  assert.equal(edit.service, 'Manual HLD edit');
  assert.equal(edit.author, 'Dave');
  assert.equal(edit.state, 'succeeded');

  assert.match(await page.textContent('#last-updated'), /^Last updated at .+ \(.+\)$/);
  assert.deepEqual(problems, []);
  await page.setViewportSize({ width: 1680, height: 520 });
  await page.screenshot({ path: path.join(shots, 'dashboard.png'), fullPage: true, animations: 'disabled' });
  await page.close();
});

test('rows show each deployment with its state, icons and links', async () => {
  const { page, problems } = await open(`${env('SPEKTATE_URL').replace(/\/$/, '')}/?type=deployment&type=manual-hld-edit`);
  await waitForRows(page, 5);
  const rows = await rowsOf(page);
  assert.deepEqual(rows.map((r) => r.state), ['failed', 'succeeded', 'succeeded', 'failed', 'succeeded'], 'newest first');

  const icons = Object.fromEntries(rows.map((r) => [r.state, r.stateIcon]));
  assert.deepEqual(icons, { failed: '#i-failed', succeeded: '#i-succeeded' });
  assert.ok(await page.evaluate(() => [...document.querySelectorAll('#rows use')].every((u) => document.querySelector(u.getAttribute('href')))), 'every icon exists');

  const backend = find(rows, (r) => r.service === 'backend', 'backend');
  assert.equal(backend.stateLabel, 'Succeeded');
  assert.deepEqual(backend.clusters, ['central-us', 'east-us']);
  assert.deepEqual(backend.troubles, ['west-eu failed']);
  assert.equal(backend.imageState, 'succeeded');
  assert.equal(backend.links['2001'], 'https://ci.fabrikam.com/runs/2001');
  assert.equal(backend.links.b7e1d4a, 'https://github.com/fabrikam/backend/commit/b7e1d4a09c3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d');
  assert.equal(backend.links['#42'], 'https://github.com/fabrikam/hld/pull/42');
  assert.equal(backend.links['5004'], 'https://ci.fabrikam.com/runs/5004');
  assert.match(backend.updated, /ago|just now/);
  assert.match(backend.updated, /took \d+m \d+s/);

  const master = find(rows, (r) => r.ring === 'master', 'frontend/master');
  assert.equal(master.stateLabel, 'Failed');
  assert.equal(master.manifestState, 'failed');
  assert.equal(master.mergedBy, '–', 'no repository host tells who merged the PR');

  const edit = find(rows, (r) => r.kind === 'manualHldEdit', 'manual HLD edit');
  assert.equal(edit.service, 'Manual HLD edit');
  assert.match(edit.metadata, /0a9b8c7/);

  // The record a pipeline wrote with markup as its service name.
  const evil = rows[0];
  assert.equal(evil.service, '<img src=x onerror=alert(1)>');
  assert.equal(evil.imageState, 'failed');
  assert.equal(evil.links['666'], undefined, 'a javascript: run URL is not a link');
  assert.equal(await page.locator('#rows img').count(), 0);
  assert.ok(await page.evaluate(() => [...document.querySelectorAll('a')].every((a) => /^https?:$/.test(a.protocol))));

  const summary = await page.textContent('#summary');
  for (const part of ['5 deployments', '3 succeeded', '2 failed', '2 synced']) assert.ok(summary.includes(part), `summary "${summary}" lacks ${part}`);
  assert.equal(await page.textContent('#partition'), 'fabrikam');
  assert.match(await page.textContent('#last-updated'), /^Last updated at /);
  assert.equal(await page.textContent('#cadence'), 'Refreshes every 2 s');
  assert.deepEqual(problems, []);
  await page.close();
});

test('filters narrow the rows and are kept in the URL', async () => {
  const base = env('SPEKTATE_URL');
  const { page, problems } = await open(base);
  // Manual HLD edits are hidden by default: four of the five.
  await waitForRows(page, 4);
  const query = () => new URL(page.url()).search;
  // A multi-select: open it, tick a value, close it.
  const pick = async (name, value) => {
    await page.click(`details[data-name=${name}] summary`);
    await page.getByRole('checkbox', { name: value, exact: true }).check();
    await page.keyboard.press('Escape');
  };

  await pick('service', 'frontend');
  await page.waitForFunction(() => location.search === '?service=frontend');
  await waitForRows(page, 2);
  assert.deepEqual((await rowsOf(page)).map((r) => r.service), ['frontend', 'frontend']);

  await pick('ring', 'dev');
  await page.waitForFunction(() => location.search === '?service=frontend&ring=dev');
  await waitForRows(page, 1);
  assert.equal((await rowsOf(page))[0].ring, 'dev');

  await page.click('#clear');
  await page.waitForFunction(() => location.search === '');
  await waitForRows(page, 4);

  await page.getByRole('checkbox', { name: 'Manual HLD edits' }).check();
  await page.getByRole('checkbox', { name: 'Deployments' }).uncheck();
  await page.waitForFunction(() => location.search === '?type=manual-hld-edit');
  await waitForRows(page, 1);
  assert.equal((await rowsOf(page))[0].kind, 'manualHldEdit');
  await page.click('#clear');
  await page.waitForFunction(() => location.search === '');

  await page.fill('input[name=keyword]', 'east-us');
  await page.waitForFunction(() => location.search === '?keyword=east-us');
  await waitForRows(page, 1);
  assert.equal((await rowsOf(page))[0].service, 'backend');
  await page.screenshot({ path: path.join(shots, 'dashboard-filtered.png'), animations: 'disabled' });

  await page.fill('input[name=keyword]', '');
  await page.waitForFunction(() => location.search === '');
  // A link with an author nobody is.
  await page.goto(`${base}?author=alice`);
  await page.waitForFunction(() => location.search === '?author=alice');
  await waitForRows(page, 0);
  assert.ok(await page.isVisible('#empty'));
  assert.equal(await page.textContent('#empty-text'), 'No deployments match these filters.');
  await page.click('#empty-clear');
  await waitForRows(page, 4);
  assert.equal(query(), '');

  // A link reproduces a view, refresh and limit included.
  await page.goto(`${base}?ring=dev&refresh=5&limit=1`);
  await waitForRows(page, 1);
  assert.equal(await page.textContent('details[data-name=ring] summary'), 'dev');
  assert.equal(query(), '?ring=dev&refresh=5&limit=1');
  assert.equal(await page.textContent('#cadence'), 'Refreshes every 5 s');
  await page.goto(`${base}?limit=2`);
  await waitForRows(page, 2);
  assert.match(await page.textContent('#shown'), /^Showing the newest 2 of 4 deployments/);
  assert.deepEqual(problems, []);

  await page.goto(`${base}?limit=lots`);
  await page.locator('#notice').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#notice-text'), "invalid limit: 'lots' is not a whole number from 1 to 10000");
  assert.equal(await page.getAttribute('#live', 'class'), 'live stale', 'a refused view is not shown as current');

  // The API takes at most 50 values a filter: a link with more filters by the first 50 and
  // says so, and the other choices wait until one is unpicked.
  const many = Array.from({ length: 51 }, (_, i) => `service=gone-${String(i).padStart(2, '0')}`).join('&');
  await page.goto(`${base}?${many}`);
  await page.locator('#notice').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#notice-text'), '51 service values given; filtering by the first 50');
  await waitForRows(page, 0);
  await page.click('details[data-name=service] summary');
  const frontend = page.getByRole('checkbox', { name: 'frontend', exact: true });
  assert.ok(await frontend.isDisabled(), 'a 51st service cannot be picked');
  assert.equal(await page.locator('details[data-name=service] input:checked').count(), 50);
  // Unpicked, a value no deployment has leaves the list: a click, not uncheck().
  await page.getByRole('checkbox', { name: 'gone-00', exact: true }).click();
  await page.waitForFunction(() => !document.querySelector('details[data-name=service] input[value="frontend"]').disabled);
  await frontend.check();
  await waitForRows(page, 2);
  await page.close();
});

test('sort words of the URL become the page\'s columns, and a page that fails to draw keeps refreshing', async () => {
  const base = env('SPEKTATE_URL');
  const api = (url) => url.pathname.endsWith('/api/deployments');
  const sorted = (page) => page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('th[data-sort]')].map((th) => [th.dataset.sort, th.getAttribute('aria-sort')])));
  const rowsShown = (page) => page.waitForFunction(() => document.querySelectorAll('#rows tr').length > 0, null, { timeout: 20000 });

  // A word the server folds to `service`, with characters that would break a CSS selector.
  const { page, problems } = await open(`${base}?sort=service%22%5D&refresh=1`);
  await rowsShown(page);
  await page.waitForFunction(() => location.search === '?sort=service&refresh=1');
  assert.equal((await sorted(page)).service, 'ascending');
  assert.match(await page.textContent('#shown'), /by service, A to Z$/);
  for (let i = 0; i < 2; i += 1) await page.waitForResponse((r) => api(new URL(r.url())), { timeout: 5000 });

  await page.goto(`${base}?sort=merged-by&order=DESC`);
  await rowsShown(page);
  await page.waitForFunction(() => location.search === '?sort=mergedBy&order=desc');
  assert.deepEqual(await sorted(page), { service: 'none', ring: 'none', author: 'none', mergedBy: 'descending', lastUpdated: 'none' });

  await page.goto(`${base}?sort=Updated`);
  await rowsShown(page);
  await page.waitForFunction(() => location.search === '?sort=lastUpdated');
  assert.equal((await sorted(page)).lastUpdated, 'ascending');
  assert.match(await page.textContent('#shown'), /oldest first$/);

  // A word the server refuses is left out, and said.
  await page.goto(`${base}?sort=colour`);
  await rowsShown(page);
  await page.waitForFunction(() => location.search === '');
  assert.equal((await sorted(page)).lastUpdated, 'descending');
  assert.match(await page.textContent('#notice-text'), /^sort=colour is not one of service, ring, author, mergedBy, lastUpdated/);
  assert.deepEqual(problems, []);

  // An answer the page cannot draw: the error is shown and the next refresh still comes.
  const broken = (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ partition: 'fabrikam', refreshedAt: new Date().toISOString(), total: 1, deployments: [null] }) });
  await page.route(api, broken);
  await page.goto(`${base}?refresh=1`);
  await page.locator('#notice').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#notice-text'), /^The page could not show the server's answer: /);
  await page.unroute(api, broken);
  await rowsShown(page);
  await page.locator('#notice').waitFor({ state: 'hidden' });
  assert.deepEqual(problems, []);
  await page.close();
});

test('text from providers renders as text, never as markup', async () => {
  // Mounted at /spektate in a service of its own, which redirects to /spektate/index.html.
  const mounted = env('HOSTILE_URL').replace(/\/$/, '');
  const { page, problems } = await open(mounted);
  assert.equal(new URL(page.url()).pathname, '/spektate/index.html');
  await waitForRows(page, 1);
  const [row] = await rowsOf(page);
  assert.equal(row.prTitle, '<img src=x onerror=alert(1)>');
  assert.equal(row.author, '"><svg onload=alert(2)>');
  assert.equal(row.mergedBy, '<script>alert(3)</script>');
  assert.deepEqual(row.clusters, ['<b>east</b>']);
  const injected = await page.evaluate(() => ({
    elements: document.querySelectorAll('#rows img, #rows script, #rows iframe, #rows b, #rows u, #rows i').length,
    handlers: [...document.querySelectorAll('#rows *')].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
    links: [...document.querySelectorAll('#rows a')].map((a) => a.href),
  }));
  assert.deepEqual(injected.elements, 0);
  assert.deepEqual(injected.handlers, []);
  assert.deepEqual(injected.links.filter((h) => !h.startsWith('https://')), [], 'only web links');
  assert.equal(row.links['#7'], 'https://github.com/example/hld/pull/7', "the PR's page from its repository, not its javascript: URL");
  // The host's failure is a warning: its markup is text, said in the label as in the tooltip.
  const warn = await page.evaluate(() => {
    const w = document.querySelector('#rows tr .warn');
    return w && { role: w.getAttribute('role'), label: w.getAttribute('aria-label'), title: w.title, tab: w.tabIndex };
  });
  assert.ok(warn, 'the row shows its warning');
  assert.equal(warn.role, 'img');
  assert.equal(warn.tab, 0);
  assert.match(warn.title, /<img src=y onerror=alert\(6\)> tags are gone/);
  assert.match(warn.label, /^Warning: .*<img src=y onerror=alert\(6\)> tags are gone/);
  // Reached with the Tab key, the sign shows its warnings under it.
  let focused = false;
  for (let i = 0; i < 60 && !focused; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.classList.contains('warn'));
  }
  assert.ok(focused, 'the Tab key reaches the warning');
  const shown = await page.evaluate(() => getComputedStyle(document.activeElement, '::after').content);
  assert.match(shown, /<img src=y onerror=alert\(6\)> tags are gone/);
  await page.waitForTimeout(500);
  assert.deepEqual(problems, [], 'no alert(), no script error, no CSP violation');
  await page.close();
});

test('the page says when the server cannot be reached, and when it is back', async () => {
  const base = env('SPEKTATE_URL');
  const { page } = await open(`${base}?refresh=1`);
  await waitForRows(page, 4);
  assert.ok(await page.isHidden('#banner'));

  await page.route('**/api/**', (route) => route.abort('connectionrefused'));
  await page.locator('#banner').waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await page.textContent('#banner-text'), /^Cannot reach the Spektate server: the connection failed\. The table shows the data of .+ Retrying in about [12] s\.$/);
  assert.equal((await rowsOf(page)).length, 4, 'the last data stays on screen');
  // While the server stays away the page asks less often: 1 s, 2 s, then 4 s.
  await page.waitForFunction(() => document.getElementById('banner-text').textContent.endsWith('Retrying in about 4 s.'), null, { timeout: 15000 });
  assert.equal(await page.getAttribute('#live', 'aria-label'), 'Cannot reach the server');
  await page.unroute('**/api/**');
  await page.locator('#banner').waitFor({ state: 'hidden', timeout: 15000 });
  assert.equal(await page.getAttribute('#live', 'aria-label'), 'Connected');

  // The server itself stops.
  process.kill(Number(env('SPEKTATE_PID')), 'SIGTERM');
  await page.locator('#banner').waitFor({ state: 'visible', timeout: 15000 });
  assert.match(await page.textContent('#banner-text'), /^Cannot reach the Spektate server/);
  assert.equal((await rowsOf(page)).length, 4);
  assert.equal(await page.getAttribute('#live', 'class'), 'live down');
  await page.screenshot({ path: path.join(shots, 'dashboard-offline.png'), animations: 'disabled' });
  await page.close();
});
