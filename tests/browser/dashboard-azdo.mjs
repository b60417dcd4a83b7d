// A busy Azure DevOps Server project for the dashboard's browser tests: a fake of the REST
// endpoints Spektate reads (builds, build timelines, commits, pull requests, tags), answering
// in the shapes the Azure DevOps REST API documents, and the journeys its pipelines record
// with `spektate record`, as bedrock's multi-stage pipelines do.
//
// Collection `fabrikam`, project `hello`: three services (frontend, backend, payments) go to
// three rings (dev, qa, prod) through one multi-stage build each (stage 1 builds the image,
// stage 2 updates the HLD through an approval pull request) and a manifest build of the HLD
// repository. One build fails in its HLD update stage; one deployment runs in four clusters;
// one change is made straight in the HLD repository.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';

export const COLLECTION = 'fabrikam';
export const PROJECT = 'hello';
export const SERVICES = ['frontend', 'backend', 'payments'];
export const RINGS = ['dev', 'qa', 'prod'];
export const AUTHORS = [
  { name: 'Alice Nguyen', email: 'alice@fabrikam.com' },
  { name: 'Bob Schmidt', email: 'bob@fabrikam.com' },
  { name: 'Chloé Martin', email: 'chloe@fabrikam.com' },
  { name: 'Dev Patel', email: 'dev@fabrikam.com' },
];
export const APPROVERS = [
  { displayName: 'Erin Okafor', uniqueName: 'erin@fabrikam.com' },
  { displayName: 'Frank Li', uniqueName: 'frank@fabrikam.com' },
];
/** How many deployments (image to manifests) the project has. */
export const COUNT = 54;
/** The deployment whose multi-stage build failed in its HLD update stage. */
export const FAILED = 1;
/** The deployment that runs in four clusters. */
export const SPREAD = 0;
export const CLUSTERS = ['east-us', 'west-eu', 'central-in', 'south-br'];
/** The timeline record id of the failed build's HLD update stage. */
export const FAILED_STAGE_ID = '9f1b5c3e-7a2d-5e4f-8c6b-0d1e2f3a4b5c';

export const sha = (text) => createHash('sha1').update(text).digest('hex');

/** The journey of deployment `i`, newest first: `i = 0` moved last. */
export function journey(i, now) {
  const service = SERVICES[i % 3];
  const build = 2000 + i;
  return {
    i,
    service,
    ring: RINGS[Math.floor(i / 3) % 3],
    author: AUTHORS[i % 4],
    approver: i === FAILED ? null : APPROVERS[i % 2],
    build,
    manifestBuild: i === FAILED ? null : 5000 + i,
    imageTag: `${service}-${build}`,
    commit: sha(`src-${i}`),
    hldCommit: sha(`hld-${i}`),
    manifestCommit: i === FAILED ? null : sha(`manifest-${i}`),
    pr: i === FAILED ? null : 300 + i,
    // Every journey took 12 minutes; each started 20 minutes after the one before.
    queued: new Date(now - (i * 20 + 12) * 60000),
    finished: new Date(now - i * 20 * 60000),
  };
}

/** The manual HLD edit: a manifest build of a commit made straight in the HLD repository. */
export function manualEdit(now) {
  return {
    build: 5900,
    hldCommit: sha('hld-manual'),
    manifestCommit: sha('manifest-manual'),
    queued: new Date(now - 35 * 60000),
    finished: new Date(now - 33 * 60000),
  };
}

