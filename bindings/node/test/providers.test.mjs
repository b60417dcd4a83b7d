// Runs read from a provider: local fakes of the Azure DevOps and GitHub REST APIs on 127.0.0.1.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
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

const GITHUB_TOKEN = 'ghp_bindingstest0123456789abcdefghijklmn'

/** Job 1042 (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}`): completed, failed. */
function githubJob(url) {
  return {
    id: 1042,
    run_id: 254907244,
    run_url: `${url}/api/v3/repos/fabrikam/frontend/actions/runs/254907244`,
    node_id: 'CR_kwDOBindings1042',
    head_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    head_branch: 'main',
    url: `${url}/api/v3/repos/fabrikam/frontend/actions/jobs/1042`,
    html_url: `${url}/fabrikam/frontend/actions/runs/254907244/job/1042`,
    status: 'completed',
    conclusion: 'failure',
    created_at: '2026-11-26T10:00:00Z',
    started_at: '2026-11-26T10:00:05Z',
    completed_at: '2026-11-26T10:04:00Z',
    name: 'Build',
    workflow_name: 'frontend-image',
    steps: [],
    check_run_url: `${url}/api/v3/repos/fabrikam/frontend/check-runs/1042`,
    labels: ['ubuntu-latest'],
    runner_id: null,
    runner_name: null,
    runner_group_id: null,
    runner_group_name: null,
    run_attempt: 1,
  }
}

/**
 * A GitHub Enterprise server on 127.0.0.1 (REST under `/api/v3`) whose repository
 * `fabrikam/frontend` has no workflow run 1042 but a job 1042, in the request and answer shapes
 * of spektate-github/tests/support/mod.rs; a 404 for anything else. Closed after the test.
 */
async function fakeGitHub(t) {
  const seen = []
  const notFound = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' }
  let url
  const server = createServer((req, res) => {
    req.resume()
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify(body))
    }
    const raw = new URL(req.url, 'http://127.0.0.1').pathname
    const path = raw.startsWith('/api/v3/') ? raw.slice('/api/v3'.length) : raw
    seen.push({ method: req.method, path, auth: req.headers.authorization })
    if (req.method !== 'GET') return send(404, notFound)
    if (path === '/repos/fabrikam/frontend') {
      return send(200, {
        id: 1296269, node_id: 'R_kgDOBindings', name: 'frontend', full_name: 'fabrikam/frontend', private: false,
        owner: { login: 'fabrikam', id: 1, type: 'Organization' }, html_url: `${url}/fabrikam/frontend`,
        default_branch: 'main', visibility: 'public',
      })
    }
    if (path === '/repos/fabrikam/frontend/actions/jobs/1042') return send(200, githubJob(url))
    // Run 1042 among them: the repository has no run of that id.
    return send(404, notFound)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  t.after(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  url = `http://127.0.0.1:${server.address().port}`
  return { url, repo: `${url}/fabrikam/frontend`, seen }
}

for (const ids of ['auto', ' AUTO ']) {
  test(`GitHub ids '${ids}' read a bare id that is no run as a job, as the tables of bedrock and the original pipelines need`, async (t) => {
    // Those tables hold job ids: `auto` reads an id that is not a run of its repository as a
    // job (one more request, `GET .../actions/jobs/{id}`).
    const github = await fakeGitHub(t)
    const db = tempStore(t)
    await new Recorder(db, 'fabrikam').imageBuilt({
      p1: '1042', imageTag: 'frontend-1042', commitId: 'a1b2c3d4e5f6', service: 'frontend', repository: github.repo,
    })
    const tracker = new Tracker(db, { partition: 'fabrikam', github: { token: GITHUB_TOKEN, apiUrl: github.url, ids } })
    const [d] = await tracker.deployments()

    const paths = github.seen.map((s) => s.path)
    const runAsked = '/repos/fabrikam/frontend/actions/runs/1042'
    const jobAsked = '/repos/fabrikam/frontend/actions/jobs/1042'
    const seen = JSON.stringify(github.seen)
    assert.ok(paths.includes(runAsked), `auto asks for a run first: ${seen}`)
    assert.equal(paths.filter((p) => p === jobAsked).length, 1, `the id is no run, so it is asked for as a job, once: ${seen}`)
    assert.ok(paths.indexOf(runAsked) < paths.indexOf(jobAsked), `a run first, then the job: ${seen}`)
    assert.ok(github.seen.every((s) => s.auth === `Bearer ${GITHUB_TOKEN}`))
    assert.equal(d.image.id, '1042')
    assert.equal(d.image.state, 'failed', `the job failed: ${JSON.stringify(d.warnings)}`)
    const run = d.image.run
    assert.ok(run, JSON.stringify(d.warnings))
    assert.deepEqual([run.number, run.pipeline, run.status, run.result], ['1042', 'frontend-image / Build', 'completed', 'failed'])
    assert.equal(run.url, `${github.url}/fabrikam/frontend/actions/runs/254907244/job/1042`)
    assert.deepEqual(run.finishedAt, new Date('2026-11-26T10:04:00Z'))
  })
}

test('GitHub ids take only run, job or auto', () => {
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
