import { it } from "vitest";
import { EnvoyProcess } from "../host/index.ts";
import { ENVOY_WASM, model } from "../unit/helpers.ts";
import { chat, streamAnswer, jsonAnswer } from "../unit/live-helpers.ts";
it("try", async () => {
  const tags = [
    { tag_name: "ai_route", regex: "^wasmcustom\\.route\\.((.*?)\\.)upstream\\." },
    { tag_name: "ai_cluster", regex: "^wasmcustom\\.route\\..*?\\.upstream\\.((.*?)\\.)model\\." },
    { tag_name: "ai_model", regex: "^wasmcustom\\.route\\..*?\\.model\\.((.*?)\\.)consumer\\." },
    { tag_name: "ai_consumer", regex: "^wasmcustom\\.route\\..*?\\.consumer\\.((.*?)\\.)metric\\." },
    { tag_name: "outcome", regex: "^wasmcustom\\.route\\..*?\\.metric\\.[a-z0-9_]+(\\.outcome\\.([a-z0-9_]+))" },
    { tag_name: "result", regex: "^wasmcustom\\.route\\..*?\\.metric\\.[a-z0-9_]+(\\.result\\.([a-z0-9_]+))" },
    { tag_name: "ai_cluster", regex: "^wasmcustom\\.(?:gen_ai|llm_router)_[a-z0-9_]+(\\.upstream\\.(.*?))\\.model\\." },
    { tag_name: "ai_model", regex: "^wasmcustom\\.(?:gen_ai|llm_router)_[a-z0-9_]+\\.upstream\\..*?(\\.model\\.(.*))$" },
  ];
  const proc = new EnvoyProcess({ statsTags: tags });
  const cfg = { models: [model("A", { price: { input: 2, output: 8, cachedInput: 1 } }), model("B.x")], routes: { auto: { strategy: "price" } }, decisionHeader: "x-llm-decision", metrics: { consumerHeader: "x-consumer" } };
  const [w] = await proc.start({ wasm: ENVOY_WASM, workers: 1, vmId: "v", configuration: JSON.stringify(cfg), clusters: ["up-A", "up-B.x"], logLevel: 1 });
  const r = chat(w, "auto", streamAnswer({ ttftMs: 100, tokens: 10, spanMs: 500 }), { stream: true });
  console.log(r.response?.headers, r.outcome);
  w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-consumer": "team.a" }, body: '{"model":"A","messages":[]}', response: jsonAnswer(300, 5) });
  w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: '{"model":"zzz"}' });
  w.request({ method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: '{"model":' });
  proc.advance(6000);
  console.log(proc.prometheus());
  console.log(proc.logs.filter(l => l.level <= 1).map(l => l.message).join("\n"));
});
