// A full journey recorded through the addon into a SQLite file and read back.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Recorder, Store, Tracker } from '@spektate/node'
import { COMMIT, HLD_COMMIT, MANIFEST_COMMIT, SOURCE, T0, at, recordJourney, tempStore } from './support.mjs'

test('a recorded journey reads back as one complete, synced deployment', async (t) => {
  const db = tempStore(t)
  await recordJourney(new Recorder(`sqlite:${db}`, 'fabrikam'), 'flux')
  const [d, ...rest] = await new Tracker(db, { partition: 'fabrikam' }).deployments()
  assert.equal(rest.length, 0)
  assert.deepEqual([d.service, d.ring, d.imageTag, d.pr], ['frontend', 'prod', 'frontend-101', '7'])
  assert.deepEqual([d.commitId, d.hldCommitId, d.manifestCommitId], [COMMIT, HLD_COMMIT, MANIFEST_COMMIT])
  assert.equal(d.status, 'complete')
  assert.equal(d.kind, 'deployment')
  assert.ok(d.synced)
  assert.deepEqual(d.clusters.map((c) => [c.cluster, c.commit, c.tagger]), [['west-europe', MANIFEST_COMMIT, 'flux']])
  assert.ok(d.clusters[0].syncedAt instanceof Date)
  assert.deepEqual([d.image.id, d.metadata.id, d.manifest.id], ['101', '201', '301'])
  assert.deepEqual([d.image.state, d.metadata.state, d.manifest.state], ['succeeded', 'succeeded', 'succeeded'])
  assert.equal(d.image.run.result, 'succeeded')
  assert.deepEqual(d.image.run.queuedAt, T0)
  assert.deepEqual(d.image.run.finishedAt, at(4))
  assert.equal(d.sourceRepo.url, SOURCE)
  assert.equal(d.sourceRepo.provider, 'github')
  assert.deepEqual([d.hldRepo.owner, d.hldRepo.name, d.hldRepo.project], ['fabrikam', 'hld', null])
  assert.equal(d.durationSecs, 7 * 60, 'p1 4 min + p2 1 min + p3 2 min')
  assert.ok(d.lastUpdated instanceof Date)
  assert.deepEqual(d.lastUpdated, at(22))
  assert.equal(d.record.service, 'fabrikam/frontend')
  assert.equal(d.record.rowKey, d.id)
  assert.ok(d.record.timestamp instanceof Date)
  assert.equal(d.author, null)
  assert.deepEqual(d.warnings, [])
  assert.equal(JSON.parse(JSON.stringify(d)).lastUpdated, '2026-11-26T10:22:00.000Z')
})

test('the same deployments as spektate get', async (t) => {
  const db = tempStore(t)
  await recordJourney(new Recorder(db, 'fabrikam'), 'flux')
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
  const cli = process.env.SPEKTATE_CLI || join(root, 'target', 'debug', 'spektate')
  assert.ok(existsSync(cli), `the spektate CLI is not at ${cli}: build it with \`cargo build -p spektate-cli\` or set SPEKTATE_CLI`)
  const get = (...args) => execFileSync(cli, ['get', '--store', `sqlite:${db}`, '-p', 'fabrikam', ...args], { encoding: 'utf8' })
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  const mine = await tracker.deployments()
  const theirs = JSON.parse(get('-o', 'json'))
  assert.deepEqual(mine.map((d) => [d.id, d.status, d.service, d.ring, d.imageTag, d.durationSecs]),
    theirs.map((d) => [d.id, d.status, d.service, d.ring, d.imageTag, d.durationSecs]))
  assert.deepEqual(mine.map((d) => d.lastUpdated.getTime()), theirs.map((d) => Date.parse(d.lastUpdated)))
  assert.equal(await tracker.table(), get())
  assert.equal(await tracker.table(undefined, true), get('-o', 'wide'))
})

test('run reports and records come back with their values', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(Store.open(db, { create: true }), 'fabrikam')
  assert.equal(recorder.partition, 'fabrikam')
  const rec = await recorder.imageBuilt({ p1: '102', imageTag: 'backend-102', commitId: 'd4e5f60', service: 'backend' })
  assert.deepEqual([rec.p1, rec.imageTag, rec.partitionKey, rec.rowKey.length], ['102', 'backend-102', 'fabrikam', 12])
  const report = await recorder.runReported({ id: '102', status: 'inProgress', queuedAt: T0 })
  assert.deepEqual([report.status, report.result], ['inProgress', null])
  assert.deepEqual(report.queuedAt, T0)
  const rec2 = await recorder.metadataUpdated({ p2: '202', imageTag: 'backend-102', hldCommitId: 'e5f6071', env: 'dev' })
  assert.equal(rec2.rowKey, rec.rowKey, 'metadata of the same image updates its record')
  const sync = await recorder.clusterSynced('east', 'f60718293a')
  assert.equal(sync.cluster, 'east')
  assert.ok(sync.syncedAt instanceof Date)
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  const [d] = await tracker.deployments()
  assert.equal(d.status, 'inProgress')
  assert.equal(d.image.state, 'inProgress')
  assert.equal(d.metadata.state, 'unknown', 'no report for p2 yet')
  const stats = await tracker.refresh()
  assert.deepEqual([stats.recordsRead, stats.recordsChanged, stats.deployments], [0, 0, 1], 'nothing was written since the last read')
})

test('filters pick deployments like spektate get', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(db, 'fabrikam')
  const rings = [['frontend', 'dev'], ['frontend', 'prod'], ['backend', 'prod']]
  for (const [i, [service, env]] of rings.entries()) {
    const imageTag = `${service}-${i}`
    await recorder.imageBuilt({ p1: `1${i}`, imageTag, commitId: `${i}a1b2c3d4e5`, service })
    await recorder.metadataUpdated({ p2: `2${i}`, imageTag, hldCommitId: `${i}f6e5d4c3b2`, env })
    await recorder.runReported({ id: `1${i}`, status: 'completed', queuedAt: at(i), startedAt: at(i) })
  }
  await recorder.manifestGenerated({ p3: '399', hldCommitId: '9999999aaaa' }) // a manual HLD edit
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  const tags = async (filter) => (await tracker.deployments(filter)).map((d) => d.imageTag ?? d.kind).sort()
  assert.deepEqual(await tags({ service: 'frontend' }), ['frontend-0', 'frontend-1'])
  assert.deepEqual(await tags({ ring: 'PROD' }), ['backend-2', 'frontend-1'])
  assert.deepEqual(await tags({ service: 'frontend', ring: 'prod' }), ['frontend-1'])
  assert.deepEqual(await tags({ kind: 'manualHldEdit' }), ['manualHldEdit'])
  assert.deepEqual(await tags({ kind: 'deployment', status: 'incomplete' }), ['backend-2', 'frontend-0', 'frontend-1'])
  assert.deepEqual(await tags({ runId: '21' }), ['frontend-1'])
  assert.deepEqual(await tags({ commit: '2a1b2c3d' }), ['backend-2'])
  assert.equal((await tracker.deployments({ top: 2 })).length, 2)
  assert.deepEqual(await tags({ keyword: 'backend' }), ['backend-2'])
})

test('stores print what they are, never a credential', (t) => {
  const db = tempStore(t)
  assert.equal(Store.open(db, { create: true }).description, `sqlite:${db}`)
  assert.equal(Store.memory().description, 'memory')
})
