// Live configuration reload. The gateway of buildBootstrap, split into what Envoy fixes when it
// starts and what it reloads from files while it runs, and the order to write those files in.
//
// Measured with Envoy 1.40 (README "Live configuration reload"): a listener update (LDS) drains the
// listener's connections, which keep the old configuration until they close; a hot restart drains
// them all and starts the plugin's live signals afresh. Routes (RDS), clusters (CDS) and the
// plugin's filter configurations (ECDS) reloaded from files leave every connection open and every
// stream in flight running, and the next request on any connection sees the new configuration. So
// the listener, its filters and the stats stay in the bootstrap, and four files beside it hold the
// rest: clusters.yaml, routes.yaml, router-filter.yaml (the plugin as the router's filter) and
// upstream-filter.yaml (the plugin as the router's upstream filter). Envoy watches each path
// (path_config_source) and takes a new version when a file is moved over it.
//
// Every request sees one configuration. The router filter's plan names its configuration, and an
// attempt of the upstream filter follows the plan's among the last ones its VM configured
// (assembly/upstream.ts); so the upstream filter takes a new configuration before the router filter
// can make plans with it. A new configuration may name providers, aliases or fallback chains the
// running one does not (and the reverse): the clusters and routes of both are served while the
// plugin switches, and the old ones go once it has. Each file waits for Envoy's acknowledgement
// (its discovery stats) before the next is written; a file Envoy refuses puts the earlier ones back.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import YAML from "yaml";
import { ConfigProblem, gatewayView } from "./config.mjs";
import { failoverPlan } from "./failover.mjs";
import { UPSTREAM_ROOT_ID } from "./names.mjs";
import { toYaml, withFirst } from "./yaml.mjs";

export const BOOTSTRAP_FILE = "envoy.yaml";
// In the order a reload writes them (upstream filter before router filter, see above).
export const RESOURCE_FILES = { clusters: "clusters.yaml", routes: "routes.yaml", upstream: "upstream-filter.yaml", router: "router-filter.yaml" };

const ROUTER_FILTER = "model-router";
// The resources' types in a discovery file.
const TYPE = {
  clusters: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  routes: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  extension: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
};
const ACK_TIMEOUT_MS = 10_000;

const watched = (dir, kind) => ({ path_config_source: { path: join(resolve(dir), RESOURCE_FILES[kind]) }, resource_api_version: "V3" });
// A filter whose configuration Envoy reads from a file (ECDS), of the same type as the one it replaces.
const discovered = (filter, dir, kind) => ({
  name: filter.name,
  config_discovery: { config_source: watched(dir, kind), type_urls: [filter.typed_config["@type"]] },
});

/**
 * A gateway that reloads its configuration from files in `dir`, from a bootstrap of buildBootstrap
 * (taken apart: it is changed). Returns the bootstrap's text (without header), the resources, and
 * the discovery stats Envoy counts each file's updates in.
 */
export function reloadableGateway(bootstrap, config, dir) {
  const listener = bootstrap.static_resources.listeners[0];
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  const routes = hcm.route_config;
  delete hcm.route_config;
  hcm.rds = { route_config_name: routes.name, config_source: watched(dir, "routes") };
  const at = hcm.http_filters.findIndex((f) => f.name === ROUTER_FILTER);
  const router = hcm.http_filters[at];
  hcm.http_filters[at] = discovered(router, dir, "router");
  const upstreamFilters = hcm.http_filters.find((f) => f.name === "envoy.filters.http.router").typed_config.upstream_http_filters ?? [];
  const up = upstreamFilters.findIndex((f) => f.name === UPSTREAM_ROOT_ID);
  const upstream = up >= 0 ? upstreamFilters[up] : null;
  if (upstream) upstreamFilters[up] = discovered(upstream, dir, "upstream");
  const clusters = bootstrap.static_resources.clusters;
  delete bootstrap.static_resources.clusters;
  // File-based discovery needs a node identity; nothing else reads it.
  const reloadable = withFirst({ node: { id: "llm-router", cluster: "llm-router" } }, bootstrap);
  reloadable.dynamic_resources = { cds_config: watched(dir, "clusters") };
  const extension = (filter) => ({ name: filter.name, typed_config: filter.typed_config });
  return {
    dir,
    configText: config.text,
    json: config.json,
    bootstrap: reloadable,
    bootstrapText: toYaml(reloadable),
    resources: { clusters, routes, upstream: upstream ? extension(upstream) : null, router: extension(router) },
    stats: {
      clusters: "cluster_manager.cds",
      routes: `http.${hcm.stat_prefix}.rds.${routes.name}`,
      upstream: `extension_config_discovery.upstream_http_filter.${UPSTREAM_ROOT_ID}`,
      router: `extension_config_discovery.http_filter.${ROUTER_FILTER}`,
    },
  };
}

