// Per-phase probes: wraps every import the plugin gets (env.proxy_*) with a timer by intercepting
// WebAssembly.instantiate while the host loads the module, and wraps the exported callbacks the
// host calls. Guest time = callback time − time inside host functions.

export function installImportProbe() {
  const original = WebAssembly.instantiate;
  const acc = new Map(); // name -> {ns, calls}
  WebAssembly.instantiate = function (mod, imports) {
    if (imports && imports.env) {
      const env = {};
      for (const [name, fn] of Object.entries(imports.env)) {
        if (typeof fn !== "function") { env[name] = fn; continue; }
        const slot = { ns: 0, calls: 0 };
        acc.set(name, slot);
        env[name] = function (...args) {
          const t = process.hrtime.bigint();
          try { return fn.apply(this, args); } finally { slot.ns += Number(process.hrtime.bigint() - t); slot.calls++; }
        };
      }
      imports = { ...imports, env };
    }
    return original.call(this, mod, imports);
  };
  return {
    acc,
    restore() { WebAssembly.instantiate = original; },
    reset() { for (const s of acc.values()) { s.ns = 0; s.calls = 0; } },
    total() { let n = 0; for (const s of acc.values()) n += s.ns; return n; },
    snapshot() { return Object.fromEntries([...acc].filter(([, s]) => s.calls > 0).map(([k, s]) => [k, { ns: s.ns, calls: s.calls }])); },
  };
}

/**
 * Wraps the host's guest callbacks (host.fns). `ns` is the request side as before (context create,
 * request headers, body, trailers, done, delete); `response` the response side (response headers,
 * body, trailers, log) with `responseBody` / `responseBodyCalls` for the per-chunk cost; `tick` the
 * periodic refresh.
 */
export function instrumentCallbacks(host) {
  const acc = { ns: 0, body: 0, headers: 0, calls: 0, response: 0, responseBody: 0, responseBodyCalls: 0, tick: 0, ticks: 0 };
  const groups = {
    create: "request", requestHeaders: "request", requestBody: "request", requestTrailers: "request", done: "request", delete: "request",
    responseHeaders: "response", responseBody: "response", responseTrailers: "response", log: "response", tick: "tick",
  };
  for (const [name, group] of Object.entries(groups)) {
    const inner = host.fns[name];
    if (typeof inner !== "function") continue;
    host.fns[name] = (...args) => {
      const t = process.hrtime.bigint();
      try { return inner(...args); } finally {
        const d = Number(process.hrtime.bigint() - t);
        if (group === "request") acc.ns += d;
        else if (group === "response") acc.response += d;
        else { acc.tick += d; acc.ticks++; }
        if (name === "requestHeaders") acc.headers += d;
        if (name === "requestBody") acc.body += d;
        if (name === "responseBody") { acc.responseBody += d; acc.responseBodyCalls++; }
        if (name === "create") acc.calls++;
      }
    };
  }
  acc.reset = () => { for (const k of Object.keys(acc)) if (typeof acc[k] === "number") acc[k] = 0; };
  return acc;
}
