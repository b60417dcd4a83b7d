// Deployment.liveIn and Deployment.clusterTroubles: where each deployment is live and what the
// clusters' agents reported wrong with its commit, as `spektate get -o json` says. Two Flux v2
// clusters report through `spektate serve`'s webhook, with events shaped and signed as
// notification-controller's generic-hmac Provider sends them.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'

import { Recorder, Tracker } from '@spektate/node'
import { HLD, MANIFESTS, cli, cliEnv, tempStore } from './support.mjs'

const SECRET = 'flux-hmac-node-3b9d'
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * 3600_000)
const later = (minutes) => new Date(T0.getTime() + minutes * 60_000)
const sha = (n, fill) => n.toString(16).padStart(7, '0') + fill.repeat(33)

/** One image of `service` sent to ring dev and rendered into its manifest commit. */
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

/** `spektate serve` taking signed Flux events over `store`; stopped after the test. */
async function serveFlux(t, store) {
  const dir = mkdtempSync(join(tmpdir(), 'spektate-flux-'))
  const secret = join(dir, 'flux-secret')
  writeFileSync(secret, `${SECRET}\n`)
  const child = spawn(cli(), ['serve', '--store', store, '-p', 'fabrikam', '--port', '0', '--flux-secret-file', secret],
    { stdio: ['ignore', 'pipe', 'ignore'], env: cliEnv() })
  t.after(() => {
    child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  })
  const line = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.once('line', (l) => { lines.close(); resolve(l) })
    child.once('exit', (code) => reject(new Error(`spektate serve ended (${code})`)))
  })
  const port = /http:\/\/127\.0\.0\.1:(\d+)/.exec(line)
  assert.ok(port, `spektate serve printed no address: ${line}`)
  return `http://127.0.0.1:${port[1]}`
}

/** An event as notification-controller posts it (Go's json.Marshal of eventv1.Event), signed. */
async function flux(url, cluster, { severity, reason, message, commit, at }) {
  const body = JSON.stringify({
    involvedObject: {
      kind: 'Kustomization', namespace: 'flux-system', name: 'apps', uid: '7d0cdc51-ddcf-4743-b223-83ca5c699632',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1', resourceVersion: '48213',
    },
    severity, timestamp: at.toISOString().replace(/\.\d{3}Z$/, 'Z'), message, reason,
    metadata: { revision: `main@sha1:${commit}` },
    reportingController: 'kustomize-controller', reportingInstance: 'kustomize-controller-6d8f7c9b5-q2w4e',
  })
  const signature = createHmac('sha256', SECRET).update(body).digest('hex')
  const res = await fetch(`${url}/api/flux/${cluster}`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'gotk-component': 'kustomize-controller', 'x-signature': `sha256=${signature}` },
  })
  assert.equal(res.status, 200, await res.text())
}

test('liveIn and clusterTroubles say what spektate get -o json says', async (t) => {
  const db = tempStore(t)
  const recorder = new Recorder(`sqlite:${db}`, 'fabrikam')
  const frontend = await journey(recorder, 1001, 'frontend', T0)
  const backend = await journey(recorder, 2001, 'backend', later(10))
  const url = await serveFlux(t, `sqlite:${db}`)
  const ok = 'Reconciliation finished in 1.843s, next run in 10m0s'
  await flux(url, 'west-eu', { severity: 'info', reason: 'ReconciliationSucceeded', message: ok, commit: frontend, at: later(12) })
  await flux(url, 'east-us', { severity: 'info', reason: 'ReconciliationSucceeded', message: ok, commit: backend, at: later(20) })
  const failure = "health check failed after 5m0s: timeout waiting for: [Deployment/dev/backend status: 'InProgress']"
  await flux(url, 'west-eu', { severity: 'error', reason: 'HealthCheckFailed', message: failure, commit: backend, at: later(25) })

  const deployments = await new Tracker(db, { partition: 'fabrikam' }).deployments()
  const byTag = Object.fromEntries(deployments.map((d) => [d.imageTag, d]))
  const fe = byTag['frontend-1001']
  assert.deepEqual(fe.liveIn.map((l) => [l.cluster, l.commit, l.exact]), [
    ['east-us', backend, false],
    ['west-eu', frontend, true],
  ], "east-us runs the backend's later commit; west-eu failed on it and still runs the frontend's")
  assert.deepEqual(fe.liveIn.find((l) => l.exact).appliedAt, later(12))
  assert.deepEqual(fe.clusterTroubles, [])
  const be = byTag['backend-2001']
  assert.deepEqual(be.liveIn.map((l) => [l.cluster, l.exact]), [['east-us', true]])
  assert.equal(be.clusterTroubles.length, 1)
  const [trouble] = be.clusterTroubles
  assert.deepEqual(
    [trouble.cluster, trouble.commit, trouble.outcome, trouble.reason, trouble.message, trouble.tagger, trouble.health],
    ['west-eu', backend, 'failed', 'HealthCheckFailed', failure, 'flux kustomization flux-system/apps', null],
  )
  assert.deepEqual(trouble.syncedAt, later(25))

  const fromCli = JSON.parse(execFileSync(cli(), ['get', '--store', `sqlite:${db}`, '-p', 'fabrikam', '-o', 'json'], { encoding: 'utf8', env: cliEnv() }))
  const time = (v) => (v === null || v === undefined ? null : new Date(v).getTime())
  const live = (l) => ({ ...l, appliedAt: time(l.appliedAt) })
  // The JSON leaves out what an agent did not say; the objects say null.
  const report = (r) => ({ health: null, reason: null, message: null, tagger: null, ...r, syncedAt: time(r.syncedAt) })
  assert.deepEqual(
    deployments.map((d) => [d.id, d.liveIn.map(live), d.clusterTroubles.map(report)]),
    fromCli.map((d) => [d.id, d.liveIn.map(live), d.clusterTroubles.map(report)]),
  )
})
