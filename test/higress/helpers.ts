// Shared helpers for the Higress packaging tests: loading the files under config/higress/,
// turning the OpenAPI 3.0 flavoured schema of spec.yaml into JSON Schema for Ajv, emulating how
// Higress turns a WasmPlugin into the plugin's configuration, and reading README tables.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { parse, parseAllDocuments } from "yaml";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const higressDir = join(root, "config", "higress");

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type Schema = { [key: string]: any };

export function readText(...parts: string[]): string {
  return readFileSync(join(root, ...parts), "utf8");
}

export function loadYaml(...parts: string[]): any {
  const docs = parseAllDocuments(readText(...parts));
  if (docs.length !== 1) throw new Error(`${parts.join("/")}: expected one YAML document, got ${docs.length}`);
  if (docs[0].errors.length > 0) throw docs[0].errors[0];
  return docs[0].toJS({ maxAliasCount: 100 });
}

export const loadSpec = () => loadYaml("config", "higress", "spec.yaml");
export const loadWasmPlugin = () => loadYaml("config", "higress", "wasmplugin.yaml");
export const loadRouterJson = (): JsonObject => JSON.parse(readText("config", "router.json"));
/**
 * config/router.json as Higress gets it (`llm-router higress`): without `providers`, which describe
 * the Envoy clusters; on Higress the providers are Higress's own.
 */
export const loadRouterJsonForHigress = (): JsonObject => {
  const { providers, ...rest } = loadRouterJson() as JsonObject & { providers?: unknown };
  return rest;
};

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.0 Schema Object -> JSON Schema (draft-07, what Ajv 8's default export implements).
// Differences handled: boolean exclusiveMinimum/exclusiveMaximum (OpenAPI 3.0) versus numeric
// ones (JSON Schema), `nullable`, and the OpenAPI-only annotation `example`, which is kept and
// registered as an annotation keyword together with the console's x-<field>-i18n maps.
// ---------------------------------------------------------------------------------------------

const SUBSCHEMA_MAPS = ["properties", "patternProperties"];
const SUBSCHEMA_LISTS = ["oneOf", "anyOf", "allOf"];
const SUBSCHEMA_SINGLE = ["items", "additionalProperties", "not"];

export function openApiToJsonSchema(schema: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (SUBSCHEMA_MAPS.includes(key)) {
      out[key] = Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, openApiToJsonSchema(v)]));
    } else if (SUBSCHEMA_LISTS.includes(key)) {
      out[key] = (value as Schema[]).map(openApiToJsonSchema);
    } else if (SUBSCHEMA_SINGLE.includes(key) && value !== null && typeof value === "object") {
      out[key] = openApiToJsonSchema(value);
    } else {
      out[key] = value;
    }
  }
  for (const [flag, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (out[flag] === true) {
      if (typeof out[bound] !== "number") throw new Error(`${flag}: true without a numeric ${bound}`);
      out[flag] = out[bound];
      delete out[bound];
    } else if (out[flag] === false) {
      delete out[flag];
    }
  }
  if (out.nullable === true) {
    out.type = [out.type, "null"];
  }
  delete out.nullable;
  return out;
}

/** Keywords of the OpenAPI 3.0 Schema Object, plus the console's i18n extensions. */
export const OPENAPI_30_KEYWORDS = new Set([
  "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength",
  "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties",
  "required", "enum", "type", "allOf", "oneOf", "anyOf", "not", "items", "properties",
  "additionalProperties", "description", "format", "default", "nullable", "discriminator",
  "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated",
]);

export function makeAjv(): Ajv {
  // Strict mode stays on, so a misspelt keyword in spec.yaml fails compilation; the annotation
  // keywords that are not JSON Schema are registered instead of switching strict mode off.
  const ajv = new Ajv({ strict: true, allErrors: true });
  ajv.addKeyword({ keyword: "example", schemaType: ["object", "array", "string", "number", "boolean"] });
  ajv.addKeyword({ keyword: "x-title-i18n", schemaType: "object" });
  ajv.addKeyword({ keyword: "x-description-i18n", schemaType: "object" });
  return ajv;
}

