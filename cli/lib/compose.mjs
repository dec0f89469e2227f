// docker-compose.yml for a trial in containers: one mock provider per configured provider, the
// official Envoy image with config/docker/envoy.yaml and, in profile "higress", the Higress gateway
// image with config/docker/higress-envoy.yaml. Generated from the router configuration like the
// Envoy files, so a provider added to the configuration gets its mock service too.
import { gatewayView } from "./config.mjs";
import { toYaml } from "./yaml.mjs";

export const MOCK_PORT = 8000;
export const mockService = (provider) => `mock-${provider.replace(/[^A-Za-z0-9-]/g, "-").toLowerCase()}`;
export const mockKey = (provider) => `mock-${provider}-key`;

const HEADER = `Local trial in containers (no Node/Envoy on the host needed, only the built plugin):

  npm run build                              # build/envoy.wasm and build/higress.wasm first!
  docker compose up                          # Envoy 1.40 on http://localhost:10000 (admin :9901)
  docker compose --profile higress up        # + the Higress gateway on http://localhost:10001 (admin :9902)

  curl -s localhost:10000/v1/chat/completions -H 'content-type: application/json' \\
       -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}'

Generated from config/router.json by \`npm run generate\` (do not edit; a test fails when it is out
of date). Every provider of the configuration gets a mock service listening on port ${MOCK_PORT}; the
Envoy files (config/docker/*.yaml) point each provider's cluster at its mock, keep the provider's
path and Host; the Envoy service's environment holds placeholder keys (Envoy needs the variables).
For real providers, mount the output of \`llm-router envoy\` instead and pass the real key variables.
Every port is published on 127.0.0.1 only: the admin endpoints must stay private, and a gateway for
others needs client keys first (\`llm-router envoy --client-keys-env\`).

If build/*.wasm is missing when the containers start, Docker creates an empty directory in its
place and Envoy fails to load the plugin: build, then \`docker compose down\` and \`up\` again.`;

// Keys in the order dclint expects (its service-keys-order rule), services, dependencies and ports
// sorted: `npx dclint docker-compose.yml` reports no error. Its remaining warnings are about quoting
// style (it wants ports quoted and volumes bare; yaml.mjs quotes whatever holds a colon).
export function buildCompose(config) {
  const view = gatewayView(config.json);
  const mocks = {};
  for (const p of view.providers) {
    mocks[mockService(p.name)] = {
      image: "node:20-alpine",
      volumes: ["./mock:/app/mock:ro"],
      command: ["node", "mock/provider.mjs", "--host", "0.0.0.0", "--port", String(MOCK_PORT), "--name", p.name],
      working_dir: "/app",
      restart: "unless-stopped",
      init: true,
    };
  }
  const dependencies = Object.keys(mocks).sort();
  const environment = Object.fromEntries(view.providers.filter((p) => p.auth !== "none").map((p) => [p.apiKeyEnv, mockKey(p.name)]));
  const services = {
    envoy: {
      image: "envoyproxy/envoy:v1.40-latest",
      depends_on: dependencies,
      volumes: ["./config/docker/envoy.yaml:/etc/envoy/envoy.yaml:ro", "./build/envoy.wasm:/etc/envoy/plugin.wasm:ro"],
      environment: Object.keys(environment).length > 0 ? environment : undefined,
      ports: ["127.0.0.1:9901:9901", "127.0.0.1:10000:10000"],
      command: ["-c", "/etc/envoy/envoy.yaml", "--component-log-level", "wasm:debug"],
    },
    higress: {
      image: "${HIGRESS_GATEWAY_IMAGE:-higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/gateway:v2.1.6}",
      depends_on: dependencies,
      volumes: ["./config/docker/higress-envoy.yaml:/etc/envoy/envoy.yaml:ro", "./build/higress.wasm:/etc/envoy/plugin.wasm:ro"],
      ports: ["127.0.0.1:9902:9901", "127.0.0.1:10001:10000"],
      command: ["-c", "/etc/envoy/envoy.yaml", "--component-log-level", "wasm:debug"],
      entrypoint: "/usr/local/bin/envoy",
      profiles: ["higress"],
    },
  };
  for (const name of dependencies) services[name] = mocks[name];
  return toYaml({ name: "llm-model-router", services }, HEADER);
}
