// Reading a router configuration file and the checks only the whole file allows: the plugin judges
// the configuration itself (plugin-host.mjs); this module adds what the gateway around it needs
// (every upstream names a provider, the key variables are set, Azure deployment names fit a path).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fallbackClusterProblem } from "./failover.mjs";
import { jsonSyntaxError, lineColumn } from "./json-syntax.mjs";
import { AZURE_OPENAI, CONFIG_ERROR_PREFIX, OPENAI } from "./names.mjs";
import { configurePlugin } from "./plugin-host.mjs";

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ENVOY_WASM = join(PACKAGE_ROOT, "build", "envoy.wasm");
export const HIGRESS_WASM = join(PACKAGE_ROOT, "build", "higress.wasm");

export const DEFAULT_UPSTREAM_HEADER = "x-llm-upstream";
export const DEFAULT_MODEL_HEADER = "x-llm-model";
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_PATHS = ["/chat/completions", "/completions", "/responses", "/messages", "/embeddings"];
const AZURE_DEPLOYMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** An error found in a configuration: `path` is the field path ("providers.groq.apiKeyEnv"). */
export class ConfigProblem {
  constructor(path, message, severity = "error") {
    this.path = path;
    this.message = message;
    this.severity = severity;
  }
  toString() {
    return this.path ? `${this.path}: ${this.message}` : this.message;
  }
}

/** A problem as `llm-router check` prints it: "FILE: [warning: ]PATH: MESSAGE". */
export const problemLine = (file, p) => `${file}: ${p.severity === "warning" ? "warning: " : ""}${p}`;

/** A configuration file that cannot be read or is not a JSON object; the message starts with the file. */
export class ConfigFileError extends Error {}

/** Reads and parses a configuration file; throws a ConfigFileError for I/O or JSON errors. */
export function readConfigFile(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigFileError(`${file}: cannot read (${err.code ?? err.message})`);
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const at = jsonSyntaxError(text);
    if (at === null) throw new ConfigFileError(`${file}: not valid JSON: ${err.message}`);
    const { line, column } = lineColumn(text, at.offset);
    throw new ConfigFileError(`${file}:${line}:${column}: not valid JSON: ${at.message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new ConfigFileError(`${file}: expected a JSON object`);
  return { file, text, json };
}

/** The plugin's own verdict (build/envoy.wasm unless another build is named). */
export function pluginProblems(configText, wasmPath = ENVOY_WASM) {
  if (!existsSync(wasmPath)) {
    throw new Error(`${wasmPath} is missing: run \`npm run build\` first (it builds the plugin the check runs)`);
  }
  const { ok, logs } = configurePlugin(wasmPath, configText);
  const errors = logs.filter((l) => l.level >= 4).map((l) => l.message);
  if (ok) return [];
  const prefix = CONFIG_ERROR_PREFIX;
  const lines = errors.length > 0 ? errors : ["the plugin refused the configuration without saying why"];
  return lines.map((line) => {
    const rest = line.startsWith(prefix) ? line.slice(prefix.length) : line;
    const colon = rest.indexOf(": ");
    return colon > 0 && !rest.slice(0, colon).includes(" ")
      ? new ConfigProblem(rest.slice(0, colon), rest.slice(colon + 2))
      : new ConfigProblem("", rest);
  });
}

const URL_SHAPE = "expected http(s)://host[:port][/path], e.g. \"https://api.openai.com/v1\"";

/**
 * Why a provider's baseUrl cannot be used, or null. The same rule as the plugin's
 * (assembly/config/providers.ts): the generated route and the failover filter must send the very
 * path written here, so nothing a URL parser would rewrite (dot segments, %-escapes, backslashes,
 * empty segments) and nothing but scheme, host, port and path.
 */
