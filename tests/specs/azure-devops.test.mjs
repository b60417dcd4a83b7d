// Every request the fake Azure DevOps organisation of spektate-azdo/tests answered (logged by
// tests/common/specs_log.rs while run.sh runs those tests) is a documented operation of the
// Azure DevOps REST descriptions (MicrosoftDocs/vsts-rest-api-specs, trimmed in
// azure-devops/): path template, the api-version the operation documents, documented query
// parameters, and a request body of the documented shape. Every 200 body it answered validates
// against the documented response schema made closed (lib/swagger.mjs: no field the
// description lacks, every type as documented; lists as `{count, value}`), and so does every
// captured response in spektate-azdo/tests/fixtures that the provider reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { here, readJsonLines, root } from './lib/out.mjs';
import { Swagger } from './lib/swagger.mjs';
import { queryNames } from './lib/github-rest.mjs';

/**
 * What the service sends and the definitions lack: a release's `url` and an artifact's
 * `sourceId` (shown by the descriptions' own example, releases/GET__GetARelease.json), and the
 * `drafts` of a build's definition, which the service sends as the `BuildDefinitionReference`
 * it is (the captured spektate-azdo/tests/fixtures/raw-builds.json).
 */
const properties = {
  Release: { url: { type: 'string' } },
  Artifact: { sourceId: { type: 'string' } },
  DefinitionReference: { drafts: { type: 'array' } },
};

/**
 * The service writes some times without an offset (`taggedBy.date` "2019-10-31T19:17:58" in
 * the captured spektate-azdo/tests/fixtures/manifest-sync-tag-response.json); they are UTC.
 */
const formats = { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/i };

const folder = join(here, 'azure-devops');
const descriptions = readdirSync(folder)
  .filter((f) => f.endsWith('.json'))
  .map((f) => new Swagger(f, join(folder, f), { properties, formats }));
const served = readJsonLines('azure-devops-served.jsonl');

/** The operation of `method path` in one of the descriptions, with the description. */
function find(method, path) {
  const bare = path.split('?')[0];
  for (const d of descriptions) {
    const r = d.find(method, bare, queryNames(path));
    if (r) return { d, r };
  }
  return undefined;
}

/** A served path with its ids, names and SHAs as placeholders, to list what was served. */
function shape(s) {
  return `${s.method} ${s.path.split('?')[0]}`
    .replace(/\/repositories\/[^/]+/, '/repositories/R')
    .replace(/\/[0-9a-f]{40}(?=\/|$)/g, '/SHA')
    .replace(/\/\d+(?=\/|$)/g, '/N');
}

test('the fake answered the requests of every part of the provider with a body', () => {
  const shapes = new Set(served.filter((s) => s.status === 200).map(shape));
  for (const expected of [
    'GET /fabrikam/_apis/projects/hello',
    'GET /fabrikam/hello/_apis/git/repositories/R',
    'GET /fabrikam/hello/_apis/git/repositories/R/pullrequests/N',
    'GET /fabrikam/hello/_apis/build/builds',
    'GET /fabrikam/hello/_apis/build/builds/N/timeline',
    'GET /fabrikam/hello/_apis/release/releases',
    'POST /fabrikam/hello/_apis/git/repositories/R/commitsbatch',
    'GET /fabrikam/hello/_apis/git/repositories/R/commits',
    'GET /fabrikam/hello/_apis/git/repositories/R/commits/SHA',
    'GET /fabrikam/hello/_apis/git/repositories/R/pullrequests',
    'GET /fabrikam/hello/_apis/git/repositories/R/refs',
    'GET /fabrikam/hello/_apis/git/repositories/R/annotatedtags/SHA',
  ]) {
    assert.ok(shapes.has(expected), `no ${expected} among ${[...shapes].sort().join(', ')}`);
  }
});

