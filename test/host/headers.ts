// A header map with Envoy's HeaderMapImpl semantics that matter to a filter:
// keys are lower-cased on every access (Http::LowerCaseString), pseudo-headers stay in front,
// `replace` is setCopy (remove every value, then add one), `get` sees the first value.
import type { HeaderPairs } from "./pairs.ts";

export class HeaderMap {
  entries: HeaderPairs;
  constructor(entries: HeaderPairs = []) {
    this.entries = entries;
  }

  static from(init: Record<string, string | string[]> | HeaderPairs | undefined): HeaderMap {
    const m = new HeaderMap();
    if (!init) return m;
    if (Array.isArray(init)) {
      for (const [k, v] of init) m.add(k, v);
    } else {
      for (const k of Object.keys(init)) {
        const v = init[k];
        if (Array.isArray(v)) for (const x of v) m.add(k, x);
        else m.add(k, v);
      }
    }
    return m;
  }

  get size(): number {
    return this.entries.length;
  }

  first(key: string): string | undefined {
    const k = key.toLowerCase();
    const e = this.entries;
    for (let i = 0; i < e.length; i++) if (e[i][0] === k) return e[i][1];
    return undefined;
  }

  all(key: string): string[] {
    const k = key.toLowerCase();
    const out: string[] = [];
    for (const [ek, ev] of this.entries) if (ek === k) out.push(ev);
    return out;
  }

  has(key: string): boolean {
    return this.first(key) !== undefined;
  }

  add(key: string, value: string): void {
    const k = key.toLowerCase();
    if (k.charCodeAt(0) === 58 /* ':' */) {
      // HeaderMapImpl keeps pseudo-headers ahead of regular headers.
      let i = 0;
      while (i < this.entries.length && this.entries[i][0].charCodeAt(0) === 58) i++;
      this.entries.splice(i, 0, [k, value]);
    } else {
      this.entries.push([k, value]);
    }
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    let w = 0;
    const e = this.entries;
    for (let r = 0; r < e.length; r++) if (e[r][0] !== k) e[w++] = e[r];
    e.length = w;
  }

  replace(key: string, value: string): void {
    this.remove(key);
    this.add(key, value);
  }

  /** Sets the first entry's value in place (an inline header Envoy updates), else appends. */
  setInPlace(key: string, value: string): void {
    const k = key.toLowerCase();
    const e = this.entries.find(([ek]) => ek === k);
    if (e) e[1] = value;
    else this.add(k, value);
  }

  /** HeaderMap::byteSize(): what Envoy answers to proxy_get_header_map_size. */
  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    return n;
  }

  clone(): HeaderMap {
    return new HeaderMap(this.entries.map(([k, v]) => [k, v] as [string, string]));
  }

  /** Plain object view; repeated keys are joined with "," (for assertions only). */
  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.entries) o[k] = k in o ? `${o[k]},${v}` : v;
    return o;
  }
}
