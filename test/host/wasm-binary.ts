// Minimal reader for the parts of a wasm binary that cpp-host inspects before instantiating:
// the type section (to check import signatures like V8's cpp-host does) and the import and
// export sections (ABI marker detection walks the export section, bytecode_util.cc).
// WebAssembly.Module.imports() does not expose function types in Node 20, hence this parser.

export interface ImportEntry {
  module: string;
  name: string;
  kind: "function" | "table" | "memory" | "global" | "tag";
  /** For functions: "ii:i" style signature ('i' i32, 'I' i64, 'f' f32, 'F' f64). */
  sig?: string;
}
export interface ExportEntry {
  name: string;
  kind: "function" | "table" | "memory" | "global" | "tag";
}
export interface ModuleInfo {
  imports: ImportEntry[];
  exports: ExportEntry[];
}

const KINDS = ["function", "table", "memory", "global", "tag"] as const;
const VALTYPES: Record<number, string> = { 0x7f: "i", 0x7e: "I", 0x7d: "f", 0x7c: "F", 0x7b: "v", 0x70: "r", 0x6f: "x" };
const utf8 = new TextDecoder("utf-8", { fatal: false });

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.b.length) throw new Error("wasm: unexpected end");
    return this.b[this.pos++];
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error("wasm: bad LEB128");
    }
  }
  name(): string {
    const n = this.u32();
    const s = utf8.decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

export function parseModule(bytes: Uint8Array): ModuleInfo {
  const r = new Reader(bytes);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error("Failed to load Wasm code: not a wasm binary");
  }
  r.pos = 8;
  const types: string[] = [];
  const imports: ImportEntry[] = [];
  const exports: ExportEntry[] = [];
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (id === 1) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const form = r.byte();
        if (form !== 0x60) throw new Error("wasm: unsupported type form");
        let sig = "";
        const np = r.u32();
        for (let j = 0; j < np; j++) sig += VALTYPES[r.byte()] ?? "?";
        sig += ":";
        const nr = r.u32();
        for (let j = 0; j < nr; j++) sig += VALTYPES[r.byte()] ?? "?";
        types.push(sig);
      }
    } else if (id === 2) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const module = r.name();
        const name = r.name();
        const k = r.byte();
        const kind = KINDS[k] ?? "tag";
        const e: ImportEntry = { module, name, kind };
        if (k === 0) e.sig = types[r.u32()];
        else if (k === 1) {
          r.byte();
          r.limits();
        } else if (k === 2) r.limits();
        else if (k === 3) {
          r.byte();
          r.byte();
        } else if (k === 4) {
          r.byte();
          r.u32();
        }
        imports.push(e);
      }
    } else if (id === 7) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const k = r.byte();
        r.u32();
        exports.push({ name, kind: KINDS[k] ?? "tag" });
      }
    }
    r.pos = end;
  }
  return { imports, exports };
}
