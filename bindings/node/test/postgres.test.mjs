// A PostgreSQL store from Node: a journey recorded into it reads back as from SQLite and as
// `spektate get` reads it, and its password shows nowhere, not even when it is wrong.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, test } from 'node:test'

import { Recorder, Store, Tracker } from '@spektate/node'
import { COMMIT, HLD_COMMIT, MANIFEST_COMMIT, cli, cliEnv, recordJourney, startPostgres, tempStore, thrown } from './support.mjs'

let pg
before(async () => { pg = await startPostgres(undefined, ['journey', 'empty', 'refused']) })
after(() => pg?.stop())

const coded = (e, code, pattern) => {
  assert.equal(e.code, code, e.message)
  assert.match(e.message, pattern)
}

test('a journey recorded into PostgreSQL reads back as from SQLite', async (t) => {
  const url = pg.databases.journey
  await recordJourney(new Recorder(Store.open(url, { create: true }), 'fabrikam'), 'flux')
  const db = tempStore(t)
  await recordJourney(new Recorder(db, 'fabrikam'), 'flux')
  // A spec opens a reader: read-only sessions, the schema the recorder created.
  const tracker = new Tracker(url, { partition: 'fabrikam' })
  const [d, ...rest] = await tracker.deployments()
  const [lite] = await new Tracker(db, { partition: 'fabrikam' }).deployments()
  assert.equal(rest.length, 0)
  assert.deepEqual([d.service, d.ring, d.imageTag], ['frontend', 'prod', 'frontend-101'])
  assert.deepEqual([d.commitId, d.hldCommitId, d.manifestCommitId], [COMMIT, HLD_COMMIT, MANIFEST_COMMIT])
  assert.equal(d.status, 'complete')
  assert.ok(d.synced)
  assert.deepEqual(d.clusters.map((c) => [c.cluster, c.tagger]), [['west-europe', 'flux']])
  assert.equal(d.durationSecs, 7 * 60)
  assert.equal(d.id, lite.id, 'the same steps derive the same record key in every store')
  assert.deepEqual(d.lastUpdated, lite.lastUpdated)

  const get = (...args) => execFileSync(cli(), ['get', '--store', url, '-p', 'fabrikam', ...args], { encoding: 'utf8', env: cliEnv() })
  const [theirs, ...more] = JSON.parse(get('-o', 'json'))
  assert.equal(more.length, 0)
  assert.deepEqual([theirs.id, theirs.status, theirs.durationSecs, Date.parse(theirs.lastUpdated)], [d.id, d.status, d.durationSecs, d.lastUpdated.getTime()])
  assert.equal(await tracker.table(), get())
})

test('the password shows in no description and no error', async () => {
  const url = pg.databases.empty
  const shown = url.replace(`:${pg.password}@`, '@')
  assert.equal(Store.open(url).description, shown)
  assert.equal(Store.open(url, { create: true }).description, shown)

  // A database no recorder wrote to has no schema: a reader says so and creates none.
  let e = await thrown(() => new Tracker(url, { partition: 'fabrikam' }).deployments())
  coded(e, 'StoreError', /has no spektate schema/)
  assert.ok(e.message.includes(shown) && !e.message.includes(pg.password), e.message)

  const wrong = url.replace(pg.password, 'not-the-password-7f3a')
  e = await thrown(() => new Recorder(wrong, 'fabrikam').imageBuilt({ p1: '1', imageTag: 't-1', commitId: 'c1', service: 's' }))
  coded(e, 'StoreError', /password authentication failed/)
  assert.ok(!e.message.includes('not-the-password-7f3a') && !e.message.includes(pg.password), e.message)

  e = await thrown(() => Store.open(`${url}?sslmode=sometimes`))
  coded(e, 'StoreError', /sslmode 'sometimes'/)
  assert.ok(!e.message.includes(pg.password), e.message)
})

test('a store opened without create only reads', async () => {
  const url = pg.databases.refused
  const rec = await new Recorder(Store.open(url, { create: true }), 'fabrikam').imageBuilt({ p1: '1', imageTag: 't-1', commitId: 'c1', service: 's' })
  const e = await thrown(() => new Recorder(Store.open(url), 'fabrikam').imageBuilt({ p1: '2', imageTag: 't-2', commitId: 'c2', service: 's' }))
  coded(e, 'StoreError', /read-only/)
  const [d, ...rest] = await new Tracker(url, { partition: 'fabrikam' }).deployments()
  assert.equal(rest.length, 0)
  assert.deepEqual([d.id, d.imageTag], [rec.rowKey, 't-1'])
})
