// The golden translations against what the providers publish: every request a translation writes is
// valid against the target API's schema (OpenAI's OpenAPI document, Anthropic's OpenAPI document:
// test/golden/translation/schemas), every answer, error and streamed event against the client API's;
// every golden input is a valid request of its own API (unless the case is about refusing it). Then
// the official SDKs (openai and anthropic from .venv) read every translated answer and stream with
// their own models and stream helpers (test/golden/translation/check_sdk.py).
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without type declarations
import { schemaErrors } from "../golden/translation/schemas/validators.mjs";

const ROOT = join(__dirname, "..", "..");
const GOLDEN = join(ROOT, "test", "golden", "translation");
const SIDES = {
  openai_anthropic: { client: "openai", backend: "anthropic" },
  anthropic_openai: { client: "anthropic", backend: "openai" },
} as const;

const specs = (pair: string, kind: string) =>
  readdirSync(join(GOLDEN, pair, kind)).filter((f) => f.endsWith(".json")).sort().map((f) => ({ name: f.replace(/\.json$/, ""), spec: JSON.parse(readFileSync(join(GOLDEN, pair, kind, f), "utf8")) }));

for (const [pair, side] of Object.entries(SIDES)) {
  describe(`${pair}: golden files against the published schemas`, () => {
    it(`every input is a valid ${side.client} request, every translated request a valid ${side.backend} one`, () => {
      let translated = 0;
      for (const { name, spec } of specs(pair, "request")) {
        const input = spec.request ?? JSON.parse(spec.requestText);
        const inputErrors = schemaErrors(`${side.client}Request`, input);
        if (spec.inputInvalid) expect(inputErrors, `${name}: the input is invalid on purpose`).not.toBeNull();
        else expect(inputErrors, `${name} input`).toBeNull();
        if (spec.expected) {
          expect(schemaErrors(`${side.backend}Request`, spec.expected), `${name} translated`).toBeNull();
          translated++;
        }
      }
      expect(translated).toBeGreaterThan(8);
    });

    it(`every provider answer is a valid ${side.backend} one, every translated answer and error a valid ${side.client} one`, () => {
      for (const { name, spec } of specs(pair, "response")) {
        // (responseText: a provider's page that is not JSON at all)
        if (spec.response !== undefined) expect(schemaErrors(spec.status >= 400 ? `${side.backend}Error` : `${side.backend}Response`, spec.response), `${name} provider answer`).toBeNull();
        expect(schemaErrors(spec.status >= 400 ? `${side.client}Error` : `${side.client}Response`, spec.expected), `${name} translated`).toBeNull();
      }
    });

    it(`every event of every stream: ${side.backend} events in, ${side.client} events out`, () => {
      const dataOf = (sse: string) => sse.split(/\r?\n\r?\n/).flatMap((e) => e.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())).filter((d) => d !== "" && d !== "[DONE]").map((d) => JSON.parse(d));
      for (const { name } of specs(pair, "stream")) {
        for (const [file, who] of [[`${name}.in.sse`, side.backend], [`${name}.out.sse`, side.client]] as const) {
          for (const data of dataOf(readFileSync(join(GOLDEN, pair, "stream", file), "utf8"))) {
            const root = data.error !== undefined && data.type !== "error" ? `${who}Error` : who === "openai" ? "openaiChunk" : data.type === "error" ? "anthropicError" : "anthropicEvent";
            expect(schemaErrors(root, data), `${file}: ${JSON.stringify(data).slice(0, 200)}`).toBeNull();
          }
        }
      }
    });
  });
}

describe("the official SDKs read every translated answer and stream", () => {
  it("openai and anthropic (Python, .venv): models validate, stream helpers accumulate complete messages", async () => {
    const python = join(ROOT, ".venv", "bin", "python");
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(python, [join(GOLDEN, "check_sdk.py")], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as any).code ?? 1) : 0, out: stdout + stderr })));
    expect(r.out).not.toMatch(/^FAIL/m);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/(\d+) of \1 checks passed/);
  }, 90_000);
});