export interface Validators {
  config: ValidateFunction;
  rule: ValidateFunction;
  configSchema: Schema;
  ruleSchema: Schema;
}

export function compileSpec(spec: any = loadSpec()): Validators {
  const ajv = makeAjv();
  const configSchema = openApiToJsonSchema(spec.spec.configSchema.openAPIV3Schema);
  const ruleSchema = openApiToJsonSchema(spec.spec.routeConfigSchema.openAPIV3Schema);
  return { config: ajv.compile(configSchema), rule: ajv.compile(ruleSchema), configSchema, ruleSchema };
}

export function explain(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
}

// ---------------------------------------------------------------------------------------------
// Cross-field rules that JSON Schema cannot express. Only the first is part of the plugin's
// contract (docs/behaviour.md); the others keep the shipped examples self-consistent.
// ---------------------------------------------------------------------------------------------
export function crossCheck(config: any): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const [i, m] of (config.models ?? []).entries()) {
    if (names.has(m.name)) problems.push(`models[${i}].name: duplicate model name ${m.name}`);
    names.add(m.name);
  }
  for (const [alias, route] of Object.entries<any>(config.routes ?? {})) {
    if (names.has(alias)) problems.push(`routes.${alias}: route named like a model`);
    for (const key of ["models", "exclude"]) {
      for (const name of route[key] ?? []) {
        if (!names.has(name)) problems.push(`routes.${alias}.${key}: unknown model ${name}`);
      }
    }
    if (route.onNoCandidate !== undefined && !names.has(route.onNoCandidate)) {
      problems.push(`routes.${alias}.onNoCandidate: unknown model ${route.onNoCandidate}`);
    }
  }
  if (config.upstreamHeader !== undefined && config.upstreamHeader?.toLowerCase() === config.modelHeader?.toLowerCase()) {
    problems.push("upstreamHeader and modelHeader name the same header");
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// WasmPlugin -> plugin configuration, as the Higress controller and the plugin do it:
// defaultConfig plus `_rules_` entries carrying _match_route_ / _match_domain_ / _match_service_,
// and a rule's effective configuration = global keys replaced by the rule's top-level keys.
// ---------------------------------------------------------------------------------------------
export const MATCH_KEYS: Record<string, string> = {
  ingress: "_match_route_",
  domain: "_match_domain_",
  service: "_match_service_",
};

export function toPluginConfiguration(wasmPlugin: any): JsonObject {
  const spec = wasmPlugin.spec;
  const out: JsonObject = spec.defaultConfigDisable ? {} : { ...(spec.defaultConfig ?? {}) };
  const rules: JsonObject[] = [];
  for (const rule of spec.matchRules ?? []) {
    const entry: JsonObject = { ...(rule.config ?? {}) };
    for (const [field, key] of Object.entries(MATCH_KEYS)) {
      if (Array.isArray(rule[field]) && rule[field].length > 0) entry[key] = rule[field];
    }
    rules.push(entry);
  }
  if (rules.length > 0) out._rules_ = rules;
  return out;
}

export function effectiveRuleConfigs(pluginConfiguration: JsonObject): JsonObject[] {
  const { _rules_, ...global } = pluginConfiguration;
  return ((_rules_ as JsonObject[]) ?? []).map((rule) => {
    const own = Object.fromEntries(Object.entries(rule).filter(([k]) => !/^_match_.*_$/.test(k)));
    return { ...global, ...own };
  });
}

export function ruleOwnConfig(rule: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(rule).filter(([k]) => !/^_match_.*_$/.test(k)));
}

// ---------------------------------------------------------------------------------------------
// Schema property paths, in the notation the README tables use:
// `models`, `models[].price.input`, `routes.<alias>.weights.quality`.
// ---------------------------------------------------------------------------------------------
export interface PropertyInfo {
  path: string;
  schema: Schema;
  required: boolean;
}

