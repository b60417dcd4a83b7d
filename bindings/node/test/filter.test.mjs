// A filter takes the words of `spektate get` and the dashboard as well as the JSON words.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
import { tempStore } from './support.mjs'

const at = (minutes) => new Date(Date.UTC(2026, 10, 26, 10, minutes))

/** frontend-1 went all the way (complete), frontend-2 is building, one change was made in the HLD. */
async function trackerOfThree(t) {
  const db = tempStore(t)
  const recorder = new Recorder(db, 'fabrikam')
  await recorder.imageBuilt({ p1: '11', imageTag: 'frontend-1', commitId: '1a1b2c3d4e5', service: 'frontend' })
  await recorder.metadataUpdated({ p2: '21', imageTag: 'frontend-1', hldCommitId: '1f6e5d4c3b2', env: 'prod' })
  await recorder.manifestGenerated({ p3: '31', hldCommitId: '1f6e5d4c3b2' })
  await recorder.manifestCommitted({ p3: '31', manifestCommitId: '1c0ffee1234' })
  for (const [i, id] of ['11', '21', '31'].entries()) {
    await recorder.runReported({ id, status: 'completed', queuedAt: at(i), startedAt: at(i), finishedAt: at(i) })
  }
  await recorder.imageBuilt({ p1: '12', imageTag: 'frontend-2', commitId: '2a1b2c3d4e5', service: 'frontend' })
  await recorder.runReported({ id: '12', status: 'inProgress', queuedAt: at(5) })
  await recorder.manifestGenerated({ p3: '399', hldCommitId: '9999999aaaa' })
  return new Tracker(db, { partition: 'fabrikam' })
}

test('status and kind take the JSON words, the command-line spellings and succeeded', async (t) => {
  const tracker = await trackerOfThree(t)
  const tags = async (filter) => (await tracker.deployments(filter)).map((d) => d.imageTag ?? d.kind).sort()
  for (const status of ['inProgress', 'in-progress', 'In Progress']) {
    assert.deepEqual(await tags({ status }), ['frontend-2'], status)
  }
  for (const status of ['complete', 'succeeded']) {
    assert.deepEqual(await tags({ status }), ['frontend-1'], status)
  }
  for (const kind of ['manualHldEdit', 'manual-hld-edit']) {
    assert.deepEqual(await tags({ kind }), ['manualHldEdit'], kind)
  }
  const [complete] = await tracker.deployments({ status: 'succeeded' })
  assert.equal(complete.status, 'complete', 'results keep the JSON word')
  assert.equal(await tracker.table({ status: 'in-progress' }, true), await tracker.table({ status: 'inProgress' }, true))
})

test('a wrong word is a ConfigError listing the JSON words', async (t) => {
  const tracker = await trackerOfThree(t)
  await assert.rejects(tracker.deployments({ status: 'done' }), (e) => e.code === 'ConfigError' &&
    e.message === "invalid status: 'done' is not one of complete, inProgress, failed, canceled, incomplete")
  await assert.rejects(tracker.table({ kind: 'image' }), (e) => e.code === 'ConfigError' &&
    e.message === "invalid kind: 'image' is not one of deployment, manualHldEdit")
})

test('top is a whole number of 1 or more; anything else is a ConfigError naming it and the value', async (t) => {
  const tracker = await trackerOfThree(t)
  assert.equal((await tracker.deployments({ top: 2 })).length, 2)
  assert.equal((await tracker.deployments({ top: 1e20 })).length, 3, 'a count past any store is all of them')
  const calls = [(top) => tracker.deployments({ top }), (top) => tracker.table({ top }), (top) => tracker.metrics({ top })]
  for (const call of calls) {
    for (const [top, shown] of [[2.5, '2.5'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']]) {
      await assert.rejects(call(top), (e) => e.code === 'ConfigError' &&
        e.message === `invalid top: ${shown} is not a whole number such as 10`, String(top))
    }
    for (const top of [0, -1]) {
      await assert.rejects(call(top), (e) => e.code === 'ConfigError' &&
        e.message === `invalid top: ${top} shows nothing; give 1 or more`, String(top))
    }
  }
})
