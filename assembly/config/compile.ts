// Turns a configuration object into an immutable RouterConfig, or records the first error with its
// field path. Higress rules that keep the global model list reuse its compiled catalog.
import { SLASH } from "../bytes";
import { JsonValue, JsonKind } from "../json/tree";
import { configError, fail } from "./errors";
import { checkFields, describe, join, readNumber, readStringList } from "./fields";
import { compileCatalog } from "./catalog";
import { readHeaderName } from "./header_names";
import { readFailoverSettings } from "./failover";
import { readLive } from "./live";
import { readDecisionHeader } from "./observability";
import { NameIndex } from "./name_index";
import { readDetectionSettings } from "./detection";
import { readRoutes } from "./routes";
import { Catalog, RouterConfig } from "./types";

const DEFAULT_PATHS: string[] = ["/chat/completions", "/completions", "/responses", "/messages", "/embeddings"];
const MAX_BODY_LIMIT: f64 = 268435456;
// Higress's decoder buffer limit is set this far above maxBodyBytes: the body arrives in chunks
// (HTTP/2 DATA frames are 16 KiB by default), and the chunk that crosses maxBodyBytes must still
// reach the plugin, which answers with its JSON 413, instead of Envoy answering a bare one.
const DECODER_BUFFER_SLACK: usize = 1048576;
// Bit masks over `paths` (model endpoints) keep the candidate filter one AND per model.
const MAX_PATHS = 32;
const TOP_LEVEL_FIELDS: string[] = [
  "models", "routes", "providers", "upstreamHeader", "modelHeader", "maxBodyBytes",
  "defaultOutputTokens", "bytesPerToken", "paths", "listModels", "detection", "taskHeader", "complexityHeader",
  "live", "metrics", "decisionHeader", "maxClientFallbacks", "chainHeader", "servedModelHeader",
];

// `shared`: a catalog compiled from the very same `models` and `providers` values (a Higress rule
// that does not override them), reused instead of compiled again.
export function compileRouterConfig(root: JsonValue, path: string, shared: Catalog | null = null): RouterConfig | null {
  if (root.kind != JsonKind.Object) {
    fail(path, "expected a JSON object, got " + describe(root));
    return null;
  }
  // Keys starting with "_" belong to the host (Higress adds _rules_, _match_*_, _plugin_id_ ...).
  if (!checkFields(root, path, TOP_LEVEL_FIELDS, true)) return null;
  const cfg = new RouterConfig();
  // Paths come first: model `endpoints` name them.
  if (!readPaths(root, path, cfg)) return null;
  const catalog = shared !== null ? shared : compileCatalog(root, path, cfg.pathNames);
  if (catalog === null) return null;
  cfg.catalog = catalog;
  cfg.models = catalog.models;
  cfg.modelIndex = catalog.modelIndex;
  cfg.capabilityNames = catalog.capabilityNames;
  if (!readRoutes(root, path, cfg)) return null;
  if (!readSettings(root, path, cfg)) return null;
  if (!readDetectionSettings(root, path, cfg)) return null;
  // Upstream policies may trust the task headers too: only this plugin sets them.
  cfg.ownedRequestHeaders.push(cfg.taskHeader);
  cfg.ownedRequestHeaders.push(cfg.complexityHeader);
  if (!readFailoverSettings(root, path, cfg)) return null;
  if (!readLive(root, path, cfg)) return null;
  // `metrics` is read once for the whole plugin (rules.ts); `decisionHeader` may differ per rule.
  if (!readDecisionHeader(root, path, cfg)) return null;
  if (shared === null) catalog.live = cfg.live;
  cfg.routeIndex = new NameIndex(cfg.routes.map<ArrayBuffer>((r) => r.nameBytes));
  return cfg;
}

function readSettings(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const upstreamHeader = readHeaderName(root, "upstreamHeader", path, "x-llm-upstream");
  if (upstreamHeader === null) return false;
  const modelHeader = readHeaderName(root, "modelHeader", path, "x-llm-model");
  if (modelHeader === null) return false;
  if (upstreamHeader == modelHeader) return fail(join(path, "modelHeader"), "must differ from upstreamHeader");
  cfg.upstreamHeader = String.UTF8.encode(upstreamHeader);
  cfg.modelHeader = String.UTF8.encode(modelHeader);
  const maxBody = readNumber(root, "maxBodyBytes", path, false, 10485760, 0, true, MAX_BODY_LIMIT);
  cfg.defaultOutputTokens = readNumber(root, "defaultOutputTokens", path, false, 512, 0, false);
  cfg.bytesPerToken = readNumber(root, "bytesPerToken", path, false, 4, 0, true);
  if (configError.length > 0) return false;
  if (maxBody != Math.floor(maxBody)) return fail(join(path, "maxBodyBytes"), "expected a whole number of bytes");
  cfg.maxBodyBytes = <usize>maxBody;
  cfg.decoderBufferLimitText = String.UTF8.encode((cfg.maxBodyBytes + DECODER_BUFFER_SLACK).toString());
  cfg.ownedRequestHeaders = [cfg.upstreamHeader, cfg.modelHeader];
  return readListModels(root, path, cfg);
}

function readListModels(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const v = root.get("listModels");
  if (v === null) return true;
  if (v.kind != JsonKind.Bool) return fail(join(path, "listModels"), "expected true or false");
  cfg.listModels = v.bool;
  return true;
}

function readPaths(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const paths = readStringList(root, "paths", path);
  if (configError.length > 0) return false;
  const list = paths !== null ? paths : DEFAULT_PATHS;
  const where = join(path, "paths");
  if (list.length == 0) return fail(where, "expected at least one path suffix");
  if (list.length > MAX_PATHS) return fail(where, "expected at most " + MAX_PATHS.toString() + " path suffixes");
  for (let i = 0; i < list.length; i++) {
    const suffix = list[i];
    const at = where + "[" + i.toString() + "]";
    if (<u32>suffix.charCodeAt(0) != SLASH) return fail(at, "expected a path suffix starting with '/'");
    // Requests are matched after their path is normalised (query cut, trailing '/' dropped,
    // %-escapes of unreserved characters decoded), so a suffix must already be in that form.
    if (suffix.length > 1 && suffix.endsWith("/")) return fail(at, "expected a path suffix without a trailing '/'");
    if (suffix.includes("?") || suffix.includes("#") || suffix.includes("%")) return fail(at, "expected a plain path suffix (no '?', '#' or '%')");
    if (cfg.pathNames.includes(suffix)) return fail(at, "\"" + suffix + "\" is listed twice");
    cfg.pathNames.push(suffix);
    cfg.paths.push(String.UTF8.encode(suffix));
    if (suffix.endsWith("/embeddings")) cfg.noOutputPaths |= (<u32>1) << i;
  }
  return true;
}
