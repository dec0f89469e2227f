// Short soak: one VM serves 50,000 requests of mixed sizes (1 KB … 1 MB, routed, passed through and
// rejected) whose responses flow back through the plugin (streams split anywhere, failures, Envoy's
// own replies, cut streams, clients going away: live statistics, cooldowns and probes all run);
// Wasm memory must stop growing after warm-up and sampled answers must stay correct.
// The 1,000,000-request variant: `node bench/soak.mjs` (or `npm run bench -- soak`).
import { expect, it } from "vitest";
import { ProxyWasmHost } from "../host/index.ts";
// @ts-expect-error plain ESM module without type declarations
import { runSoak } from "../../bench/soak.mjs";

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 50_000);

it(`one VM serves ${REQUESTS} mixed requests with flat memory after warm-up`, async () => {
  const r = await runSoak(ProxyWasmHost, { requests: REQUESTS, wasm: process.env.SOAK_WASM, verifyEvery: 97, warmupFraction: 0.2, maxSeconds: 90 });
  expect(r.failures).toEqual([]);
  expect(r.requests).toBe(REQUESTS);
  expect(r.verified).toBeGreaterThan(REQUESTS / 100);
  expect(
    { warmPages: r.warmPages, finalPages: r.finalPages },
    `Wasm memory grew after warm-up: ${r.pages.map((p: any) => `${p.at}:${p.pages}`).join(" ")}`,
  ).toEqual({ warmPages: r.warmPages, finalPages: r.warmPages });
}, 180_000);