export function propertyPaths(schema: Schema, prefix = ""): PropertyInfo[] {
  const out: PropertyInfo[] = [];
  const required: string[] = schema.required ?? [];
  for (const [name, sub] of Object.entries<Schema>(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.push({ path, schema: sub, required: required.includes(name) });
    out.push(...nested(sub, path));
  }
  return out;
}

function nested(sub: Schema, path: string): PropertyInfo[] {
  if (sub.type === "object" && sub.properties) return propertyPaths(sub, path);
  if (sub.type === "array" && sub.items?.type === "object") return propertyPaths(sub.items, `${path}[]`);
  if (sub.type === "object" && typeof sub.additionalProperties === "object" && sub.additionalProperties.properties) {
    return propertyPaths(sub.additionalProperties, `${path}.<alias>`);
  }
  return [];
}

/** Every schema that documents a named thing: property schemas and object-typed items / map values. */
export function documentedSchemas(schema: Schema, path = "$"): { path: string; schema: Schema }[] {
  const out: { path: string; schema: Schema }[] = [];
  for (const [name, sub] of Object.entries<Schema>(schema.properties ?? {})) {
    out.push({ path: `${path}.${name}`, schema: sub });
    out.push(...documentedSchemas(sub, `${path}.${name}`));
  }
  for (const key of ["items", "additionalProperties"]) {
    const sub = schema[key];
    if (sub && typeof sub === "object" && sub.type === "object") {
      out.push({ path: `${path}.${key}`, schema: sub });
      out.push(...documentedSchemas(sub, `${path}.${key}`));
    }
  }
  for (const [i, sub] of (schema.oneOf ?? []).entries()) out.push(...documentedSchemas(sub, `${path}.oneOf[${i}]`));
  return out;
}

/** Every schema object in the tree (for keyword checks). */
export function allSchemas(schema: Schema, path = "$"): { path: string; schema: Schema }[] {
  const out = [{ path, schema }];
  for (const key of SUBSCHEMA_MAPS) {
    for (const [name, sub] of Object.entries<Schema>(schema[key] ?? {})) out.push(...allSchemas(sub, `${path}.${key}.${name}`));
  }
  for (const key of SUBSCHEMA_LISTS) {
    for (const [i, sub] of (schema[key] ?? []).entries()) out.push(...allSchemas(sub, `${path}.${key}[${i}]`));
  }
  for (const key of SUBSCHEMA_SINGLE) {
    if (schema[key] && typeof schema[key] === "object") out.push(...allSchemas(schema[key], `${path}.${key}`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// README tables.
// ---------------------------------------------------------------------------------------------
export interface TableRow {
  name: string;
  type: string;
  requirement: string;
  default: string;
  description: string;
}

function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((c) => c.trim());
}

/** Rows of every table whose header is exactly `columns`. */
export function configTableRows(markdown: string, columns: string[]): TableRow[] {
  const lines = markdown.split("\n");
  const rows: TableRow[] = [];
  let inFence = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("```")) inFence = !inFence;
    if (inFence || !lines[i].trim().startsWith("|")) continue;
    const header = cells(lines[i]);
    if (header.join("\u0000") !== columns.join("\u0000")) continue;
    if (!/^\|?\s*-/.test(lines[i + 1]?.trim() ?? "")) continue;
    let j = i + 2;
    for (; j < lines.length && lines[j].trim().startsWith("|"); j++) {
      const c = cells(lines[j]);
      if (c.length !== columns.length) throw new Error(`README table row has ${c.length} cells: ${lines[j]}`);
      const name = /^`([^`]+)`$/.exec(c[0]);
      if (!name) throw new Error(`README table row does not start with a code-formatted name: ${lines[j]}`);
      rows.push({ name: name[1], type: c[1], requirement: c[2], default: c[3], description: c[4] });
    }
    i = j - 1;
  }
  return rows;
}

/** Fenced ```yaml blocks of a markdown file, parsed. */
export function yamlBlocks(markdown: string): any[] {
  const out: any[] = [];
  const re = /```yaml\n([\s\S]*?)```/g;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) out.push(parse(m[1]));
  return out;
}
