// Runs read from a provider: a local fake of the Azure DevOps REST API on 127.0.0.1.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { AzureDevOps, Recorder, Store, Tracker } from '@spektate/node'
import { BAD_TOKEN, GOOD_TOKEN, fakeAzureDevOps, tempStore, thrown } from './support.mjs'

async function record(db) {
  const recorder = new Recorder(db, 'hello')
  await recorder.imageBuilt({ p1: '101', imageTag: 'frontend-101', commitId: 'a1b2c3d4e5f6', service: 'frontend' })
  await recorder.metadataUpdated({ p2: '101', imageTag: 'frontend-101', hldCommitId: 'b2c3d4e5f6a7', env: 'prod' })
  await recorder.manifestGenerated({ p3: '301', hldCommitId: 'b2c3d4e5f6a7', manifestCommitId: 'c3d4e5f6a7b8' })
}

test('runs come from Azure DevOps', async (t) => {
  const azdo = await fakeAzureDevOps(t)
  const db = tempStore(t)
  await record(db)
  const settings = { org: 'fabrikam', project: 'hello', token: GOOD_TOKEN, url: azdo.url }
  assert.equal(await new AzureDevOps(settings).check(), 'hello')
  const [d] = await new Tracker(db, { partition: 'hello', azureDevOps: settings }).deployments()
  const run = d.image.run
  assert.deepEqual([run.number, run.pipeline, run.sourceBranch, run.requestedBy], ['20261126.1', 'frontend-image', 'main', 'Mona Lisa'])
  assert.equal(run.status, 'completed')
  assert.ok(run.url.endsWith('buildId=101'))
  assert.deepEqual(run.queuedAt, new Date('2026-11-26T10:00:00Z'))
  assert.ok(d.multiStage, 'p2 == p1: the metadata update is a stage of the image run')
  assert.equal(d.manifest.state, 'inProgress')
  assert.equal(d.manifest.run.number, '20261126.7')
  assert.equal(d.status, 'inProgress')
  assert.deepEqual(d.warnings, [])
  const builds = azdo.seen.filter((s) => s.path.includes('/_apis/build/builds'))
  assert.equal(builds.length, 1, 'both builds in one request')
  assert.ok(builds[0].path.includes('buildIds=101,301'), builds[0].path)
  const expected = 'Basic ' + Buffer.from(`:${GOOD_TOKEN}`).toString('base64')
  assert.ok(azdo.seen.every((s) => s.auth === expected))
})

test('a rejected token is an AuthError that never shows the token', async (t) => {
  const azdo = await fakeAzureDevOps(t)
  const db = tempStore(t)
  await record(db)
  const settings = { org: 'fabrikam', project: 'hello', token: BAD_TOKEN, url: azdo.url }
  const project = new AzureDevOps(settings)
  assert.equal(project.orgUrl, azdo.orgUrl)
  const e = await thrown(() => project.check())
  assert.ok(e instanceof Error)
  assert.equal(e.code, 'AuthError')
  assert.match(e.message, /rejected/)
  assert.match(e.message, /hello/)
  assert.ok(!e.message.includes(BAD_TOKEN))
  // Tracing is best-effort: the deployment is shown, and says why its runs are unknown.
  const [d] = await new Tracker(db, { partition: 'hello', azureDevOps: settings }).deployments()
  assert.equal(d.image.state, 'unknown')
  assert.ok(d.warnings.some((w) => w.includes('rejected')), JSON.stringify(d.warnings))
  assert.ok(!d.warnings.some((w) => w.includes(BAD_TOKEN)))
})

test('provider settings are checked when made', () => {
  for (const [settings, pattern] of [
    [{ org: 'fabrikam', project: 'hello', url: 'ftp://tfs.example.com' }, /url.*ftp:\/\/tfs\.example\.com/],
    [{ org: 'fabrikam', project: ' ' }, /project/],
  ]) {
    assert.throws(() => new AzureDevOps(settings), (e) => e.code === 'ConfigError' && pattern.test(e.message))
  }
  assert.throws(
    () => new Tracker(Store.memory(), { github: { apiUrl: 'ftp://example.com' } }),
    (e) => e.code === 'ConfigError' && e.message.includes('apiUrl') && e.message.includes('ftp://example.com'),
  )
  assert.throws(
    () => new Tracker(Store.memory(), { github: { ids: 'step' } }),
    (e) => e.code === 'ConfigError' && e.message.includes("'step' is not one of run, job"),
  )
})

test('GitHub ids take auto, as the tables of bedrock and the original pipelines need', () => {
  // Those tables hold job ids: `auto` reads an id that is not a run of its repository as a job.
  for (const ids of ['auto', ' AUTO ']) {
    const tracker = new Tracker(Store.memory(), { partition: 'fabrikam', github: { ids } })
    assert.equal(tracker.partition, 'fabrikam')
  }
  assert.throws(
    () => new Tracker(Store.memory(), { github: { ids: 'guess' } }),
    (e) => e.code === 'ConfigError' && e.message.includes("'guess' is not one of run, job, auto"),
  )
})

test('GitLab settings are checked when made', () => {
  for (const [gitlab, pattern] of [
    [{ url: 'ftp://gitlab.example.com' }, /url.*ftp:\/\/gitlab\.example\.com/],
    [{ tokenKind: 'deploy' }, /'deploy' is not one of private, oauth, job/],
    [{ project: 'hld' }, /'hld' is neither a project id nor a group\/name path/],
  ]) {
    assert.throws(
      () => new Tracker(Store.memory(), { gitlab }),
      (e) => e.code === 'ConfigError' && pattern.test(e.message),
    )
  }
  const tracker = new Tracker(Store.memory(), {
    partition: 'fabrikam',
    gitlab: { token: 'glpat-x', url: 'https://example.com/gitlab', tokenKind: 'job', project: '21761957' },
  })
  assert.equal(tracker.partition, 'fabrikam')
})
