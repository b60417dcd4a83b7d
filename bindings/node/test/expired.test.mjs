// A deployment whose runs the CI no longer has (retention): `expired`, and shown only when a
// filter asks with `includeExpired`.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
import { GOOD_TOKEN, fakeAzureDevOps, tempStore } from './support.mjs'

test('a deployment whose runs are gone is expired and shown only when asked', async (t) => {
  const azdo = await fakeAzureDevOps(t)
  const db = tempStore(t)
  const recorder = new Recorder(db, 'hello')
  // The fake organisation has build 101, and no build 999 (any more).
  await recorder.imageBuilt({ p1: '999', imageTag: 'frontend-99', commitId: 'd4e5f6a7b8c9', service: 'frontend' })
  await recorder.imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: 'a1b2c3d4e5f6', service: 'frontend' })
  const settings = { org: 'fabrikam', project: 'hello', token: GOOD_TOKEN, url: azdo.url }
  const tracker = new Tracker(db, { partition: 'hello', azureDevOps: settings })

  const shown = await tracker.deployments()
  assert.deepEqual(shown.map((d) => [d.imageTag, d.expired]), [['frontend-101', false]])
  const every = await tracker.deployments({ includeExpired: true })
  assert.deepEqual(every.map((d) => [d.imageTag, d.expired]).sort(), [['frontend-101', false], ['frontend-99', true]])
  const gone = every.find((d) => d.expired)
  assert.equal(gone.image.state, 'expired')
  assert.equal((await tracker.deployments({ service: 'frontend', includeExpired: false })).length, 1)
  assert.match(await tracker.table({ includeExpired: true }), /frontend-99/)
  assert.doesNotMatch(await tracker.table(), /frontend-99/)
})