test('every request the fake answered is a documented operation, api-version and query parameters', () => {
  const problems = [];
  const seen = new Set();
  for (const s of served) {
    const key = `${shape(s)} ${queryNames(s.path).sort()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const found = find(s.method, s.path);
    if (!found) {
      problems.push(`${s.method} ${s.path}: no such operation`);
      continue;
    }
    const { d, r } = found;
    const documented = d.queryParameters(r);
    for (const q of queryNames(s.path)) {
      if (!documented.includes(q)) problems.push(`${s.method} ${s.path}: ${r.op.operationId} documents no ${q}`);
    }
    const sent = new URLSearchParams(s.path.split('?')[1] ?? '').get('api-version');
    if (sent !== d.apiVersion(r)) {
      problems.push(`${s.method} ${s.path}: api-version ${sent}, ${r.op.operationId} documents ${d.apiVersion(r)}`);
    }
    for (const p of r.params.filter((x) => x.in === 'query' && x.required)) {
      if (!queryNames(s.path).includes(p.name)) problems.push(`${s.method} ${s.path}: ${p.name} is required`);
    }
    if (s.method === 'POST') {
      for (const p of d.checkRequest(r, s.request)) problems.push(`${s.method} ${s.path} body: ${p}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every 200 body the fake answered has the documented fields and types', () => {
  const problems = new Set();
  const answered = served.filter((s) => s.status === 200);
  assert.ok(answered.length > 0, 'the log has answers');
  for (const s of answered) {
    const found = find(s.method, s.path);
    if (!found) continue; // said by the test above
    for (const p of found.d.checkResponse(found.r, 200, s.body)) problems.add(`${shape(s)} (${found.r.op.operationId}): ${p}`);
  }
  assert.deepEqual([...problems], []);
});

test('every captured Azure DevOps response in tests/fixtures has the documented fields and types', () => {
  const fixture = (name) =>
    JSON.parse(readFileSync(join(root, 'spektate-azdo', 'tests', 'fixtures', name), 'utf8'));
  const builds = fixture('raw-builds.json');
  const sha = 'f19cb81f889d8d29dd21d860df04967fdf5af567';
  const cases = [
    // The capture holds the `value` array of the answer.
    ['raw-builds.json', 'GET', '/o/p/_apis/build/builds?buildIds=1&api-version=6.0', { count: builds.length, value: builds }],
    ['raw-build-stages.json', 'GET', '/o/p/_apis/build/builds/1/timeline?api-version=6.0'],
    ['author-response.json', 'GET', `/o/p/_apis/git/repositories/r/commits/${sha}?api-version=6.0`],
    ['pr-response.json', 'GET', '/o/p/_apis/git/repositories/r/pullrequests/1?api-version=6.0'],
    ['sync-response.json', 'GET', '/o/p/_apis/git/repositories/r/refs?filter=tags&api-version=6.0'],
    ['manifest-sync-tag-response.json', 'GET', `/o/p/_apis/git/repositories/r/annotatedtags/${sha}?api-version=6.0-preview.1`],
  ];
  const problems = [];
  for (const [file, method, path, body] of cases) {
    const found = find(method, path);
    assert.ok(found, `${method} ${path}`);
    for (const p of found.d.checkResponse(found.r, 200, body ?? fixture(file))) problems.push(`${file} (${found.r.op.operationId}): ${p}`);
  }
  assert.deepEqual(problems, []);
});

test('the check catches an undocumented field, a wrong type, a wrong api-version and a bad body', () => {
  const build = served.find((s) => s.status === 200 && shape(s) === 'GET /fabrikam/hello/_apis/build/builds' && s.body.count > 0);
  const { d, r } = find('GET', build.path);
  assert.deepEqual(d.checkResponse(r, 200, build.body), []);
  const first = build.body.value[0];
  const extra = { count: 1, value: [{ ...first, buildNumbr: '1' }] };
  assert.match(d.checkResponse(r, 200, extra).join('\n'), /must NOT have additional properties 'buildNumbr'/);
  const wrong = { count: 1, value: [{ ...first, id: 'seven' }] };
  assert.match(d.checkResponse(r, 200, wrong).join('\n'), /\/0\/id must be integer/);
  assert.match(d.checkResponse(r, 200, build.body.value).join('\n'), /not a \{count, value\} collection/);
  assert.equal(d.apiVersion(r), '6.0');
  const tag = find('GET', `/o/p/_apis/git/repositories/r/annotatedtags/${'a'.repeat(40)}?api-version=6.0`);
  assert.equal(tag.d.apiVersion(tag.r), '6.0-preview.1', 'the version each operation documents');
  const batch = served.find((s) => s.method === 'POST' && s.status === 200);
  const b = find('POST', batch.path);
  assert.deepEqual(b.d.checkRequest(b.r, batch.request), []);
  assert.match(b.d.checkRequest(b.r, { ...batch.request, idz: [] }).join('\n'), /'idz'/);
  assert.equal(find('GET', '/fabrikam/hello/_apis/build/bilds?api-version=6.0'), undefined);
});
