// DORA metrics and the ETA through the addon, on a recorded history with known times: the
// figures worked out by hand, the same document as `spektate metrics -o json`, and the ETA of a
// deployment on its way.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
import { cli, cliEnv, tempStore } from './support.mjs'

const MONDAY = new Date('2026-11-02T00:00:00Z') // ISO week 2026-W45
const UNTIL = new Date('2026-11-16T00:00:00Z')
const MIN = 60_000
const HOUR = 3600
const plus = (t, minutes) => new Date(t.getTime() + minutes * MIN)
const hex = (n, fill) => fill.repeat(32) + n.toString(16).padStart(8, '0')

// service, day, hour, then minutes of the image, metadata and manifest runs, each queued when the
// one before finished; a metadata run of 'failed' fails after 5 minutes (no manifests follow).
const HISTORY = [
  ['frontend', 0, 9, 10, 5, 5], // lead 20 min
  ['frontend', 1, 9, 10, 10, 10], // 30 min
  ['frontend', 2, 9, 10, 'failed', 0], // failed at 09:15
  ['frontend', 2, 12, 20, 10, 10], // 40 min, done 12:40: restores the failure in 3 h 25 min
  ['backend', 3, 9, 30, 10, 20], // 60 min
  ['backend', 4, 9, 10, 'failed', 0], // failed; nothing restores it
  ['frontend', 5, 9, 10, 10, 20], // 40 min
  ['frontend', 7, 9, 10, 10, 10], // 30 min, the Monday of 2026-W46
]

async function recordHistory(recorder) {
  for (const [i, [service, day, hour, image, metadata, manifests]] of HISTORY.entries()) {
    const n = i + 1
    const [imageTag, p1, p2, p3] = [`${service}-${n}`, `1${n}`, `2${n}`, `3${n}`]
    let t = plus(MONDAY, (day * 24 + hour) * 60)
    let done = plus(t, image)
    await recorder.imageBuilt({ p1, imageTag, commitId: hex(n, 'a'), service: `fabrikam/${service}` })
    await recorder.runReported({ id: p1, status: 'completed', result: 'succeeded', queuedAt: t, startedAt: t, finishedAt: done })
    await recorder.metadataUpdated({ p2, imageTag, hldCommitId: hex(n, 'b'), env: 'prod', service: `fabrikam/${service}` })
    const failed = metadata === 'failed'
    ;[t, done] = [done, plus(done, failed ? 5 : metadata)]
    await recorder.runReported({ id: p2, status: 'completed', result: failed ? 'failed' : 'succeeded', queuedAt: t, startedAt: t, finishedAt: done })
    if (failed) continue
    await recorder.manifestGenerated({ p3, hldCommitId: hex(n, 'b') })
    await recorder.manifestCommitted({ p3, manifestCommitId: hex(n, 'c') })
    ;[t, done] = [done, plus(done, manifests)]
    await recorder.runReported({ id: p3, status: 'completed', result: 'succeeded', queuedAt: t, startedAt: t, finishedAt: done })
  }
}

async function history(t) {
  const db = tempStore(t)
  await recordHistory(new Recorder(db, 'fabrikam'))
  return db
}

test('the four figures are the ones worked out by hand', async (t) => {
  const tracker = new Tracker(await history(t), { partition: 'fabrikam' })
  const m = await tracker.metrics({ since: MONDAY, until: UNTIL })
  assert.deepEqual([m.since, m.until, m.by, m.groups], [MONDAY, UNTIL, null, []])
  assert.match(m.leadTimeFrom, /queue time/)
  const f = m.overall.deploymentFrequency
  assert.deepEqual([f.completed, f.days, f.perWeek, f.band], [6, 14, 3, 'high'])
  assert.ok(Math.abs(f.perDay - 6 / 14) < 1e-9)
  // Lead times 20, 30, 30, 40, 40, 60 min: median (30 + 40) / 2, p90 the sixth by nearest rank.
  const lt = m.overall.leadTime
  assert.deepEqual([lt.count, lt.live, lt.medianSecs, lt.p90Secs, lt.band], [6, 0, 35 * 60, HOUR, 'elite'])
  // No repository provider here: every lead time starts at the queue time.
  assert.equal(lt.fromCommit, 0)
  // Image 90 min, metadata 55, manifests 75 of 220; no approval, no cluster.
  const want = { commit: 0, image: 90 / 220, metadata: 55 / 220, approval: 0, manifests: 75 / 220, sync: 0 }
  for (const [k, v] of Object.entries(want)) assert.ok(Math.abs(lt.shares[k] - v) < 1e-9, k)
  assert.deepEqual(m.overall.changeFailureRate, { failed: 2, finished: 8, rate: 0.25, band: 'low' })
  assert.deepEqual(m.overall.timeToRestore, { restorations: 1, unrestored: 1, medianSecs: 3 * HOUR + 25 * 60, band: 'high' })
})

