// The model catalog: every model with its prices, limits, capabilities and task qualities, plus the
// providers they are served by. Compiled once per configuration (and shared by Higress rules that
// keep the global model list), with O(1) lookups by name so that big catalogs compile linearly.
import { JsonValue, JsonKind } from "../json/tree";
import { logfmtName } from "./log_name";
import { jsonEscape } from "../json/escape";
import { configError, fail } from "./errors";
import { checkFields, hasControlCharacter, checkUniqueKeys, closestName, isObject, join, readNumber, readString, readStringList, unknownName } from "./fields";
import { NameIndex } from "./name_index";
import { prepareCatalogFailover } from "./failover";
import { readProviders } from "./providers";
import { Catalog, ModelSpec } from "./types";

const MODEL_FIELDS: string[] = [
  "name", "upstream", "upstreamModel", "price", "ttftMs", "tokensPerSecond", "contextWindow",
  "maxOutputTokens", "capabilities", "quality", "weight", "endpoints", "fallbacks",
];
const PRICE_FIELDS: string[] = ["input", "output", "cachedInput"];
export const BUILTIN_CAPABILITIES: string[] = ["tools", "vision", "json"];

// `pathNames`: the configuration's handled path suffixes, which model `endpoints` refer to.
export function compileCatalog(root: JsonValue, path: string, pathNames: string[]): Catalog | null {
  const catalog = new Catalog();
  catalog.capabilityNames = BUILTIN_CAPABILITIES.slice();
  catalog.pathNames = pathNames;
  catalog.defaultEndpoints = defaultEndpoints(pathNames);
  if (!readProviders(root, path, catalog)) return null;
  if (!readModels(root, path, catalog)) return null;
  if (!prepareCatalogFailover(root, path, catalog)) return null;
  catalog.modelIndex = new NameIndex(catalog.models.map<ArrayBuffer>((m) => m.nameBytes));
  return catalog;
}

// Chat-style models do not serve embeddings, and an embedding model serves nothing else: a model
// without `endpoints` serves every path but /embeddings (all of them when none is /embeddings).
function defaultEndpoints(pathNames: string[]): u32 {
  let mask: u32 = 0;
  for (let i = 0; i < pathNames.length; i++) {
    if (!pathNames[i].endsWith("/embeddings")) mask |= (<u32>1) << i;
  }
  return mask != 0 ? mask : (pathNames.length >= 32 ? 0xffffffff : ((<u32>1) << pathNames.length) - 1);
}

function readEndpoints(v: JsonValue, path: string, catalog: Catalog, m: ModelSpec): bool {
  const list = readStringList(v, "endpoints", path);
  if (configError.length > 0) return false;
  if (list === null) { m.endpoints = catalog.defaultEndpoints; return true; }
  const where = join(path, "endpoints");
  if (list.length == 0) return fail(where, "expected at least one path the model serves");
  let mask: u32 = 0;
  for (let i = 0; i < list.length; i++) {
    const at = catalog.pathNames.indexOf(list[i]);
    if (at < 0) {
      const what = "\"" + list[i] + "\" is not a handled path";
      const guess = closestName(list[i], catalog.pathNames);
      return fail(where + "[" + i.toString() + "]", guess.length > 0 ? what + " (did you mean \"" + guess + "\"?)" : what + "; expected one of " + quotedList(catalog.pathNames));
    }
    mask |= (<u32>1) << at;
  }
  m.endpoints = mask;
  return true;
}

function quotedList(names: string[]): string {
  let text = "";
  for (let i = 0; i < names.length; i++) text += (i > 0 ? ", \"" : "\"") + names[i] + "\"";
  return text;
}

// The capability bits for `names`. Models may declare new capability names; a route may only
// require names some model declares (anything else is a typo or a route that can never route).
export function capabilityMask(names: string[], catalog: Catalog, where: string, declare: bool): i64 {
  let mask: u32 = 0;
  for (let i = 0; i < names.length; i++) {
    let bit = catalog.capabilityNames.indexOf(names[i]);
    if (bit < 0 && !declare) {
      fail(where + "[" + i.toString() + "]", unknownName("no model has capability \"" + names[i] + "\"", names[i], catalog.capabilityNames));
      return -1;
    }
    if (bit < 0) {
      if (catalog.capabilityNames.length == 32) {
        fail(where, "more than 32 distinct capabilities");
        return -1;
      }
      bit = catalog.capabilityNames.length;
      catalog.capabilityNames.push(names[i]);
    }
    mask |= (<u32>1) << bit;
  }
  return <i64>mask;
}

function readModels(root: JsonValue, path: string, catalog: Catalog): bool {
  const where = join(path, "models");
  const list = root.get("models");
  if (list === null) return fail(where, "required");
  if (list.kind != JsonKind.Array) return fail(where, "expected an array of models");
  if (list.items.length == 0) return fail(where, "expected at least one model");
  for (let i = 0; i < list.items.length; i++) {
    const modelPath = where + "[" + i.toString() + "]";
    const model = readModel(list.items[i], modelPath, catalog);
    if (model === null) return false;
    if (catalog.modelsByName.has(model.name)) return fail(join(modelPath, "name"), "duplicate model name \"" + model.name + "\"");
    model.index = catalog.models.length;
    catalog.modelsByName.set(model.name, catalog.models.length);
    catalog.models.push(model);
  }
  return true;
}

