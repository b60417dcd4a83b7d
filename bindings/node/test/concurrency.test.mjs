// Many pipelines record at once through parallel Promises, and nothing is lost; the event loop
// runs on while the calls wait.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { test } from 'node:test'

import { Recorder, ServerRecorder, Tracker } from '@spektate/node'
import { tempStore } from './support.mjs'

test('parallel recorders on one store lose no write, even two rings updating one record', async (t) => {
  const db = tempStore(t)
  await new Recorder(db).imageBuilt({ p1: '0', imageTag: 'warmup-0', commitId: '0000000', service: 'warmup' })
  const tracker = new Tracker(db)
  const images = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      // Each pipeline opens the store itself, as separate agents would.
      new Recorder(db).imageBuilt({ p1: `1${i}`, imageTag: `svc${i}-${i}`, commitId: String(i).padStart(7, '0'), service: `svc${i}` }),
    ),
  )
  const [rings, reads] = await Promise.all([
    Promise.all(
      images.flatMap((_, i) =>
        ['dev', 'prod'].map((env) =>
          new Recorder(db).metadataUpdated({ p2: `${env}${i}`, imageTag: `svc${i}-${i}`, hldCommitId: `${env}${String(i).padStart(5, '0')}`, env }),
        ),
      ),
    ),
    Promise.all(Array.from({ length: 4 }, () => tracker.deployments())),
  ])
  assert.equal(new Set(images.map((r) => r.rowKey)).size, 8)
  const ringKeys = new Set(rings.map((r) => r.rowKey))
  assert.equal(ringKeys.size, 16, 'one ring updated the image record, the other copied it')
  assert.ok(images.every((r) => ringKeys.has(r.rowKey)))
  // Each read sees a whole store at some moment: the warm-up, and at most every record.
  assert.ok(reads.every((r) => r.length >= 1 && r.length <= 1 + 16), JSON.stringify(reads.map((r) => r.length)))
  await tracker.refresh()
  const deployments = await tracker.deployments()
  assert.equal(deployments.length, 1 + 16)
  const pairs = deployments.filter((d) => d.service !== 'warmup').map((d) => `${d.service}/${d.ring}`).sort()
  assert.deepEqual(pairs, Array.from({ length: 8 }, (_, i) => [`svc${i}/dev`, `svc${i}/prod`]).flat().sort())
})

/** How long the slow server holds each request, in milliseconds. */
const HOLD_MS = 2000

// A server holding each request HOLD_MS before it answers as Spektate's write API
// (`POST /api/records/image`) or Azure DevOps (`GET .../_apis/build/builds`) would; it prints
// its URL, then each request it was asked.
const SLOW_SERVER = `
const { createServer } = require('node:http')
const hold = Number(process.env.HOLD_MS)
const build = {
  id: 101, buildNumber: '20261126.1', status: 'completed', result: 'succeeded',
  queueTime: '2026-11-26T10:00:00.000Z', startTime: '2026-11-26T10:00:05.000Z',
  finishTime: '2026-11-26T10:04:00.000Z', lastChangedDate: '2026-11-26T10:04:00.000Z',
  definition: { id: 7, name: 'frontend-image' }, sourceBranch: 'refs/heads/main',
  sourceVersion: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', requestedFor: { displayName: 'Mona Lisa' },
  _links: { web: { href: 'https://dev.azure.com/fabrikam/hello/_build/results?buildId=101' } },
}
const server = createServer((req, res) => {
  req.resume()
  const url = new URL(req.url, 'http://127.0.0.1')
  console.log(req.method + ' ' + url.pathname)
  const send = (status, body) => setTimeout(() => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
    res.end(JSON.stringify(body))
  }, hold)
  if (req.method === 'POST' && url.pathname === '/api/records/image') {
    return send(200, { id: '0123456789ab', partition: url.searchParams.get('partition'), kind: 'image' })
  }
  if (req.method === 'GET' && url.pathname === '/fabrikam/hello/_apis/build/builds') {
    const found = (url.searchParams.get('buildIds') ?? '').split(',').includes('101') ? [build] : []
    return send(200, { count: found.length, value: found })
  }
  return send(404, { message: 'no route ' + url.pathname })
})
server.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + server.address().port))
`

