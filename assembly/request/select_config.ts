// Which of the plugin's configurations serves a request (config/match.ts): the global one, or the
// first Higress `_rules_` entry matching its route, service cluster or host. The properties are read
// only when some rule matches on them.
import { hostData, hostSize, readProperty, releaseHostData } from "../abi/host";
import { selectConfig } from "../config/match";
import { PluginConfig } from "../config/rules";
import { RouterConfig } from "../config/types";
import { RequestHeaders } from "./headers";

// Higress answers the unprefixed names; Envoy (since 1.33) only the xds.* ones.
const ROUTE_NAME = String.UTF8.encode("route_name");
const XDS_ROUTE_NAME = String.UTF8.encode("xds\0route_name");
const CLUSTER_NAME = String.UTF8.encode("cluster_name");
const XDS_CLUSTER_NAME = String.UTF8.encode("xds\0cluster_name");

function propertyText(name: ArrayBuffer, fallback: ArrayBuffer): string {
  if (!readProperty(name) && !readProperty(fallback)) return "";
  const text = String.UTF8.decodeUnsafe(hostData, hostSize);
  releaseHostData();
  return text;
}

export function configForRequest(plugin: PluginConfig, headers: RequestHeaders): RouterConfig | null {
  if (plugin.rules.length == 0) return plugin.global;
  const routeName = plugin.rulesNeedRouteName ? propertyText(ROUTE_NAME, XDS_ROUTE_NAME) : "";
  const clusterName = plugin.rulesNeedClusterName ? propertyText(CLUSTER_NAME, XDS_CLUSTER_NAME) : "";
  const authority = plugin.rulesNeedAuthority ? headers.authority() : "";
  return selectConfig(plugin, routeName, clusterName, authority);
}
