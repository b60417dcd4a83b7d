// Many pipelines record at once through parallel Promises, and nothing is lost.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
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
  assert.ok(reads.every((r) => r.length >= 1))
  await tracker.refresh()
  const deployments = await tracker.deployments()
  assert.equal(deployments.length, 1 + 16)
  const pairs = deployments.filter((d) => d.service !== 'warmup').map((d) => `${d.service}/${d.ring}`).sort()
  assert.deepEqual(pairs, Array.from({ length: 8 }, (_, i) => [`svc${i}/dev`, `svc${i}/prod`]).flat().sort())
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
