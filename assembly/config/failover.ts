// Failover settings: how many other models a request may move to when its provider fails before
// answering. A route's `maxFallbacks` (alternates read off its own ranking), a model's `fallbacks`
// (for requests naming it), the top-level `maxClientFallbacks` (how much of a client's OpenRouter
// style `models` list is honoured), and the headers involved. Everything is resolved here once, so
// the request path only reads indices; what the upstream filter writes per attempt (the provider's
// Host, credential header and static headers) is precomputed as bytes too.
//
// The chains the plugin may name are exactly what the generated Envoy bootstrap provides: every
// ordered list of 2..maxChainLength distinct providers of the catalog, maxChainLength = 1 + the
// largest fallback count of the configuration (cli/lib/failover.mjs derives the same number), and a
// configuration needing more than MAX_FALLBACK_CLUSTERS of them is refused on both sides.
import { Api } from "../api/apis";
import { deploymentPath } from "../api/azure_openai";
import { JsonKind, JsonValue } from "../json/tree";
import { configError, fail } from "./errors";
import { closestName, isObject, join, readNumber } from "./fields";
import { readHeaderName } from "./header_names";
import { Auth, Catalog, ModelSpec, ProviderSpec, RouteSpec, RouterConfig } from "./types";

// Fallbacks per request, on top of the first model: a chain of at most four providers. Longer
// chains multiply the fallback clusters Envoy needs (providers × (providers − 1) × …).
export const MAX_FALLBACKS: i32 = 3;
export const MAX_CHAIN_LENGTH: i32 = MAX_FALLBACKS + 1;
// The most fallback clusters a generated bootstrap may hold (cli/lib/failover.mjs has the same
// number): each costs Envoy memory and start-up time, and 5,850 of them took 420 MB.
export const MAX_FALLBACK_CLUSTERS: i32 = 1000;

// ---- providers and models (compiled with the catalog) ------------------------------------------

function credentialHeaderOf(p: ProviderSpec): string {
  switch (p.auth) {
    case Auth.ApiKey: return "api-key";
    case Auth.XApiKey: return "x-api-key";
    case Auth.None: return "";
    default: return "authorization";
  }
}

// The Host a provider expects: its baseUrl authority, the port only when it is not the scheme's.
function authorityOf(p: ProviderSpec): string {
  const defaultPort = p.secure ? 443 : 80;
  return p.port == defaultPort ? p.host : p.host + ":" + p.port.toString();
}

function addHeaderName(catalog: Catalog, name: string): void {
  const bytes = String.UTF8.encode(name);
  for (let i = 0; i < catalog.providerHeaderNames.length; i++) {
    const known = unchecked(catalog.providerHeaderNames[i]);
    if (known.byteLength == bytes.byteLength && memory.compare(changetype<usize>(known), changetype<usize>(bytes), bytes.byteLength) == 0) return;
  }
  catalog.providerHeaderNames.push(bytes);
}

function prepareProviders(catalog: Catalog): void {
  for (let i = 0; i < catalog.providers.length; i++) {
    const p = unchecked(catalog.providers[i]);
    p.index = i;
    p.nameBytes = String.UTF8.encode(p.name);
    p.authority = String.UTF8.encode(authorityOf(p));
    const credential = credentialHeaderOf(p);
    p.credentialHeader = String.UTF8.encode(credential);
    if (credential.length > 0) addHeaderName(catalog, credential);
    for (let h = 0; h < p.headerNames.length; h++) {
      p.headerNameBytes.push(String.UTF8.encode(p.headerNames[h]));
      p.headerValueBytes.push(String.UTF8.encode(p.headerValues[h]));
      addHeaderName(catalog, p.headerNames[h]);
    }
  }
}

function providerIndexOf(catalog: Catalog, upstream: string): i32 {
  for (let i = 0; i < catalog.providers.length; i++) if (unchecked(catalog.providers[i]).name == upstream) return i;
  return -1;
}

