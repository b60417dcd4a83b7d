// Trims a Swagger 2.0 description (Azure DevOps', Argo CD's, GitLab's) to the operations a provider
// calls and the parameters and definitions they reference.
//
//   node lib/trim.mjs AREA SOURCE.json OUT.json 'METHOD PATH' ...
//
// PATH is a key of `paths` or `x-ms-paths`.
import { readFileSync, writeFileSync } from 'node:fs';

const [area, source, out, ...wanted] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(source, 'utf8').replace(/^\uFEFF/, ''));
const trimmed = {
  swagger: doc.swagger,
  info: doc.info,
  host: doc.host,
  basePath: doc.basePath,
  'x-ms-vss-area': doc['x-ms-vss-area'] ?? area,
  paths: {},
  'x-ms-paths': {},
  parameters: {},
  definitions: {},
};
const refs = [];
const collect = (v) => {
  if (Array.isArray(v)) return v.forEach(collect);
  if (v === null || typeof v !== 'object') return;
  if (typeof v.$ref === 'string') refs.push(v.$ref);
  Object.values(v).forEach(collect);
};
for (const w of wanted) {
  const [method, path] = w.split(' ');
  const section = doc.paths?.[path] ? 'paths' : 'x-ms-paths';
  const op = doc[section]?.[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`${area}: no ${w}`);
  const { description, parameters, responses, operationId, produces, consumes } = op;
  trimmed[section][path] ??= {};
  const kept = { operationId, description, produces, consumes, parameters, responses };
  trimmed[section][path][method.toLowerCase()] = kept;
  collect(kept);
}
while (refs.length > 0) {
  const ref = refs.pop();
  const [, kind, name] = ref.match(/^#\/(definitions|parameters)\/(.+)$/) ?? [];
  if (!kind) throw new Error(`${area}: unexpected $ref ${ref}`);
  if (trimmed[kind][name]) continue;
  trimmed[kind][name] = doc[kind][name];
  collect(doc[kind][name]);
}
trimmed.definitions = Object.fromEntries(Object.entries(trimmed.definitions).sort());
writeFileSync(out, `${JSON.stringify(trimmed, null, 1)}\n`);
console.log(`${out}: ${wanted.length} operations, ${Object.keys(trimmed.definitions).length} definitions`);
