// Recording through a running `spektate serve` with a write token: the steps a local Recorder
// records arrive in the server's store, refusals reject with the code of their kind, and a
// retried request carries one Idempotency-Key.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Recorder, ServerRecorder, Tracker } from '@spektate/node'
import { COMMIT, HLD_COMMIT, MANIFEST_COMMIT, SOURCE, cliEnv, recordJourney, startPostgres, startServe, tempStore, thrown } from './support.mjs'

/** A fresh SQLite store spec for a server, in a folder removed after the test. */
function servedStore(t) {
  const dir = mkdtempSync(join(tmpdir(), 'spektate-served-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${join(dir, 'served.db')}`
}

const coded = (e, code, pattern) => {
  assert.ok(e instanceof Error, `not an Error: ${e}`)
  assert.equal(e.code, code, e.message)
  assert.match(e.message, pattern)
}

test('a journey recorded through a server reads back as recorded locally', async (t) => {
  const store = servedStore(t)
  const server = await startServe(t, store)
  const recorder = new ServerRecorder(server.url, { token: server.token, partition: 'fabrikam' })
  assert.deepEqual([recorder.server, recorder.partition], [server.url, 'fabrikam'])
  const ids = await recordJourney(recorder)
  const db = tempStore(t)
  await recordJourney(new Recorder(db, 'fabrikam'), 'flux')

  const [d, ...rest] = await new Tracker(store, { partition: 'fabrikam' }).deployments()
  const [local] = await new Tracker(db, { partition: 'fabrikam' }).deployments()
  assert.equal(rest.length, 0)
  assert.deepEqual(ids, [d.id, '101', d.id, '201', d.id, d.id, '301', 'west-europe'])
  assert.equal(d.id, local.id)
  assert.deepEqual([d.service, d.ring, d.imageTag, d.pr], ['frontend', 'prod', 'frontend-101', '7'])
  assert.deepEqual([d.commitId, d.hldCommitId, d.manifestCommitId], [COMMIT, HLD_COMMIT, MANIFEST_COMMIT])
  assert.deepEqual([d.status, d.synced, d.clusters.map((c) => c.cluster)], ['complete', true, ['west-europe']])
  assert.deepEqual([d.image.state, d.durationSecs, d.sourceRepo.url], ['succeeded', 7 * 60, SOURCE])
  assert.deepEqual([d.status, d.durationSecs, d.lastUpdated], [local.status, local.durationSecs, local.lastUpdated])

  // The same step again, and many at once, write no new record.
  const again = await Promise.all(Array.from({ length: 8 }, () =>
    recorder.imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: COMMIT, service: 'fabrikam/frontend' })))
  assert.deepEqual(again, Array(8).fill(d.id))
  assert.equal((await new Tracker(store, { partition: 'fabrikam' }).deployments()).length, 1)
})

test('refusals reject with the code of their kind, without the token', async (t) => {
  const store = servedStore(t)
  const server = await startServe(t, store)
  const recorder = new ServerRecorder(server.url, { token: server.token, partition: 'fabrikam' })
  // Checked with the server's rules before sending, named as a local Recorder names them.
  coded(await thrown(() => recorder.imageBuilt({ p1: '1', imageTag: ' ', commitId: 'c', service: 's' })), 'ConfigError', /imageTag: is empty/)
  coded(await thrown(() => recorder.runReported({ id: '1', status: 'completed', attempt: 1.5 })), 'ConfigError', /attempt/)
  coded(await thrown(() => recorder.runReported({ id: '1', status: 'completed', finishedAt: new Date('garbage') })), 'ConfigError', /^invalid finishedAt: Invalid Date/)
  // Refused by the server's linking rules.
  let e = await thrown(() => recorder.imageBuilt({ p1: '1', imageTag: 't-1', commitId: 'c', service: 's', repository: 'not a url' }))
  coded(e, 'ConfigError', /repository/)
  assert.equal(e.message, "invalid repository: 'not a url' is not an Azure DevOps, GitHub or GitLab repository URL")
  coded(await thrown(() => recorder.manifestCommitted({ p3: '404', manifestCommitId: 'abc1234' })), 'NotFoundError', /p3 '404'/)

  const wrong = new ServerRecorder(server.url, { token: 'spk_00000000_not-a-token-7f3a', partition: 'fabrikam' })
  e = await thrown(() => wrong.clusterSynced('east', 'abc1234'))
  coded(e, 'AuthError', /HTTP 401/)
  assert.ok(!e.message.includes('not-a-token-7f3a'), e.message)
  const other = new ServerRecorder(server.url, { token: server.otherToken, partition: 'fabrikam' })
  e = await thrown(() => other.clusterSynced('east', 'abc1234'))
  coded(e, 'AuthError', /HTTP 403/)
  assert.ok(!e.message.includes(server.otherToken), e.message)
  assert.deepEqual(await new Tracker(store, { partition: 'fabrikam' }).deployments(), [])

  const config = (fn, pattern) => assert.throws(fn, (e) => { coded(e, 'ConfigError', pattern); return true })
  config(() => new ServerRecorder(server.url, { token: '  ' }), /token: is empty/)
  config(() => new ServerRecorder(`http://ci:${server.token}@127.0.0.1:1`, { token: server.token }), /server: holds user info/)
  config(() => new ServerRecorder('spektate.example.com', { token: server.token }), /server: 'spektate.example.com' is not a server URL/)
  config(() => new ServerRecorder(server.url, { token: server.token, partition: 'a/b' }), /partition key/)
  assert.equal(new ServerRecorder(server.url, { token: server.token }).partition, 'default')
})

