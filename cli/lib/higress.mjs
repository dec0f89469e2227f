// The Higress WasmPlugin resource for a router configuration: the configuration becomes
// defaultConfig (without `providers`: on Higress the providers are Higress's own, its AI routes or
// ai-proxy), optional matchRules come verbatim from a YAML file (comments kept), and the result is
// checked with the Higress build of the plugin the way the Higress controller delivers it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { HIGRESS_WASM, PACKAGE_ROOT, pluginProblems } from "./config.mjs";
import { annotate, flow, toYaml } from "./yaml.mjs";

// The header Higress's AI routes match a request's model on.
export const HIGRESS_MODEL_HEADER = "x-higress-llm-model";

const header = (file) => `llm-model-router on Higress (build/higress.wasm, ABI proxy_abi_version_0_2_100).
Apply: kubectl apply -f ${file}
Replace <registry> with the registry the image was pushed to (see config/higress/README_EN.md, "Build and push").

Naming: the resource and the image are called llm-model-router, not model-router, so they never
clash with Higress's built-in model-router plugin, which the console enables globally by default.`;

/** Leaf objects (every value a scalar or a list of scalars, short) are written on one line. */
function compact(value) {
  if (Array.isArray(value)) return value.map(compact);
  if (value === null || typeof value !== "object") return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = compact(v);
  const leaf = Object.values(value).every((v) => v === null || typeof v !== "object" || (Array.isArray(v) && v.every((x) => typeof x !== "object")));
  if (leaf && JSON.stringify(value).length <= 90) flow(out);
  return out;
}

/** The `_rules_` form the Higress controller delivers to the plugin. */
export function higressDelivery(defaultConfig, matchRules) {
  const rules = (matchRules ?? []).map((rule) => {
    const out = { ...rule.config };
    if (rule.ingress) out._match_route_ = rule.ingress;
    if (rule.domain) out._match_domain_ = rule.domain;
    if (rule.service) out._match_service_ = rule.service;
    return out;
  });
  return rules.length > 0 ? { ...defaultConfig, _rules_: rules } : defaultConfig;
}

/**
 * @param {{ json: object }} config
 * @param {{ modelHeader?: string, matchRulesFile?: string, url?: string, file?: string }} options
 *   modelHeader: the header the plugin writes the model into (default Higress's, which its AI routes
 *   match on); file: where the resource is written, for the header's kubectl line
 * @returns {{ text: string, problems: import("./config.mjs").ConfigProblem[] }}
 */
export function buildWasmPlugin(config, options = {}) {
  const { providers, ...rest } = config.json;
  const modelHeader = options.modelHeader ?? HIGRESS_MODEL_HEADER;
  const defaultConfig = { ...rest, modelHeader };
  const rulesText = options.matchRulesFile ? readFileSync(options.matchRulesFile, "utf8") : null;
  const matchRules = rulesText !== null ? YAML.parse(rulesText) : null;
  if (matchRules !== null && !Array.isArray(matchRules)) throw new Error(`${options.matchRulesFile}: expected a YAML list of match rules`);
  const problems = pluginProblems(JSON.stringify(higressDelivery(defaultConfig, matchRules)), HIGRESS_WASM);

  const version = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;
  const spec = annotate(
    {
      url: options.url ?? `oci://<registry>/llm-model-router:${version}`,
      imagePullPolicy: "IfNotPresent",
      phase: "AUTHN",
      priority: 910,
      defaultConfig: compact(defaultConfig),
    },
    {
      phase:
        "AUTHN is the earliest phase. Within a phase, plugins run in descending priority. 910 runs\n" +
        "before the built-in model-router (AUTHN 900) and model-mapper (AUTHN 800), and long before\n" +
        "ai-proxy (default phase, priority 100). ai-proxy picks its provider from the cluster the route\n" +
        "chose and then turns re-routing off, so the model must be decided, and the request re-routed,\n" +
        "before ai-proxy runs.",
      defaultConfig:
        "Global configuration (generated from the router configuration; `providers` are left out: on\n" +
        "Higress they are Higress's own). Applies to every request that no matchRules entry matches." +
        (modelHeader === HIGRESS_MODEL_HEADER
          ? `\nmodelHeader is ${modelHeader}: Higress's AI routes match on it.`
          : `\nmodelHeader is ${modelHeader} (--model-header): Higress's AI routes match on ${HIGRESS_MODEL_HEADER}.`),
    },
  );
  const resource = {
    apiVersion: "extensions.higress.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: flow({ name: "llm-model-router", namespace: "higress-system" }),
    spec,
  };
  let text = toYaml(resource, header(options.file && options.file !== "-" ? options.file : "<this file>"));
  if (rulesText !== null) {
    // The file's own header (its first comment block, up to a blank line) is about the file.
    const body = rulesText
      .replace(/^(?:#[^\n]*\n)+\n/, "")
      .split("\n")
      .filter((line, i, all) => !(i === all.length - 1 && line === ""))
      .map((line) => (line.length > 0 ? `    ${line}` : ""))
      .join("\n");
    text += `  matchRules:\n${body}\n`;
  }
  return { text, problems };
}
