// Probe plugin for host-fidelity checks (AssemblyScript, ABI 0.2.1). It runs a small script given as
// its plugin configuration and logs, through proxy_log, every callback it receives and the result
// of every host call the script makes. The same module runs in real Envoy and in the test host, so
// the two traces can be compared line by line.
//
// Script: one instruction per line (or separated by ';'): `<callback>[#n|@n] <op> <args...>`.
//   callback: create vm_start configure tick queue req_headers req_body req_trailers resp_headers
//             resp_body resp_trailers log done delete   (`*` = every stream callback)
//   `retne <n>`: like `ret`, but only when the callback's end_of_stream is 0.
//   #n: only on the n-th call of that callback in this stream context; @n: n-th call for this root.
//   [case]: only in streams whose request carried `x-case: <case>` (read at request headers).
//   Arguments are split on spaces; `%20` in an argument is a space, `%3B` a ';', `%0A` a newline.
// Ops (see run()): log, prop, hdrs, hget, hadd, hrep, hdel, hsize, buf, setbuf, local, ret, setprop,
//   tick, now, sget, sset, mdef, minc, mrec, mget, qreg, qres, qenq, qdeq, cont, close, foreign.
// Every trace line: `P|<plugin_root_id>|<context id>|<callback>|<text>`.

@external("env", "proxy_log")
declare function proxy_log(level: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_get_property")
declare function proxy_get_property(path: usize, pathLen: usize, outPtr: usize, outLen: usize): u32;
@external("env", "proxy_set_property")
declare function proxy_set_property(path: usize, pathLen: usize, value: usize, valueLen: usize): u32;
@external("env", "proxy_get_buffer_bytes")
declare function proxy_get_buffer_bytes(type: u32, start: u32, len: u32, outPtr: usize, outLen: usize): u32;
@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(type: u32, start: u32, len: u32, ptr: usize, size: usize): u32;
@external("env", "proxy_get_buffer_status")
declare function proxy_get_buffer_status(type: u32, sizePtr: usize, flagsPtr: usize): u32;
@external("env", "proxy_get_header_map_pairs")
declare function proxy_get_header_map_pairs(map: u32, outPtr: usize, outLen: usize): u32;
@external("env", "proxy_get_header_map_value")
declare function proxy_get_header_map_value(map: u32, k: usize, kl: usize, outPtr: usize, outLen: usize): u32;
@external("env", "proxy_get_header_map_size")
declare function proxy_get_header_map_size(map: u32, sizePtr: usize): u32;
@external("env", "proxy_add_header_map_value")
declare function proxy_add_header_map_value(map: u32, k: usize, kl: usize, v: usize, vl: usize): u32;
@external("env", "proxy_replace_header_map_value")
declare function proxy_replace_header_map_value(map: u32, k: usize, kl: usize, v: usize, vl: usize): u32;
@external("env", "proxy_remove_header_map_value")
declare function proxy_remove_header_map_value(map: u32, k: usize, kl: usize): u32;
@external("env", "proxy_send_local_response")
declare function proxy_send_local_response(status: u32, d: usize, dl: usize, b: usize, bl: usize, h: usize, hl: usize, grpc: i32): u32;
@external("env", "proxy_set_tick_period_milliseconds")
declare function proxy_set_tick_period_milliseconds(ms: u32): u32;
@external("env", "proxy_get_current_time_nanoseconds")
declare function proxy_get_current_time_nanoseconds(out: usize): u32;
@external("env", "proxy_get_shared_data")
declare function proxy_get_shared_data(k: usize, kl: usize, outPtr: usize, outLen: usize, casPtr: usize): u32;
@external("env", "proxy_set_shared_data")
declare function proxy_set_shared_data(k: usize, kl: usize, v: usize, vl: usize, cas: u32): u32;
@external("env", "proxy_define_metric")
declare function proxy_define_metric(type: u32, n: usize, nl: usize, idPtr: usize): u32;
@external("env", "proxy_increment_metric")
declare function proxy_increment_metric(id: u32, delta: i64): u32;
@external("env", "proxy_record_metric")
declare function proxy_record_metric(id: u32, value: u64): u32;
@external("env", "proxy_get_metric")
declare function proxy_get_metric(id: u32, out: usize): u32;
@external("env", "proxy_register_shared_queue")
declare function proxy_register_shared_queue(n: usize, nl: usize, tokenPtr: usize): u32;
@external("env", "proxy_resolve_shared_queue")
declare function proxy_resolve_shared_queue(vm: usize, vml: usize, n: usize, nl: usize, tokenPtr: usize): u32;
@external("env", "proxy_enqueue_shared_queue")
declare function proxy_enqueue_shared_queue(token: u32, v: usize, vl: usize): u32;
@external("env", "proxy_dequeue_shared_queue")
declare function proxy_dequeue_shared_queue(token: u32, outPtr: usize, outLen: usize): u32;
@external("env", "proxy_continue_stream")
declare function proxy_continue_stream(type: u32): u32;
@external("env", "proxy_close_stream")
declare function proxy_close_stream(type: u32): u32;
@external("env", "proxy_call_foreign_function")
declare function proxy_call_foreign_function(n: usize, nl: usize, a: usize, al: usize, outPtr: usize, outLen: usize): u32;

export function proxy_abi_version_0_2_1(): void {}
export function malloc(size: usize): usize { return heap.alloc(size); }

const OUT = memory.data(32);

export function probeAbort(message: string | null, file: string | null, line: u32, col: u32): void {
  raw("P|abort|" + (message !== null ? message : "") + " at " + line.toString());
  unreachable();
}

// ---------------------------------------------------------------- small helpers

function raw(s: string): void {
  const b = String.UTF8.encode(s);
  proxy_log(2, changetype<usize>(b), b.byteLength);
}

function enc(s: string): ArrayBuffer { return String.UTF8.encode(s); }
function p(b: ArrayBuffer): usize { return changetype<usize>(b); }

const HEX = "0123456789abcdef";

/** Printable ASCII as "text", anything else as x:<hex>; at most `max` bytes shown. */
function repr(ptr: usize, len: usize, max: usize = 400): string {
  let printable = true;
  for (let i: usize = 0; i < len; i++) {
    const c = load<u8>(ptr + i);
    if (c < 0x20 || c > 0x7e) { printable = false; break; }
  }
  const n = len < max ? len : max;
  let s = "";
  if (printable) {
    s = "\"" + String.UTF8.decodeUnsafe(ptr, n) + "\"";
  } else {
    s = "x:";
    for (let i: usize = 0; i < n; i++) {
      const c = load<u8>(ptr + i);
      s += HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    }
  }
  if (n < len) s += "...(" + len.toString() + ")";
  return s;
}

function outPtr(): usize { return load<u32>(OUT); }
function outLen(): usize { return load<u32>(OUT + 4); }
function clearOut(): void { store<u64>(OUT, 0); store<u64>(OUT + 8, 0); }

function unescape(s: string): string {
  return s.replaceAll("%20", " ").replaceAll("%3B", ";").replaceAll("%0A", "\n").replaceAll("%25", "%");
}

/** Property paths: segments split on '/' when present (metadata namespaces contain dots), else '.'. */
function propPath(s: string): ArrayBuffer {
  const sep = s.includes("/") ? "/" : ".";
  return enc(s.replaceAll(sep, "\0"));
}

function parseU32(s: string): u32 { return <u32>I64.parseInt(s); }

function pairsText(ptr: usize, len: usize): string {
  if (len < 4) return "[]";
  const n = load<u32>(ptr);
  let sizes = ptr + 4;
  let data = ptr + 4 + n * 8;
  let s = "[";
  for (let i: u32 = 0; i < n; i++) {
    const kl = load<u32>(sizes);
    const vl = load<u32>(sizes + 4);
    sizes += 8;
    if (i > 0) s += ",";
    s += String.UTF8.decodeUnsafe(data, kl) + "=" + String.UTF8.decodeUnsafe(data + kl + 1, vl);
    data += kl + vl + 2;
  }
  return s + "]";
}

function encodePairs(keys: string[], values: string[]): ArrayBuffer {
  let size: i32 = 4;
  const kb = new Array<ArrayBuffer>();
  const vb = new Array<ArrayBuffer>();
  for (let i = 0; i < keys.length; i++) {
    kb.push(enc(keys[i]));
    vb.push(enc(values[i]));
    size += 10 + kb[i].byteLength + vb[i].byteLength;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, keys.length);
  let sizes = base + 4;
  let data = base + 4 + keys.length * 8;
  for (let i = 0; i < keys.length; i++) {
    store<u32>(sizes, kb[i].byteLength);
    store<u32>(sizes + 4, vb[i].byteLength);
    sizes += 8;
    memory.copy(data, p(kb[i]), kb[i].byteLength);
    data += kb[i].byteLength;
    store<u8>(data++, 0);
    memory.copy(data, p(vb[i]), vb[i].byteLength);
    data += vb[i].byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

// ---------------------------------------------------------------- script

class Step {
  cb: string = "";
  nth: i32 = 0;      // #n (per stream)
  rootNth: i32 = 0;  // @n (per root)
  onlyCase: string = ""; // [case]
  op: string = "";
  args: string[] = [];
}

class Root {
  name: string = "";
  steps: Step[] = [];
  counts: Map<string, i32> = new Map();
  metricIds: u32[] = [];
  lastCas: u32 = 0;
  lastQueue: u32 = 0;
}

class Stream {
  root: Root | null = null;
  caseName: string = "";
  counts: Map<string, i32> = new Map();
}

const roots = new Map<u32, Root>();
let currentEos: u32 = 0;
const streams = new Map<u32, Stream>();

function parseScript(text: string): Step[] {
  const out = new Array<Step>();
  const lines = text.replaceAll(";", "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line.length == 0 || line.startsWith("//")) continue;
    const words = line.split(" ").filter((w: string) => w.length > 0);
    if (words.length < 2) continue;
    const st = new Step();
    let cb = words[0];
    const br = cb.indexOf("[");
    const close = cb.indexOf("]");
    if (br > 0 && close > br) { st.onlyCase = cb.substring(br + 1, close); cb = cb.substring(0, br) + cb.substring(close + 1); }
    const hash = cb.indexOf("#");
    const at = cb.indexOf("@");
    if (hash > 0) { st.nth = <i32>parseU32(cb.substring(hash + 1)); cb = cb.substring(0, hash); }
    else if (at > 0) { st.rootNth = <i32>parseU32(cb.substring(at + 1)); cb = cb.substring(0, at); }
    st.cb = cb;
    st.op = words[1];
    for (let j = 2; j < words.length; j++) st.args.push(unescape(words[j]));
    out.push(st);
  }
  return out;
}

function bump(m: Map<string, i32>, k: string): i32 {
  const n = (m.has(k) ? m.get(k) : 0) + 1;
  m.set(k, n);
  return n;
}

/** Runs the steps of `cb` for this context; returns the value of the last `ret`, or `dflt`. */
function runSteps(root: Root | null, stream: Stream | null, ctx: u32, cb: string, size: u32, dflt: i32): i32 {
  if (root === null) return dflt;
  const r = root!;
  const rootN = bump(r.counts, cb);
  const streamN = stream !== null ? bump(stream!.counts, cb) : rootN;
  let result = dflt;
  for (let i = 0; i < r.steps.length; i++) {
    const st = r.steps[i];
    if (st.cb != cb && !(st.cb == "*" && stream !== null)) continue;
    if (st.nth > 0 && st.nth != streamN) continue;
    if (st.rootNth > 0 && st.rootNth != rootN) continue;
    if (st.onlyCase.length > 0 && (stream === null || stream!.caseName != st.onlyCase)) continue;
    if (st.op == "ret") { result = <i32>parseU32(st.args[0]); continue; }
    if (st.op == "retne") { if (currentEos == 0) result = <i32>parseU32(st.args[0]); continue; }
    const text = run(r, st, size);
    trace(r.name, ctx, cb, st.op + " " + st.args.join(" ") + " -> " + text);
  }
  return result;
}

function trace(root: string, ctx: u32, cb: string, text: string): void {
  raw("P|" + root + "|" + ctx.toString() + "|" + cb + "|" + text);
}

function statusOr(st: u32, ok: string): string { return st == 0 ? ok : "!" + st.toString(); }

function run(r: Root, st: Step, size: u32): string {
  const op = st.op;
  const a = st.args;
  clearOut();
  if (op == "log") return a.join(" ");
  if (op == "prop") {
    const path = propPath(a[0]);
    const s = proxy_get_property(p(path), path.byteLength, OUT, OUT + 4);
    return statusOr(s, repr(outPtr(), outLen()));
  }
  if (op == "hdrs") {
    const s = proxy_get_header_map_pairs(parseU32(a[0]), OUT, OUT + 4);
    return statusOr(s, pairsText(outPtr(), outLen()));
  }
  if (op == "hget") {
    const k = enc(a[1]);
    const s = proxy_get_header_map_value(parseU32(a[0]), p(k), k.byteLength, OUT, OUT + 4);
    return statusOr(s, repr(outPtr(), outLen()));
  }
  if (op == "hsize") {
    const s = proxy_get_header_map_size(parseU32(a[0]), OUT);
    return statusOr(s, load<u32>(OUT).toString());
  }
  if (op == "hadd" || op == "hrep") {
    const k = enc(a[1]);
    const v = enc(a.length > 2 ? a[2] : "");
    const s = op == "hadd"
      ? proxy_add_header_map_value(parseU32(a[0]), p(k), k.byteLength, p(v), v.byteLength)
      : proxy_replace_header_map_value(parseU32(a[0]), p(k), k.byteLength, p(v), v.byteLength);
    return statusOr(s, "ok");
  }
  if (op == "hdel") {
    const k = enc(a[1]);
    return statusOr(proxy_remove_header_map_value(parseU32(a[0]), p(k), k.byteLength), "ok");
  }
  if (op == "buf") {
    const type = parseU32(a[0]);
    const s1 = proxy_get_buffer_status(type, OUT + 16, OUT + 20);
    const st1 = statusOr(s1, "len=" + load<u32>(OUT + 16).toString());
    const s2 = proxy_get_buffer_bytes(type, 0, 0x7fffffff, OUT, OUT + 4);
    return "status " + st1 + " bytes " + statusOr(s2, repr(outPtr(), outLen()));
  }
  if (op == "setbuf") {
    const v = enc(a.length > 3 ? a[3] : "");
    const len = a[2] == "size" ? size : parseU32(a[2]);
    return statusOr(proxy_set_buffer_bytes(parseU32(a[0]), parseU32(a[1]), len, p(v), v.byteLength), "ok");
  }
  if (op == "local") {
    const body = enc(a.length > 1 ? a[1] : "");
    const details = enc(a.length > 2 ? a[2] : "probe");
    const h = encodePairs(["x-probe-local"], ["1"]);
    const s = proxy_send_local_response(parseU32(a[0]), p(details), details.byteLength, p(body), body.byteLength, p(h), h.byteLength, -1);
    return statusOr(s, "ok");
  }
  if (op == "setprop") {
    const path = propPath(a[0]);
    const v = enc(a.length > 1 ? a[1] : "");
    return statusOr(proxy_set_property(p(path), path.byteLength, p(v), v.byteLength), "ok");
  }
  if (op == "tick") return statusOr(proxy_set_tick_period_milliseconds(parseU32(a[0])), "ok");
  if (op == "now") {
    const s = proxy_get_current_time_nanoseconds(OUT + 16);
    return statusOr(s, load<u64>(OUT + 16).toString());
  }
  if (op == "sget") {
    const k = enc(a[0]);
    store<u32>(OUT + 16, 0xdead);
    const s = proxy_get_shared_data(p(k), k.byteLength, OUT, OUT + 4, OUT + 16);
    if (s == 0) r.lastCas = load<u32>(OUT + 16);
    return statusOr(s, repr(outPtr(), outLen()) + " cas=" + load<u32>(OUT + 16).toString()) + (s != 0 ? " casword=" + load<u32>(OUT + 16).toString() : "");
  }
  if (op == "sset") {
    const k = enc(a[0]);
    const v = enc(a[1]);
    const cas = a.length > 2 ? (a[2] == "last" ? r.lastCas : (a[2] == "last+1" ? r.lastCas + 1 : parseU32(a[2]))) : 0;
    return statusOr(proxy_set_shared_data(p(k), k.byteLength, p(v), v.byteLength, cas), "ok");
  }
  if (op == "mdef") {
    const n = enc(a[1]);
    const s = proxy_define_metric(parseU32(a[0]), p(n), n.byteLength, OUT + 16);
    if (s == 0) r.metricIds.push(load<u32>(OUT + 16));
    return statusOr(s, "id=" + load<u32>(OUT + 16).toString());
  }
  if (op == "minc" || op == "mrec" || op == "mget") {
    const id = a[0].startsWith("=") ? parseU32(a[0].substring(1)) : r.metricIds[<i32>parseU32(a[0])];
    if (op == "minc") return statusOr(proxy_increment_metric(id, I64.parseInt(a[1])), "ok");
    if (op == "mrec") return statusOr(proxy_record_metric(id, U64.parseInt(a[1])), "ok");
    const s = proxy_get_metric(id, OUT + 16);
    return statusOr(s, load<u64>(OUT + 16).toString());
  }
  if (op == "qreg") {
    const n = enc(a[0]);
    const s = proxy_register_shared_queue(p(n), n.byteLength, OUT + 16);
    if (s == 0) r.lastQueue = load<u32>(OUT + 16);
    return statusOr(s, "token=" + load<u32>(OUT + 16).toString());
  }
  if (op == "qres") {
    const vm = enc(a[0] == "-" ? "" : a[0]);
    const n = enc(a[1]);
    const s = proxy_resolve_shared_queue(p(vm), vm.byteLength, p(n), n.byteLength, OUT + 16);
    if (s == 0) r.lastQueue = load<u32>(OUT + 16);
    return statusOr(s, "token=" + load<u32>(OUT + 16).toString());
  }
  if (op == "qenq") {
    const v = enc(a[1]);
    const t = a[0] == "last" ? r.lastQueue : parseU32(a[0]);
    return statusOr(proxy_enqueue_shared_queue(t, p(v), v.byteLength), "ok");
  }
  if (op == "qdeq") {
    const t = a[0] == "last" ? r.lastQueue : parseU32(a[0]);
    const s = proxy_dequeue_shared_queue(t, OUT, OUT + 4);
    return statusOr(s, repr(outPtr(), outLen()));
  }
  if (op == "cont") return statusOr(proxy_continue_stream(parseU32(a[0])), "ok");
  if (op == "close") return statusOr(proxy_close_stream(parseU32(a[0])), "ok");
  if (op == "foreign") {
    const n = enc(a[0]);
    return statusOr(proxy_call_foreign_function(p(n), n.byteLength, 0, 0, OUT, OUT + 4), "ok");
  }
  return "unknown op";
}

// ---------------------------------------------------------------- callbacks

function rootOf(ctx: u32): Root | null {
  if (roots.has(ctx)) return roots.get(ctx);
  if (streams.has(ctx)) return streams.get(ctx).root;
  return null;
}

function readPluginRootId(): string {
  const path = enc("plugin_root_id");
  clearOut();
  if (proxy_get_property(p(path), path.byteLength, OUT, OUT + 4) != 0) return "?";
  return String.UTF8.decodeUnsafe(outPtr(), outLen());
}

export function proxy_on_context_create(ctx: u32, parent: u32): void {
  if (parent == 0) {
    const r = new Root();
    r.name = readPluginRootId();
    roots.set(ctx, r);
    trace(r.name, ctx, "create", "root");
    return;
  }
  const s = new Stream();
  s.root = roots.has(parent) ? roots.get(parent) : null;
  streams.set(ctx, s);
  const name = s.root !== null ? s.root!.name : "?";
  trace(name, ctx, "create", "parent=" + parent.toString());
}

export function proxy_on_vm_start(root: u32, size: u32): u32 {
  const r = rootOf(root);
  trace(r !== null ? r!.name : "?", root, "vm_start", "size=" + size.toString());
  return 1;
}

export function proxy_on_configure(root: u32, size: u32): u32 {
  const r = roots.has(root) ? roots.get(root) : new Root();
  roots.set(root, r);
  r.name = readPluginRootId();
  clearOut();
  let text = "";
  if (proxy_get_buffer_bytes(7, 0, size, OUT, OUT + 4) == 0) text = String.UTF8.decodeUnsafe(outPtr(), outLen());
  r.steps = parseScript(text);
  trace(r.name, root, "configure", "size=" + size.toString() + " steps=" + r.steps.length.toString());
  runSteps(r, null, root, "configure", size, 1);
  return 1;
}

export function proxy_on_tick(root: u32): void {
  const r = rootOf(root);
  trace(r !== null ? r!.name : "?", root, "tick", "");
  runSteps(r, null, root, "tick", 0, 0);
}

export function proxy_on_queue_ready(root: u32, token: u32): void {
  const r = rootOf(root);
  trace(r !== null ? r!.name : "?", root, "queue", "token=" + token.toString());
  runSteps(r, null, root, "queue", 0, 0);
}

function streamCb(ctx: u32, cb: string, info: string, size: u32, dflt: i32, eos: u32 = 0): i32 {
  currentEos = eos;
  const s = streams.has(ctx) ? streams.get(ctx) : null;
  const r = s !== null ? s!.root : null;
  trace(r !== null ? r!.name : "?", ctx, cb, info);
  return runSteps(r, s, ctx, cb, size, dflt);
}

export function proxy_on_request_headers(ctx: u32, n: u32, eos: u32): u32 {
  if (streams.has(ctx)) {
    const k = enc("x-case");
    clearOut();
    if (proxy_get_header_map_value(0, p(k), k.byteLength, OUT, OUT + 4) == 0) streams.get(ctx).caseName = String.UTF8.decodeUnsafe(outPtr(), outLen());
  }
  return <u32>streamCb(ctx, "req_headers", "n=" + n.toString() + " eos=" + eos.toString(), n, 0, eos);
}
export function proxy_on_request_body(ctx: u32, size: u32, eos: u32): u32 {
  return <u32>streamCb(ctx, "req_body", "size=" + size.toString() + " eos=" + eos.toString(), size, 0, eos);
}
export function proxy_on_request_trailers(ctx: u32, n: u32): u32 {
  return <u32>streamCb(ctx, "req_trailers", "n=" + n.toString(), n, 0);
}
export function proxy_on_response_headers(ctx: u32, n: u32, eos: u32): u32 {
  return <u32>streamCb(ctx, "resp_headers", "n=" + n.toString() + " eos=" + eos.toString(), n, 0, eos);
}
export function proxy_on_response_body(ctx: u32, size: u32, eos: u32): u32 {
  return <u32>streamCb(ctx, "resp_body", "size=" + size.toString() + " eos=" + eos.toString(), size, 0, eos);
}
export function proxy_on_response_trailers(ctx: u32, n: u32): u32 {
  return <u32>streamCb(ctx, "resp_trailers", "n=" + n.toString(), n, 0);
}
export function proxy_on_log(ctx: u32): void {
  streamCb(ctx, "log", "", 0, 0);
}
export function proxy_on_done(ctx: u32): u32 {
  streamCb(ctx, "done", "", 0, 1);
  return 1;
}
export function proxy_on_delete(ctx: u32): void {
  streamCb(ctx, "delete", "", 0, 0);
  streams.delete(ctx);
}
