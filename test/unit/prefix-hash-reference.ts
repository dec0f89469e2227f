// A JavaScript reference of assembly/affinity/prefix_hash.ts, written from its definition lane by lane
// (no SIMD): 16-byte accumulators as bytes, NH over 32-bit words with 64-bit wrapping sums, all in
// BigInt. Slow and plain, so that the Wasm code can be compared with it.
const M64 = (1n << 64n) - 1n;
const u64 = (x: bigint) => x & M64;
const rotl = (x: bigint, r: bigint) => u64((x << r) | (x >> (64n - r)));

const KEY_A = [0x1cad21f72c81017cn, 0xdb979083e96dd4den];
const KEY_B = [0x1f67b3b7a4a44072n, 0x78e5c0cc4ee679cbn];
const KEY_C = [0x2172ffcc7dd05a82n, 0x8e2443f7744608b8n];
const KEY_D = [0x4c263a81e69035e0n, 0xcb00c391bb52283cn];
const STEP = [0x9e3779b185ebca87n, 0xc2b2ae3d27d4eb4fn];
const P1 = 0x9e3779b185ebca87n, P2 = 0xc2b2ae3d27d4eb4fn, P3 = 0x165667b19e3779f9n;
export const SEED_HEAD = 0x6a09e667f3bcc908n;
export const SEED_CONVERSATION = 0xbb67ae8584caa73bn;
export const SEED_CONSUMER = 0x3c6ef372fe94f82bn;
export const SEED_BYTES = 0xa54ff53a5f1d36f1n;
const STRIPE = 64;

/** A 16-byte vector. */
type Vec = DataView;
const vec = () => new DataView(new ArrayBuffer(16));
const copyVec = (v: Vec) => new DataView(v.buffer.slice(0));
const lanes64 = (pair: bigint[]) => { const v = vec(); v.setBigUint64(0, u64(pair[0]), true); v.setBigUint64(8, u64(pair[1]), true); return v; };

export function avalanche(h: bigint): bigint {
  h = u64(h);
  h ^= h >> 33n; h = u64(h * P2);
  h ^= h >> 29n; h = u64(h * P3);
  h ^= h >> 32n;
  return h;
}

const round = (h: bigint, lane: bigint) => u64(rotl(u64((h ^ u64(lane * P2)) * P1), 27n) * P1 + P3);

export class RefState {
  acc = [vec(), vec(), vec(), vec()];
  offset = [0n, 0n];
  stripes = 0;
  units = 0;
  clone(): RefState {
    const s = new RefState();
    s.acc = this.acc.map(copyVec);
    s.offset = [...this.offset]; s.stripes = this.stripes; s.units = this.units;
    return s;
  }
  finish(seed: bigint): bigint {
    let h = u64(seed ^ u64(((BigInt(this.stripes) << 32n) | BigInt(this.units)) * P3));
    for (const v of this.acc) {
      h = round(h, v.getBigUint64(0, true));
      h = round(h, v.getBigUint64(8, true));
    }
    return avalanche(h);
  }
}

/** NH of data[at..at+32) with keys k0, k1: 32-bit words plus key (wrapping), paired, as 64-bit products. */
function nh(lo: Vec, hi: Vec, data: Uint8Array, at: number, k0: Vec, k1: Vec): void {
  const d = new DataView(data.buffer, data.byteOffset + at, 32);
  const word = (i: number, off: number, k: Vec) => BigInt((d.getUint32(off + 4 * i, true) + k.getUint32(4 * i, true)) >>> 0);
  for (let i = 0; i < 4; i++) {
    const product = word(i, 0, k0) * word(i, 16, k1);
    const acc = i < 2 ? lo : hi;
    const lane = 8 * (i % 2);
    acc.setBigUint64(lane, u64(acc.getBigUint64(lane, true) + product), true);
  }
}

export class RefHasher {
  state = new RefState();
  private pending: number[] = [];
  private unitBytes = 0n;

  feed(bytes: Uint8Array): void {
    this.unitBytes += BigInt(bytes.length);
    for (const b of bytes) {
      this.pending.push(b);
      if (this.pending.length === STRIPE) this.stripe(Uint8Array.from(this.pending.splice(0)));
    }
  }

  endUnit(tag: number): void {
    if (this.pending.length > 0) {
      const block = new Uint8Array(STRIPE);
      block.set(this.pending.splice(0));
      this.stripe(block);
    }
    const e = this.state.acc[0];
    e.setBigUint64(0, u64(e.getBigUint64(0, true) + this.unitBytes), true);
    e.setBigUint64(8, u64(e.getBigUint64(8, true) + BigInt(tag)), true);
    this.state.units++;
    this.unitBytes = 0n;
  }

  private stripe(block: Uint8Array): void {
    const s = this.state;
    const key = (k: bigint[]) => lanes64([k[0] + s.offset[0], k[1] + s.offset[1]]);
    nh(s.acc[0], s.acc[1], block, 0, key(KEY_A), key(KEY_B));
    nh(s.acc[2], s.acc[3], block, 32, key(KEY_C), key(KEY_D));
    s.offset = [u64(s.offset[0] + STEP[0]), u64(s.offset[1] + STEP[1])];
    s.stripes++;
  }
}

export function refHashBytes(bytes: Uint8Array): bigint {
  const h = new RefHasher();
  h.feed(bytes);
  h.endUnit(0);
  return h.state.finish(SEED_BYTES);
}

/** The key of a request given its parts, as PrefixKey computes it. */
export function refCombine(consumer: bigint, head: RefState, conversation: RefState): bigint {
  let h = avalanche(consumer ^ SEED_CONSUMER);
  h = avalanche(u64((h ^ head.finish(SEED_HEAD)) * P1));
  return avalanche(u64((h ^ conversation.finish(SEED_CONVERSATION)) * P2));
}
