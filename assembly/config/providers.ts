// `providers`: name → which API it speaks (api/), where it lives and how it wants its key. The CLI
// turns each into an Envoy cluster with TLS, host rewrite, path prefix and credentials taken from the
// environment when Envoy starts; the plugin validates them so that `llm-router check` and the
// gateway apply the same rules, and keeps them for per-attempt rewrites.
import {
  DEL, DIGIT_0, DIGIT_9, DOT, HASH, LOWER_A, LOWER_Z, MINUS, QUESTION, SPACE, TILDE, UNDERSCORE, UPPER_A,
  UPPER_Z,
} from "../bytes";
import { API_NAMES, Api } from "../api/apis";
import { JsonValue, JsonKind } from "../json/tree";
import { configError, fail } from "./errors";
import { checkFields, checkUniqueKeys, hasControlCharacter, isObject, join, readString, unknownName } from "./fields";
import { checkHeaderName } from "./header_names";
import { Auth, Catalog, ProviderSpec } from "./types";

const PROVIDER_FIELDS: string[] = ["api", "baseUrl", "apiKeyEnv", "auth", "headers", "apiVersion"];
const AUTH_NAMES: string[] = ["bearer", "api-key", "x-api-key", "none"];
// Credentials come only from apiKeyEnv: a static header carrying one would put a key into a file.
const CREDENTIAL_HEADERS: string[] = ["authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"];

export function readProviders(root: JsonValue, path: string, catalog: Catalog): bool {
  const v = root.get("providers");
  const where = join(path, "providers");
  if (v === null) return true;
  if (!isObject(v)) return fail(where, "expected an object of providers keyed by name");
  if (v.keys.length == 0) return fail(where, "expected at least one provider");
  if (!checkUniqueKeys(v, where)) return false;
  for (let i = 0; i < v.keys.length; i++) {
    const provider = readProvider(v.keys[i], v.values[i], join(where, v.keys[i]));
    if (provider === null) return false;
    catalog.providers.push(provider);
  }
  return true;
}

// Provider names become Envoy cluster names and header values.
function isNameChar(c: u32): bool {
  return isAlphanumeric(c) || c == MINUS || c == UNDERSCORE || c == DOT;
}

@inline function isAlphanumeric(c: u32): bool {
  return (c >= LOWER_A && c <= LOWER_Z) || (c >= UPPER_A && c <= UPPER_Z) || (c >= DIGIT_0 && c <= DIGIT_9);
}

function readProvider(name: string, v: JsonValue, path: string): ProviderSpec | null {
  for (let i = 0; i < name.length; i++) {
    if (!isNameChar(<u32>name.charCodeAt(i))) { fail(path, "a provider name may use only letters, digits, '-', '_' and '.'"); return null; }
  }
  if (name.length == 0) { fail(path, "a provider name must not be empty"); return null; }
  if (!isObject(v)) { fail(path, "expected an object {\"baseUrl\", \"apiKeyEnv\", ...}"); return null; }
  if (!checkFields(v, path, PROVIDER_FIELDS)) return null;
  const p = new ProviderSpec();
  p.name = name;
  if (!readBaseUrl(v, path, p) || !readAuth(v, path, p) || !readStaticHeaders(v, path, p) || !readApi(v, path, p)) return null;
  return p;
}

// `api` (default "openai"), and what the API needs: Azure OpenAI its `apiVersion`. A provider
// written before `api` existed names Azure OpenAI by its `apiVersion` alone.
function readApi(v: JsonValue, path: string, p: ProviderSpec): bool {
  const name = readString(v, "api", path, false);
  const apiVersion = readString(v, "apiVersion", path, false);
  if (configError.length > 0) return false;
  let api = apiVersion !== null ? Api.AzureOpenAI : Api.OpenAI;
  if (name !== null) {
    const known = API_NAMES.indexOf(name);
    if (known < 0) return fail(join(path, "api"), unknownName("expected openai or azure-openai", name, API_NAMES));
    api = <Api>known;
  }
  p.api = api;
  if (api != Api.AzureOpenAI) {
    if (apiVersion !== null) return fail(join(path, "apiVersion"), "only for \"api\": \"azure-openai\" (Azure OpenAI's api-version); remove it");
    return true;
  }
  if (apiVersion === null) return fail(join(path, "apiVersion"), "required with \"api\": \"azure-openai\": Azure OpenAI's api-version, such as \"2024-10-21\"");
  if (!isUrlSafe(apiVersion)) return fail(join(path, "apiVersion"), "expected a version such as \"2024-10-21\"");
  p.apiVersion = apiVersion;
  return true;
}

function isUrlSafe(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (!(isNameChar(c) || c == TILDE)) return false;
  }
  return true;
}

