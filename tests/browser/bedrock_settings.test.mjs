// A migrating user's settings drive the dashboard in headless Chromium: bedrock's
// `~/.bedrock/config.yaml` (HOME pointed at a temporary folder, its key given through bedrock's
// `${env:NAME}`) for `spektate deployment dashboard`, and the original dashboard's
// `REACT_APP_*` environment for `spektate dashboard`. Both read the Azure table those settings
// name (Azurite, started here as the Rust tests start it), whose rows `spektate deployment
// create` wrote with the same settings file; the page shows that partition's deployments and
// nothing of another partition.
//
// Run through run.sh, which sets SPEKTATE_BIN and CHROMIUM and installs Azurite.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
// Azurite's well-known development account and key.
const ACCOUNT = 'devstoreaccount1';
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

// No azure_devops section: the test reads no pipelines, so nothing leaves the machine.
const SETTINGS = `# bedrock init's file
introspection:
  dashboard:
    image: "samiyaakhtar/spektate:prod"
  azure:
    account_name: ${ACCOUNT}
    table_name: deployments
    partition_key: demo
    key: "\${env:SA_ACCESS_KEY}"
`;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test with bash tests/browser/run.sh`);
  return value;
}

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.on('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

let work;
let azurite;
let endpoint;
let browser;
const children = [];

// What every spektate process of the test gets: HOME with the settings, the key for
// `${env:SA_ACCESS_KEY}`, Azurite's endpoint, and none of the caller's Spektate or dashboard
// variables.
function baseEnv() {
  const clean = Object.fromEntries(Object.entries(process.env).filter(
    ([k]) => !k.startsWith('SPEKTATE_') && !k.startsWith('REACT_APP_') && k !== 'PORT',
  ));
  return { ...clean, HOME: path.join(work, 'home'), SA_ACCESS_KEY: KEY, SPEKTATE_TABLE_ENDPOINT: endpoint, TZ: 'UTC' };
}

function create(args) {
  const out = execFileSync(env('SPEKTATE_BIN'), ['deployment', 'create', ...args], { env: baseEnv(), encoding: 'utf8' });
  assert.match(out.trim(), /^[0-9a-f]{12}$/, `deployment create ${args.join(' ')}`);
}

// Starts a dashboard and resolves to the URL it prints.
function start(args, extraEnv = {}) {
  const child = spawn(env('SPEKTATE_BIN'), args, { env: { ...baseEnv(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const url = out.match(/http:\/\/[0-9.:[\]a-z]+\/?/);
      if (url) resolve({ url: url[0].replace('0.0.0.0', '127.0.0.1').replace(/\/$/, ''), line: out });
    });
    child.on('exit', (code) => reject(new Error(`spektate ${args.join(' ')} exited (${code}): ${err}`)));
  });
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'spektate-bedrock-'));
  mkdirSync(path.join(work, 'home', '.bedrock'), { recursive: true });
  writeFileSync(path.join(work, 'home', '.bedrock', 'config.yaml'), SETTINGS);
  const script = process.env.SPEKTATE_AZURITE_TABLE
    || path.resolve(here, '../../tools/azurite/node_modules/.bin/azurite-table');
  assert.ok(existsSync(script), `Azurite is not installed at ${script}: run npm ci --prefix tools/azurite`);
  const port = await freePort();
  azurite = spawn('node', [script, '--tableHost', '127.0.0.1', '--tablePort', String(port),
    '--inMemoryPersistence', '--disableTelemetry', '--silent'], { stdio: 'ignore' });
  endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  for (let i = 0; ; i += 1) {
    const up = await new Promise((resolve) => {
      const s = createServer();
      // The port is taken once Azurite listens.
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (up) break;
    assert.ok(i < 600, 'Azurite did not listen within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // bedrock's pipeline lines, with the store of the settings file (no -n, -k, -t, -p).
  const frontend = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  const hld = 'b2c3d4e5f60718293a4b5c6d7e8f9012345678a1';
  create(['--p1', '6080', '--image-tag', 'hello-bedrock-master-6080', '--commit-id', frontend, '--service', 'hello-bedrock']);
  create(['--p2', '6081', '--image-tag', 'hello-bedrock-master-6080', '--hld-commit-id', hld, '--env', 'dev', '--pr', '1355']);
  create(['--p3', '6082', '--hld-commit-id', hld, '--manifest-commit-id', 'c3d4e5f60718293a4b5c6d7e8f9012345678a1b2']);
  create(['--p1', '7010', '--image-tag', 'fabrikam-backend-7010', '--commit-id', 'd4e5f60718293a4b5c6d7e8f9012345678a1b2c3', '--service', 'fabrikam-backend']);
  create(['--p2', '7011', '--image-tag', 'fabrikam-backend-7010', '--hld-commit-id', 'e5f60718293a4b5c6d7e8f9012345678a1b2c3d4', '--env', 'prod']);
  // Another partition of the same table: not the settings' one, never shown.
  create(['-p', 'elsewhere', '--p1', '9999', '--image-tag', 'other-team-9999', '--commit-id', frontend, '--service', 'other-team']);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGTERM');
  azurite?.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

// The rows the page shows at `url`, once it shows `want` of them; no script error, dialog or
// request outside the server on the way.
async function rowsAt(url, want) {
  const context = await browser.newContext({ viewport: { width: 1680, height: 900 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== new URL(url).origin) problems.push(`request outside the server: ${r.url()}`);
  });
  await page.goto(`${url}/`);
  await page.waitForFunction((n) => document.querySelectorAll('#rows tr').length === n, want, { timeout: 30000 });
  const rows = await page.evaluate(() => [...document.querySelectorAll('#rows tr')].map((tr) => {
    const text = (sel) => (tr.querySelector(sel)?.textContent ?? '').trim();
    return { service: text('.c-service'), ring: text('.c-ring'), image: text('.c-image'), row: tr.textContent };
  }));
  const shown = await page.textContent('#shown');
  await context.close();
  assert.deepEqual(problems, []);
  return { rows, shown };
}

function assertTheTable({ rows, shown }) {
  const byService = Object.fromEntries(rows.map((r) => [r.service, r]));
  assert.deepEqual(Object.keys(byService).sort(), ['fabrikam-backend', 'hello-bedrock']);
  assert.equal(byService['hello-bedrock'].ring, 'dev');
  assert.equal(byService['fabrikam-backend'].ring, 'prod');
  assert.ok(byService['hello-bedrock'].row.includes('6080'), byService['hello-bedrock'].row);
  assert.ok(byService['fabrikam-backend'].row.includes('7010'), byService['fabrikam-backend'].row);
  assert.ok(!rows.some((r) => r.row.includes('other-team')), 'another partition is not shown');
  assert.match(shown, /2 deployments/);
}

test('spektate deployment dashboard serves the table of ~/.bedrock/config.yaml', { timeout: 90000 }, async () => {
  const { url, line } = await start(['deployment', 'dashboard', '-p', '0']);
  assert.match(line, /partition demo/);
  assertTheTable(await rowsAt(url, 2));
});

test("spektate dashboard serves the table the original dashboard's REACT_APP_* variables name", { timeout: 90000 }, async () => {
  const { url, line } = await start(['dashboard'], {
    // No settings file this time: only the original dashboard's environment.
    HOME: path.join(work, 'no-home'),
    REACT_APP_STORAGE_ACCOUNT_NAME: ACCOUNT,
    REACT_APP_STORAGE_ACCESS_KEY: KEY,
    REACT_APP_STORAGE_TABLE_NAME: 'deployments',
    REACT_APP_STORAGE_PARTITION_KEY: 'demo',
    REACT_APP_CACHE_REFRESH_INTERVAL_IN_SEC: '2',
    PORT: '0',
  });
  assert.match(line, /partition demo/);
  assert.match(line, /refreshing every 2 s/);
  assertTheTable(await rowsAt(url, 2));
});
