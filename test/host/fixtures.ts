// Hand-assembled proxy-wasm modules for the host self-tests. Every callback is a few
// instructions, so each test controls exactly which host calls happen and what is returned.
import { encodePairs } from "./pairs.ts";
import { buildModule, op, type ModuleSpec } from "./wasm-builder.ts";

/** Imports of the test plugin; the index is the function index used by `call`. */
export const IMPORTS = [
  { module: "env", name: "proxy_log", sig: "iii:i" }, // 0
  { module: "env", name: "proxy_replace_header_map_value", sig: "iiiii:i" }, // 1
  { module: "env", name: "proxy_get_buffer_bytes", sig: "iiiii:i" }, // 2
  { module: "env", name: "proxy_set_buffer_bytes", sig: "iiiii:i" }, // 3
  { module: "env", name: "proxy_send_local_response", sig: "iiiiiiii:i" }, // 4
  { module: "env", name: "proxy_call_foreign_function", sig: "iiiiii:i" }, // 5
  { module: "env", name: "proxy_get_property", sig: "iiii:i" }, // 6
  { module: "env", name: "proxy_remove_header_map_value", sig: "iii:i" }, // 7
  { module: "env", name: "proxy_set_property", sig: "iiii:i" }, // 8
];
export const F = { log: 0, replace: 1, getBuf: 2, setBuf: 3, local: 4, foreign: 5, getProp: 6, remove: 7, setProp: 8 };

const S = {
  upstreamKey: [100, "x-llm-upstream"],
  b: [120, "b"],
  foreign: [128, "clear_route_cache"],
  denied: [150, "denied"],
  create0: [300, "create:0"],
  create1: [308, "create:1"],
  vmStart: [316, "vm_start"],
  configure: [324, "configure"],
  headers: [340, "headers"],
  body: [350, "body"],
  done: [360, "done"],
  del: [370, "delete"],
  trailers: [380, "trailers"],
  start: [390, "start"],
  cl: [400, "content-length"],
  routeProp: [420, "xds\0route_name"],
  routeHdr: [440, "x-route"],
  off: [460, "off"],
} as const;
const LOCAL_HDRS = encodePairs([["x-why", "test"]]); // at 500

export const at = (k: keyof typeof S) => S[k][0] as number;
export const len = (k: keyof typeof S) => new TextEncoder().encode(S[k][1] as string).length;

export const log = (k: keyof typeof S): number[][] => [op.i32(2), op.i32(at(k)), op.i32(len(k)), op.call(F.log), op.drop];
/** replace_header_map_value(0, x-llm-upstream, "b") leaving the status on the stack. */
export const setUpstreamB: number[][] = [op.i32(0), op.i32(at("upstreamKey")), op.i32(len("upstreamKey")), op.i32(at("b")), op.i32(1), op.call(F.replace)];
export const removeContentLength: number[][] = [op.i32(0), op.i32(at("cl")), op.i32(len("cl")), op.call(F.remove), op.drop];
export const clearRouteCache: number[][] = [op.i32(at("foreign")), op.i32(len("foreign")), op.i32(0), op.i32(0), op.i32(64), op.i32(68), op.call(F.foreign)];
export const localReply403: number[][] = [
  op.i32(403), op.i32(at("denied")), op.i32(len("denied")), op.i32(at("denied")), op.i32(len("denied")),
  op.i32(500), op.i32(LOCAL_HDRS.length), op.i32(-1), op.call(F.local), op.drop,
];
/** set_property("clear_route_cache", "off"): Higress's DisableReroute(). */
export const disableReroute: number[][] = [op.i32(at("foreign")), op.i32(len("foreign")), op.i32(at("off")), op.i32(len("off")), op.call(F.setProp), op.drop];
/** Reads the whole body (size = param 1) and appends a copy: upstream sees body+body. */
export const doubleBody: number[][] = [
  op.i32(0), op.i32(0), op.get(1), op.i32(64), op.i32(68), op.call(F.getBuf), op.drop,
  op.i32(0), op.i32(-1), op.i32(0), op.i32(64), op.load(), op.i32(68), op.load(), op.call(F.setBuf), op.drop,
];
/** Copies property xds.route_name into request header x-route. */
export const routeToHeader: number[][] = [
  op.i32(at("routeProp")), op.i32(len("routeProp")), op.i32(64), op.i32(68), op.call(F.getProp), op.drop,
  op.i32(0), op.i32(at("routeHdr")), op.i32(len("routeHdr")), op.i32(64), op.load(), op.i32(68), op.load(), op.call(F.replace), op.drop,
];

export interface PluginSpec {
  marker?: string | null;
  start?: number[][];
  headers?: number[][]; // must leave an i32 on the stack
  body?: number[][]; // must leave an i32 on the stack
  trailers?: number[][];
  configure?: number[][];
  extraImports?: ModuleSpec["imports"];
  allocator?: string | null;
}

/** eos ? 0 : 1 — the usual "buffer until the end" body callback (params: ctx 0, size 1, eos 2). */
export const bufferUntilEnd: number[][] = [op.get(2), op.eqz, op.if(op.i32(1), op.ret), op.i32(0)];

export function plugin(p: PluginSpec = {}): Uint8Array {
  const data = Object.values(S).map(([offset, s]) => ({ offset: offset as number, bytes: s as string }));
  data.push({ offset: 500, bytes: LOCAL_HDRS as unknown as string });
  const funcs = [
    // proxy_on_context_create(ctx, parent): logs "create:<parent>"
    {
      sig: "ii:",
      export: "proxy_on_context_create",
      code: [op.i32(2), op.get(1), op.i32(8), op.mul, op.i32(at("create0")), op.add, op.i32(8), op.call(F.log), op.drop],
    },
    { sig: "ii:i", export: "proxy_on_vm_start", code: [...log("vmStart"), op.i32(1)] },
    { sig: "ii:i", export: "proxy_on_configure", code: [...log("configure"), ...(p.configure ?? [op.i32(1)])] },
    { sig: "iii:i", export: "proxy_on_request_headers", code: [...log("headers"), ...(p.headers ?? [op.i32(1)])] },
    { sig: "iii:i", export: "proxy_on_request_body", code: [...log("body"), ...(p.body ?? bufferUntilEnd)] },
    { sig: "ii:i", export: "proxy_on_request_trailers", code: [...log("trailers"), ...(p.trailers ?? [op.i32(0)])] },
    { sig: "i:i", export: "proxy_on_done", code: [...log("done"), op.i32(1)] },
    { sig: "i:", export: "proxy_on_delete", code: log("del") },
    { sig: ":", export: "_initialize", code: [...log("start"), ...(p.start ?? [])] },
  ];
  return buildModule({
    imports: [...IMPORTS, ...(p.extraImports ?? [])],
    funcs,
    markers: p.marker === null ? [] : [p.marker ?? "proxy_abi_version_0_2_1"],
    data: data.map((d) => ({ offset: d.offset, bytes: typeof d.bytes === "string" ? d.bytes : (d.bytes as unknown as Uint8Array) })),
    allocator: p.allocator,
  });
}