function readUpstream(v: JsonValue, path: string, catalog: Catalog): string | null {
  const upstream = readString(v, "upstream", path, true);
  if (upstream === null) return null;
  const where = join(path, "upstream");
  if (hasControlCharacter(upstream)) { fail(where, "must not contain control characters"); return null; }
  // With `providers`, an upstream names one of them; without, it is an Envoy cluster name as is.
  if (catalog.providers.length == 0) return upstream;
  for (let i = 0; i < catalog.providers.length; i++) if (catalog.providers[i].name == upstream) return upstream;
  const names = catalog.providers.map<string>((p) => p.name);
  fail(where, unknownName("unknown provider \"" + upstream + "\"", upstream, names));
  return null;
}

function readModel(v: JsonValue, path: string, catalog: Catalog): ModelSpec | null {
  if (!isObject(v)) { fail(path, "expected an object"); return null; }
  if (!checkFields(v, path, MODEL_FIELDS)) return null;
  const m = new ModelSpec();
  const name = readString(v, "name", path, true);
  if (name === null) return null;
  // A model's name is written into response headers and log lines.
  if (hasControlCharacter(name)) { fail(join(path, "name"), "must not contain control characters"); return null; }
  const upstream = readUpstream(v, path, catalog);
  if (upstream === null) return null;
  const upstreamModel = readString(v, "upstreamModel", path, false);
  if (upstreamModel === null && configError.length > 0) return null;
  m.name = name;
  m.nameBytes = String.UTF8.encode(name);
  m.logName = logfmtName(m.nameBytes);
  m.upstream = upstream;
  m.upstreamBytes = String.UTF8.encode(upstream);
  // The literal spliced into bodies, quotes included: computed once here, not per request.
  m.upstreamModelLiteral = String.UTF8.encode("\"" + jsonEscape(upstreamModel !== null ? upstreamModel : name) + "\"");
  if (!readPrice(v, path, m)) return null;
  m.ttftMs = readNumber(v, "ttftMs", path, true, 0, 0, false);
  m.tokensPerSecond = readNumber(v, "tokensPerSecond", path, true, 0, 0, true);
  m.contextWindow = readNumber(v, "contextWindow", path, true, 0, 0, true);
  if (configError.length > 0) return null;
  m.maxOutputTokens = readNumber(v, "maxOutputTokens", path, false, m.contextWindow, 0, true);
  m.weight = readNumber(v, "weight", path, false, 1, 0, false);
  if (configError.length > 0) return null;
  const caps = readStringList(v, "capabilities", path);
  if (configError.length > 0) return null;
  if (caps !== null) {
    const mask = capabilityMask(caps, catalog, path + ".capabilities", true);
    if (mask < 0) return null;
    m.capabilities = <u32>mask;
  }
  if (!readQuality(v, path, m)) return null;
  if (!readEndpoints(v, path, catalog, m)) return null;
  return m;
}

function readPrice(v: JsonValue, path: string, m: ModelSpec): bool {
  const price = v.get("price");
  const where = join(path, "price");
  if (price === null) return fail(where, "required");
  if (!isObject(price)) return fail(where, "expected an object {\"input\", \"output\"}");
  if (!checkFields(price, where, PRICE_FIELDS)) return false;
  m.inputPrice = readNumber(price, "input", where, true, 0, 0, false);
  m.outputPrice = readNumber(price, "output", where, true, 0, 0, false);
  if (configError.length > 0) return false;
  // Providers bill cached prompt tokens cheaper (OpenAI half, Anthropic a tenth); without a price
  // for them the cost counts them at the input price, an upper bound.
  m.cachedInputPrice = readNumber(price, "cachedInput", where, false, m.inputPrice, 0, false);
  return configError.length == 0;
}

function readQuality(v: JsonValue, path: string, m: ModelSpec): bool {
  const q = v.get("quality");
  const where = join(path, "quality");
  if (q === null) return true;
  if (q.kind == JsonKind.Number) {
    m.quality = readNumber(v, "quality", path, true, 0, 0, false, 10);
    return configError.length == 0;
  }
  if (q.kind != JsonKind.Object) return fail(where, "expected a number from 0 to 10 or an object of task scores");
  if (!checkUniqueKeys(q, where)) return false; // task names are free, but each only once
  for (let i = 0; i < q.keys.length; i++) {
    const score = readNumber(q, q.keys[i], where, true, 0, 0, false, 10);
    if (configError.length > 0) return false;
    if (q.keys[i] == "default") { m.quality = score; continue; }
    m.taskNames.push(q.keys[i]);
    m.taskQualities.push(score);
  }
  return true;
}
