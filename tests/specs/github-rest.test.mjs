// Every REST request the fake GitHub of spektate-github/tests answered (logged by
// tests/support/specs_log.rs while run.sh runs those tests) is a documented operation of
// GitHub's REST description (@octokit/openapi) for api.github.com and for each GitHub
// Enterprise Server release it ships: method, path template and query parameter names. Every
// JSON body the fake answered with a 2xx status, and every captured response in
// spektate-github/tests/fixtures, validates against the documented response schema of its
// operation with ajv (the full JSON Schema: required fields, types, enums, formats, nullable),
// but for the fields GitHub added after those responses were captured (lib/github-rest.mjs,
// ADDED_SINCE_CAPTURE), tolerated in the captures alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  addedSinceCapture,
  description,
  descriptionNames,
  documentedPath,
  queryNames,
} from './lib/github-rest.mjs';
import { readJsonLines, root } from './lib/out.mjs';

const served = readJsonLines('github-served.jsonl').filter((s) => !s.path.endsWith('/graphql'));
const names = descriptionNames();

const fixtures = [
  ['gh-actions-1115488431.json', 'GET', '/repos/o/r/actions/jobs/1115488431'],
  ['gh-actions-1255355142.json', 'GET', '/repos/o/r/actions/jobs/1255355142'],
  ['author-response.json', 'GET', '/repos/o/r/commits/f19cb81f889d8d29dd21d860df04967fdf5af567'],
  ['pr-response.json', 'GET', '/repos/o/r/pulls/408'],
  // Captured from `git/refs/tags`; the provider reads the same refs from `git/matching-refs`.
  ['sync-response.json', 'GET', '/repos/o/r/git/matching-refs/tags/flux-'],
  ['sync-response-1.json', 'GET', '/repos/o/r/git/tags/7d57f93bcb572c8cbb02fe7fd1c4d3f143746b1d'],
  ['manifest-sync-tag-response.json', 'GET', '/repos/o/r/git/tags/1b146d99700834a3c17b47f20e2a9db317bb0032'],
].map(([file, method, path]) => ({
  file,
  method,
  path,
  body: JSON.parse(readFileSync(join(root, 'spektate-github', 'tests', 'fixtures', file), 'utf8')),
}));

/** The `node_id`s of the captured responses. */
const captured = new Set(fixtures.flatMap(({ body }) => (Array.isArray(body) ? body : [body]).map((b) => b.node_id)));

/** Whether `problem` of `body` is a field GitHub added since `body` (a capture) was captured. */
function toleratedInCapture(body, problem) {
  const item = Array.isArray(body) ? body[Number(problem.match(/^\/(\d+)/)?.[1])] : body;
  return captured.has(item?.node_id) && addedSinceCapture(problem);
}

/** The operations the fake served, once each: `METHOD /path` → one served example. */
function distinct(entries, keyOf) {
  const out = new Map();
  for (const e of entries) if (!out.has(keyOf(e))) out.set(keyOf(e), e);
  return [...out.values()];
}

test('the fake answered the requests of every part of the provider', () => {
  const ops = new Set(served.map((s) => `${s.method} ${documentedPath(s.path)}`).map((k) =>
    k
      .replace(/\/repos\/[^/]+\/[^/]+/, '/repos/O/R')
      .replace(/\/(commits|git\/tags)\/[0-9a-f]+$/, '/$1/SHA')
      .replace(/\/\d+(?=\/|$)/g, '/N'),
  ));
  for (const expected of [
    'GET /repos/O/R/actions/runs',
    'GET /repos/O/R/actions/runs/N',
    'GET /repos/O/R/actions/runs/N/jobs',
    'GET /repos/O/R/actions/jobs/N',
    'GET /repos/O/R/pulls',
    'GET /repos/O/R/pulls/N',
    'GET /repos/O/R/git/matching-refs/tags/flux-',
    'GET /repos/O/R/git/tags/SHA',
    'GET /repos/O/R/commits/SHA',
    'GET /repos/O/R',
    'GET /app',
    'GET /repos/O/R/installation',
    'GET /app/installations',
    'POST /app/installations/N/access_tokens',
  ]) {
    assert.ok(ops.has(expected), `no ${expected} among ${[...ops].sort().join(', ')}`);
  }
});

for (const name of names) {
  test(`every request the fake answered is an operation of ${name}, with documented query parameters`, () => {
    const d = description(name);
    const problems = [];
    const seen = distinct(served, (s) => `${s.method} ${documentedPath(s.path)} ${queryNames(s.path).sort()}`);
    for (const s of seen) {
      const r = d.find(s.method, documentedPath(s.path));
      if (!r) {
        problems.push(`${s.method} ${s.path}: no such operation`);
        continue;
      }
      const documented = d.queryParameters(r);
      for (const q of queryNames(s.path)) {
        if (!documented.includes(q)) {
          problems.push(`${s.method} ${s.path}: ${r.template} documents no query parameter ${q} (only ${documented.join(', ')})`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test(`every 2xx body the fake answered validates against its ${name} response schema`, () => {
    const d = description(name);
    const problems = [];
    const answered = served.filter((s) => s.status >= 200 && s.status < 300 && s.body !== null);
    assert.ok(answered.length > 0, 'the log has answers');
    // One body of each shape is enough per operation and status, but every distinct body is
    // cheap to check: the whole log is checked.
    for (const s of answered) {
      const r = d.find(s.method, documentedPath(s.path));
      if (!r) continue; // said by the test above
      for (const p of d.check(r, s.status, s.body)) {
        if (!toleratedInCapture(s.body, p)) problems.push(`${s.method} ${s.path} ${s.status}: ${p}`);
      }
    }
    assert.deepEqual(distinct(problems, (p) => p.replace(/^\S+ \S+/, '')), []);
  });
}

test('every captured GitHub response in tests/fixtures validates against its api.github.com schema', () => {
  const d = description('api.github.com');
  const problems = [];
  for (const { file, method, path, body } of fixtures) {
    const r = d.find(method, path);
    assert.ok(r, `${method} ${path}`);
    for (const p of d.check(r, 200, body)) {
      if (!toleratedInCapture(body, p)) problems.push(`${file} (${r.template}): ${p}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the check catches a missing required field, a wrong type and an unknown path', () => {
  const d = description('api.github.com');
  const run = served.find((s) => s.status === 200 && /\/actions\/runs\/\d+$/.test(s.path));
  const r = d.find('GET', documentedPath(run.path));
  assert.deepEqual(d.check(r, 200, run.body), []);
  const { head_sha: _, ...headless } = run.body;
  assert.match(d.check(r, 200, headless).join('\n'), /must have required property 'head_sha'/);
  assert.match(d.check(r, 200, { ...run.body, run_number: 'seven' }).join('\n'), /\/run_number must be integer/);
  assert.equal(d.find('GET', '/repos/o/r/actions/runz/1'), undefined);
  assert.match(d.check(r, 201, run.body).join('\n'), /documents no JSON answer 201/);
});