// A model's `fallbacks`: catalog models on other providers, each provider once, in order.
function readModelFallbacks(v: JsonValue, path: string, catalog: Catalog, m: ModelSpec): bool {
  const list = v.get("fallbacks");
  if (list === null) return true;
  const where = join(path, "fallbacks");
  if (list.kind != JsonKind.Array) return fail(where, "expected an array of model names");
  if (list.items.length == 0) return fail(where, "expected at least one model name");
  if (list.items.length > MAX_FALLBACKS) return fail(where, "expected at most " + MAX_FALLBACKS.toString() + " models");
  if (catalog.providers.length == 0) return fail(where, "fallbacks need `providers`: an attempt on another model sets that provider's path and key");
  const names = catalog.models.map<string>((x) => x.name);
  for (let i = 0; i < list.items.length; i++) {
    const at = where + "[" + i.toString() + "]";
    const item = list.items[i];
    if (item.kind != JsonKind.String || item.strIsEmpty) return fail(at, "expected a non-empty string");
    const name = item.str;
    if (!catalog.modelsByName.has(name)) {
      const guess = closestName(name, names);
      return fail(at, "unknown model \"" + name + "\"" + (guess.length > 0 ? " (did you mean \"" + guess + "\"?)" : ""));
    }
    const f = unchecked(catalog.models[catalog.modelsByName.get(name)]);
    if (f.providerIndex == m.providerIndex) {
      return fail(at, "\"" + name + "\" is served by " + m.upstream + " too: a request moves to another provider, never back to the same one");
    }
    for (let j = 0; j < m.fallbacks.length; j++) {
      if (unchecked(catalog.models[m.fallbacks[j]]).providerIndex == f.providerIndex) {
        return fail(at, "\"" + name + "\" and \"" + catalog.models[m.fallbacks[j]].name + "\" are both served by " + f.upstream +
          ": a request moves to each provider at most once");
      }
    }
    m.fallbacks.push(f.index);
  }
  return true;
}

// After every model is read (fallbacks may name models listed later in the catalog).
export function prepareCatalogFailover(root: JsonValue, path: string, catalog: Catalog): bool {
  prepareProviders(catalog);
  for (let i = 0; i < catalog.models.length; i++) {
    const m = unchecked(catalog.models[i]);
    m.providerIndex = providerIndexOf(catalog, m.upstream);
  }
  const list = root.get("models");
  if (list === null) return true;
  for (let i = 0; i < catalog.models.length; i++) {
    const item = list.items[i];
    if (!isObject(item)) continue;
    const m = unchecked(catalog.models[i]);
    if (m.providerIndex >= 0 && catalog.providers[m.providerIndex].api == Api.AzureOpenAI) {
      const upstreamModel = item.get("upstreamModel");
      m.deploymentPath = deploymentPath(upstreamModel !== null && upstreamModel.kind == JsonKind.String ? upstreamModel.str : m.name);
    }
    if (!readModelFallbacks(item, join(path, "models") + "[" + i.toString() + "]", catalog, unchecked(catalog.models[i]))) return false;
  }
  return true;
}

// ---- routes and top-level settings --------------------------------------------------------------

// A whole number from 0 to MAX_FALLBACKS; `fallback` when absent, -1 after an error.
function readFallbackCount(v: JsonValue, key: string, path: string, fallback: i32): i32 {
  const x = readNumber(v, key, path, false, <f64>fallback, 0, false);
  if (configError.length > 0) return -1;
  if (x != Math.floor(x)) { fail(join(path, key), "expected a whole number"); return -1; }
  if (x > <f64>MAX_FALLBACKS) { fail(join(path, key), "expected at most " + MAX_FALLBACKS.toString()); return -1; }
  return <i32>x;
}

export function readRouteFallbacks(v: JsonValue, path: string, r: RouteSpec): bool {
  r.maxFallbacks = readFallbackCount(v, "maxFallbacks", path, 1);
  return r.maxFallbacks >= 0;
}

// The field that set the largest fallback count (the first one, in this order), for the error below.
let largestFallbackField = "";

