// The llm-router command as a child process, for the tests that run it (cli.test.ts, reload.test.ts):
// one-shot runs, `start` until its banner is out, and what must be gone once it stopped. Every
// gateway a test starts is stopped after that test, also when an assertion failed midway.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, expect } from "vitest";
import { ROOT, readRouterConfig } from "./harness";

export const CLI = join(ROOT, "cli", "llm-router.mjs");
export const KEYS = ["OPENAI_API_KEY", "DEEPSEEK_API_KEY", "GROQ_API_KEY"];
const dirs: string[] = [];
const running: Started[] = [];

/** Stops the gateways a test started after it, and removes the temporary directories at the end. */
export function useCliProcesses(): void {
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  afterEach(async () => {
    for (const s of running.splice(0)) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill("SIGTERM");
        await Promise.race([s.exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
    }
  });
}

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "llm-router-cli-"));
  dirs.push(d);
  return d;
}

/** The environment without any provider key (what a fresh shell has). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = { ...(process.env as Record<string, string>) };
  for (const k of KEYS) delete env[k];
  return { ...env, ...extra };
}

export function cli(args: string[], env = cleanEnv()) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** config/router.json, edited, in a file of its own. */
export function writeConfig(edit: (c: any) => void): string {
  const c = readRouterConfig();
  edit(c);
  const file = join(tempDir(), "router.json");
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
  admin: string;
  mockPorts: number[];
  exited: Promise<number | null>;
}

export function startCli(command: string, args: string[], env = cleanEnv(), options: { detached?: boolean } = {}): Promise<Started> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: options.detached });
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`not ready in 90 s:\n${text}`));
    }, 90_000);
    const poll = setInterval(() => {
      const m = /gateway ready at (http:\/\/[\d.:]+) \(admin (http:\/\/[\d.:]+)/.exec(text);
      // the banner ends with the line on how to stop
      if (m && text.includes("stops Envoy and the mocks")) {
        clearInterval(poll);
        clearTimeout(timer);
        const mockPorts = [...text.matchAll(/local mock http:\/\/127\.0\.0\.1:(\d+)/g)].map((x) => Number(x[1]));
        const started = { child, output: () => text, url: m[1], admin: m[2], mockPorts, exited };
        running.push(started);
        resolve(started);
      }
    }, 50);
    exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before it was ready:\n${text}`));
    });
  });
}

export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

export function childrenOf(pid: number): number[] {
  const r = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" });
  return r.stdout.split("\n").map((l) => Number(l.trim())).filter((n) => n > 0);
}

export function descendants(pid: number): number[] {
  const direct = childrenOf(pid);
  return [...direct, ...direct.flatMap(descendants)];
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Every process gone and every port free; `exitCode`: the started process's (null: ended by the signal). */
export async function expectAllStopped(s: Started, pids: number[], { exitCode = 0 as number | null } = {}) {
  const code = await Promise.race([s.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 15_000))]);
  expect(code, s.output()).toBe(exitCode);
  // The started process may go first (npx): what it started follows within seconds.
  for (let waited = 0; waited < 15_000 && pids.some(alive); waited += 100) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) expect(alive(pid), `process ${pid} still running`).toBe(false);
  const ports = [new URL(s.url).port, new URL(s.admin).port, ...s.mockPorts].map(Number);
  expect(ports.length).toBeGreaterThanOrEqual(5);
  for (const port of ports) expect(await refused(port), `port ${port} still bound`).toBe(true);
}

export const chat = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] });
export const loopback = ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
