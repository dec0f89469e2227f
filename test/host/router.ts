// The router filter that follows the Wasm filter: routes `match: {prefix: "/", headers: [<name>
// present]}` with `route: {cluster_header: <name>}`, one per cluster header in order (the first
// header present picks the route; the generated bootstrap puts its fallback-chain route before the
// provider routes). Envoy resolves cluster_header when the route is SELECTED, i.e. at the start of
// the filter chain and again only if a filter cleared the route cache. A missing header or an
// unknown cluster gives Envoy 1.40's 503 with response flag NC (not the 404 Envoy's documentation
// promises); with repeated headers the first value counts.
import type { HeaderMap } from "./headers.ts";

export class Router {
  readonly clusters: Set<string>;
  readonly clusterHeaders: string[];
  constructor(
    clusterHeader: string | string[],
    clusters: Iterable<string>,
  ) {
    this.clusterHeaders = Array.isArray(clusterHeader) ? clusterHeader : [clusterHeader];
    this.clusters = new Set(clusters);
  }

  /** The first cluster header (the route's), for callers that know only one. */
  get clusterHeader(): string {
    return this.clusterHeaders[0];
  }

  /** The cluster the route resolves to for these headers, or null (→ 503 NC). */
  resolve(headers: HeaderMap): string | null {
    for (const name of this.clusterHeaders) {
      const v = headers.first(name);
      if (v === undefined) continue;
      return this.clusters.has(v) ? v : null;
    }
    return null;
  }
}