const NOTES = {
  clusters: "Clusters (CDS): one per provider, and one fallback cluster per chain of providers.",
  routes: "Routes (RDS).",
  upstream: "The plugin as the router's upstream filter (ECDS): the configuration, every attempt of a fallback chain.",
  router: "The plugin as the router filter (ECDS): the configuration, every request.",
};

function resourceText(kind, value, version, source) {
  const resources = kind === "clusters" ? value : [value];
  const type = kind === "clusters" || kind === "routes" ? TYPE[kind] : TYPE.extension;
  const header =
    `${NOTES[kind]} Generated by llm-router from ${source}; Envoy applies a new version when one is\n` +
    "moved over this file. llm-router rewrites it, in the order a reload needs: do not edit.";
  return toYaml({ version_info: version, resources: resources.map((r) => withFirst({ "@type": type }, r)) }, header);
}

const fingerprint = (text) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/** The text of every file of `gateway`: { envoy.yaml, clusters.yaml, ... } (null: no upstream filter). */
export function gatewayFiles(gateway, { source, header }) {
  const version = fingerprint(gateway.configText);
  const files = { [BOOTSTRAP_FILE]: toYaml(gateway.bootstrap, header) };
  for (const [kind, name] of Object.entries(RESOURCE_FILES)) {
    const value = gateway.resources[kind];
    files[name] = value === null ? null : resourceText(kind, value, version, source);
  }
  return files;
}

function writeAtomically(file, text) {
  const part = `${file}.${process.pid}.part`;
  writeFileSync(part, text);
  renameSync(part, file);
}

/** Writes every file of a gateway into its directory, the bootstrap last: what Envoy reads at start. */
export function writeGateway(gateway, options) {
  const files = gatewayFiles(gateway, options);
  for (const [name, text] of Object.entries(files)) if (name !== BOOTSTRAP_FILE && text !== null) writeAtomically(join(gateway.dir, name), text);
  writeAtomically(join(gateway.dir, BOOTSTRAP_FILE), files[BOOTSTRAP_FILE]);
}