test('by service and week, with filter criteria', async (t) => {
  const tracker = new Tracker(await history(t), { partition: 'fabrikam' })
  const m = await tracker.metrics({ since: MONDAY, until: UNTIL, by: 'service' })
  assert.equal(m.by, 'service')
  assert.deepEqual(m.groups.map((g) => g.key), ['backend', 'frontend'])
  const [backend, frontend] = m.groups
  assert.deepEqual([backend.deploymentFrequency.completed, backend.changeFailureRate.rate, backend.leadTime.medianSecs], [1, 0.5, HOUR])
  assert.deepEqual([backend.timeToRestore.unrestored, backend.timeToRestore.medianSecs], [1, null])
  // Frontend: 20, 30, 30, 40, 40 min; one failure of six, restored.
  assert.deepEqual([frontend.leadTime.medianSecs, frontend.leadTime.p90Secs], [30 * 60, 40 * 60])
  assert.deepEqual([frontend.changeFailureRate.failed, frontend.changeFailureRate.finished, frontend.timeToRestore.restorations], [1, 6, 1])
  const weeks = await tracker.metrics({ since: MONDAY, until: UNTIL, by: 'week' })
  assert.deepEqual(weeks.groups.map((g) => [g.key, g.deploymentFrequency.completed, g.deploymentFrequency.days]),
    [['2026-W45', 5, 7], ['2026-W46', 1, 7]])
  const only = await tracker.metrics({ since: MONDAY, until: UNTIL, service: 'backend' })
  const { key, ...figures } = backend
  assert.equal(key, 'backend')
  assert.deepEqual(only.overall, figures)
})

test('the same document as spektate metrics -o json', async (t) => {
  const db = await history(t)
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  for (const by of ['service', 'ring', 'week']) {
    const out = execFileSync(cli(), ['metrics', '--store', `sqlite:${db}`, '-p', 'fabrikam', '--since', '2026-11-02',
      '--until', '2026-11-16', '--by', by, '-o', 'json'], { encoding: 'utf8', env: cliEnv() })
    const mine = JSON.parse(JSON.stringify(await tracker.metrics({ since: MONDAY, until: UNTIL, by })))
    const theirs = JSON.parse(out)
    // Dates print with milliseconds; the CLI's RFC 3339 times without.
    for (const doc of [mine, theirs]) for (const k of ['since', 'until']) doc[k] = Date.parse(doc[k])
    assert.deepEqual(mine, theirs, by)
  }
})

test('a deployment on its way has an ETA from its service and ring', async (t) => {
  const db = await history(t)
  const recorder = new Recorder(db, 'fabrikam')
  const now = Date.now()
  const [queued, built] = [new Date(now - 15 * MIN), new Date(Math.floor((now - 5 * MIN) / 1000) * 1000)]
  await recorder.imageBuilt({ p1: '190', imageTag: 'frontend-90', commitId: hex(90, 'a'), service: 'fabrikam/frontend' })
  await recorder.runReported({ id: '190', status: 'completed', result: 'succeeded', queuedAt: queued, startedAt: queued, finishedAt: built })
  await recorder.metadataUpdated({ p2: '290', imageTag: 'frontend-90', hldCommitId: hex(90, 'b'), env: 'prod', service: 'fabrikam/frontend' })
  await recorder.runReported({ id: '290', status: 'inProgress', queuedAt: built, startedAt: built })

  const all = await new Tracker(db, { partition: 'fabrikam' }).deployments()
  const d = all.find((x) => x.imageTag === 'frontend-90')
  assert.equal(d.status, 'inProgress')
  assert.deepEqual(all.filter((x) => x !== d).map((x) => x.eta), all.slice(1).map(() => null), 'finished deployments have no ETA')
  // Five frontend journeys to prod: metadata 5, 10, 10, 10, 10 min; manifests 5, 10, 10, 20, 10.
  assert.deepEqual(d.eta.steps.map((s) => [s.segment, s.basis, s.samples]), [['metadata', 'serviceRing', 5], ['manifests', 'serviceRing', 5]])
  const [metadata, manifests] = d.eta.steps
  assert.deepEqual([metadata.expectedAt, metadata.p90At], [plus(built, 10), plus(built, 10)])
  assert.deepEqual([manifests.expectedAt, manifests.p90At], [plus(built, 20), plus(built, 30)])
  assert.deepEqual([d.eta.liveAt, d.eta.liveP90At], [manifests.expectedAt, manifests.p90At])
  for (const s of d.eta.steps) assert.ok(s.expectedAt <= s.p90At)
})

test('a bad breakdown or window is a ConfigError naming it', async (t) => {
  const tracker = new Tracker(await history(t), { partition: 'fabrikam' })
  for (const by of ['team', 'weekly', '']) {
    await assert.rejects(tracker.metrics({ by }), (e) => e.code === 'ConfigError' &&
      e.message === `invalid by: '${by}' is not one of service, ring, week`)
  }
  await assert.rejects(tracker.metrics({ since: UNTIL, until: MONDAY }), (e) => e.code === 'ConfigError' &&
    e.message.startsWith('invalid until: 2026-11-02 00:00:00 UTC is not after'))
  for (const field of ['since', 'until']) {
    await assert.rejects(tracker.metrics({ [field]: new Date('garbage') }), (e) => e.code === 'ConfigError' &&
      e.message === `invalid ${field}: Invalid Date (its time is NaN); give a valid Date`)
  }
  await assert.rejects(tracker.metrics({ status: 'done' }), (e) => e.code === 'ConfigError' && /status/.test(e.message))
})
