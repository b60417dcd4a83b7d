// Shared by the tests: fresh store paths and a local fake of the Azure DevOps REST API.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const GOOD_TOKEN = 'azdo-good-pat-0123456789'
export const BAD_TOKEN = 'azdo-revoked-pat-9876543210'

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
