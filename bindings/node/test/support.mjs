// Shared by the tests: fresh store paths, the Fabrikam journey, a local fake of the Azure DevOps
// REST API, a private PostgreSQL server and a running `spektate serve` with write tokens.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const GOOD_TOKEN = 'azdo-good-pat-0123456789'
export const BAD_TOKEN = 'azdo-revoked-pat-9876543210'

export const SOURCE = 'https://github.com/fabrikam/frontend'
export const HLD = 'https://github.com/fabrikam/hld'
export const MANIFESTS = 'https://github.com/fabrikam/manifests'
export const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
export const HLD_COMMIT = 'b2c3d4e5f60718293a4b5c6d7e8f9012345678a1'
export const MANIFEST_COMMIT = 'c3d4e5f60718293a4b5c6d7e8f9012345678a1b2'
export const T0 = new Date('2026-11-26T10:00:00Z')
export const at = (minutes) => new Date(T0.getTime() + minutes * 60_000)

/**
 * What the three pipelines and the cluster of the Fabrikam flow say, in order, to a `Recorder`
 * or a `ServerRecorder`; what each call resolved to. `reporter` names the cluster's reporter
 * (a `Recorder` only).
 */
export async function recordJourney(recorder, reporter) {
  return [
    await recorder.imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: COMMIT, service: 'fabrikam/frontend', repository: SOURCE }),
    await recorder.runReported({ id: '101', status: 'completed', result: 'succeeded', queuedAt: T0, startedAt: T0, finishedAt: at(4) }),
    await recorder.metadataUpdated({ p2: '201', imageTag: 'frontend-101', hldCommitId: HLD_COMMIT, env: 'prod', pr: '7', repository: HLD }),
    await recorder.runReported({ id: '201', status: 'completed', result: 'succeeded', queuedAt: at(5), startedAt: at(5), finishedAt: at(6) }),
    await recorder.manifestGenerated({ p3: '301', hldCommitId: HLD_COMMIT, pr: '7', repository: MANIFESTS }),
    await recorder.manifestCommitted({ p3: '301', manifestCommitId: MANIFEST_COMMIT }),
    await recorder.runReported({ id: '301', status: 'completed', queuedAt: at(20), startedAt: at(20), finishedAt: at(22), attempt: 1 }),
    await recorder.clusterSynced('west-europe', MANIFEST_COMMIT, ...(reporter ? [reporter] : [])),
  ]
}

/** A fresh directory with the path of a store in it; removed after the test. */
export function tempStore(t) {
  const dir = mkdtempSync(join(tmpdir(), 'spektate-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'spektate.db')
}

function build(id, number, status, result) {
  const b = {
    id: Number(id),
    buildNumber: number,
    status,
    queueTime: '2026-11-26T10:00:00.000Z',
    startTime: '2026-11-26T10:00:05.000Z',
    lastChangedDate: '2026-11-26T10:04:00.000Z',
    definition: { id: 7, name: 'frontend-image' },
    sourceBranch: 'refs/heads/main',
    sourceVersion: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    requestedFor: { displayName: 'Mona Lisa' },
    _links: { web: { href: `https://dev.azure.com/fabrikam/hello/_build/results?buildId=${id}` } },
  }
  if (status === 'completed') {
    b.result = result
    b.finishTime = '2026-11-26T10:04:00.000Z'
  }
  return b
}

/**
 * An Azure DevOps organisation `fabrikam` with project `hello` on 127.0.0.1 (a free port),
 * accepting only GOOD_TOKEN as basic auth with an empty user; closed after the test.
 */
export async function fakeAzureDevOps(t) {
  const builds = new Map([
    ['101', build('101', '20261126.1', 'completed', 'succeeded')],
    ['301', build('301', '20261126.7', 'inProgress')],
  ])
  const seen = []
  const expected = 'Basic ' + Buffer.from(`:${GOOD_TOKEN}`).toString('base64')
  const server = createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(body))
    }
    seen.push({ path: req.url, auth: req.headers.authorization })
    if (req.headers.authorization !== expected) {
      return send(401, { message: 'TF400813: The user is not authorized to access this resource.' })
    }
    const url = new URL(req.url, 'http://127.0.0.1')
    if (url.pathname === '/fabrikam/_apis/projects/hello') {
      return send(200, { id: '6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c', name: 'hello', state: 'wellFormed' })
    }
    if (url.pathname === '/fabrikam/hello/_apis/build/builds') {
      const found = (url.searchParams.get('buildIds') ?? '').split(',').filter((id) => builds.has(id)).map((id) => builds.get(id))
      return send(200, { count: found.length, value: found })
    }
    return send(404, { message: `no route ${url.pathname}` })
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  const url = `http://127.0.0.1:${server.address().port}`
  return { url, orgUrl: `${url}/fabrikam`, seen }
}

