// GitHub's published GraphQL schema (@octokit/graphql-schema, pinned in package-lock.json)
// and a check of one document and its variables against it.
import { buildClientSchema, execute, Kind, parse, validate } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import { schema as published } from '@octokit/graphql-schema';

let built;

/**
 * GitHub's schema, built once from its introspection result (the package's own `validate`
 * does the same; its SDL defines a field twice, which `buildSchema` refuses).
 */
export function githubSchema() {
  built ??= buildClientSchema(published.json);
  return built;
}

/**
 * The problems of `query` sent with `variables`: what `validate()` reports (unknown fields,
 * arguments and types, variables used where their type is not allowed, ...) and any variable
 * value that does not coerce to its declared type. Empty when GitHub would accept it.
 */
export function problems(query, variables) {
  const schema = githubSchema();
  let doc;
  try {
    doc = parse(query);
  } catch (e) {
    return [`does not parse: ${e.message}`];
  }
  const found = validate(schema, doc).map((e) => e.message);
  if (found.length > 0) return found;
  for (const op of doc.definitions.filter((d) => d.kind === 'OperationDefinition')) {
    const coerced = getVariableValues(schema, op.variableDefinitions ?? [], variables ?? {});
    for (const e of coerced.errors ?? []) found.push(e.message);
  }
  return found;
}

/** The type conditions of the inline fragments under `nodes`, through named fragments. */
function fragmentTypes(nodes, fragments, out = new Set()) {
  for (const node of nodes) {
    for (const sel of node.selectionSet?.selections ?? []) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (sel.typeCondition) out.add(sel.typeCondition.name.value);
        fragmentTypes([sel], fragments, out);
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const f = fragments[sel.name.value];
        if (f) {
          out.add(f.typeCondition.name.value);
          fragmentTypes([f], fragments, out);
        }
      }
    }
  }
  return out;
}

/**
 * The problems of `answer` (`{data, errors}`) as GitHub's answer to `query` with `variables`:
 * the query is executed against the schema with the answer as its data (each field read
 * under its response key, an abstract type resolved by `__typename`, else by the fragment
 * type whose fields hold the object's keys), so a value of the wrong type, an unknown enum
 * value or a null where the schema says non-null is an error; and what that execution
 * returns must be the answer's data itself, so no field is missing or answered unasked.
 */
export function answerProblems(query, variables, answer) {
  const schema = githubSchema();
  const doc = parse(query);
  const typeResolver = (value, _ctx, info, abstractType) => {
    if (value && typeof value.__typename === 'string') return value.__typename;
    const keys = Object.keys(value ?? {});
    const wanted = fragmentTypes(info.fieldNodes, info.fragments);
    const fits = schema
      .getPossibleTypes(abstractType)
      .filter((t) => keys.every((k) => k in t.getFields()));
    return (fits.find((t) => wanted.has(t.name)) ?? fits[0])?.name;
  };
  const result = execute({
    schema,
    document: doc,
    rootValue: answer.data,
    variableValues: variables,
    fieldResolver: (source, _args, _ctx, info) => source?.[info.path.key],
    typeResolver,
  });
  const found = [];
  for (const e of result.errors ?? []) {
    // GitHub answers database ids beyond 32 bits (job ids passed 2^31) in fields its schema
    // types `Int`: such a value is taken as answered (obmarg/cynic#711 shows one).
    const at = e.path ?? [];
    const answered = at.reduce((o, k) => o?.[k], answer.data);
    if (at.at(-1) === 'databaseId' && Number.isSafeInteger(answered) && /non 32-bit/.test(e.message)) {
      const parent = at.slice(0, -1).reduce((o, k) => o?.[k], result.data);
      if (parent) {
        parent.databaseId = answered;
        continue;
      }
    }
    found.push(`${at.join('.')}: ${e.message}`);
  }
  const same = JSON.stringify(sortKeys(result.data)) === JSON.stringify(sortKeys(answer.data));
  if (found.length === 0 && !same) {
    found.push(`the answer is not what the query selects: ${JSON.stringify(diff(answer.data, result.data))}`);
  }
  return found;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
}

/** The first place `a` and `b` differ: `{path, answered, selected}`. */
function diff(a, b, path = '') {
  if (JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = diff(a[k], b[k], `${path}/${k}`);
      if (d) return d;
    }
  }
  return { path: path || '/', answered: a, selected: b };
}
