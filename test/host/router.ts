// The router filter that follows the Wasm filter: a single route `match: {prefix: "/"}` with
// `route: {cluster_header: <name>}`. Envoy resolves cluster_header when the route is SELECTED,
// i.e. at the start of the filter chain and again only if a filter cleared the route cache.
// A missing header or an unknown cluster gives 404; with repeated headers the first value counts.
import type { HeaderMap } from "./headers.ts";

export class Router {
  readonly clusters: Set<string>;
  constructor(
    readonly clusterHeader: string,
    clusters: Iterable<string>,
  ) {
    this.clusters = new Set(clusters);
  }

  /** The cluster the route resolves to for these headers, or null (→ 404). */
  resolve(headers: HeaderMap): string | null {
    const v = headers.first(this.clusterHeader);
    if (v === undefined || !this.clusters.has(v)) return null;
    return v;
  }
}
