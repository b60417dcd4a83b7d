// Every REST request the fake GitLab of spektate-gitlab/tests answered (logged by
// tests/support/mod.rs while run.sh runs those tests) is a documented operation of GitLab's
// REST description (gitlab-org/gitlab doc/api/openapi/openapi_v2.yaml, trimmed in gitlab/):
// path template, documented query parameters each sent once (an array parameter the Rails way,
// as repeated `iids[]`), integers and booleans where the description says so, and values of
// its enums. Every 200 body it answered validates against the documented response
// schema made closed (lib/swagger.mjs: no field the description lacks, every type as
// documented; lists as plain JSON arrays), and so does every response captured from gitlab.com
// in spektate-gitlab/tests/fixtures that is an answer of an operation the provider calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { queryNames } from './lib/github-rest.mjs';
import { here, readJsonLines, root } from './lib/out.mjs';
import { Swagger } from './lib/swagger.mjs';

/**
 * Where GitLab sends what its generated description lacks or types otherwise. A pipeline of a
 * list has its `name` (doc/api/pipelines.md, "List project pipelines", since GitLab 16.3). The
 * description types every exposure of a merge request that its entity leaves undocumented as a
 * string, and a list of users as one user; the merge request captured from gitlab.com
 * (spektate-gitlab/tests/fixtures/pr-response.json, checked against these below) has numbers,
 * booleans, lists and an object there, and `draft`, which replaced `work_in_progress`, is a
 * boolean as well (doc/api/merge_requests.md).
 */
const integer = { type: 'integer' };
const boolean = { type: 'boolean' };
const properties = {
  API_Entities_Ci_PipelineBasic: { name: { type: 'string' } },
  API_Entities_MergeRequestBasic: {
    assignees: { type: 'array', items: { $ref: '#/definitions/API_Entities_UserBasic' } },
    labels: { type: 'array', items: { type: 'string' } },
    user_notes_count: integer,
    upvotes: integer,
    downvotes: integer,
    source_project_id: integer,
    target_project_id: integer,
    task_completion_status: {
      type: 'object',
      properties: { count: integer, completed_count: integer },
    },
    draft: boolean,
    work_in_progress: boolean,
    merge_when_pipeline_succeeds: boolean,
    squash: boolean,
    has_conflicts: boolean,
    blocking_discussions_resolved: boolean,
  },
};

const gitlab = new Swagger('gitlab/openapi_v2.json', join(here, 'gitlab', 'openapi_v2.json'), {
  properties,
  plainArrays: true,
});
const served = readJsonLines('gitlab-served.jsonl');
const rest = served.filter((s) => s.path.startsWith('/api/v4/'));
const graphql = served.filter((s) => s.method === 'POST' && s.path === '/api/graphql');

/**
 * `GET /user` (the token's user, which `spektate validate` asks) is documented in GitLab's
 * REST reference (doc/api/users.md) but not in openapi_v2.yaml, which describes only the
 * endpoints already moved to its generator.
 */
const UNDESCRIBED = ['GET /api/v4/user'];

/** A served path with its ids, paths and SHAs as placeholders, to list what was served. */
function shape(s) {
  return `${s.method} ${s.path.split('?')[0]}`
    .replace(/\/projects\/[^/]+/, '/projects/P')
    .replace(/\/commits\/[^/]+$/, '/commits/SHA')
    .replace(/\/\d+(?=\/|$)/g, '/N');
}

/** The query of `path` as (name, value) pairs, an array parameter's `name[]` read as `name`. */
function query(path) {
  return [...new URLSearchParams(path.split('?')[1] ?? '').entries()].map(([k, v]) => [
    k.replace(/\[\]$/, ''),
    v,
    k,
  ]);
}

function find(s) {
  return gitlab.find(s.method, s.path.split('?')[0], query(s.path).map(([k]) => k));
}

