// Real Envoy with a derived plugin configuration (config/router.json with a small maxBodyBytes, so
// the 413 case stays fast) and the openai cluster's two mock endpoints, one of them failing.
import { describe, expect, it } from "vitest";
import { mockKeyFor, postJson, readRouterConfig, useGateway } from "./harness";

const MAX_BODY = 2048;
const gw = useGateway({ pluginConfig: { ...readRouterConfig(), maxBodyBytes: MAX_BODY, live: false } });

function bodyOfSize(model: string, size: number): string {
  const head = `{"model":"${model}","messages":[{"role":"user","content":"`;
  const tail = `"}]}`;
  const body = head + "x".repeat(size - head.length - tail.length) + tail;
  expect(Buffer.byteLength(body)).toBe(size);
  return body;
}

describe("maxBodyBytes", () => {
  it(`a body over maxBodyBytes (${MAX_BODY}) gets the plugin's 413 request_too_large`, async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", bodyOfSize("auto", 4 * MAX_BODY));
    expect(reply.status).toBe(413);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    const err = reply.json().error;
    expect(err.code).toBe("request_too_large");
    expect(err.type).toBe("invalid_request_error");
    expect(gw().received()).toHaveLength(0);
  });

  it("a body just under the limit is routed", async () => {
    const reply = await postJson(gw(), "/v1/chat/completions", bodyOfSize("best", MAX_BODY - 16));
    expect(reply.status, reply.text).toBe(200);
    const all = gw().received();
    expect(all).toHaveLength(1);
    expect(all[0].cluster).toBe("openai");
    expect(JSON.parse(all[0].request.body.toString()).model).toBe("gpt-4o");
  });
});

// A catalog model without fallbacks goes to its provider's own route: Envoy's retries stay inside
// the provider (another endpoint). Aliases fail over to other providers: test/e2e/failover.test.ts.
describe("retries inside the two-endpoint openai cluster", () => {
  for (const failureStatus of [503, 429]) {
    it(`openai-1 answering ${failureStatus} every time: Envoy retries on openai-2 and the client sees 200`, async () => {
      const bad = gw().providers["openai-1"];
      const good = gw().providers["openai-2"];
      bad.setKnobs({ failureRate: 1, failureStatus });
      // Round robin decides which endpoint goes first; send until openai-1 has been tried (bounded).
      let sent = 0;
      for (let i = 0; i < 10 && bad.requests.length === 0; i++) {
        const reply = await postJson(gw(), "/v1/chat/completions", JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: `try ${i}` }] }));
        sent++;
        expect(reply.status, reply.text).toBe(200);
        expect(reply.headers["x-mock-provider"]).toBe("openai-2");
        expect(reply.json().model).toBe("gpt-4o");
      }
      expect(bad.requests.length).toBeGreaterThanOrEqual(1);
      expect(good.requests).toHaveLength(sent);
      // the retried attempt carried the same rewritten body as the failed one
      const failed = bad.requests[bad.requests.length - 1];
      const retried = good.requests[good.requests.length - 1];
      expect(retried.body.toString()).toBe(failed.body.toString());
      expect(JSON.parse(retried.body.toString()).model).toBe("gpt-4o");
      // every attempt carries the provider's key and none of the routing headers
      for (const attempt of [failed, retried]) {
        expect(attempt.headers.authorization).toBe(`Bearer ${mockKeyFor("openai")}`);
        expect(attempt.headers["x-llm-upstream"]).toBeUndefined();
      }
      // nothing went to the other clusters
      expect(gw().received().every((r) => r.cluster === "openai")).toBe(true);
    });
  }
});
