// Every library error arrives as an Error whose `code` names its kind (the Python exception names).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Recorder, Store, Tracker } from '@spektate/node'
import { tempStore, thrown } from './support.mjs'

const coded = (code, pattern) => (e) => {
  assert.ok(e instanceof Error, `not an Error: ${e}`)
  assert.equal(e.code, code, e.message)
  if (pattern) assert.match(e.message, pattern)
  return true
}

test('a missing store is a StoreError naming its path', (t) => {
  const missing = join(tempStore(t), '..', 'nope', 'spektate.db')
  assert.throws(() => new Tracker(missing), coded('StoreError'))
  const e = (() => { try { Store.open(`sqlite:${missing}`) } catch (e) { return e } })()
  assert.equal(e.code, 'StoreError')
  assert.ok(e.message.includes('nope'), e.message)
  assert.throws(() => new Recorder(missing), coded('StoreError'), 'a writer creates the file, not its directory')
  assert.ok(!existsSync(missing))
})

test('bad store specs are ConfigErrors naming the value', () => {
  assert.throws(() => Store.open('mongodb:localhost'), coded('ConfigError', /'mongodb'/))
  assert.throws(() => new Recorder('sqlite:'), coded('ConfigError', /needs a path/))
  assert.throws(() => Store.open('azure-table:UseDevelopmentStorage=true'), coded('ConfigError', /table name/))
})

test('bad arguments name the argument and the value', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(db, 'fabrikam')
  let e = await thrown(() => recorder.imageBuilt({ p1: '  ', imageTag: 't', commitId: 'c', service: 's' }))
  coded('ConfigError', /p1.*empty/)(e)
  e = await thrown(() => recorder.runReported({ id: '1', status: 'done-ish' }))
  coded('ConfigError', /'done-ish'/)(e)
  e = await thrown(() => recorder.runReported({ id: '1', status: 'inProgress', result: 'failed' }))
  coded('ConfigError', /result/)(e)
  e = await thrown(() => recorder.imageBuilt({ p1: '1', imageTag: 't', commitId: 'c', service: 's', repository: 'not a url' }))
  coded('ConfigError', /'not a url'/)(e)
  assert.throws(() => new Recorder(db, 'a/b'), coded('ConfigError', /partition/))
  assert.throws(() => new Tracker(db, { manifestRepo: 'x' }), coded('ConfigError', /'x' is not/))
  const tracker = new Tracker(db, { partition: 'fabrikam' })
  e = await thrown(() => tracker.deployments({ status: 'bogus' }))
  coded('ConfigError', /'bogus'.*inProgress/)(e)
  e = await thrown(() => tracker.deployments({ top: 0 }))
  coded('ConfigError', /top/)(e)
  // Wrong JavaScript types are the TypeErrors of any Node API, before anything runs.
  e = await thrown(() => recorder.imageBuilt({ p1: 1 }))
  assert.ok(e instanceof Error)
})

test('a manifest commit without its record is NotFoundError', async (t) => {
  const e = await thrown(() => new Recorder(tempStore(t)).manifestCommitted({ p3: '9', manifestCommitId: 'abc1234' }))
  coded('NotFoundError', /p3 '9'/)(e)
})