const withoutHeader = (text) => text.replace(/^(?:#[^\n]*\n)+/, "");

/** What the Envoy running from `dir` was started with: its bootstrap, key variables and configuration. */
export function runningGateway(dir) {
  const read = (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : null);
  const bootstrap = read(BOOTSTRAP_FILE);
  const router = read(RESOURCE_FILES.router);
  if (bootstrap === null || router === null) return null;
  const secrets = YAML.parse(bootstrap)?.static_resources?.secrets ?? [];
  const configText = YAML.parse(router).resources[0].typed_config.config.configuration.value;
  return {
    bootstrapText: withoutHeader(bootstrap),
    keyVariables: secrets.map((s) => s.generic_secret.secret.environment_variable),
    json: JSON.parse(configText),
    files: Object.fromEntries(Object.values(RESOURCE_FILES).map((name) => [name, read(name)])),
  };
}

/**
 * What a reload cannot apply to the running gateway (ConfigProblems naming the field): a key
 * variable Envoy did not start with (it reads keys once: the credential secrets, the upstream
 * filter's VM environment), or anything that changes the listener Envoy fixed when it started.
 */
export function reloadProblems(running, next) {
  const problems = [];
  const have = new Set(running.keyVariables);
  for (const p of gatewayView(next.json).providers) {
    if (p.auth === "none" || have.has(p.apiKeyEnv)) continue;
    problems.push(
      new ConfigProblem(
        `providers.${p.name}.apiKeyEnv`,
        `${p.apiKeyEnv} is not among the key variables the running gateway started with (${running.keyVariables.join(", ") || "none"}): ` +
          `Envoy reads keys only when it starts; restart llm-router with ${p.apiKeyEnv} set to add it`,
      ),
    );
  }
  if (problems.length > 0 || next.bootstrapText === running.bootstrapText) return problems;
  const before = gatewayView(running.json), after = gatewayView(next.json);
  const restart = (path, why) => problems.push(new ConfigProblem(path, `${why}, which Envoy fixes when it starts: restart llm-router to apply it`));
  if (before.maxBodyBytes !== after.maxBodyBytes || before.oneMaxBodyBytes !== after.oneMaxBodyBytes) {
    restart("maxBodyBytes", `sets the listener's buffer limits (running: ${before.maxBodyBytes} bytes)`);
  }
  if (before.modelHeader !== after.modelHeader) restart("modelHeader", `is read by a filter of the listener (running: ${before.modelHeader})`);
  const azure = (view) => view.providers.find((p) => p.apiVersion !== null);
  if (!azure(before) !== !azure(after)) {
    restart(`providers.${(azure(after) ?? azure(before)).name}.apiVersion`, "an Azure provider adds or removes a filter of the listener");
  }
  if (!failoverPlan(running.json, before) !== !failoverPlan(next.json, after)) {
    restart("providers", `failover ${failoverPlan(next.json, after) ? "starts" : "ends"} with this change: the router's upstream filter comes or goes`);
  }
  if (problems.length === 0) restart("", "this change alters the listener, the admin address or the gateway options");
  return problems;
}

// Both sets of clusters while the plugin switches: the new ones, then the running ones it may still name.
function bothClusters(running, next) {
  const names = new Set(next.map((c) => c.name));
  return [...next, ...running.filter((c) => !names.has(c.name))];
}

// Both sets of routes: the new ones, the running ones no new route replaces, then the routes for
// what nothing routed (they match every request, so they stay last).
function bothRoutes(running, next) {
  const catchAll = (r) => r.name.startsWith("unrouted") || r.name.startsWith("default.");
  const [runningHost] = running.virtual_hosts;
  const [nextHost] = next.virtual_hosts;
  const names = new Set(nextHost.routes.map((r) => r.name));
  return {
    ...next,
    internal_only_headers: [...new Set([...next.internal_only_headers, ...running.internal_only_headers])],
    virtual_hosts: [
      {
        ...nextHost,
        routes: [
          ...nextHost.routes.filter((r) => !catchAll(r)),
          ...runningHost.routes.filter((r) => !catchAll(r) && !names.has(r.name)),
          ...nextHost.routes.filter(catchAll),
        ],
      },
    ],
  };
}

// What Envoy would run from a resource file: its resources (not its version or comments; clusters
// are a set, routes a list).
function content(kind, text) {
  if (!text) return null;
  const resources = YAML.parse(text).resources;
  if (kind === "clusters") resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return JSON.stringify(resources);
}

/**
 * The files to write, in order, from the running gateway's to `next`'s: [{ kind, name, text }].
 * A file whose resources are already on disk is skipped (an edit of an alias changes the two filter
 * files only).
 */
export function reloadSteps(running, next, { source }) {
  const runningResources = {
    clusters: YAML.parse(running.files[RESOURCE_FILES.clusters]).resources,
    routes: YAML.parse(running.files[RESOURCE_FILES.routes]).resources[0],
  };
  const version = fingerprint(next.configText);
  const onDisk = { ...running.files };
  const steps = [];
  const step = (kind, value, stepVersion = version) => {
    const name = RESOURCE_FILES[kind];
    const text = resourceText(kind, value, stepVersion, source);
    if (content(kind, onDisk[name]) === content(kind, text)) return;
    onDisk[name] = text;
    steps.push({ kind, name, text });
  };
  const strip = (r) => {
    const { "@type": _type, ...rest } = r;
    return rest;
  };
  step("clusters", bothClusters(runningResources.clusters.map(strip), next.resources.clusters), `${version}+running`);
  step("routes", bothRoutes(strip(runningResources.routes), next.resources.routes), `${version}+running`);
  if (next.resources.upstream) step("upstream", next.resources.upstream);
  step("router", next.resources.router);
  step("routes", next.resources.routes);
  step("clusters", next.resources.clusters);
  return steps;
}

async function updateCounts(admin, prefix) {
  const res = await fetch(`${admin}/stats?filter=${encodeURIComponent(`^${prefix.replaceAll(".", "\\.")}\\.update_`)}`, { signal: AbortSignal.timeout(2000) });
  const counts = { success: 0, rejected: 0, failure: 0 };
  for (const line of (await res.text()).split("\n")) {
    const m = /\.update_(success|rejected|failure): (\d+)$/.exec(line.trim());
    if (m) counts[m[1]] = Number(m[2]);
  }
  return counts;
}

/** Whether Envoy's admin endpoint answers (a running gateway to reload, or files for its next start). */
export async function adminAnswers(admin) {
  try {
    return (await fetch(`${admin}/ready`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export class ReloadRefused extends Error {}

// Writes one file and waits until Envoy has taken or refused it.
async function applyStep(dir, stats, admin, step) {
  const prefix = stats[step.kind];
  const before = await updateCounts(admin, prefix);
  writeAtomically(join(dir, step.name), step.text);
  const deadline = Date.now() + ACK_TIMEOUT_MS;
  for (;;) {
    const now = await updateCounts(admin, prefix);
    if (now.rejected > before.rejected || now.failure > before.failure) return false;
    if (now.success > before.success) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Reloads the Envoy running from next.dir (admin: its admin URL) with `next`, step by step; returns
 * the files written. Throws ReloadRefused when Envoy refuses a file, after putting back the files
 * written before it.
 */
export async function reloadGateway(running, next, { admin, source, whyRefused = () => null }) {
  const steps = reloadSteps(running, next, { source });
  const done = [];
  for (const step of steps) {
    if (await applyStep(next.dir, next.stats, admin, step)) {
      done.push(step);
      continue;
    }
    const why = whyRefused() ?? `see Envoy's log (stat ${next.stats[step.kind]}.update_rejected)`;
    // The running files again, the last one written first.
    const restored = new Set();
    for (const back of [step, ...done.reverse()]) {
      if (restored.has(back.name)) continue;
      restored.add(back.name);
      await applyStep(next.dir, next.stats, admin, { ...back, text: running.files[back.name] }).catch(() => false);
    }
    throw new ReloadRefused(`Envoy refused ${step.name}: ${why}`);
  }
  return [...new Set(steps.map((s) => s.name))];
}

/**
 * `llm-router envoy --xds-dir DIR`: the gateway's files in DIR. When an Envoy started from DIR
 * answers on the admin address of DIR's bootstrap, they are written the way `start` reloads (the
 * same checks, step by step, each confirmed); otherwise all of them are, for Envoy's next start.
 * @param build (keyVariables) => the gateway (reloadableGateway) for the new configuration
 * @returns {Promise<{ admin: string|null, written: string[], problems: ConfigProblem[] }>}
 */
export async function updateDirectory(dir, build, { source, header }) {
  mkdirSync(dir, { recursive: true });
  const running = runningGateway(dir);
  const address = running ? YAML.parse(readFileSync(join(dir, BOOTSTRAP_FILE), "utf8"))?.admin?.address?.socket_address : null;
  const admin = address?.port_value ? `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port_value}` : null;
  if (!running || admin === null || !(await adminAnswers(admin))) {
    const gateway = build(undefined);
    writeGateway(gateway, { source, header });
    return { admin: null, written: Object.entries(gatewayFiles(gateway, { source, header })).filter(([, t]) => t !== null).map(([n]) => n), problems: [] };
  }
  const gateway = build(running.keyVariables);
  const problems = reloadProblems(running, gateway);
  if (problems.length > 0) return { admin, written: [], problems };
  return { admin, written: await reloadGateway(running, gateway, { admin, source }), problems: [] };
}

/** What changed, for one line of output: "routes +fast -cheap; providers +extra". */
export function describeChange(before, after) {
  const parts = [];
  const diff = (what, a, b) => {
    const added = b.filter((x) => !a.includes(x)).map((x) => `+${x}`);
    const removed = a.filter((x) => !b.includes(x)).map((x) => `-${x}`);
    if (added.length + removed.length > 0) parts.push(`${what} ${[...added, ...removed].join(" ")}`);
  };
  diff("routes", Object.keys(before.routes ?? {}), Object.keys(after.routes ?? {}));
  diff("models", (before.models ?? []).map((m) => m.name), (after.models ?? []).map((m) => m.name));
  diff("providers", Object.keys(before.providers ?? {}), Object.keys(after.providers ?? {}));
  return parts.join("; ") || "settings";
}
