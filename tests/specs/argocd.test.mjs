// Every request the fake Argo CD of spektate-argocd/tests answered (logged by
// tests/common/mod.rs while run.sh runs those tests) is an operation of Argo CD's API
// description (argoproj/argo-cd assets/swagger.json, trimmed in argocd/) with documented query
// parameters, and every body it answered has only the documented fields of the documented
// types (`v1alpha1ApplicationList`, closed as in lib/swagger.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { queryNames } from './lib/github-rest.mjs';
import { here, readJsonLines } from './lib/out.mjs';
import { Swagger } from './lib/swagger.mjs';

const argo = new Swagger('argocd/swagger.json', join(here, 'argocd', 'swagger.json'));
const served = readJsonLines('argocd-served.jsonl');

test('every request the fake Argo CD answered is a documented operation with documented query parameters', () => {
  assert.ok(served.length > 0, 'the log has requests');
  const problems = [];
  for (const s of served) {
    const r = argo.find(s.method, s.path.split('?')[0], queryNames(s.path));
    if (!r) {
      problems.push(`${s.method} ${s.path}: no such operation`);
      continue;
    }
    for (const q of queryNames(s.path)) {
      if (!argo.queryParameters(r).includes(q)) problems.push(`${s.method} ${s.path}: no query parameter ${q}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every application list the fake answered has the documented fields and types', () => {
  const problems = new Set();
  for (const s of served.filter((x) => !x.malformed)) {
    const r = argo.find(s.method, s.path.split('?')[0], queryNames(s.path));
    if (!r) continue; // said by the test above
    for (const p of argo.checkResponse(r, s.status, s.body)) problems.add(`${s.path}: ${p}`.replace(/\/items\/\d+/, '/items/N'));
  }
  assert.deepEqual([...problems], []);
});

test('the lists the tests malform on purpose are off the description', () => {
  const malformed = served.filter((x) => x.malformed);
  assert.ok(malformed.length > 0, 'a test serves a malformed list');
  const r = argo.find('GET', '/api/v1/applications', []);
  for (const s of malformed) assert.notDeepEqual(argo.checkResponse(r, s.status, s.body), [], s.path);
});

test('the check catches an undocumented field and a wrong type', () => {
  const s = served.find((x) => x.body.items.length > 0);
  const r = argo.find('GET', '/api/v1/applications', []);
  assert.deepEqual(argo.checkResponse(r, 200, s.body), []);
  const [first] = s.body.items;
  const renamed = { ...s.body, items: [{ ...first, spec: { ...first.spec, destinaton: {} } }] };
  assert.match(argo.checkResponse(r, 200, renamed).join('\n'), /must NOT have additional properties 'destinaton'/);
  const wrong = { ...s.body, items: [{ ...first, metadata: { ...first.metadata, name: 7 } }] };
  assert.match(argo.checkResponse(r, 200, wrong).join('\n'), /\/items\/0\/metadata\/name must be string/);
});
