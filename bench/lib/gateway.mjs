// `llm-router start CONFIG --mock` as a child process on loopback ports chosen by the system, for the
// benchmarks that replay traffic through the real gateway. Its banner says where the gateway, its
// admin interface and each provider's mock listen; access-log lines are collected.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./ts.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function startGateway(configFile, runDir) {
  const child = spawn(process.execPath, [join(ROOT, "cli", "llm-router.mjs"), "start", configFile, "--mock",
    "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--run-dir", runDir], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const state = { url: "", admin: "", mocks: {}, access: [], stderr: "" };
  let buffered = "";
  child.stdout.on("data", (d) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const ready = /gateway ready at (http:\/\/\S+) \(admin (http:\/\/[^,\s]+)/.exec(line);
      if (ready) [, state.url, state.admin] = ready;
      const mock = /provider (\S+): local mock (http:\/\/\S+)/.exec(line);
      if (mock) state.mocks[mock[1]] = mock[2];
      if (line.startsWith("[access]")) state.access.push(line);
    }
  });
  child.stderr.on("data", (d) => (state.stderr += d.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  /** Resolves once the banner named the gateway (or throws after `ms`). */
  const ready = async (ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!state.url && Date.now() < deadline && child.exitCode === null) await sleep(100);
    if (!state.url) throw new Error(`the gateway did not start:\n${state.stderr}`);
  };
  return { child, state, exited, ready };
}
