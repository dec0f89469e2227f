// The host functions (import module `env`) and WASI (`wasi_snapshot_preview1` and
// `wasi_unstable`) with Envoy + cpp-host semantics. Each function documents the Envoy behaviour
// it reproduces; the stream-level decisions (what is held, buffered, stopped) live in the VmCore.
import { BUFFER_TYPE_MAX, Errno, MapType, MAP_TYPE_MAX, RANDOM_GET_MAX_BYTES, Status, WASI_MODULES } from "./abi.ts";
import type { HeaderMap } from "./headers.ts";
import type { GuestMemory } from "./memory.ts";
import { decodePairs, pairsSize, writePairs } from "./pairs.ts";
import type { BodyBuffer, StreamState } from "./stream.ts";

/** What a buffer id resolves to: readable bytes, and a mutable Buffer::Instance when Envoy has one. */
export interface BufferRef {
  bytes(): Uint8Array;
  mutable: BodyBuffer | null;
}

/** The VM-side services the host functions need (implemented by ProxyWasmHost). */
export interface VmCore {
  mem: GuestMemory;
  /** True while _initialize/_start runs: only the allow-listed calls are permitted. */
  starting: boolean;
  logLevel: number;
  /** Emulate a host whose set_buffer_bytes(start 0) accepts only a length covering the whole
   *  buffer (older Envoy, proxytest): a partial replacement gets BAD_ARGUMENT. */
  wholeBufferReplaceOnly: boolean;
  /** Every set_buffer_bytes call's (type, start, length, size, status), oldest first (last 64). */
  bufferWrites?: Array<{ type: number; start: number; length: number; size: number; status: number }>;
  /** The stream of the current (effective) context, null for the root context. */
  stream: StreamState | null;
  log(level: number, message: string): void;
  now(): bigint;
  fillRandom(out: Uint8Array): void;
  /** malloc / proxy_on_memory_allocate; returns 0 on failure. */
  alloc(size: number): number;
  getBuffer(type: number): BufferRef | null;
  /** Returns the header map for map_id, or null where Envoy's getMap() gives nullptr. */
  getMap(type: number, forWrite: boolean): HeaderMap | null;
  onRequestHeadersModified(): void;
  getProperty(path: string): Uint8Array | undefined;
  setProperty(path: string, value: Uint8Array): number;
  callForeign(name: string, args: Uint8Array): number;
  setEffectiveContext(id: number): number;
  sendLocalResponse(status: number, details: string, body: Uint8Array, headers: Array<[string, string]>, grpc: number): number;
  continueStream(type: number): number;
  /** proxy_grpc_call (grpc.ts): Status.OK and the token, or a failure status. */
  grpcCall(upstream: Uint8Array, service: string, method: string, message: Uint8Array, timeoutMs: number): { status: number; token?: number };
  grpcCancel(token: number): number;
  /** What proxy_get_status answers: the last gRPC close's status and Envoy's message. */
  grpcStatus(): { code: number; message: string };
  closeStream(type: number): number;
  procExit(code: number): never;
  /** Tick period of the current context's root context (Wasm::setTimerPeriod). */
  setTickPeriod(ms: number): number;
  getSharedData(key: string): { value: Uint8Array; cas: number } | undefined;
  setSharedData(key: string, value: Uint8Array, cas: number): number;
  registerSharedQueue(name: string): number;
  resolveSharedQueue(vmId: string, name: string): number;
  enqueueSharedQueue(token: number, value: Uint8Array): number;
  dequeueSharedQueue(token: number): Uint8Array | number;
  defineMetric(type: number, name: string): { status: number; id?: number };
  incrementMetric(id: number, delta: bigint): number;
  recordMetric(id: number, value: bigint): number;
  getMetric(id: number): { status: number; value?: bigint };
  /** The VM's environment (vm_config.environment_variables): what WASI environ_* answer. */
  environment?: Array<[string, string]>;
}

const dec = new TextDecoder("utf-8");
const encoder = new TextEncoder();