/** What is wrong with the query of `s` for operation `r`: names, array form, types, values. */
function queryProblems(s, r) {
  const problems = [];
  const documented = new Map(r.params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
  const sentOnce = new Set();
  for (const [name, value, sent] of query(s.path)) {
    const p = documented.get(name);
    if (!p) {
      problems.push(`${r.op.operationId} documents no ${sent}`);
      continue;
    }
    if ((sent !== name) !== (p.type === 'array')) problems.push(`${sent}: ${name} is documented as ${p.type}`);
    if (p.type !== 'array' && sentOnce.has(name)) problems.push(`${sent} is sent twice`);
    sentOnce.add(name);
    const type = p.type === 'array' ? p.items?.type : p.type;
    const allowed = p.type === 'array' ? p.items?.enum : p.enum;
    if (type === 'integer' && !/^-?\d+$/.test(value)) problems.push(`${sent}=${value} is not an integer`);
    if (type === 'boolean' && !['true', 'false'].includes(value)) problems.push(`${sent}=${value} is not a boolean`);
    if (allowed && !allowed.includes(value)) problems.push(`${sent}=${value} is not one of ${allowed.join(', ')}`);
  }
  for (const p of documented.values()) {
    if (p.required && !query(s.path).some(([k]) => k === p.name)) problems.push(`${p.name} is required`);
  }
  return problems;
}

test('the fake answered the requests of every part of the provider with a body', () => {
  const shapes = new Set(rest.filter((s) => s.status === 200).map(shape));
  for (const expected of [
    'GET /api/v4/projects/P',
    'GET /api/v4/projects/P/pipelines',
    'GET /api/v4/projects/P/pipelines/N',
    'GET /api/v4/projects/P/pipelines/N/jobs',
    'GET /api/v4/projects/P/repository/commits',
    'GET /api/v4/projects/P/repository/commits/SHA',
    'GET /api/v4/projects/P/repository/tags',
    'GET /api/v4/projects/P/merge_requests',
    'GET /api/v4/job',
    'GET /api/v4/user',
  ]) {
    assert.ok(shapes.has(expected), `no ${expected} among ${[...shapes].sort().join(', ')}`);
  }
  for (const list of ['pipelines', 'pipelines/N/jobs', 'repository/commits', 'repository/tags', 'merge_requests']) {
    const items = rest.filter((s) => s.status === 200 && shape(s) === `GET /api/v4/projects/P/${list}`);
    assert.ok(items.some((s) => s.body.length > 0), `a ${list} answer lists something`);
  }
});

test('the fake answered REST under /api/v4 and GraphQL at /api/graphql, nothing else', () => {
  assert.ok(graphql.length > 0, 'GraphQL was asked');
  assert.deepEqual(served.filter((s) => !rest.includes(s) && !graphql.includes(s)).map((s) => `${s.method} ${s.path}`), []);
});

test('every REST request the fake answered is a documented operation with documented query parameters and values', () => {
  const problems = [];
  const seen = new Set();
  for (const s of rest) {
    if (UNDESCRIBED.includes(shape(s))) continue;
    const key = `${shape(s)} ${s.path.split('?')[1] ?? ''}`.replace(/=\d+/g, '=N');
    if (seen.has(key)) continue;
    seen.add(key);
    const r = find(s);
    if (!r) {
      problems.push(`${s.method} ${s.path}: no such operation`);
      continue;
    }
    for (const p of queryProblems(s, r)) problems.push(`${s.method} ${s.path}: ${p}`);
  }
  assert.deepEqual(problems, []);
});

test('the requests the description leaves out are still left out of it', () => {
  for (const u of UNDESCRIBED) {
    const [method, path] = u.split(' ');
    assert.equal(gitlab.find(method, path, []), undefined, `${u} is described now: check it`);
    const asked = rest.filter((s) => shape(s) === u);
    assert.ok(asked.length > 0, `the fake answered ${u}`);
    assert.deepEqual(asked.filter((s) => s.path.includes('?')).map((s) => s.path), [], 'asked with no query');
  }
});

test('every 200 body the fake answered has the documented fields and types', () => {
  const problems = new Set();
  const answered = rest.filter((s) => s.status === 200 && !UNDESCRIBED.includes(shape(s)));
  assert.ok(answered.length > 0, 'the log has answers');
  for (const s of answered) {
    const r = find(s);
    if (!r) continue; // said by the test above
    for (const p of gitlab.checkResponse(r, 200, s.body)) {
      problems.add(`${shape(s)} (${r.op.operationId}): ${p.replace(/^\/\d+(?=\/| )/, '/N')}`);
    }
  }
  assert.deepEqual([...problems], []);
});

test('every captured gitlab.com answer of an operation the provider calls has the documented fields and types', () => {
  const fixture = (name) =>
    JSON.parse(readFileSync(join(root, 'spektate-gitlab', 'tests', 'fixtures', name), 'utf8'));
  const cases = [
    ['gitlab-pipeline-1.json', '/api/v4/projects/21761957/pipelines/208859532'],
    ['author-response.json', '/api/v4/projects/21761957/repository/commits/ad3aa569d1293a1aaafcd8fc4e2607f5d76de81e'],
    ['tags-response.json', '/api/v4/projects/21761957/repository/tags'],
  ];
  const problems = [];
  for (const [file, path] of cases) {
    const r = gitlab.find('GET', path, []);
    assert.ok(r, path);
    for (const p of gitlab.checkResponse(r, 200, fixture(file))) problems.push(`${file} (${r.op.operationId}): ${p}`);
  }
  assert.deepEqual(problems, []);
});

test('the merge request captured from gitlab.com has, in every field a listed one describes, the type the corrected description says', () => {
  const captured = JSON.parse(readFileSync(join(root, 'spektate-gitlab', 'tests', 'fixtures', 'pr-response.json'), 'utf8'));
  const basic = gitlab.doc.definitions.API_Entities_MergeRequestBasic.properties;
  // The capture answers `GET .../merge_requests/:iid`, whose entity adds fields to a listed one.
  const listed = Object.fromEntries(Object.entries(captured).filter(([k]) => k in basic));
  assert.ok(Object.keys(listed).length > 30, 'most of its fields are described');
  const validate = gitlab.validator('captured merge request', { $ref: '#/definitions/API_Entities_MergeRequestBasic' });
  assert.deepEqual(validate(listed) ? [] : Swagger.complaints(validate), []);
  for (const field of Object.keys(properties.API_Entities_MergeRequestBasic).filter((f) => f !== 'draft')) {
    assert.ok(field in captured, `the capture shows ${field}`);
  }
});

test('the check catches an undocumented field, a wrong type, an unknown parameter and a wrong value', () => {
  const list = rest.find((s) => s.status === 200 && shape(s) === 'GET /api/v4/projects/P/pipelines' && s.body.length > 0);
  const r = find(list);
  assert.deepEqual(gitlab.checkResponse(r, 200, list.body), []);
  const [first] = list.body;
  assert.match(gitlab.checkResponse(r, 200, [{ ...first, statuss: 'success' }]).join('\n'), /must NOT have additional properties 'statuss'/);
  assert.match(gitlab.checkResponse(r, 200, [{ ...first, id: 'seven' }]).join('\n'), /\/0\/id must be integer/);
  assert.match(gitlab.checkResponse(r, 200, first).join('\n'), /must be array/);
  const bad = { method: 'GET', path: '/api/v4/projects/8/pipelines?per_page=many&sort=up&page_size=5' };
  assert.deepEqual(queryProblems(bad, find(bad)), [
    'per_page=many is not an integer',
    'sort=up is not one of asc, desc',
    'getApiV4ProjectsIdPipelines documents no page_size',
  ]);
  const mr = { method: 'GET', path: '/api/v4/projects/8/merge_requests?iids[]=1&iids[]=2&state=all' };
  assert.deepEqual(queryProblems(mr, find(mr)), []);
  const scalar = { method: 'GET', path: '/api/v4/projects/8/merge_requests?state[]=all' };
  assert.deepEqual(queryProblems(scalar, find(scalar)), ['state[]: state is documented as string']);
  const twice = { method: 'GET', path: '/api/v4/projects/8/merge_requests?state=all&state=merged&wip=maybe' };
  assert.deepEqual(queryProblems(twice, find(twice)), ['state is sent twice', 'wip=maybe is not one of yes, no']);
  const flag = { method: 'GET', path: '/api/v4/projects/8?statistics=maybe' };
  assert.deepEqual(queryProblems(flag, find(flag)), ['statistics=maybe is not a boolean']);
  assert.equal(gitlab.find('GET', '/api/v4/projects/8/pipeline', []), undefined);
});
