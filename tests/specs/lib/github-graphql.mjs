// GitHub's published GraphQL schema (@octokit/graphql-schema, pinned in package-lock.json)
// and a check of one document and its variables against it.
import { buildClientSchema, parse, validate } from 'graphql';
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
