// The package loads from ESM and from CommonJS, with the same classes.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { test } from 'node:test'

import * as esm from '@spektate/node'
import spektate from '@spektate/node'

test('import and require give the same classes', () => {
  const cjs = createRequire(import.meta.url)('@spektate/node')
  for (const name of ['Store', 'Recorder', 'ServerRecorder', 'Tracker', 'AzureDevOps']) {
    assert.equal(typeof esm[name], 'function', name)
    assert.equal(esm[name], cjs[name], name)
    assert.equal(spektate[name], cjs[name], name)
  }
  assert.match(esm.VERSION, /^\d+\.\d+\.\d+/)
})