/**
 * The slow server, in another process: an addon call that held up this event loop could not
 * hold it up, so such a call is slow, not stuck. `{ url, asked }`; stopped after the test.
 */
async function slowServer(t) {
  const child = spawn(process.execPath, ['-e', SLOW_SERVER], { env: { ...process.env, HOLD_MS: String(HOLD_MS) }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { child.kill('SIGKILL') })
  const lines = createInterface({ input: child.stdout })
  const asked = []
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the slow server ended (${code})`)))
    lines.on('line', (line) => (line.startsWith('http://') ? resolve(line) : asked.push(line)))
  })
  return { url, asked }
}

test('the event loop runs on while a recorder and a tracker wait on a slow server at once', async (t) => {
  const { url, asked } = await slowServer(t)
  const db = tempStore(t)
  await new Recorder(db, 'hello').imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: 'a1b2c3d4e5f6', service: 'frontend' })
  const recorder = new ServerRecorder(url, { partition: 'fabrikam', token: 'spk_concurrency-test' })
  const tracker = new Tracker(db, { partition: 'hello', azureDevOps: { org: 'fabrikam', project: 'hello', token: 'azdo-pat', url } })
  const timed = async (call) => {
    const t0 = performance.now()
    const value = await call()
    return { value, took: performance.now() - t0 }
  }
  let ticks = 0
  const timer = setInterval(() => { ticks += 1 }, 10)
  const t0 = performance.now()
  let write, read
  try {
    [write, read] = await Promise.all([
      timed(() => recorder.imageBuilt({ p1: '102', imageTag: 'frontend-102', commitId: 'b2c3d4e5f6a7', service: 'frontend' })),
      timed(() => tracker.deployments()),
    ])
  } finally {
    clearInterval(timer)
  }
  const elapsed = performance.now() - t0
  assert.equal(write.value, '0123456789ab')
  const [d] = read.value
  assert.equal(d.image.run?.number, '20261126.1', JSON.stringify(d.warnings))
  const took = JSON.stringify({ write: write.took, read: read.took })
  assert.ok(write.took >= HOLD_MS * 0.9 && read.took >= HOLD_MS * 0.9, `each call waited on the slow server: ${took}`)
  assert.ok(elapsed < HOLD_MS * 1.8, `the two calls ran one after the other (${elapsed.toFixed(0)} ms, each ${took})`)
  // A tick each 10 ms: about 100 a second when the event loop is free, none while a call blocks it.
  assert.ok(ticks >= 20, `the timer fired ${ticks} times in ${elapsed.toFixed(0)} ms of calls`)
  assert.ok(asked.includes('POST /api/records/image') && asked.includes('GET /fabrikam/hello/_apis/build/builds'), JSON.stringify(asked))
})

test('parallel calls share one tracker', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(db, 'fabrikam')
  const records = await Promise.all(
    Array.from({ length: 16 }, (_, i) => recorder.imageBuilt({ p1: String(500 + i), imageTag: `api-${i}`, commitId: String(i).padStart(7, '0'), service: 'api' })),
  )
  assert.equal(new Set(records.map((r) => r.rowKey)).size, 16)
  await Promise.all(records.map((r) => recorder.runReported({ id: r.p1, status: 'inProgress' })))
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  const [everything, top3, stats, running, table] = await Promise.all([
    tracker.deployments(),
    tracker.deployments({ service: 'api', top: 3 }),
    tracker.refresh(),
    tracker.deployments({ status: 'inProgress' }),
    tracker.table(),
  ])
  assert.equal(everything.length, 16)
  assert.equal(top3.length, 3)
  assert.equal(running.length, 16)
  assert.equal(stats.deployments, 16)
  assert.equal(table.split('api-').length - 1, 16)
})
