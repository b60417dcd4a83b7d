// An OpenAPI 3.0 description read as a router and a response validator: which documented
// operation a request is (method and path template), which query parameters it documents,
// and whether a JSON body is what it documents for a status (ajv, full JSON Schema check of
// the documented schema with its `$ref`s; OpenAPI's `nullable` is ajv's own keyword).
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `schema` with OpenAPI 3.0's `nullable: true` said in JSON Schema (ajv's own `nullable`
 * refuses a schema without `type`, which GitHub's `allOf`/`anyOf` references are): `null`
 * added to `type`, or the schema wrapped in `anyOf: [null, schema]`.
 */
function jsonSchema(schema, isMap = false) {
  if (Array.isArray(schema)) return schema.map((v) => jsonSchema(v));
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (!isMap && k === 'nullable') continue;
    // The values of a name → schema map (`properties`, the components' sections) are schemas.
    out[k] = jsonSchema(v, !isMap && MAPS.has(k));
  }
  if (isMap || schema.nullable !== true) return out;
  if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  if (Array.isArray(out.type)) return { ...out, type: [...new Set([...out.type, 'null'])] };
  return { anyOf: [{ type: 'null' }, out] };
}

const MAPS = new Set(['properties', 'patternProperties', 'schemas', 'definitions']);

/** One documented operation: its method, path template and a regex matching real paths. */
function route(method, template, item, op, trailingSlashes) {
  const segments = template.split('/').map((seg, i, all) => {
    const last = i === all.length - 1;
    return escape(seg).replace(/\\\{[^}]+\\\}/g, (param) =>
      // A trailing `{ref}` may hold slashes: GitHub's is `tags/NAME` or `heads/NAME`.
      last && trailingSlashes && param === '\\{ref\\}' ? '(.+)' : '([^/]+)',
    );
  });
  return {
    method,
    template,
    regex: new RegExp(`^${segments.join('/')}$`),
    literals: template.split('/').filter((s) => s && !s.includes('{')).length,
    item,
    op,
  };
}

export class Description {
  /**
   * `name` says which description it is in messages; `file` is its JSON. `correct` may fix
   * known errors of the description in place; `formats` overrides ajv formats by name.
   */
  constructor(name, file, { correct = () => {}, formats = {} } = {}) {
    this.name = name;
    this.doc = JSON.parse(readFileSync(file, 'utf8'));
    correct(this.doc);
    this.id = `https://openapi.invalid/${encodeURIComponent(name)}`;
    this.strict = [];
    this.loose = [];
    for (const [template, item] of Object.entries(this.doc.paths)) {
      for (const method of METHODS) {
        if (!item[method]) continue;
        this.strict.push(route(method.toUpperCase(), template, item, item[method], false));
        this.loose.push(route(method.toUpperCase(), template, item, item[method], true));
      }
    }
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, logger: false });
    addFormats(this.ajv);
    for (const [format, validate] of Object.entries(formats)) this.ajv.addFormat(format, validate);
    this.ajv.addSchema({ $id: this.id, components: jsonSchema(this.doc.components) });
    this.compiled = new Map();
  }

  /** The documented operation `method path` is (the most specific template), or undefined. */
  find(method, path) {
    for (const routes of [this.strict, this.loose]) {
      const hits = routes.filter((r) => r.method === method && r.regex.test(path));
      if (hits.length > 0) return hits.sort((a, b) => b.literals - a.literals)[0];
    }
    return undefined;
  }

  /** `{$ref}` of the description, followed. */
  deref(value) {
    let v = value;
    while (v && v.$ref) {
      const parts = v.$ref.replace(/^#\//, '').split('/');
      v = parts.reduce((o, p) => o?.[p.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    return v;
  }

  /** The names of the query parameters `r` documents. */
  queryParameters(r) {
    return [...(r.item.parameters ?? []), ...(r.op.parameters ?? [])]
      .map((p) => this.deref(p))
      .filter((p) => p?.in === 'query')
      .map((p) => p.name);
  }

  /** The JSON schema `r` documents for `status`, or undefined when it documents none. */
  responseSchema(r, status) {
    const response = this.deref(r.op.responses?.[String(status)]);
    return response?.content?.['application/json']?.schema;
  }

  /**
   * What is wrong with `body` as `r`'s answer with `status`: an undocumented status, or the
   * schema's complaints (`instancePath: message`). Empty when it is as documented.
   */
  check(r, status, body) {
    const key = `${r.method} ${r.template} ${status}`;
    if (!this.compiled.has(key)) {
      const schema = this.responseSchema(r, status);
      if (!schema) {
        this.compiled.set(key, null);
      } else {
        const absolute = JSON.parse(
          JSON.stringify(jsonSchema(schema)).replaceAll('"#/components/', `"${this.id}#/components/`),
        );
        this.compiled.set(key, this.ajv.compile(absolute));
      }
    }
    const validate = this.compiled.get(key);
    if (!validate) return [`${this.name} documents no JSON answer ${status} for ${r.method} ${r.template}`];
    if (validate(body)) return [];
    return validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.missingProperty ? '' : ` (${JSON.stringify(e.params)})`}`);
  }
}
