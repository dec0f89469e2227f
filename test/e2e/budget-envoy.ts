// Real Envoy (.venv/bin/envoy) running the budget test entry (test/unit/entries/budget-entry.ts)
// in front of a direct 200, with the rate limit service's cluster (HTTP/2) as the plugin's shared
// store: the end-to-end tests of budgets across gateways and of Envoy's gRPC callouts from Wasm.
import { budgetBootstrap } from "../unit/entries/budget-entry.mjs";
import { send, spawnEnvoy, waitForEnvoy, type EnvoyProcess, type Reply } from "./harness.ts";

export interface BudgetEnvoyOptions {
  pluginConfig: string;
  /** The cluster named in the plugin's `store` line: the service's gRPC port (or a dead one). */
  store?: { cluster: string; port: number };
  concurrency?: number;
}

export interface BudgetEnvoy {
  url: string;
  adminUrl: string;
  envoy: EnvoyProcess;
  request(headers: Record<string, string>): Promise<Reply>;
  /** The `budget-entry:` lines of Envoy's log so far. */
  lines(): string[];
  stop(): Promise<void>;
}

export async function startBudgetEnvoy(opts: BudgetEnvoyOptions): Promise<BudgetEnvoy> {
  const envoy = spawnEnvoy(budgetBootstrap(opts), ["--concurrency", String(opts.concurrency ?? 2)]);
  const { adminPort, port } = await waitForEnvoy(envoy);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    envoy,
    request: (headers) => send(url, { path: "/", headers, timeoutMs: 10_000 }),
    lines: () => envoy.log().split("\n").filter((l) => l.includes("budget-entry:")).map((l) => l.slice(l.indexOf("budget-entry:"))),
    stop: () => envoy.stop(),
  };
}
