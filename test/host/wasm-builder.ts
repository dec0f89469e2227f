// A tiny wasm binary encoder for the host self-tests: enough to hand-assemble modules with
// imports, a memory, one mutable global (bump allocator), data segments and small functions.
// No wabt needed; the bytes are written here from the binary format spec.

const VT: Record<string, number> = { i: 0x7f, I: 0x7e };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
const str = (s: string): number[] => {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instruction helpers (opcodes from the core spec). */
export const op = {
  i32: (n: number) => [0x41, ...sleb(n | 0)],
  get: (i: number) => [0x20, ...uleb(i)],
  call: (i: number) => [0x10, ...uleb(i)],
  drop: [0x1a],
  ret: [0x0f],
  unreachable: [0x00],
  eqz: [0x45],
  add: [0x6a],
  mul: [0x6c],
  load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  globalGet: (i: number) => [0x23, ...uleb(i)],
  globalSet: (i: number) => [0x24, ...uleb(i)],
  /** if (no result) … end */
  if: (...body: number[][]) => [0x04, 0x40, ...body.flat(), 0x0b],
};

export interface FuncSpec {
  sig: string; // "iii:i"
  code: number[][];
  export?: string;
}
export interface ModuleSpec {
  imports?: Array<{ module: string; name: string; sig: string } | { module: string; name: string; kind: "memory" }>;
  funcs?: FuncSpec[];
  /** Export names of functions with signature ":" and an empty body (markers). */
  markers?: string[];
  memoryPages?: number;
  exportMemory?: boolean;
  data?: Array<{ offset: number; bytes: Uint8Array | string }>;
  /** Adds a bump allocator exported under this name ("malloc" or "proxy_on_memory_allocate"). */
  allocator?: string | null;
}

export function buildModule(spec: ModuleSpec): Uint8Array {
  const types: string[] = [];
  const typeIdx = (sig: string): number => {
    let i = types.indexOf(sig);
    if (i < 0) i = types.push(sig) - 1;
    return i;
  };
  const funcImports = (spec.imports ?? []).filter((i) => "sig" in i) as Array<{ module: string; name: string; sig: string }>;
  const importEntries = (spec.imports ?? []).map((imp) =>
    "sig" in imp
      ? [...str(imp.module), ...str(imp.name), 0x00, ...uleb(typeIdx(imp.sig))]
      : [...str(imp.module), ...str(imp.name), 0x02, 0x00, 1],
  );
  const funcs: FuncSpec[] = [...(spec.funcs ?? [])];
  for (const m of spec.markers ?? []) funcs.push({ sig: ":", code: [], export: m });
  const allocator = spec.allocator === undefined ? "malloc" : spec.allocator;
  if (allocator) {
    // bump allocator: old = heap; heap += size; return old
    funcs.push({
      sig: "i:i",
      export: allocator,
      code: [op.globalGet(0), op.globalGet(0), op.get(0), op.add, op.globalSet(0)],
    });
  }
  const base = funcImports.length;
  const funcTypeIdx = funcs.map((f) => uleb(typeIdx(f.sig)));
  const exports: number[][] = [];
  funcs.forEach((f, i) => {
    if (f.export) exports.push([...str(f.export), 0x00, ...uleb(base + i)]);
  });
  if (spec.exportMemory !== false) exports.push([...str("memory"), 0x02, 0]);
  const codes = funcs.map((f) => {
    const body = [0x00, ...f.code.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  const typeEntries = types.map((sig) => {
    const [p, r] = sig.split(":");
    return [0x60, ...vec([...p].map((c) => [VT[c]])), ...vec([...r].map((c) => [VT[c]]))];
  });
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, vec(typeEntries)));
  if (importEntries.length) out.push(...section(2, vec(importEntries)));
  out.push(...section(3, vec(funcTypeIdx)));
  const hasMemImport = (spec.imports ?? []).some((i) => "kind" in i);
  if (!hasMemImport) out.push(...section(5, vec([[0x00, ...uleb(spec.memoryPages ?? 1)]])));
  // global 0: mutable i32 heap pointer starting at 4096
  out.push(...section(6, vec([[0x7f, 0x01, ...op.i32(4096), 0x0b]])));
  out.push(...section(7, vec(exports)));
  out.push(...section(10, vec(codes)));
  if (spec.data?.length) {
    const segs = spec.data.map((d) => {
      const bytes = typeof d.bytes === "string" ? [...new TextEncoder().encode(d.bytes)] : [...d.bytes];
      return [0x00, ...op.i32(d.offset), 0x0b, ...uleb(bytes.length), ...bytes];
    });
    out.push(...section(11, vec(segs)));
  }
  return new Uint8Array(out);
}
