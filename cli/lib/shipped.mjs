// The files this repository ships that are generated from config/router.json. `npm run generate`
// writes them; a test regenerates them in memory and names any file that is out of date.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT, readConfigFile } from "./config.mjs";
import { buildCompose, mockService, MOCK_PORT } from "./compose.mjs";
import { buildBootstrap } from "./envoy.mjs";
import { buildWasmPlugin } from "./higress.mjs";
import { toYaml } from "./yaml.mjs";
import { gatewayView } from "./config.mjs";

export const REGENERATE = "npm run generate";

function envoyHeader(what, command) {
  return `${what}\n\nGenerated from config/router.json by \`${command}\` (\`${REGENERATE}\` regenerates every shipped file;\ndo not edit: a test fails when this file is out of date).`;
}

/** [{ path (relative to the repository), text }] */
export function shippedFiles(root = PACKAGE_ROOT) {
  const config = readConfigFile(join(root, "config", "router.json"));
  const view = gatewayView(config.json);
  const mocks = Object.fromEntries(view.providers.map((p) => [p.name, [{ host: mockService(p.name), port: MOCK_PORT }]]));
  const docker = { listen: { host: "0.0.0.0", port: 10000 }, admin: { host: "0.0.0.0", port: 9901 }, wasmPath: "/etc/envoy/plugin.wasm", mocks };
  const higress = buildWasmPlugin(config, { matchRulesFile: join(root, "config", "higress", "match-rules.yaml"), file: "config/higress/wasmplugin.yaml" });
  if (higress.problems.length > 0) throw new Error(`config/higress/match-rules.yaml with config/router.json: ${higress.problems.join("; ")}`);
  return [
    {
      path: "envoy.yaml",
      text: toYaml(
        buildBootstrap(config, { wasmPath: "build/envoy.wasm" }),
        envoyHeader(
          "Envoy 1.40 bootstrap for the real providers of config/router.json. Run it from the repository root\n" +
            "(the plugin path is relative) with the providers' key variables set:\n\n" +
            "  .venv/bin/envoy -c envoy.yaml --disable-hot-restart\n\n" +
            "or let `npx llm-router start config/router.json` generate and run one (`--mock` for local mocks).",
          "llm-router envoy config/router.json --wasm build/envoy.wasm -o envoy.yaml",
        ),
      ),
    },
    {
      path: "config/docker/envoy.yaml",
      text: toYaml(
        buildBootstrap(config, docker),
        envoyHeader(
          "Envoy configuration for docker-compose (service \"envoy\", image envoyproxy/envoy:v1.40-latest): binds\n" +
            "0.0.0.0, loads the plugin mounted at /etc/envoy/plugin.wasm, and points every provider at its mock\n" +
            "service (plain HTTP on port 8000; path, Host and key injection as for the real provider).",
          "llm-router envoy config/router.json --listen 0.0.0.0:10000 --admin 0.0.0.0:9901 --wasm /etc/envoy/plugin.wasm --mock-endpoint <provider>=mock-<provider>:8000 ...",
        ),
      ),
    },
    {
      path: "config/docker/higress-envoy.yaml",
      text: toYaml(
        buildBootstrap(config, { ...docker, higress: true }),
        envoyHeader(
          "Envoy configuration for the Higress gateway image (docker-compose profile \"higress\"), loading\n" +
            "build/higress.wasm (ABI proxy_abi_version_0_2_100). As config/docker/envoy.yaml, except: no\n" +
            "allow_on_headers_stop_iteration (Higress holds headers for 0_2_100 modules by itself) and no key\n" +
            "injection (the mocks here need none; on Higress, ai-proxy owns provider keys).",
          "llm-router envoy config/router.json --higress --listen 0.0.0.0:10000 --admin 0.0.0.0:9901 --wasm /etc/envoy/plugin.wasm --mock-endpoint ...",
        ),
      ),
    },
    { path: "docker-compose.yml", text: buildCompose(config) },
    { path: "config/higress/wasmplugin.yaml", text: higress.text },
  ];
}

/** One line per shipped file whose content differs from what generation gives now. */
export function staleFiles(root = PACKAGE_ROOT) {
  return shippedFiles(root)
    .filter((f) => {
      try {
        return readFileSync(join(root, f.path), "utf8") !== f.text;
      } catch {
        return true;
      }
    })
    .map((f) => `${f.path} is out of date with config/router.json: run \`${REGENERATE}\` (to try a configuration, edit a copy of config/router.json instead: README "Two commands")`);
}
