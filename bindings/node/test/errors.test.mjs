// Every library error arrives as an Error whose `code` names its kind (the Python exception names).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { Recorder, Store, Tracker } from '@spektate/node'
import { at, T0, tempStore, thrown } from './support.mjs'

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

test('a store argument of the wrong type is a ConfigError naming store and the value', () => {
  const secret = 'postgres://ci:s3cret-pw@db.fabrikam.com/spektate'
  const cases = [
    [42, 'the number 42'],
    [true, 'the boolean true'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{ url: secret }, 'an object'],
    [new URL(secret), 'an object'],
    [Buffer.from(secret), 'an object'],
    [Symbol('store'), 'a symbol'],
    [() => secret, 'a function'],
  ]
  const makers = [
    [(s) => new Recorder(s), 'a Store, a store spec or a path'],
    [(s) => new Tracker(s), 'a Store, a store spec or a path'],
    [(s) => Store.open(s), 'a store spec or a path'],
  ]
  for (const [make, wanted] of makers) {
    for (const [value, shown] of cases) {
      assert.throws(() => make(value), (e) => {
        coded('ConfigError')(e)
        assert.equal(e.message, `invalid store: ${shown} is not ${wanted}`)
        assert.ok(!e.message.includes('s3cret-pw'), e.message)
        return true
      })
    }
  }
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
  for (const [attempt, shown] of [[Infinity, 'Infinity'], [NaN, 'NaN'], [-1, '-1'], [2.5, '2.5']]) {
    e = await thrown(() => recorder.runReported({ id: '1', status: 'completed', attempt }))
    coded('ConfigError', new RegExp(`^invalid attempt: ${shown} is not a whole number`))(e)
  }
  e = await thrown(() => recorder.imageBuilt({ p1: '1', imageTag: 't', commitId: 'c', service: 's', repository: 'not a url' }))
  coded('ConfigError', /'not a url'/)(e)
  assert.throws(() => new Recorder(db, 'a/b'), coded('ConfigError', /partition/))
  for (const blank of ['', '  ']) {
    assert.throws(() => new Tracker(db, { partition: blank }), coded('ConfigError', /partition key: is empty/))
  }
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

test('an invalid Date is a ConfigError naming the field, not a time in 1970', async (t) => {
  const recorder = new Recorder(tempStore(t), 'fabrikam')
  for (const field of ['queuedAt', 'startedAt', 'finishedAt']) {
    for (const date of [new Date('garbage'), new Date(NaN)]) {
      const e = await thrown(() => recorder.runReported({ id: '1', status: 'completed', [field]: date }))
      coded('ConfigError')(e)
      assert.equal(e.message, `invalid ${field}: Invalid Date (its time is NaN); give a valid Date`)
    }
  }
  // A valid Date in the year +275760, past the years the library holds, is refused too.
  const e = await thrown(() => recorder.runReported({ id: '1', status: 'completed', finishedAt: new Date(8.64e15) }))
  coded('ConfigError')(e)
  assert.equal(e.message, 'invalid finishedAt: 8640000000000000 ms since 1970 is out of range')
  // Not a Date at all is still refused by the conversion, as before.
  assert.ok((await thrown(() => recorder.runReported({ id: '1', status: 'completed', finishedAt: '2026-11-26' }))) instanceof Error)
  const [queuedAt, startedAt, finishedAt] = [T0, at(1), at(4)]
  const report = await recorder.runReported({ id: '1', status: 'completed', queuedAt, startedAt, finishedAt })
  assert.deepEqual([report.queuedAt, report.startedAt, report.finishedAt], [queuedAt, startedAt, finishedAt])
})

test('a manifest commit without its record is NotFoundError', async (t) => {
  const e = await thrown(() => new Recorder(tempStore(t)).manifestCommitted({ p3: '9', manifestCommitId: 'abc1234' }))
  coded('NotFoundError', /p3 '9'/)(e)
})
