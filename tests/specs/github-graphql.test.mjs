// Every GraphQL document spektate-github sends (spektate_github::graphql_documents, written by
// spektate-github/tests/graphql_documents.rs), and every query the fake GitHub was sent while
// the provider's tests ran (github-served.jsonl), validates against GitHub's published schema
// (@octokit/graphql-schema), with variables of the declared types; and every answer the fake
// gave is what GitHub's schema lets it answer to that query (lib/github-graphql.mjs,
// answerProblems).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { answerProblems, problems } from './lib/github-graphql.mjs';
import { readJson, readJsonLines } from './lib/out.mjs';

const documents = readJson('github-graphql-documents.json');
const sent = readJsonLines('github-served.jsonl').filter((s) => s.path.endsWith('/graphql'));

test('the provider has a document for each lookup and for the branch histories', () => {
  assert.deepEqual(
    documents.map((d) => d.name),
    ['commits', 'pulls', 'tags', 'jobs', 'history'],
  );
});

for (const d of documents) {
  test(`the ${d.name} document validates against GitHub's schema`, () => {
    assert.deepEqual(problems(d.query, d.variables), [], d.query);
  });
}

test('every query the provider sent to the fake validates against GitHub\'s schema', () => {
  assert.ok(sent.length > 0, 'the provider sent GraphQL queries');
  const found = [];
  const seen = new Set();
  for (const { request } of sent) {
    const key = request.query;
    // Each distinct query text once, with the variables it was first sent with.
    if (seen.has(key)) continue;
    seen.add(key);
    for (const p of problems(request.query, request.variables)) found.push(`${p}\n  in ${request.query}`);
  }
  const kinds = new Set(
    [...seen].map((q) => q.match(/fragment (\w+) on/)?.[1] ?? (q.includes('resource(url:') ? 'job' : '?')),
  );
  assert.deepEqual([...kinds].sort(), ['commit', 'history', 'job', 'pull', 'tag']);
  assert.deepEqual(found, []);
});

test('every answer the fake gave is what the schema lets GitHub answer to that query', () => {
  const answered = sent.filter((s) => s.body?.data);
  assert.ok(answered.length > 0, 'the fake answered GraphQL queries');
  const found = new Set();
  for (const { request, body } of answered) {
    for (const p of answerProblems(request.query, request.variables, body)) found.add(p.replace(/^[cjprt]\d+\./, 'ALIAS.'));
  }
  assert.deepEqual([...found], []);
});

test('the answer check catches a wrong enum, a null for a non-null field and an unasked field', () => {
  const job = sent.find((s) => s.request.query.includes('resource(url:') && s.body?.data?.j0);
  const { query, variables } = job.request;
  assert.deepEqual(answerProblems(query, variables, job.body), []);
  const withJob = (change) => ({ data: { ...job.body.data, j0: change(structuredClone(job.body.data.j0)) } });
  const lower = withJob((j) => ({ ...j, status: 'completed' }));
  assert.match(answerProblems(query, variables, lower).join('\n'), /Enum "CheckStatusState" cannot represent value: "completed"/);
  const nameless = withJob((j) => ({ ...j, checkSuite: { ...j.checkSuite, branch: { name: null } } }));
  assert.match(answerProblems(query, variables, nameless).join('\n'), /non-nullable field Ref.name/);
  const extra = withJob((j) => ({ ...j, title: 'Build' }));
  assert.match(answerProblems(query, variables, extra).join('\n'), /not what the query selects/);
});

test('the check catches a field, a variable type and a value GitHub does not have', () => {
  const pulls = documents.find((d) => d.name === 'pulls');
  const misspelt = problems(pulls.query.replace('headRefName', 'headRefNam'), pulls.variables);
  assert.match(misspelt.join('\n'), /Cannot query field "headRefNam" on type "PullRequest"/);
  const wrongType = problems(pulls.query.replace('$p0: Int!', '$p0: String!'), pulls.variables);
  assert.match(wrongType.join('\n'), /Variable "\$p0" of type "String!" used in position expecting type "Int!"/);
  const wrongValue = problems(pulls.query, { ...pulls.variables, p0: 'seven' });
  assert.match(wrongValue.join('\n'), /Variable "\$p0" got invalid value "seven"/);
});
