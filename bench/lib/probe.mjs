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

/** Wraps the host's guest callbacks (context create, headers, body, trailers, done, delete). */
export function instrumentCallbacks(host) {
  const acc = { ns: 0, body: 0, headers: 0, calls: 0 };
  for (const [field, key] of [["fnCreate", null], ["fnHeaders", "headers"], ["fnBody", "body"], ["fnTrailers", null], ["fnDone", null], ["fnDelete", null]]) {
    const inner = host[field];
    if (typeof inner !== "function") continue;
    host[field] = (...args) => {
      const t = process.hrtime.bigint();
      try { return inner(...args); } finally {
        const d = Number(process.hrtime.bigint() - t);
        acc.ns += d;
        if (key) acc[key] += d;
        if (field === "fnCreate") acc.calls++;
      }
    };
  }
  acc.reset = () => { acc.ns = 0; acc.body = 0; acc.headers = 0; acc.calls = 0; };
  return acc;
}
