// Turns a configuration object into an immutable RouterConfig, or records the first error with its
// field path. Higress rules that keep the global model list reuse its compiled catalog.
import { JsonValue, JsonKind } from "../json/tree";
import { configError, fail } from "./errors";
import { checkFields, describe, join, readNumber, readStringList } from "./fields";
import { compileCatalog } from "./catalog";
import { readHeaderName } from "./header_names";
import { readLive } from "./live";
import { NameIndex } from "./name_index";
import { readRoutes } from "./routes";
import { Catalog, RouterConfig } from "./types";

const DEFAULT_PATHS: string[] = ["/chat/completions", "/completions", "/responses", "/messages", "/embeddings"];
const MAX_BODY_LIMIT: f64 = 268435456;
const TOP_LEVEL_FIELDS: string[] = [
  "models", "routes", "providers", "upstreamHeader", "modelHeader", "maxBodyBytes",
  "defaultOutputTokens", "bytesPerToken", "paths", "live",
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
  const catalog = shared !== null ? shared : compileCatalog(root, path);
  if (catalog === null) return null;
  const cfg = new RouterConfig();
  cfg.catalog = catalog;
  cfg.models = catalog.models;
  cfg.modelIndex = catalog.modelIndex;
  cfg.capabilityNames = catalog.capabilityNames;
  if (!readRoutes(root, path, catalog, cfg.routes)) return null;
  if (!readSettings(root, path, cfg)) return null;
  if (!readLive(root, path, cfg)) return null;
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
  cfg.maxBodyBytesText = String.UTF8.encode(cfg.maxBodyBytes.toString());
  return readPaths(root, path, cfg);
}

function readPaths(root: JsonValue, path: string, cfg: RouterConfig): bool {
  const paths = readStringList(root, "paths", path);
  if (configError.length > 0) return false;
  const list = paths !== null ? paths : DEFAULT_PATHS;
  if (list.length == 0) return fail(join(path, "paths"), "expected at least one path suffix");
  for (let i = 0; i < list.length; i++) {
    if (list[i].charCodeAt(0) != 0x2f) return fail(join(path, "paths") + "[" + i.toString() + "]", "expected a path suffix starting with '/'");
    cfg.paths.push(String.UTF8.encode(list[i]));
  }
  return true;
}