test('a server on PostgreSQL stores what Node records', async (t) => {
  const pg = await startPostgres(t, ['serve'])
  const url = pg.databases.serve
  const server = await startServe(t, url)
  const [id] = await recordJourney(new ServerRecorder(server.url, { token: server.token, partition: 'fabrikam' }))
  const [d, ...rest] = await new Tracker(url, { partition: 'fabrikam' }).deployments()
  assert.equal(rest.length, 0)
  assert.deepEqual([d.id, d.status, d.synced], [id, 'complete', true])
  assert.ok(!server.log().includes(pg.password))
})

test('the record example records through a server or into a store', async (t) => {
  const store = servedStore(t)
  const server = await startServe(t, store)
  const example = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'record.mjs')
  const run = (env) => spawnSync(process.execPath, [example, '--p1', '101', '--image-tag', 'frontend-101', '--commit-id', COMMIT,
    '--service', 'fabrikam/frontend', '--status', 'completed'], { encoding: 'utf8', env: { ...cliEnv(), SPEKTATE_PARTITION_KEY: 'fabrikam', ...env } })
  const through = run({ SPEKTATE_SERVER: server.url, SPEKTATE_TOKEN: server.token })
  assert.equal(through.status, 0, through.stderr)
  const local = run({ SPEKTATE_STORE: `sqlite:${tempStore(t)}` })
  assert.equal(local.status, 0, local.stderr)
  const [d] = await new Tracker(store, { partition: 'fabrikam' }).deployments()
  assert.deepEqual([through.stdout.trim(), local.stdout.trim()], [d.id, d.id])
  assert.equal(d.image.state, 'succeeded', 'the run was reported too')
  const refused = run({ SPEKTATE_SERVER: server.url })
  assert.equal(refused.status, 1)
  assert.match(refused.stderr, /record: ConfigError: invalid token: is empty/)
})

test('a retried request carries one Idempotency-Key', async (t) => {
  const seen = []
  const flaky = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      seen.push({ path: req.url, headers: req.headers, body: JSON.parse(body) })
      const [status, answer] = seen.length === 1
        ? [503, { error: 'busy' }]
        : [200, { id: '0123456789ab', partition: 'fabrikam', kind: 'image' }]
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(answer))
    })
  })
  await new Promise((resolve) => flaky.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => { flaky.closeAllConnections(); flaky.close(resolve) }))
  const recorder = new ServerRecorder(`http://127.0.0.1:${flaky.address().port}/`, { token: 'spk_test', partition: 'fabrikam' })
  assert.equal(await recorder.imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: COMMIT, service: 'frontend' }), '0123456789ab')
  assert.deepEqual(seen.map((s) => s.path), Array(2).fill('/api/records/image?partition=fabrikam'))
  const keys = seen.map((s) => s.headers['idempotency-key'])
  assert.equal(keys[0], keys[1])
  assert.equal(keys[0].length, 32)
  assert.equal(seen[0].headers.authorization, 'Bearer spk_test')
  assert.deepEqual(seen[0].body, { p1: '101', imageTag: 'frontend-101', commitId: COMMIT, service: 'frontend' })
})