function largestFallbackCount(cfg: RouterConfig, path: string): i32 {
  let most = cfg.maxClientFallbacks;
  largestFallbackField = join(path, "maxClientFallbacks");
  for (let i = 0; i < cfg.routes.length; i++) {
    const r = unchecked(cfg.routes[i]);
    if (r.maxFallbacks <= most) continue;
    most = r.maxFallbacks;
    largestFallbackField = join(join(join(path, "routes"), r.name), "maxFallbacks");
  }
  for (let i = 0; i < cfg.models.length; i++) {
    const n = unchecked(cfg.models[i]).fallbacks.length;
    if (n <= most) continue;
    most = n;
    largestFallbackField = join(join(path, "models") + "[" + i.toString() + "]", "fallbacks");
  }
  return most;
}

// Ordered chains of 2..maxLength distinct providers out of `providers`: Σ P!/(P−L)!.
function chainCount(providers: i32, maxLength: i32): i64 {
  let total: i64 = 0, ordered = <i64>providers;
  for (let length = 2; length <= min(maxLength, providers); length++) {
    ordered *= <i64>(providers - length + 1);
    total += ordered;
  }
  return total;
}

// The providers some model uses: a chain only ever holds those.
function chainProviderCount(cfg: RouterConfig): i32 {
  let count = 0;
  for (let p = 0; p < cfg.catalog.providers.length; p++) {
    for (let i = 0; i < cfg.models.length; i++) {
      if (unchecked(cfg.models[i]).providerIndex == p) { count++; break; }
    }
  }
  return count;
}

// The generated bootstrap has one fallback cluster per chain this plugin may name; past
// MAX_FALLBACK_CLUSTERS the configuration is refused, here and by the CLI, with the field to lower.
function checkFallbackClusters(cfg: RouterConfig): bool {
  const providers = chainProviderCount(cfg);
  const fallbacks = cfg.maxChainLength - 1;
  const needed = chainCount(providers, cfg.maxChainLength);
  if (needed <= <i64>MAX_FALLBACK_CLUSTERS) return true;
  let fits = fallbacks - 1;
  while (fits > 0 && chainCount(providers, 1 + fits) > <i64>MAX_FALLBACK_CLUSTERS) fits--;
  return fail(largestFallbackField, fallbacks.toString() + " fallbacks over " + providers.toString() + " providers need " + needed.toString() +
    " fallback clusters (one per ordered chain of 2" + (cfg.maxChainLength > 2 ? " to " + cfg.maxChainLength.toString() : "") +
    " providers); the gateway holds at most " +
    MAX_FALLBACK_CLUSTERS.toString() + ": " + (fits > 0
      ? "use at most " + fits.toString() + " (" + chainCount(providers, 1 + fits).toString() + " clusters)"
      : "turn failover off (0 fallbacks) or use fewer providers"));
}

// Top level: `maxClientFallbacks`, `chainHeader`, `servedModelHeader`; then the longest chain.
export function readFailoverSettings(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const clients = readFallbackCount(root, "maxClientFallbacks", path, 1);
  if (clients < 0) return false;
  cfg.maxClientFallbacks = clients;
  const chain = readHeaderName(root, "chainHeader", path, "x-llm-chain");
  if (chain === null) return false;
  const upstream = String.UTF8.decode(cfg.upstreamHeader), model = String.UTF8.decode(cfg.modelHeader);
  const task = String.UTF8.decode(cfg.taskHeader), tier = String.UTF8.decode(cfg.complexityHeader);
  if (chain == upstream || chain == model || chain == task || chain == tier) {
    return fail(join(path, "chainHeader"), "must differ from upstreamHeader, modelHeader, taskHeader and complexityHeader");
  }
  cfg.chainHeader = String.UTF8.encode(chain);
  // Only this plugin names a chain: a client's copy would pick the providers itself.
  cfg.ownedRequestHeaders.push(cfg.chainHeader);
  const served = readHeaderName(root, "servedModelHeader", path, "x-llm-served-model", true);
  if (served === null) return false;
  cfg.servedModelHeader = served;
  // Without providers an attempt on another model could not get that provider's path and key.
  cfg.maxChainLength = cfg.catalog.providers.length >= 2 ? 1 + largestFallbackCount(cfg, path) : 1;
  return cfg.maxChainLength < 2 || checkFallbackClusters(cfg);
}
