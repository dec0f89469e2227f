// Guest linear memory access. memory.buffer is replaced (and the old one detached) whenever the
// guest grows memory, which can happen inside ANY guest call, including the malloc the host makes
// while answering a host call. So views are never trusted across guest calls: every access goes
// through refresh(), an identity check that costs next to nothing when nothing changed.

export class GuestMemory {
  private buf: ArrayBuffer;
  u8: Uint8Array;
  dv: DataView;
  constructor(readonly memory: WebAssembly.Memory) {
    this.buf = memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  refresh(): void {
    const b = this.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  /** True when [ptr, ptr+len) lies inside memory (cpp-host getMemory() check). */
  ok(ptr: number, len: number): boolean {
    this.refresh();
    return ptr >= 0 && len >= 0 && ptr + len <= this.u8.length;
  }

  /** A view (not a copy) valid until the next guest call. */
  view(ptr: number, len: number): Uint8Array | null {
    if (!this.ok(ptr, len)) return null;
    return this.u8.subarray(ptr, ptr + len);
  }

  copy(ptr: number, len: number): Uint8Array | null {
    if (!this.ok(ptr, len)) return null;
    return this.u8.slice(ptr, ptr + len);
  }

  setU32(ptr: number, v: number): boolean {
    if (!this.ok(ptr, 4)) return false;
    this.dv.setUint32(ptr, v >>> 0, true);
    return true;
  }

  write(ptr: number, bytes: Uint8Array): boolean {
    if (!this.ok(ptr, bytes.length)) return false;
    this.u8.set(bytes, ptr);
    return true;
  }

  setU64(ptr: number, v: bigint): boolean {
    if (!this.ok(ptr, 8)) return false;
    this.dv.setBigUint64(ptr, v, true);
    return true;
  }
}
