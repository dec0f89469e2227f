// Higress `_rules_` (docs/behaviour.md "Higress rules"): route / route prefix / domain / service
// matching, first match wins, fallback to global, shallow merge.
import { describe, expect, it } from "vitest";
import { ProxyWasmHost } from "../host/index.ts";
import { chosen, HIGRESS_WASM, type Json, model, router, send, user } from "./helpers.ts";

const only = (name: string) => ({ models: [model(name)], routes: { auto: { strategy: "price" } } });
const global = { models: [model("G")], routes: { auto: { strategy: "price" } }, defaultOutputTokens: 10 };
const cfg = {
  ...global,
  _rules_: [
    { _match_route_: ["r-exact"], ...only("ROUTE") },
    { _match_route_prefix_: ["pre-"], ...only("PREFIX") },
    { _match_domain_: ["exact.example.com"], ...only("DOMAIN") },
    { _match_domain_: ["*.suffix.com"], ...only("SUFFIX") },
    { _match_domain_: ["api-*"], ...only("STAR") },
    { _match_service_: ["svc.ns.svc.cluster.local"], ...only("SVC") },
    { _match_service_: ["svc2.ns.svc.cluster.local:8080"], ...only("SVCPORT") },
    { _match_service_: ["static-backend"], ...only("WHOLE") },
    { _match_route_: ["both"], _match_domain_: ["both.com"], ...only("BOTH") },
    { _match_domain_: ["first.com"], ...only("FIRST") },
    { _match_domain_: ["first.com"], ...only("SECOND") },
    { _match_domain_: ["merge.com"], routes: { auto: { strategy: "quality" } } },
  ],
};
const clusters = ["up-G", "up-ROUTE", "up-PREFIX", "up-DOMAIN", "up-SUFFIX", "up-STAR", "up-SVC", "up-SVCPORT", "up-WHOLE", "up-BOTH", "up-FIRST", "up-SECOND"];

const cases: Array<[string, { authority?: string; routeName?: string; clusterName?: string }, string]> = [
  ["route name", { routeName: "r-exact" }, "ROUTE"],
  ["route name is exact", { routeName: "r-exact-2" }, "G"],
  ["route prefix", { routeName: "pre-anything" }, "PREFIX"],
  ["exact domain", { authority: "exact.example.com" }, "DOMAIN"],
  ["exact domain, port stripped", { authority: "exact.example.com:8443" }, "DOMAIN"],
  ["exact domain does not match a subdomain", { authority: "a.exact.example.com" }, "G"],
  ["*.suffix", { authority: "a.b.suffix.com" }, "SUFFIX"],
  ["*.suffix with port", { authority: "x.suffix.com:80" }, "SUFFIX"],
  ["prefix*", { authority: "api-eu.example.net" }, "STAR"],
  ["service fqdn from outbound|port||fqdn", { clusterName: "outbound|80||svc.ns.svc.cluster.local" }, "SVC"],
  ["service fqdn:port", { clusterName: "outbound|8080||svc2.ns.svc.cluster.local" }, "SVCPORT"],
  ["service fqdn:port needs the port", { clusterName: "outbound|9090||svc2.ns.svc.cluster.local" }, "G"],
  ["service: a non-outbound cluster name is compared whole", { clusterName: "static-backend" }, "WHOLE"],
  ["all keys must match (route only)", { routeName: "both", authority: "other.com" }, "G"],
  ["all keys must match (both)", { routeName: "both", authority: "both.com:1" }, "BOTH"],
  ["first match wins", { authority: "first.com" }, "FIRST"],
  ["no match → global", { authority: "nowhere.org", routeName: "x", clusterName: "outbound|1||y" }, "G"],
];

describe.each([
  ["higress build on Higress (bare route_name / cluster_name)", "higress"],
  ["envoy build on Envoy (xds.route_name / xds.cluster_name)", "envoy"],
])("%s", (_n, flavour) => {
  const load = () =>
    flavour === "higress"
      ? ProxyWasmHost.load({ wasm: HIGRESS_WASM, mode: "higress", configuration: JSON.stringify(cfg), clusters })
      : router(cfg, { clusters });
  it.each(cases)("%s", async (_c, where, want) => {
    const h = await load();
    expect(h.configured).toBe(true);
    const r = send(h, { model: "auto", ...user("x") }, where);
    expect(r.outcome).toBe("upstream");
    expect(chosen(r)).toBe(want);
  });
  it("shallow merge: a rule's routes replace the global routes, global models stay", async () => {
    const h = await load();
    const r = send(h, { model: "auto", ...user("x") }, { authority: "merge.com" });
    expect(chosen(r)).toBe("G");
  });
});

describe("rule merging details", () => {
  it("a rule's routes table replaces the global one entirely", async () => {
    const c: Json = {
      models: [model("A", { price: { input: 1, output: 1 }, quality: 9 }), model("B", { price: { input: 0.1, output: 0.1 }, quality: 1 })],
      routes: { auto: { strategy: "price" }, keep: { strategy: "price" } },
      _rules_: [{ _match_domain_: ["r.com"], routes: { auto: { strategy: "quality" } } }],
    };
    const h = await router(c);
    expect(chosen(send(h, { model: "auto", ...user("x") }, { authority: "r.com" }))).toBe("A");
    expect(chosen(send(h, { model: "auto", ...user("x") }, { authority: "g.com" }))).toBe("B");
    // "keep" exists only globally: under the rule it is not an alias, so it passes through
    const r = send(h, { model: "keep", ...user("x") }, { authority: "r.com" });
    expect(chosen(r)).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(r.finalBody)).model).toBe("keep");
    // other top-level fields come from the global config
    expect(chosen(send(h, { model: "keep", ...user("x") }, { authority: "g.com" }))).toBe("B");
  });
  it("a rule's models replace the global catalog", async () => {
    const c: Json = { models: [model("A")], _rules_: [{ _match_domain_: ["r.com"], models: [model("R")] }] };
    const h = await router(c);
    expect(chosen(send(h, { model: "A", ...user("x") }, { authority: "r.com" }))).toBeUndefined();
    expect(chosen(send(h, { model: "R", ...user("x") }, { authority: "r.com" }))).toBe("R");
    expect(chosen(send(h, { model: "A", ...user("x") }, { authority: "g.com" }))).toBe("A");
  });
  it("no global models: requests matching no rule pass through untouched", async () => {
    const c: Json = { _rules_: [{ _match_domain_: ["r.com"], ...only("R") }] };
    const h = await router(c, { clusters: ["up-x"] });
    expect(h.configured).toBe(true);
    const body = JSON.stringify({ model: "auto", ...user("x") });
    const r = send(h, body, { authority: "g.com", headers: { "x-llm-upstream": "up-x" } });
    // not held, not buffered; the client's routing header is still removed (it is the plugin's)
    const requestReturns = r.returns.filter((x) => x.callback.startsWith("on_request"));
    expect(requestReturns).toHaveLength(1);
    expect(requestReturns[0].raw).toBe(0);
    expect(r.finalHeaders.first("x-llm-upstream")).toBeUndefined();
    expect(chosen(r)).toBeUndefined();
    expect(chosen(send(h, body, { authority: "r.com" }))).toBe("R");
  });
  it("a rule without any match key is a configuration error", async () => {
    const h = await router({ models: [model("A")], _rules_: [{ models: [model("R")] }] }, { logLevel: 0 });
    expect(h.configured).toBe(false);
  });
});
