// Reads the plugin configuration from the host and compiles it. Any failure leaves exactly one
// log line naming the field, and no configuration: the plugin never runs half-configured.
import { BufferType, LogLevel } from "../abi/constants";
import { hostData, hostSize, log, readBuffer, releaseHostData } from "../abi/host";
import { parseError, parseJsonTree } from "../json/tree";
import { configError, fail, resetConfigError } from "./errors";
import { PluginConfig, compilePluginConfig } from "./rules";

function compileConfiguration(size: usize): PluginConfig | null {
  resetConfigError();
  if (size == 0 || !readBuffer(BufferType.PluginConfiguration, size)) {
    fail("configuration", "missing (expected a JSON object with \"models\")");
    return null;
  }
  const tree = parseJsonTree(hostData, hostSize);
  releaseHostData();
  if (tree === null) {
    fail("configuration", "not valid JSON: " + parseError);
    return null;
  }
  return compilePluginConfig(tree);
}

export function loadConfiguration(size: usize): PluginConfig | null {
  const plugin = compileConfiguration(size);
  if (plugin === null) log(LogLevel.Error, "model-router: invalid configuration: " + configError);
  return plugin;
}