/** A fake Azure DevOps Server on 127.0.0.1; `url` is the server, `requests` what was asked. */
export async function startFakeAzureDevOps(now) {
  const journeys = Array.from({ length: COUNT }, (_, i) => journey(i, now));
  const manual = manualEdit(now);
  const server = createServer();
  const requests = [];
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const repoUrl = (name) => `${base}/${COLLECTION}/${PROJECT}/_git/${name}`;
  const iso = (d) => d.toISOString();

  // Builds - List items (`GET _apis/build/builds?buildIds=`).
  const builds = new Map();
  const build = (id, repo, commit, result, queued, finished, definition) => {
    builds.set(id, {
      _links: { web: { href: `${base}/${COLLECTION}/${PROJECT}/_build/results?buildId=${id}` } },
      id,
      buildNumber: `20260301.${id}`,
      status: 'completed',
      result,
      queueTime: iso(queued),
      startTime: iso(new Date(queued.getTime() + 10000)),
      finishTime: iso(finished),
      lastChangedDate: iso(finished),
      definition: { id: definition === 'hld-to-manifest' ? 7 : 3, name: definition },
      sourceBranch: 'refs/heads/main',
      sourceVersion: commit,
      requestedFor: { displayName: 'Project Collection Build Service', uniqueName: 'build@fabrikam.com' },
      repository: { id: `${repo}-id`, type: 'TfsGit', name: repo, url: repoUrl(repo) },
    });
  };
  // Build timelines (`GET _apis/build/builds/{id}/timeline`): the two stages of a run.
  const timelines = new Map();
  for (const j of journeys) {
    const middle = new Date(j.queued.getTime() + 6 * 60000);
    build(j.build, j.service, j.commit, j.i === FAILED ? 'failed' : 'succeeded', j.queued,
      j.i === FAILED ? middle : new Date(j.queued.getTime() + 8 * 60000), `${j.service}-ci`);
    if (j.manifestBuild) build(j.manifestBuild, 'hello-hld', j.hldCommit, 'succeeded', new Date(j.finished.getTime() - 3 * 60000), j.finished, 'hld-to-manifest');
    if (j.i === FAILED) {
      const stage = (id, name, order, result, start, finish) => ({
        previousAttempts: [], id, parentId: null, type: 'Stage', name, identifier: name,
        startTime: iso(start), finishTime: iso(finish), currentOperation: null, percentComplete: null,
        state: 'completed', result, resultCode: null, changeId: 40 + order, lastModified: '0001-01-01T00:00:00',
        workerName: null, order, details: null, errorCount: result === 'failed' ? 1 : 0, warningCount: 0,
        url: null, log: null, task: null, attempt: 1,
      });
      timelines.set(j.build, {
        records: [
          stage(FAILED_STAGE_ID, 'hld_update', 2, 'failed', new Date(j.queued.getTime() + 5 * 60000), middle),
          stage('6884a131-87da-5381-61f3-d7acc3b91d76', 'build', 1, 'succeeded', j.queued, new Date(j.queued.getTime() + 5 * 60000)),
        ],
        lastChangedBy: '00000002-0000-8888-8000-000000000000',
        lastChangedOn: iso(middle),
        id: '01ffe7e6-ec36-4946-960a-b137d10238bd',
        changeId: 47,
        url: `${base}/${COLLECTION}/${PROJECT}/_apis/build/builds/${j.build}/Timeline/01ffe7e6-ec36-4946-960a-b137d10238bd`,
      });
    }
  }
  build(manual.build, 'hello-hld', manual.hldCommit, 'succeeded', manual.queued, manual.finished, 'hld-to-manifest');

  // Commits of the source repositories (`POST commitsbatch`, `GET commits/{id}`).
  const commits = new Map();
  for (const j of journeys) {
    commits.set(j.commit, {
      treeId: sha(`tree-${j.i}`),
      commitId: j.commit,
      author: { ...j.author, date: iso(j.queued) },
      committer: { ...j.author, date: iso(j.queued) },
      comment: `Change ${j.i} of ${j.service}`,
      parents: [sha(`src-${j.i + 1}`)],
      url: `${base}/${COLLECTION}/${PROJECT}/_apis/git/repositories/${j.service}-id/commits/${j.commit}`,
      remoteUrl: `${repoUrl(j.service)}/commit/${j.commit}`,
    });
  }
  // Approval pull requests of the HLD repository (`GET pullrequests/{id}`, and the list).
  const pulls = new Map();
  for (const j of journeys.filter((j) => j.pr)) {
    pulls.set(j.pr, {
      repository: { id: 'hello-hld-id', name: 'hello-hld', url: `${base}/${COLLECTION}/${PROJECT}/_apis/git/repositories/hello-hld-id`, webUrl: repoUrl('hello-hld') },
      pullRequestId: j.pr,
      codeReviewId: j.pr,
      status: 'completed',
      createdBy: { displayName: 'Project Collection Build Service', uniqueName: 'build@fabrikam.com' },
      creationDate: iso(new Date(j.queued.getTime() + 8 * 60000)),
      closedDate: iso(new Date(j.finished.getTime() - 3 * 60000)),
      title: `Updating ${j.service} image tag to ${j.imageTag}.`,
      sourceRefName: `refs/heads/DEPLOY/${j.service}-${j.ring}-${j.build}`,
      targetRefName: `refs/heads/${j.ring}`,
      mergeStatus: 'succeeded',
      closedBy: { ...j.approver, id: sha(j.approver.uniqueName).slice(0, 32) },
      lastMergeCommit: { commitId: j.hldCommit },
    });
  }

  const list = (value) => ({ count: value.length, value });
  const notFound = (typeKey, message) => [404, { $id: '1', innerException: null, message, typeName: `Microsoft.TeamFoundation.${typeKey}`, typeKey, errorCode: 0, eventId: 3000 }];
  function answer(method, url, body) {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [collection, project, apis, area, ...rest] = parts;
    if (collection !== COLLECTION) return notFound('CollectionNotFoundException', `collection ${collection} not found`);
    if (project === '_apis' && apis === 'projects') return [200, { id: 'f8a98d9c-8f11-46ef-89e4-07b4a56d1ad5', name: PROJECT, state: 'wellFormed' }];
    if (project !== PROJECT || apis !== '_apis') return notFound('ProjectDoesNotExistWithNameException', `TF200016: The following project does not exist: ${project}.`);
    if (area === 'build' && rest[0] === 'builds' && rest.length === 1) {
      const ids = (url.searchParams.get('buildIds') || '').split(',').map(Number);
      return [200, list(ids.filter((id) => builds.has(id)).sort((a, b) => b - a).map((id) => builds.get(id)))];
    }
    if (area === 'build' && rest[0] === 'builds' && rest[2] === 'timeline') {
      const t = timelines.get(Number(rest[1]));
      return t ? [200, t] : [204, null];
    }
    if (area === 'git' && rest[0] === 'repositories') {
      const [, name, what, id] = rest;
      if (!what) return [200, { id: `${name}-id`, name, webUrl: repoUrl(name) }];
      if (what === 'commitsbatch' && method === 'POST') {
        const wanted = JSON.parse(body || '{}').ids || [];
        const missing = wanted.find((c) => !commits.has(c));
        if (missing) return notFound('GitItemNotFoundException', `TF401175: The item ${missing} could not be found.`);
        return [200, list(wanted.map((c) => commits.get(c)))];
      }
      if (what === 'commits' && id) return commits.has(id) ? [200, commits.get(id)] : notFound('GitItemNotFoundException', `TF401175: The item ${id} could not be found.`);
      if (what === 'pullrequests' && id) {
        return pulls.has(Number(id)) ? [200, pulls.get(Number(id))] : notFound('GitPullRequestNotFoundException', `TF401180: The requested pull request was not found.`);
      }
      if (what === 'pullrequests') return [200, list([...pulls.values()].sort((a, b) => b.pullRequestId - a.pullRequestId))];
      // No Flux sync tags: the clusters report what they run themselves (`spektate record sync`).
      if (what === 'refs') return [200, list([])];
    }
    return notFound('NotFoundException', `no such endpoint: ${url.pathname}`);
  }
  server.on('request', (req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const url = new URL(req.url, base);
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const [status, value] = answer(req.method, url, body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8; api-version=7.1' });
      res.end(value === null ? '' : JSON.stringify(value));
    });
  });
  return {
    url: base,
    repoUrl,
    journeys,
    manual,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** Records every journey into `store` as the pipelines would, with `spektate record`. */
export function recordJourneys(spektate, store, fake) {
  const env = { ...process.env, SPEKTATE_STORE: store, SPEKTATE_PARTITION_KEY: COLLECTION };
  const run = (...args) => {
    const r = spawnSync(spektate, args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`spektate ${args.join(' ')}: ${r.stderr}`);
  };
  // Oldest first, as they happened.
  for (const j of [...fake.journeys].reverse()) {
    run('record', '--p1', String(j.build), '--image-tag', j.imageTag, '--commit-id', j.commit,
      '--service', j.service, '--repository', fake.repoUrl(j.service));
    const p2 = ['record', '--p2', String(j.build), '--image-tag', j.imageTag, '--hld-commit-id', j.hldCommit,
      '--env', j.ring, '--repository', fake.repoUrl('hello-hld')];
    run(...p2, ...(j.pr ? ['--pr', String(j.pr)] : []));
    if (j.manifestBuild) {
      run('record', '--p3', String(j.manifestBuild), '--hld-commit-id', j.hldCommit,
        '--manifest-commit-id', j.manifestCommit, '--repository', fake.repoUrl('hello-manifests'));
    }
  }
  const m = fake.manual;
  run('record', '--p3', String(m.build), '--hld-commit-id', m.hldCommit, '--manifest-commit-id', m.manifestCommit,
    '--repository', fake.repoUrl('hello-manifests'));
  const spread = fake.journeys[SPREAD];
  for (const cluster of CLUSTERS) run('record', 'sync', '--cluster', cluster, '--commit', spread.manifestCommit);
}