// http(s)://host[:port][/path], nothing else: no credentials, query or fragment. The path is sent
// as written, by the generated route and by the failover filter alike, so nothing a URL parser would
// rewrite is accepted: dot segments, %-escapes, backslashes, empty segments (cli/lib/config.mjs
// checks the same).
function readBaseUrl(v: JsonValue, path: string, p: ProviderSpec): bool {
  const url = readString(v, "baseUrl", path, true);
  if (url === null) return false;
  const where = join(path, "baseUrl");
  const expected = "expected http(s)://host[:port][/path], e.g. \"https://api.openai.com/v1\"";
  if (url.includes("\\")) return fail(where, "a backslash in the URL: write it with '/' only");
  let rest = "";
  if (url.startsWith("https://")) { p.secure = true; p.port = 443; rest = url.substring(8); }
  else if (url.startsWith("http://")) { p.secure = false; p.port = 80; rest = url.substring(7); }
  else return fail(where, expected);
  const slash = rest.indexOf("/");
  let authority = slash < 0 ? rest : rest.substring(0, slash);
  let basePath = slash < 0 ? "" : rest.substring(slash);
  while (basePath.endsWith("/")) basePath = basePath.substring(0, basePath.length - 1);
  for (let i = 0; i < basePath.length; i++) {
    const c = <u32>basePath.charCodeAt(i);
    if (c <= SPACE || c == QUESTION || c == HASH || c >= DEL) return fail(where, expected + " (no query, fragment or spaces)");
  }
  if (basePath.includes("%")) return fail(where, "a %-escape in the path: providers are sent this path as written, so write it unescaped");
  const segments = basePath.split("/");
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    if (segment == "." || segment == "..") return fail(where, "a '.' or '..' segment in the path: write the path it stands for");
    if (segment.length == 0) return fail(where, "an empty segment ('//') in the path");
  }
  const colon = authority.lastIndexOf(":");
  if (colon >= 0 && !authority.endsWith("]")) {
    const port = authority.substring(colon + 1);
    const n = port.length > 0 && port.length <= 5 && isDigits(port) ? I32.parseInt(port) : 0;
    if (n < 1 || n > 65535) return fail(where, "expected a port from 1 to 65535");
    p.port = n;
    authority = authority.substring(0, colon);
  }
  if (!isHost(authority)) return fail(where, expected);
  p.host = authority.toLowerCase();
  p.basePath = basePath;
  p.baseUrl = url;
  return true;
}

function isDigits(s: string): bool {
  for (let i = 0; i < s.length; i++) if (<u32>s.charCodeAt(i) - DIGIT_0 >= 10) return false;
  return true;
}

// A DNS name, an IPv4 address or a bracketed IPv6 address.
function isHost(h: string): bool {
  if (h.length == 0) return false;
  if (h.startsWith("[")) return h.endsWith("]") && h.length > 2;
  for (let i = 0; i < h.length; i++) {
    const c = <u32>h.charCodeAt(i);
    if (!(isAlphanumeric(c) || c == MINUS || c == DOT)) return false;
  }
  return true;
}

function readAuth(v: JsonValue, path: string, p: ProviderSpec): bool {
  const auth = readString(v, "auth", path, false);
  if (configError.length > 0) return false;
  const kind = auth !== null ? AUTH_NAMES.indexOf(auth) : 0;
  if (kind < 0) {
    return fail(join(path, "auth"), unknownName("expected bearer, api-key, x-api-key or none", auth!, AUTH_NAMES));
  }
  p.auth = <Auth>kind;
  const env = readString(v, "apiKeyEnv", path, false);
  if (configError.length > 0) return false;
  if (p.auth == Auth.None) {
    if (env !== null) return fail(join(path, "apiKeyEnv"), "not used with auth \"none\"; remove it or choose an auth");
    return true;
  }
  if (env === null) return fail(join(path, "apiKeyEnv"), "required: the environment variable that holds this provider's API key (or set auth to \"none\")");
  if (!isEnvName(env)) return fail(join(path, "apiKeyEnv"), "expected an environment variable name such as OPENAI_API_KEY, not the key itself");
  p.apiKeyEnv = env;
  return true;
}

function isEnvName(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    const letter = (c >= UPPER_A && c <= UPPER_Z) || (c >= LOWER_A && c <= LOWER_Z) || c == UNDERSCORE;
    if (!letter && !(i > 0 && c >= DIGIT_0 && c <= DIGIT_9)) return false;
  }
  return s.length > 0 && s.length <= 128;
}

function readStaticHeaders(v: JsonValue, path: string, p: ProviderSpec): bool {
  const h = v.get("headers");
  const where = join(path, "headers");
  if (h === null) return true;
  if (!isObject(h)) return fail(where, "expected an object of header name → value");
  if (!checkUniqueKeys(h, where)) return false;
  for (let i = 0; i < h.keys.length; i++) {
    const name = h.keys[i], value = h.values[i];
    const at = join(where, name);
    if (CREDENTIAL_HEADERS.includes(name)) return fail(at, "credentials come from apiKeyEnv, never from a file");
    if (!checkHeaderName(name, at)) return false;
    if (value.kind != JsonKind.String) return fail(at, "expected a string");
    if (hasControlCharacter(value.str, true)) return fail(at, "must not contain control characters");
    p.headerNames.push(name);
    p.headerValues.push(value.str);
  }
  return true;
}
