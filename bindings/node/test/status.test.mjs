// Tracker.status: where each service is running, as `spektate status -o json` says.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
import { HLD, MANIFESTS, cli, tempStore } from './support.mjs'

const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 3600_000)
const later = (minutes) => new Date(T0.getTime() + minutes * 60_000)
const sha = (n, fill) => n.toString(16).padStart(7, '0') + fill.repeat(33)

/** One image of `service` sent to ring dev and rendered into its manifest commit, built `built`. */
async function journey(recorder, n, service, built) {
  const [tag, hld, manifest] = [`${service}-${n}`, sha(n, 'b'), sha(n, 'c')]
  const [p1, p2, p3] = [`1${n}`, `2${n}`, `3${n}`]
  await recorder.imageBuilt({ p1, imageTag: tag, commitId: sha(n, 'a'), service: `fabrikam/${service}`, repository: `https://github.com/fabrikam/${service}` })
  await recorder.metadataUpdated({ p2, imageTag: tag, hldCommitId: hld, env: 'dev', service: `fabrikam/${service}`, repository: HLD })
  await recorder.manifestGenerated({ p3, hldCommitId: hld })
  await recorder.manifestCommitted({ p3, manifestCommitId: manifest, repository: MANIFESTS })
  const queued = new Date(built.getTime() - 4 * 60_000)
  for (const id of [p1, p2, p3]) {
    await recorder.runReported({ id, status: 'completed', result: 'succeeded', queuedAt: queued, startedAt: queued, finishedAt: built })
  }
  return manifest
}

test('status says where each service runs, as the CLI does', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(`sqlite:${db}`, 'fabrikam')
  const m1 = await journey(recorder, 1001, 'frontend', T0)
  const m2 = await journey(recorder, 2001, 'backend', later(10))
  await journey(recorder, 1002, 'frontend', later(60))
  await recorder.clusterSynced('west-us', m1, 'flux')
  await recorder.clusterSynced('east-us', m2, 'flux')

  const tracker = new Tracker(db, { partition: 'fabrikam' })
  const rows = await tracker.status()
  assert.deepEqual(rows.map((r) => [r.service, r.cluster, r.imageTag, r.exact]), [
    ['backend', 'east-us', 'backend-2001', true],
    ['frontend', 'east-us', 'frontend-1001', false],
    ['frontend', 'west-us', 'frontend-1001', true],
  ])
  const east = rows[1]
  assert.equal(east.commit, m2, "east-us runs the backend's later commit")
  assert.deepEqual([east.behind.images, east.behind.newestTag], [1, 'frontend-1002'])
  assert.deepEqual(east.behind.newestBuiltAt, later(60))
  assert.ok(east.since instanceof Date)

  const [only, ...none] = await tracker.status({ cluster: 'WEST-US', imageTag: 'frontend-1001' })
  assert.deepEqual([only.cluster, only.behind.images, none.length], ['west-us', 1, 0])
  assert.deepEqual(await tracker.status({ service: 'payments' }), [])

  const fromCli = JSON.parse(execFileSync(cli(), ['status', '--store', `sqlite:${db}`, '-p', 'fabrikam', '-o', 'json'], { encoding: 'utf8' }))
  const times = (r) => [r.since, r.builtAt, r.behind.newestBuiltAt].map((d) => (d === null ? null : new Date(d).getTime()))
  assert.deepEqual(rows.map(times), fromCli.map(times))
  const plain = (r) => ({ ...r, since: null, builtAt: null, behind: { ...r.behind, newestBuiltAt: null } })
  assert.deepEqual(rows.map(plain), fromCli.map(plain))
})
