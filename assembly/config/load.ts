// Reads the plugin configuration from the host and compiles it. Any failure leaves exactly one
// log line naming the field, and no configuration: the plugin never runs half-configured.
import { BufferType, LogLevel } from "../abi/constants";
import { currentTimeNanos, freeHostBlock, hostSize, log, readBuffer, takeHostData } from "../abi/host";
import { parseError, parseJsonTree } from "../json/tree";
import { configError, fail, resetConfigError } from "./errors";
import { hashBytes } from "./name_index";
import { PluginConfig, compilePluginConfig } from "./rules";
import { CONFIG_ERROR_PREFIX } from "../names";

// The last configuration compiled in this VM, by its text: the router filter and the upstream filter
// (a second root id in the same VM) are given the same text, and compile it once between them.
let lastFingerprint: u32 = 0;
let lastLength: usize = 0;
let lastPlugin: PluginConfig | null = null;

function compileConfiguration(size: usize): PluginConfig | null {
  resetConfigError();
  if (size == 0 || !readBuffer(BufferType.PluginConfiguration, size)) {
    fail("configuration", "missing (expected a JSON object with \"models\")");
    return null;
  }
  // The tree points into the document (strings are decoded lazily): free it only after compiling.
  const length = hostSize;
  const document = takeHostData();
  const fingerprint = hashBytes(document, length);
  if (lastPlugin !== null && fingerprint == lastFingerprint && length == lastLength) {
    freeHostBlock(document);
    return lastPlugin;
  }
  const tree = parseJsonTree(document, length);
  const plugin = tree !== null ? compilePluginConfig(tree, <i64>(currentTimeNanos() / 1000000000)) : null;
  if (tree === null) fail("configuration", "not valid JSON: " + parseError);
  freeHostBlock(document);
  if (plugin !== null) {
    plugin.fingerprint = fingerprint;
    lastPlugin = plugin;
    lastFingerprint = fingerprint;
    lastLength = length;
  }
  return plugin;
}

export function loadConfiguration(size: usize): PluginConfig | null {
  const plugin = compileConfiguration(size);
  if (plugin === null) log(LogLevel.Error, CONFIG_ERROR_PREFIX + configError);
  return plugin;
}
