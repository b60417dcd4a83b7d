// GitHub's published REST descriptions (@octokit/openapi, pinned in package-lock.json):
// api.github.com and every GitHub Enterprise Server release the package ships.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { fullFormats } from 'ajv-formats/dist/formats.js';

import { Description } from './openapi.mjs';
import { here } from './out.mjs';

const generated = join(here, 'node_modules', '@octokit', 'openapi', 'generated');

/** The names of the descriptions checked: `api.github.com` and each `ghes-X.Y`. */
export function descriptionNames() {
  const ghes = readdirSync(generated)
    .filter((f) => /^ghes-\d+\.\d+\.json$/.test(f))
    .map((f) => f.replace(/\.json$/, ''));
  if (ghes.length === 0) throw new Error(`no GitHub Enterprise Server description in ${generated}`);
  return ['api.github.com', ...ghes];
}

/**
 * The known errors of GitHub's descriptions, fixed before checking: an installation's
 * `account` inlined as `allOf: [Simple User, Enterprise]` (no account is both; the
 * `installation` component itself says `anyOf`).
 */
function correct(doc) {
  const walk = (v) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const titles = (v.allOf ?? []).map((s) => s?.title);
    if (titles.length === 2 && titles.includes('Simple User') && titles.includes('Enterprise')) {
      v.anyOf = v.allOf;
      delete v.allOf;
    }
    Object.values(v).forEach(walk);
  };
  walk(doc.paths);
  walk(doc.components);
}

/**
 * GitHub answers `""` for an unset URI (a repository's `homepage` in the captured
 * `pr-response.json`) where its description says `format: uri`.
 */
const formats = { uri: (s) => s === '' || fullFormats.uri(s) };

const loaded = new Map();

/** The description `name`, read once. */
export function description(name) {
  if (!loaded.has(name)) {
    loaded.set(name, new Description(name, join(generated, `${name}.json`), { correct, formats }));
  }
  return loaded.get(name);
}

/**
 * Fields GitHub added to the API after the responses in spektate-github/tests/fixtures were
 * captured (2019-2020): required now, absent from those captures. Tolerated only in bodies
 * that are those captures (the same `node_id`), by the instance path they are missing at.
 */
export const ADDED_SINCE_CAPTURE = [
  ['', ['workflow_name', 'head_branch', 'labels', 'runner_id', 'runner_name', 'runner_group_id', 'runner_group_name', 'created_at']],
  ['', ['auto_merge']],
  ['/commit/verification', ['verified_at']],
  ['/verification', ['verified_at']],
];

/** Whether `problem` (`instancePath message`) is a field added since a capture. */
export function addedSinceCapture(problem) {
  // An item of a list answer is checked as the object itself.
  const own = problem.replace(/^\/\d+(?=[/ ])/, '').replace(/^ /, '/ ');
  return ADDED_SINCE_CAPTURE.some(([at, fields]) =>
    fields.some((f) => own === `${at || '/'} must have required property '${f}'`),
  );
}

/**
 * A served path as GitHub documents it: without its query, and `/repositories/{id}/...` (the
 * form of GitHub's `Link` headers, the same operation by repository id) as
 * `/repos/{owner}/{repo}/...`.
 */
export function documentedPath(path) {
  const bare = path.split('?')[0];
  return bare.replace(/^\/repositories\/\d+(?=\/|$)/, '/repos/id-owner/id-repo');
}

/** The names of the query parameters of a served path. */
export function queryNames(path) {
  const q = path.split('?')[1];
  return q ? [...new URLSearchParams(q).keys()] : [];
}