/** Runs `fn` and returns what it threw (or rejected with); fails when it did not. */
export async function thrown(fn) {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('expected an error, none was thrown')
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** A binary of this checkout's debug build (or the one the variable `env` names). */
function built(env, name, how) {
  const path = process.env[env] || join(ROOT, 'target', 'debug', name)
  if (!existsSync(path)) throw new Error(`${name} is not at ${path}: build it with \`${how}\` or set ${env}`)
  return path
}

/** The spektate CLI of this checkout. */
export const cli = () => built('SPEKTATE_CLI', 'spektate', 'cargo build -p spektate-cli')

/** The environment without the settings of a spektate command. */
export function cliEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SPEKTATE_')))
}

/** The first line a child prints on stdout; rejects when it ends first. */
function firstLine(child, what) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    let stderr = ''
    child.stderr?.on('data', (d) => { stderr += d })
    lines.once('line', (line) => { lines.close(); resolve(line) })
    child.once('exit', (code) => reject(new Error(`${what} ended (${code}) before printing a line: ${stderr}`)))
    child.once('error', reject)
  })
}

/** Resolves when `child` has ended; SIGKILL after `ms` if it has not. */
function ended(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
}

/**
 * A private PostgreSQL server (spektate-test-postgres) with an empty database per name:
 * `{ url, password, databases, stop }`. Stopped after the test `t` when given (else by `stop()`),
 * also when it fails: closing the helper's input stops it, and its watchdog stops the server if
 * the helper dies.
 */
export async function startPostgres(t, names) {
  const helper = built('SPEKTATE_TEST_POSTGRES', 'spektate-test-postgres',
    'cargo build -p spektate-bindings-common --features testkit --bin spektate-test-postgres')
  const child = spawn(helper, names, { stdio: ['pipe', 'pipe', 'pipe'] })
  const stop = async () => {
    child.stdin.end()
    await ended(child, 60_000)
  }
  t?.after(stop)
  let line
  try {
    line = await firstLine(child, 'spektate-test-postgres')
  } catch (e) {
    await stop()
    throw e
  }
  const { url, databases } = JSON.parse(line)
  return { url, password: new URL(url).password, databases, stop }
}

/**
 * `spektate serve` on a free port over `store`, partition `fabrikam`, with a write token for
 * `fabrikam` and one for `other`: `{ url, token, otherToken, log }`. Stopped after the test.
 */
export async function startServe(t, store) {
  const dir = mkdtempSync(join(tmpdir(), 'spektate-serve-'))
  const tokens = join(dir, 'tokens.json')
  const create = (name, partition) => execFileSync(cli(),
    ['token', 'create', name, '--tokens', tokens, '--partition', partition],
    { encoding: 'utf8', env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  const token = create('ci-fabrikam', 'fabrikam')
  const otherToken = create('ci-other', 'other')
  const log = join(dir, 'serve.log')
  const stderr = openSync(log, 'w')
  const child = spawn(cli(), ['serve', '--store', store, '-p', 'fabrikam', '--port', '0', '--refresh', '1', '--tokens', tokens],
    { stdio: ['ignore', 'pipe', stderr], env: cliEnv() })
  closeSync(stderr)
  t.after(async () => {
    child.kill('SIGTERM')
    await ended(child, 20_000)
    rmSync(dir, { recursive: true, force: true })
  })
  const line = await firstLine(child, 'spektate serve').catch((e) => { throw new Error(`${e.message}${readFileSync(log, 'utf8')}`) })
  const port = /http:\/\/127\.0\.0\.1:(\d+)/.exec(line)
  if (!port) throw new Error(`spektate serve printed no address: ${line}\n${readFileSync(log, 'utf8')}`)
  return { url: `http://127.0.0.1:${port[1]}`, token, otherToken, log: () => readFileSync(log, 'utf8') }
}