export function baseUrlProblem(url) {
  if (typeof url !== "string") return "expected a string";
  if (url.includes("\\")) return "a backslash in the URL: write it with '/' only";
  const m = /^(https?):\/\/([^/]*)(.*)$/.exec(url);
  if (!m) return URL_SHAPE;
  const [, , authority, path] = m;
  const host = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]*))?$/.exec(authority);
  if (!host) return `${URL_SHAPE} (a host name, an IPv4 address or a bracketed IPv6 address, without credentials)`;
  if (host[2] !== undefined && !(/^[0-9]{1,5}$/.test(host[2]) && Number(host[2]) >= 1 && Number(host[2]) <= 65535)) return "expected a port from 1 to 65535";
  if (/[\x00-\x20\x7f-\uffff?#]/.test(path)) return `${URL_SHAPE} (no query, fragment or spaces)`;
  if (path.includes("%")) return "a %-escape in the path: providers are sent this path as written, so write it unescaped";
  const segments = path.replace(/\/+$/, "").split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return "a '.' or '..' segment in the path: write the path it stands for";
  if (segments.some((s) => s === "")) return "an empty segment ('//') in the path";
  return null;
}

/** A provider as the generator needs it (the plugin has already validated the fields). */
export function parseProvider(name, spec) {
  const url = new URL(spec.baseUrl);
  const secure = url.protocol === "https:";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const basePath = url.pathname.replace(/\/+$/, "");
  return {
    name,
    baseUrl: spec.baseUrl,
    secure,
    host,
    port,
    defaultPort: port === (secure ? 443 : 80),
    isIp: /^[0-9.]+$/.test(host) || host.includes(":"),
    basePath,
    auth: spec.auth ?? "bearer",
    apiKeyEnv: spec.apiKeyEnv ?? null,
    headers: Object.entries(spec.headers ?? {}),
    // `api` (the plugin refuses what it does not know); before the field, apiVersion alone meant Azure.
    api: spec.api ?? (spec.apiVersion !== undefined ? AZURE_OPENAI : OPENAI),
    apiVersion: spec.apiVersion ?? null,
  };
}

/** Everything the Envoy side needs from a configuration. */
export function gatewayView(json) {
  const providers = Object.entries(json.providers ?? {}).map(([name, spec]) => parseProvider(name, spec));
  const globalMaxBodyBytes = json.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const ruleMaxBodyBytes = Array.isArray(json._rules_) ? json._rules_.map((r) => r?.maxBodyBytes).filter((m) => m !== undefined) : [];
  const maxBodyBytes = Math.max(globalMaxBodyBytes, ...ruleMaxBodyBytes);
  return {
    providers,
    models: json.models ?? [],
    upstreamHeader: json.upstreamHeader ?? DEFAULT_UPSTREAM_HEADER,
    modelHeader: json.modelHeader ?? DEFAULT_MODEL_HEADER,
    maxBodyBytes,
    // One limit for every request (no rule sets another): Envoy's own 413 can name it.
    oneMaxBodyBytes: ruleMaxBodyBytes.every((m) => m === globalMaxBodyBytes),
    paths: json.paths ?? DEFAULT_PATHS,
  };
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Keys as providers issue them (OpenAI, Anthropic, DeepSeek: sk-…; Groq: gsk_…; xAI: xai-…; Hugging
// Face: hf_…; Perplexity: pplx-…; Google: AIza…), or long mixes of small letters and digits, which
// no one names a variable after.
function looksLikeKey(value) {
  return /^(?:sk[-_]|gsk_|xai-|hf_|pplx-|AIza)/.test(value) || (value.length >= 32 && /[a-z]/.test(value) && /[0-9]/.test(value));
}

/**
 * What only the whole file can know. `env` is the environment the gateway will run with; pass
 * null to skip the key check (a file meant for another machine).
 */
export function gatewayProblems(json, { env = process.env, defaultProvider = null } = {}) {
  const problems = [];
  const providers = json.providers;
  const models = Array.isArray(json.models) ? json.models : [];
  if (providers === undefined) {
    const upstreams = [...new Set(models.map((m) => m?.upstream).filter((u) => typeof u === "string"))];
    problems.push(
      new ConfigProblem(
        "providers",
        `required by llm-router: one entry per upstream (${upstreams.join(", ") || "none"}) saying where its API lives, ` +
          `e.g. "providers": {"openai": {"baseUrl": "https://api.openai.com/v1", "apiKeyEnv": "OPENAI_API_KEY"}}`,
      ),
    );
    return problems;
  }
  // Every malformed baseUrl, each with its field (the plugin names only the first it meets).
  for (const [name, spec] of Object.entries(providers ?? {})) {
    const problem = baseUrlProblem(spec?.baseUrl);
    if (problem) problems.push(new ConfigProblem(`providers.${name}.baseUrl`, problem));
  }
  if (problems.length > 0) return problems;
  const view = gatewayView(json);
  const byName = new Map(view.providers.map((p) => [p.name, p]));
  const clusters = fallbackClusterProblem(json, view);
  if (clusters) problems.push(new ConfigProblem(clusters.field, clusters.message));
  models.forEach((m, i) => {
    const p = byName.get(m.upstream);
    if (!p) return; // the plugin reports an upstream that names no provider
    const deployment = m.upstreamModel ?? m.name;
    if (p.api === AZURE_OPENAI && !AZURE_DEPLOYMENT.test(deployment)) {
      problems.push(
        new ConfigProblem(
          `models[${i}].${m.upstreamModel !== undefined ? "upstreamModel" : "name"}`,
          `"${deployment}" is the Azure deployment in the request path of provider ${p.name}: use only letters, digits, '.', '_' and '-'`,
        ),
      );
    }
  });
  const used = new Set(models.map((m) => m.upstream));
  for (const p of view.providers) {
    if (!used.has(p.name) && p.name !== defaultProvider) {
      problems.push(new ConfigProblem(`providers.${p.name}`, "no model uses this provider", "warning"));
    }
    // A value the plugin refused as a variable name is never printed back (it may be the key).
    if (!p.apiKeyEnv || !VARIABLE_NAME.test(p.apiKeyEnv)) continue;
    if (looksLikeKey(p.apiKeyEnv)) {
      problems.push(
        new ConfigProblem(
          `providers.${p.name}.apiKeyEnv`,
          "this looks like the key itself, not the name of the environment variable that holds it: " +
            `export the key in a variable (e.g. ${p.name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY) and write that name here`,
        ),
      );
      continue;
    }
    if (env && !env[p.apiKeyEnv]) {
      problems.push(
        new ConfigProblem(
          `providers.${p.name}.apiKeyEnv`,
          `${p.apiKeyEnv} is not set: export ${p.apiKeyEnv}=<your ${p.name} key> before starting the gateway` +
            " (or use --mock for local mock providers)",
        ),
      );
    }
  }
  if (defaultProvider !== null) {
    const p = byName.get(defaultProvider);
    if (!p) problems.push(new ConfigProblem("--default-provider", `"${defaultProvider}" names no provider`));
    else if (p.api === AZURE_OPENAI) {
      problems.push(new ConfigProblem("--default-provider", `${p.name} is an Azure deployment provider: unrouted requests have no deployment to go to`));
    }
  }
  return problems;
}