export class RestrictedCallError extends Error {}

export function buildImports(vm: VmCore): WebAssembly.Imports {
  const restricted = (name: string): never => {
    // cpp-host's V8 backend traps with "restricted_callback" for calls outside the allow-list.
    throw new RestrictedCallError(`restricted_callback: env.${name} called during VM start`);
  };
  const str = (ptr: number, len: number): string | null => {
    const v = vm.mem.view(ptr >>> 0, len >>> 0);
    return v === null ? null : dec.decode(v);
  };

  /** Envoy's Buffer::copyFrom semantics for proxy_set_buffer_bytes (see the reference, §2.8). */
  const setBufferBytes = (type: number, start: number, length: number, ptr: number, size: number): number => {
    if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
    const buf = vm.getBuffer(type);
    if (buf === null) return Status.NOT_FOUND;
    const data = vm.mem.copy(ptr >>> 0, size >>> 0);
    if (data === null) return Status.INVALID_MEMORY_ACCESS;
    // Envoy Buffer::copyFrom: a const buffer is immutable.
    if (buf.mutable === null) return Status.BAD_ARGUMENT;
    start >>>= 0;
    length >>>= 0;
    if (start === 0) {
      if (vm.wholeBufferReplaceOnly && length < buf.mutable.length) return Status.BAD_ARGUMENT;
      if (length !== 0) buf.mutable.drain(length);
      buf.mutable.prepend(data);
      return Status.OK;
    }
    if (start >= buf.mutable.length) {
      buf.mutable.append(data);
      return Status.OK;
    }
    return Status.BAD_ARGUMENT;
  };

  /** WasmBase::copyToPointerSize: empty → ptr 0 / size 0 without allocating. */
  const copyOut = (bytes: Uint8Array, ptrPtr: number, sizePtr: number): number => {
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = vm.alloc(bytes.length);
      if (ptr === 0 || !vm.mem.ok(ptr, bytes.length)) return Status.INVALID_MEMORY_ACCESS;
      vm.mem.u8.set(bytes, ptr);
    }
    if (!vm.mem.setU32(ptrPtr >>> 0, ptr) || !vm.mem.setU32(sizePtr >>> 0, bytes.length)) return Status.INVALID_MEMORY_ACCESS;
    return Status.OK;
  };
  const copyOutString = (s: string, ptrPtr: number, sizePtr: number): number => {
    if (s.length === 0) return copyOut(new Uint8Array(0), ptrPtr, sizePtr);
    const n = Buffer.byteLength(s);
    const ptr = vm.alloc(n);
    if (ptr === 0 || !vm.mem.ok(ptr, n)) return Status.INVALID_MEMORY_ACCESS;
    encoder.encodeInto(s, vm.mem.u8.subarray(ptr, ptr + n));
    if (!vm.mem.setU32(ptrPtr >>> 0, ptr) || !vm.mem.setU32(sizePtr >>> 0, n)) return Status.INVALID_MEMORY_ACCESS;
    return Status.OK;
  };

  const mutateRequestHeaders = (map: number): void => {
    if (map === MapType.RequestHeaders) vm.onRequestHeadersModified();
  };
  const mapFor = (map: number, forWrite: boolean): HeaderMap | null => {
    if (map < 0 || map > MAP_TYPE_MAX) return null;
    const m = vm.getMap(map, forWrite);
    if (m === null && forWrite && map === MapType.RequestHeaders && vm.stream) vm.stream.rejectedHeaderMutations++;
    return m;
  };

  const env: Record<string, Function> = {
    proxy_log(level: number, ptr: number, len: number): number {
      if (level >>> 0 > 5) return Status.BAD_ARGUMENT;
      const s = str(ptr, len);
      if (s === null) return Status.INVALID_MEMORY_ACCESS;
      vm.log(level, s);
      return Status.OK;
    },
    proxy_get_log_level(out: number): number {
      if (vm.starting) restricted("proxy_get_log_level");
      return vm.mem.setU32(out >>> 0, vm.logLevel) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_get_current_time_nanoseconds(out: number): number {
      if (vm.starting) restricted("proxy_get_current_time_nanoseconds");
      return vm.mem.setU64(out >>> 0, vm.now()) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_set_tick_period_milliseconds(ms: number): number {
      if (vm.starting) restricted("proxy_set_tick_period_milliseconds");
      return vm.setTickPeriod(ms >>> 0);
    },
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_buffer_bytes");
      if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
      const buf = vm.getBuffer(type);
      if (buf === null) return Status.NOT_FOUND;
      const bytes = buf.bytes();
      start >>>= 0;
      length >>>= 0;
      // Reading past the end is clamped; a start beyond the end cannot be served.
      if (start > bytes.length) return Status.BAD_ARGUMENT;
      if (start + length > bytes.length) length = bytes.length - start;
      return copyOut(length > 0 ? bytes.subarray(start, start + length) : new Uint8Array(0), ptrPtr, sizePtr);
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, ptr: number, size: number): number {
      if (vm.starting) restricted("proxy_set_buffer_bytes");
      const status = setBufferBytes(type, start, length, ptr, size);
      const log = vm.bufferWrites;
      if (log) {
        log.push({ type: type >>> 0, start: start >>> 0, length: length >>> 0, size: size >>> 0, status });
        if (log.length > 64) log.shift();
      }
      return status;
    },
    proxy_get_buffer_status(type: number, sizePtr: number, flagsPtr: number): number {
      if (vm.starting) restricted("proxy_get_buffer_status");
      if (type >>> 0 > BUFFER_TYPE_MAX) return Status.BAD_ARGUMENT;
      const buf = vm.getBuffer(type);
      if (buf === null) return Status.NOT_FOUND;
      if (!vm.mem.setU32(sizePtr >>> 0, buf.bytes().length) || !vm.mem.setU32(flagsPtr >>> 0, 0)) return Status.INVALID_MEMORY_ACCESS;
      return Status.OK;
    },
    proxy_get_header_map_size(map: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_header_map_size");
      const m = mapFor(map, false);
      if (m === null) return Status.BAD_ARGUMENT;
      return vm.mem.setU32(sizePtr >>> 0, m.byteSize()) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_get_header_map_pairs(map: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_header_map_pairs");
      if (map >>> 0 > MAP_TYPE_MAX) return Status.BAD_ARGUMENT;
      // Envoy's getHeaderMapPairs serialises whatever getConstMap gives: an absent (released) map
      // reads as an empty one, with OK.
      const m = mapFor(map, false);
      if (m === null || m.entries.length === 0) return copyOut(new Uint8Array(0), ptrPtr, sizePtr);
      const n = pairsSize(m.entries);
      const ptr = vm.alloc(n);
      if (ptr === 0 || !vm.mem.ok(ptr, n)) return Status.INVALID_MEMORY_ACCESS;
      writePairs(m.entries, vm.mem.u8, ptr);
      if (!vm.mem.setU32(ptrPtr >>> 0, ptr) || !vm.mem.setU32(sizePtr >>> 0, n)) return Status.INVALID_MEMORY_ACCESS;
      return Status.OK;
    },
    proxy_set_header_map_pairs(map: number, ptr: number, size: number): number {
      if (vm.starting) restricted("proxy_set_header_map_pairs");
      const data = vm.mem.view(ptr >>> 0, size >>> 0);
      if (data === null) return Status.INVALID_MEMORY_ACCESS;
      const m = mapFor(map, true);
      if (m === null) return Status.BAD_ARGUMENT;
      // Malformed input decodes to an empty map, which then replaces the whole map (as in Envoy).
      const pairs = decodePairs(data);
      m.entries.length = 0;
      for (const [k, v] of pairs) m.add(k, v);
      mutateRequestHeaders(map);
      return Status.OK;
    },
    proxy_get_header_map_value(map: number, kp: number, kl: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_header_map_value");
      const key = str(kp, kl);
      if (key === null) return Status.INVALID_MEMORY_ACCESS;
      const m = mapFor(map, false);
      if (m === null) return Status.BAD_ARGUMENT;
      const v = m.first(key);
      if (v === undefined) return Status.NOT_FOUND;
      return copyOutString(v, ptrPtr, sizePtr);
    },
    proxy_add_header_map_value(map: number, kp: number, kl: number, vp: number, vl: number): number {
      if (vm.starting) restricted("proxy_add_header_map_value");
      const key = str(kp, kl);
      const value = str(vp, vl);
      if (key === null || value === null) return Status.INVALID_MEMORY_ACCESS;
      const m = mapFor(map, true);
      if (m === null) return Status.BAD_ARGUMENT;
      m.add(key, value);
      mutateRequestHeaders(map);
      return Status.OK;
    },
    proxy_replace_header_map_value(map: number, kp: number, kl: number, vp: number, vl: number): number {
      if (vm.starting) restricted("proxy_replace_header_map_value");
      const key = str(kp, kl);
      const value = str(vp, vl);
      if (key === null || value === null) return Status.INVALID_MEMORY_ACCESS;
      const m = mapFor(map, true);
      if (m === null) return Status.BAD_ARGUMENT;
      m.replace(key, value);
      mutateRequestHeaders(map);
      return Status.OK;
    },
    proxy_remove_header_map_value(map: number, kp: number, kl: number): number {
      if (vm.starting) restricted("proxy_remove_header_map_value");
      const key = str(kp, kl);
      if (key === null) return Status.INVALID_MEMORY_ACCESS;
      const m = mapFor(map, true);
      if (m === null) return Status.BAD_ARGUMENT;
      m.remove(key);
      mutateRequestHeaders(map);
      return Status.OK;
    },
    proxy_continue_stream(type: number): number {
      if (vm.starting) restricted("proxy_continue_stream");
      return vm.continueStream(type);
    },
    proxy_close_stream(type: number): number {
      if (vm.starting) restricted("proxy_close_stream");
      return vm.closeStream(type);
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_status");
      const { code, message } = vm.grpcStatus();
      if (!vm.mem.setU32(codePtr >>> 0, code)) return Status.INVALID_MEMORY_ACCESS;
      return copyOutString(message, ptrPtr, sizePtr);
    },
    proxy_send_local_response(
      status: number,
      dp: number,
      dl: number,
      bp: number,
      bl: number,
      hp: number,
      hl: number,
      grpc: number,
    ): number {
      if (vm.starting) restricted("proxy_send_local_response");
      const details = str(dp, dl);
      const body = vm.mem.copy(bp >>> 0, bl >>> 0);
      const hdrs = vm.mem.view(hp >>> 0, hl >>> 0);
      if (details === null || body === null || hdrs === null) return Status.INVALID_MEMORY_ACCESS;
      return vm.sendLocalResponse(status >>> 0, details, body, decodePairs(hdrs), grpc);
    },
    // HTTP callouts and gRPC streams are not emulated (BadArgument, as Envoy answers for a cluster it
    // cannot use); unary gRPC calls are (grpc.ts).
    proxy_http_call(): number {
      if (vm.starting) restricted("proxy_http_call");
      return Status.BAD_ARGUMENT;
    },
    proxy_grpc_call(up: number, upl: number, sp: number, sl: number, mp: number, ml: number, hp: number, hl: number,
      bp: number, bl: number, timeoutMs: number, tokenPtr: number): number {
      if (vm.starting) restricted("proxy_grpc_call");
      const upstream = vm.mem.copy(up >>> 0, upl >>> 0);
      const service = str(sp, sl), method = str(mp, ml);
      const metadata = vm.mem.view(hp >>> 0, hl >>> 0);
      const message = vm.mem.copy(bp >>> 0, bl >>> 0);
      if (upstream === null || service === null || method === null || metadata === null || message === null) return Status.INVALID_MEMORY_ACCESS;
      const r = vm.grpcCall(upstream, service, method, message, timeoutMs >>> 0);
      if (r.status !== Status.OK) return r.status;
      if (!vm.mem.setU32(tokenPtr >>> 0, r.token!)) return Status.INVALID_MEMORY_ACCESS;
      return Status.OK;
    },
    proxy_grpc_stream(): number {
      if (vm.starting) restricted("proxy_grpc_stream");
      return Status.BAD_ARGUMENT;
    },
    proxy_grpc_send(): number {
      if (vm.starting) restricted("proxy_grpc_send");
      return Status.NOT_FOUND;
    },
    proxy_grpc_cancel(token: number): number {
      if (vm.starting) restricted("proxy_grpc_cancel");
      return vm.grpcCancel(token >>> 0);
    },
    proxy_grpc_close(): number {
      if (vm.starting) restricted("proxy_grpc_close");
      return Status.NOT_FOUND;
    },
    proxy_set_shared_data(kp: number, kl: number, vp: number, vl: number, cas: number): number {
      if (vm.starting) restricted("proxy_set_shared_data");
      const key = str(kp, kl);
      const value = vm.mem.copy(vp >>> 0, vl >>> 0);
      if (key === null || value === null) return Status.INVALID_MEMORY_ACCESS;
      return vm.setSharedData(key, value, cas >>> 0);
    },
    proxy_get_shared_data(kp: number, kl: number, ptrPtr: number, sizePtr: number, casPtr: number): number {
      if (vm.starting) restricted("proxy_get_shared_data");
      const key = str(kp, kl);
      if (key === null) return Status.INVALID_MEMORY_ACCESS;
      const cur = vm.getSharedData(key);
      // A missing key answers NOT_FOUND and leaves every out-parameter untouched.
      if (!cur) return Status.NOT_FOUND;
      const r = copyOut(cur.value, ptrPtr, sizePtr);
      if (r !== Status.OK) return r;
      return vm.mem.setU32(casPtr >>> 0, cur.cas) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_register_shared_queue(np: number, nl: number, idPtr: number): number {
      if (vm.starting) restricted("proxy_register_shared_queue");
      const name = str(np, nl);
      if (name === null) return Status.INVALID_MEMORY_ACCESS;
      return vm.mem.setU32(idPtr >>> 0, vm.registerSharedQueue(name)) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_resolve_shared_queue(vp: number, vl: number, np: number, nl: number, idPtr: number): number {
      if (vm.starting) restricted("proxy_resolve_shared_queue");
      const vmId = str(vp, vl);
      const name = str(np, nl);
      if (vmId === null || name === null) return Status.INVALID_MEMORY_ACCESS;
      const token = vm.resolveSharedQueue(vmId, name);
      if (token === 0) return Status.NOT_FOUND;
      return vm.mem.setU32(idPtr >>> 0, token) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_enqueue_shared_queue(id: number, vp: number, vl: number): number {
      if (vm.starting) restricted("proxy_enqueue_shared_queue");
      const v = vm.mem.copy(vp >>> 0, vl >>> 0);
      if (v === null) return Status.INVALID_MEMORY_ACCESS;
      return vm.enqueueSharedQueue(id >>> 0, v);
    },
    proxy_dequeue_shared_queue(id: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_dequeue_shared_queue");
      const v = vm.dequeueSharedQueue(id >>> 0);
      if (typeof v === "number") return v;
      return copyOut(v, ptrPtr, sizePtr);
    },
    proxy_define_metric(type: number, np: number, nl: number, idPtr: number): number {
      if (vm.starting) restricted("proxy_define_metric");
      const name = str(np, nl);
      if (name === null) return Status.INVALID_MEMORY_ACCESS;
      const r = vm.defineMetric(type >>> 0, name);
      if (r.status !== Status.OK) return r.status;
      return vm.mem.setU32(idPtr >>> 0, r.id!) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_record_metric(id: number, value: bigint): number {
      if (vm.starting) restricted("proxy_record_metric");
      return vm.recordMetric(id >>> 0, BigInt.asUintN(64, BigInt(value)));
    },
    proxy_increment_metric(id: number, delta: bigint): number {
      if (vm.starting) restricted("proxy_increment_metric");
      return vm.incrementMetric(id >>> 0, BigInt.asIntN(64, BigInt(delta)));
    },
    proxy_get_metric(id: number, out: number): number {
      if (vm.starting) restricted("proxy_get_metric");
      const r = vm.getMetric(id >>> 0);
      if (r.status !== Status.OK) return r.status;
      return vm.mem.setU64(out >>> 0, r.value!) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    },
    proxy_get_property(pp: number, pl: number, ptrPtr: number, sizePtr: number): number {
      if (vm.starting) restricted("proxy_get_property");
      const path = str(pp, pl);
      if (path === null) return Status.INVALID_MEMORY_ACCESS;
      const v = vm.getProperty(path);
      if (v === undefined) return Status.NOT_FOUND;
      return copyOut(v, ptrPtr, sizePtr);
    },
    proxy_set_property(pp: number, pl: number, vp: number, vl: number): number {
      if (vm.starting) restricted("proxy_set_property");
      const path = str(pp, pl);
      const value = vm.mem.copy(vp >>> 0, vl >>> 0);
      if (path === null || value === null) return Status.INVALID_MEMORY_ACCESS;
      return vm.setProperty(path, value);
    },
    proxy_call_foreign_function(np: number, nl: number, ap: number, al: number, _ptrPtr: number, _sizePtr: number): number {
      if (vm.starting) restricted("proxy_call_foreign_function");
      const name = str(np, nl);
      const args = vm.mem.copy(ap >>> 0, al >>> 0);
      if (name === null || args === null) return Status.INVALID_MEMORY_ACCESS;
      // Results are only written when the function allocates some; clear_route_cache does not.
      return vm.callForeign(name, args);
    },
    proxy_set_effective_context(id: number): number {
      if (vm.starting) restricted("proxy_set_effective_context");
      return vm.setEffectiveContext(id >>> 0);
    },
    proxy_done(): number {
      if (vm.starting) restricted("proxy_done");
      return Status.OK;
    },
    pthread_equal(a: number, b: number): number {
      return a === b ? 1 : 0;
    },
    emscripten_notify_memory_growth(_idx: number): void {
      vm.mem.refresh();
    },
    // Higress extras (only linked in higress mode); the emulator implements none of them.
    proxy_redis_init: () => (vm.starting ? restricted("proxy_redis_init") : Status.UNIMPLEMENTED),
    proxy_redis_call: () => (vm.starting ? restricted("proxy_redis_call") : Status.UNIMPLEMENTED),
    proxy_get_upstream_hosts: () => (vm.starting ? restricted("proxy_get_upstream_hosts") : Status.UNIMPLEMENTED),
    proxy_inject_encoded_data_to_filter_chain: () =>
      vm.starting ? restricted("proxy_inject_encoded_data_to_filter_chain") : Status.UNIMPLEMENTED,
    proxy_set_upstream_override_host: () => (vm.starting ? restricted("proxy_set_upstream_override_host") : Status.UNIMPLEMENTED),
  };

  const wasiRestricted = (name: string): never => {
    throw new RestrictedCallError(`restricted_callback: WASI ${name} called during VM start`);
  };
  const wasi: Record<string, Function> = {
    // cpp-host writevImpl: fd 1 → info, fd 2 → error, one log line per call, trailing \n dropped.
    fd_write(fd: number, iovs: number, n: number, writtenPtr: number): number {
      let level: number;
      if (fd === 1) level = 2;
      else if (fd === 2) level = 4;
      else return Errno.BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < n >>> 0; i++) {
        const iov = vm.mem.view((iovs >>> 0) + i * 8, 8);
        if (iov === null) return Errno.FAULT;
        const p = vm.mem.dv.getUint32((iovs >>> 0) + i * 8, true);
        const l = vm.mem.dv.getUint32((iovs >>> 0) + i * 8 + 4, true);
        if (l) {
          const d = vm.mem.copy(p, l);
          if (d === null) return Errno.FAULT;
          parts.push(d);
          total += l;
        }
      }
      if (total) {
        let s = dec.decode(Buffer.concat(parts));
        if (s.endsWith("\n")) s = s.slice(0, -1);
        vm.log(level, s);
      }
      if (!vm.mem.setU32(writtenPtr >>> 0, total)) return Errno.FAULT;
      return Errno.SUCCESS;
    },
    fd_read: () => (vm.starting ? wasiRestricted("fd_read") : Errno.NOSYS),
    fd_seek: () => (vm.starting ? wasiRestricted("fd_seek") : Errno.NOSYS),
    fd_close: () => (vm.starting ? wasiRestricted("fd_close") : Errno.NOSYS),
    fd_fdstat_get: () => (vm.starting ? wasiRestricted("fd_fdstat_get") : Errno.NOSYS),
    fd_fdstat_set_flags: () => (vm.starting ? wasiRestricted("fd_fdstat_set_flags") : Errno.NOSYS),
    fd_prestat_get: () => (vm.starting ? wasiRestricted("fd_prestat_get") : Errno.BADF),
    fd_prestat_dir_name: () => (vm.starting ? wasiRestricted("fd_prestat_dir_name") : Errno.NOSYS),
    // cpp-host: "KEY=VALUE\0" strings back to back, and a pointer to each (environ_get).
    environ_get(pointersPtr: number, bufferPtr: number): number {
      let at = bufferPtr >>> 0;
      const env = vm.environment ?? [];
      for (let i = 0; i < env.length; i++) {
        const bytes = encoder.encode(`${env[i][0]}=${env[i][1]}\0`);
        if (!vm.mem.setU32((pointersPtr >>> 0) + 4 * i, at) || !vm.mem.write(at, bytes)) return Errno.FAULT;
        at += bytes.length;
      }
      return Errno.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      const env = vm.environment ?? [];
      const size = env.reduce((n, [k, v]) => n + encoder.encode(k).length + encoder.encode(v).length + 2, 0);
      return vm.mem.setU32(countPtr >>> 0, env.length) && vm.mem.setU32(sizePtr >>> 0, size) ? Errno.SUCCESS : Errno.FAULT;
    },
    args_get: () => Errno.SUCCESS,
    args_sizes_get(countPtr: number, sizePtr: number): number {
      return vm.mem.setU32(countPtr >>> 0, 0) && vm.mem.setU32(sizePtr >>> 0, 0) ? Errno.SUCCESS : Errno.FAULT;
    },
    clock_time_get(_id: number, _precision: bigint, out: number): number {
      return vm.mem.setU64(out >>> 0, vm.now()) ? Errno.SUCCESS : Errno.FAULT;
    },
    clock_res_get(_id: number, out: number): number {
      return vm.mem.setU64(out >>> 0, 1n) ? Errno.SUCCESS : Errno.FAULT;
    },
    random_get(ptr: number, len: number): number {
      if (len >>> 0 > RANDOM_GET_MAX_BYTES) return Errno.INVAL;
      const v = vm.mem.view(ptr >>> 0, len >>> 0);
      if (v === null) return Errno.FAULT;
      vm.fillRandom(v);
      return Errno.SUCCESS;
    },
    sched_yield: () => (vm.starting ? wasiRestricted("sched_yield") : Errno.SUCCESS),
    poll_oneoff: () => (vm.starting ? wasiRestricted("poll_oneoff") : Errno.NOSYS),
    proc_exit(code: number): never {
      // cpp-host: context->error("wasi_unstable proc_exit") — the VM fails.
      return vm.procExit(code);
    },
  };

  const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
  for (const m of WASI_MODULES) imports[m] = wasi as WebAssembly.ModuleImports;
  return imports;
}
