// Differential fuzzing in CI: a fixed seed, 20,000 body cases and some configuration cases
// (the generator and oracle live in core.mjs; `node test/fuzz/run.mjs` runs millions).
import { describe, expect, it } from "vitest";
import { ProxyWasmHost } from "../host/index.ts";
// @ts-expect-error plain ESM module without type declarations
import { fuzzBodies, fuzzConfigs } from "./core.mjs";
// @ts-expect-error plain ESM module without type declarations
import { fuzzTranslation } from "./translation.mjs";

const SEED = Number(process.env.FUZZ_SEED ?? 20250101);
const CASES = Number(process.env.FUZZ_CASES ?? 20_000);
const CONFIG_CASES = Number(process.env.FUZZ_CONFIG_CASES ?? 150);
const TRANSLATION_CASES = Number(process.env.FUZZ_TRANSLATION_CASES ?? 600);

const report = (failures: any[], replay: string) =>
  failures.map((f) => `case ${f.index} (${f.kind}): ${f.message}\n  ${f.body ?? f.config}\n  replay: node test/fuzz/run.mjs --seed ${SEED} ${replay} ${f.index}`).join("\n");

describe("differential fuzzing against TextDecoder(fatal) + JSON.parse and the request rules", () => {
  it(`${CASES} body cases (seed ${SEED}) never trap and match the oracle`, async () => {
    const { failures, stats } = await fuzzBodies(ProxyWasmHost, { seed: SEED, cases: CASES });
    expect(report(failures, "--replay")).toBe("");
    // the generator must keep reaching every branch of the oracle
    expect(stats.routed).toBeGreaterThan(CASES / 10);
    expect(stats.passed).toBeGreaterThan(CASES / 20);
    for (const code of ["invalid_json", "duplicate_model", "missing_model", "invalid_model", "invalid_max_tokens", "unsupported_media_type"]) {
      expect(stats.reject[code] ?? 0, code).toBeGreaterThan(CASES / 100);
    }
    // and every way a request can arrive: unreadable encodings, empty bodies, unhandled requests, model lists
    for (const code of ["unsupported_content_encoding", "missing_body"]) expect(stats.reject[code] ?? 0, code).toBeGreaterThan(CASES / 1000);
    expect(stats.unhandled).toBeGreaterThan(CASES / 100);
    expect(stats.models).toBeGreaterThan(CASES / 100);
  }, 120_000);

  it(`${CONFIG_CASES} mutated configurations: on_configure says yes or no (one ERROR line, the exact one for a typo), never traps`, async () => {
    const { failures, stats } = await fuzzConfigs(ProxyWasmHost, { seed: SEED, cases: CONFIG_CASES });
    expect(report(failures, "--replay-config")).toBe("");
    expect(stats.typos, "configurations with a misspelt field").toBeGreaterThan(CONFIG_CASES / 10);
  }, 120_000);
});

describe("differential fuzzing of the API translators against the published schemas", () => {
  it(`${TRANSLATION_CASES} cases (seed ${SEED}): valid requests of either API translate to valid requests of the other (or the refusal they must get), streams give the same events whatever the split, nothing traps`, () => {
    const { failures, stats } = fuzzTranslation({ seed: SEED, cases: TRANSLATION_CASES });
    expect(failures.map((f: any) => `case ${f.index}: ${f.message}\n  replay: node test/fuzz/run.mjs --seed ${SEED} --replay-translation ${f.index}`).join("\n")).toBe("");
    // the generator keeps reaching every branch
    for (const k of ["openai→anthropic translated", "openai→anthropic refused", "anthropic→openai translated", "anthropic→openai refused", "mutated, translated", "mutated, refused", "anthropic stream", "openai stream", "anthropic stream (unfinished)", "openai stream (unfinished)"]) {
      expect(stats[k] ?? 0, k).toBeGreaterThan(TRANSLATION_CASES / 200);
    }
  }, 120_000);
});
