// A Swagger 2.0 description (Azure DevOps' from MicrosoftDocs/vsts-rest-api-specs, Argo CD's, GitLab's)
// read as a router and a checker: which documented operation a request is (`paths` and
// `x-ms-paths`, a trailing path parameter with `x-ms-required: false` may be left out), the
// api-version it documents, its query parameters, and whether a JSON body is what it documents.
// Bodies are checked with ajv against the documented schema made closed: every object with
// `properties` gets `additionalProperties: false` (with the properties of its `allOf` bases
// merged in), so a field the description does not have fails, as does a wrong type. (The
// descriptions mark no field `required`.) `ReferenceLinks` is read as the service writes it, a
// map of link names to `{href}` (the description shows the .NET class, whose `links`
// dictionary is what is serialized).
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const MAPS = new Set(['properties', 'definitions']);

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `schema`, or `null` (the service writes `null` for a property it has no value for). */
function nullable(schema) {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [{ type: 'null' }, schema] };
}

/**
 * `schema` with every object that lists `properties` closed to others, and each property
 * nullable. `map` says `schema` is a name → schema map (`properties`, `definitions`).
 */
function closed(schema, map) {
  if (Array.isArray(schema)) return schema.map((v) => closed(v));
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = closed(v, map ? undefined : MAPS.has(k) && k);
    if (map === 'properties') out[k] = nullable(out[k]);
  }
  if (!map && out.properties && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

export class Swagger {
  /**
   * `name` says which description it is in messages; `file` is its JSON. `properties` adds
   * properties to definitions (`{Definition: {field: schema}}`) that the description lacks;
   * `formats` overrides ajv formats by name; `plainArrays` says a documented array comes as a
   * JSON array (GitLab), not in Azure DevOps' `{count, value}` wrapper.
   */
  constructor(name, file, { properties = {}, formats = {}, plainArrays = false } = {}) {
    this.name = name;
    this.plainArrays = plainArrays;
    this.doc = JSON.parse(readFileSync(file, 'utf8'));
    for (const [def, extra] of Object.entries(properties)) {
      if (this.doc.definitions[def]) Object.assign((this.doc.definitions[def].properties ??= {}), extra);
    }
    this.id = `https://swagger.invalid/${encodeURIComponent(name)}`;
    this.routes = [];
    for (const section of ['paths', 'x-ms-paths']) {
      for (const [key, item] of Object.entries(this.doc[section] ?? {})) {
        const template = key.split('?')[0];
        for (const method of METHODS) {
          if (!item[method]) continue;
          const op = item[method];
          const params = (op.parameters ?? []).map((p) => this.deref(p));
          const segments = template.split('/');
          const variants = [segments];
          const last = params.find((p) => p.in === 'path' && `{${p.name}}` === segments.at(-1));
          if (last?.['x-ms-required'] === false) variants.push(segments.slice(0, -1));
          for (const segs of variants) {
            const regex = new RegExp(
              `^${segs.map((s) => escape(s).replace(/\\\{[^}]+\\\}/g, '([^/]+)')).join('/')}$`,
              'i',
            );
            this.routes.push({ method: method.toUpperCase(), template: key, regex, op, params });
          }
        }
      }
    }
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false });
    addFormats(this.ajv);
    // Microsoft's integer formats, as JSON Schema has none.
    this.ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
    this.ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });
    for (const [format, validate] of Object.entries(formats)) this.ajv.addFormat(format, validate);
    this.ajv.addSchema({ $id: this.id, definitions: closed(this.flattened()) });
    this.compiled = new Map();
  }

  /** The definitions with `allOf` bases merged into their objects, and links as written. */
  flattened() {
    const defs = structuredClone(this.doc.definitions);
    const merge = (d, seen = new Set()) => {
      if (!d?.allOf) return d;
      const properties = {};
      for (const part of d.allOf) {
        const base = part.$ref ? merge(defs[part.$ref.split('/').pop()], seen) : merge(part, seen);
        Object.assign(properties, base?.properties ?? {});
      }
      const { allOf: _, ...rest } = d;
      return { ...rest, type: 'object', properties: { ...properties, ...(d.properties ?? {}) } };
    };
    for (const name of Object.keys(defs)) defs[name] = merge(defs[name]);
    if (defs.ReferenceLinks) {
      defs.ReferenceLinks = {
        type: 'object',
        additionalProperties: { type: 'object', properties: { href: { type: 'string' } }, additionalProperties: false },
      };
    }
    return defs;
  }

  /** `{$ref}` of the description, followed. */
  deref(value) {
    let v = value;
    while (v && v.$ref) {
      const [, kind, name] = v.$ref.match(/^#\/(definitions|parameters)\/(.+)$/);
      v = this.doc[kind][name];
    }
    return v;
  }

  /**
   * The documented operation `method path?query` is, or undefined: of those whose template
   * matches, the one documenting every query parameter sent, and then all it requires.
   */
  find(method, path, queryNames) {
    const hits = this.routes.filter((r) => r.method === method && r.regex.test(path));
    const score = (r) => {
      const query = r.params.filter((p) => p.in === 'query');
      const documented = queryNames.filter((q) => query.some((p) => p.name === q)).length;
      const required = query.filter((p) => p.required && queryNames.includes(p.name)).length;
      const missing = query.filter((p) => p.required && !queryNames.includes(p.name)).length;
      return documented * 100 + required - missing * 1000;
    };
    return hits.sort((a, b) => score(b) - score(a))[0];
  }

  /** The names of the query parameters `r` documents. */
  queryParameters(r) {
    return r.params.filter((p) => p.in === 'query').map((p) => p.name);
  }

  /** The api-version `r` asks for, read from its parameter's description. */
  apiVersion(r) {
    const p = r.params.find((x) => x.name === 'api-version');
    return p?.description?.match(/set to '([^']+)'/)?.[1];
  }

  validator(key, schema) {
    if (!this.compiled.has(key)) {
      const absolute = JSON.parse(
        JSON.stringify(closed(schema)).replaceAll('"#/definitions/', `"${this.id}#/definitions/`),
      );
      this.compiled.set(key, this.ajv.compile(absolute));
    }
    return this.compiled.get(key);
  }

  static complaints(validate) {
    return validate.errors.map(
      (e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ''}`,
    );
  }

  /** What is wrong with `body` as the request body of `r` (empty when it is documented). */
  checkRequest(r, body) {
    const param = r.params.find((p) => p.in === 'body');
    if (!param) return body == null ? [] : [`${this.name}: ${r.template} takes no body`];
    const validate = this.validator(`${r.method} ${r.template} body`, param.schema);
    return validate(body) ? [] : Swagger.complaints(validate);
  }

  /**
   * What is wrong with `body` as `r`'s answer with `status`. A documented array comes as
   * `{count, value}`, the collection wrapper of the service, unless `plainArrays`.
   */
  checkResponse(r, status, body) {
    const schema = r.op.responses?.[String(status)]?.schema;
    if (!schema) return [`${this.name} documents no answer ${status} for ${r.method} ${r.template}`];
    const validate = this.validator(`${r.method} ${r.template} ${status}`, schema);
    let value = body;
    const problems = [];
    if (schema.type === 'array' && !this.plainArrays) {
      if (body === null || typeof body !== 'object' || !Array.isArray(body.value)) {
        return ['/ is not a {count, value} collection'];
      }
      if (body.count !== body.value.length) problems.push(`/count ${body.count} is not the ${body.value.length} values`);
      const extra = Object.keys(body).filter((k) => k !== 'count' && k !== 'value');
      if (extra.length > 0) problems.push(`/ has ${extra.join(', ')} besides count and value`);
      value = body.value;
    }
    if (!validate(value)) problems.push(...Swagger.complaints(validate));
    return problems;
  }
}
