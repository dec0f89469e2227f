// bench/detect-entry.ts (the scan and the detector without the proxy-wasm glue), in Node's V8.
import { loadEntry } from "./entry.mjs";

export async function loadDetectModule() {
  const { exports: e, put } = loadEntry("detect-entry");
  const enc = new TextEncoder();
  return {
    exports: e,
    put,
    configure(cfg) {
      const b = enc.encode(typeof cfg === "string" ? cfg : JSON.stringify(cfg));
      const p = put(b);
      const ok = e.configure(p, b.length);
      e.free(p);
      return ok;
    },
    detect(body) {
      const b = typeof body === "string" ? enc.encode(body) : body;
      const p = put(b);
      const r = e.detect(p, b.length);
      e.free(p);
      return r;
    },
  };
}
