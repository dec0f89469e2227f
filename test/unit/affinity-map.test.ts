// The affinity map (assembly/affinity/map.ts, docs/affinity.md) through the emulated Envoy process:
// two worker VMs sharing one shared-data store with cpp-host's compare-and-swap semantics. A test
// module (entries/affinity-map-plugin.ts) runs one map operation per request and answers with a
// local reply. What is checked: one worker finds what the other remembered, entries expire, the map
// stays within its buckets under a flood of distinct keys (oldest of a bucket replaced), writes that
// race keep both entries, and garbage records are never trusted nor trapped on.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EnvoyProcess, type ProxyWasmHost } from "../host/index.ts";

const ROOT = join(__dirname, "..", "..");
const WASM = join(ROOT, "build", "test-affinity-map.wasm");
const VM_ID = "router";
const PREFIX = "llm_router/affinity/v1/";
const RECORD_SIZE = 8 + 4 * 32;
const HOUR = 3_600_000;

beforeAll(() => {
  mkdirSync(join(ROOT, "build"), { recursive: true });
  // cwd entries/: the plugin's asconfig.json (its abort handler) must not apply here
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), ["affinity-map-plugin.ts", "-O3", "--runtime", "incremental", "--use", "abort=", "-o", WASM], { cwd: join(ROOT, "test", "unit", "entries") });
}, 60_000);

async function twoWorkers(buckets: number) {
  const proc = new EnvoyProcess();
  const workers = await proc.start({ wasm: WASM, workers: 2, vmId: VM_ID, configuration: String(buckets) });
  return { proc, workers };
}

const hex = (k: bigint) => k.toString(16);
function op(w: ProxyWasmHost, headers: Record<string, string>): string {
  const r = w.request({ headers });
  expect(r.outcome, r.error).toBe("local");
  return r.localResponse!.text;
}
const remember = (w: ProxyWasmHost, key: bigint, model: bigint, tokens: number) =>
  op(w, { "x-op": "remember", "x-key": hex(key), "x-model": hex(model), "x-tokens": String(tokens) });
const lookup = (w: ProxyWasmHost, key: bigint, ttlMs = HOUR) => op(w, { "x-op": "lookup", "x-key": hex(key), "x-ttl-ms": String(ttlMs) });

/** The bucket a key lands in (bits 40 and up, as map.ts takes them) and its shared-data key. */
const bucketOf = (key: bigint, buckets: number) => Number((key >> 40n) & BigInt(buckets - 1));
const bucketName = (b: number) => PREFIX + b.toString(16).padStart(5, "0");

/** Entries of a stored record: [key, model, atMs, tokens]. */
function entries(value: Uint8Array): Array<{ key: bigint; model: bigint; at: number; tokens: number }> {
  const v = new DataView(value.buffer, value.byteOffset, value.length);
  return Array.from({ length: 4 }, (_, i) => {
    const o = 8 + 32 * i;
    return { key: v.getBigUint64(o, true), model: v.getBigUint64(o + 8, true), at: v.getFloat64(o + 16, true), tokens: v.getUint32(o + 24, true) };
  }).filter((e) => e.key !== 0n);
}

let seed = 0x9e3779b9;
const rnd32 = () => BigInt((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0));
const randomKey = () => (rnd32() << 32n) | rnd32();

describe("the affinity map across workers", () => {
  it("one worker finds what the other remembered: model, tokens and age", async () => {
    const { proc, workers: [w1, w2] } = await twoWorkers(64);
    const key = 0x1234_5678_9abc_def0n;
    expect(lookup(w2, key)).toBe("miss");
    expect(remember(w1, key, 0xfeedn, 1536)).toBe("done");
    proc.advance(1500);
    expect(lookup(w2, key)).toBe("hit feed 1536 1500");
    // remembering again moves it to the new model and time, in the same slot
    expect(remember(w2, key, 0xbeefn, 2048)).toBe("done");
    expect(lookup(w1, key)).toBe("hit beef 2048 0");
    const stored = proc.shared.get(VM_ID, bucketName(bucketOf(key, 64)))!.value;
    expect(stored.length).toBe(RECORD_SIZE);
    expect(entries(stored).map((e) => e.key)).toEqual([key]);
  });

  it("an entry older than the lookup's TTL is not found; key 0 is a key like any other", async () => {
    const { proc, workers: [w1, w2] } = await twoWorkers(64);
    remember(w1, 42n, 7n, 100);
    proc.advance(299_999);
    expect(lookup(w2, 42n, 300_000)).toBe("hit 7 100 299999");
    proc.advance(2);
    expect(lookup(w2, 42n, 300_000)).toBe("miss");
    expect(lookup(w2, 42n, HOUR)).toBe("hit 7 100 300001");
    remember(w1, 0n, 9n, 5);
    expect(lookup(w2, 0n)).toBe("hit 9 5 0");
  });

  it("stays within its buckets under a flood of distinct keys; each bucket keeps its 4 newest", async () => {
    const buckets = 64;
    const { proc, workers } = await twoWorkers(buckets);
    const model = new Map<number, bigint[]>(); // bucket -> keys, oldest first (at most 4)
    const keys: bigint[] = [];
    for (let i = 0; i < 20_000; i++) {
      const key = randomKey();
      keys.push(key);
      expect(remember(workers[i % 2], key, BigInt(i), i)).toBe("done");
      const b = bucketOf(key, buckets);
      const list = model.get(b) ?? [];
      list.push(key);
      if (list.length > 4) list.shift();
      model.set(b, list);
      proc.advance(1); // distinct times: "oldest" is well defined
    }
    const names = proc.shared.keys(VM_ID);
    expect(names.length).toBe(buckets);
    for (const n of names) {
      expect(n.startsWith(PREFIX)).toBe(true);
      expect(proc.shared.get(VM_ID, n)!.value.length).toBe(RECORD_SIZE);
    }
    for (const [b, list] of model) expect(new Set(entries(proc.shared.get(VM_ID, bucketName(b))!.value).map((e) => e.key))).toEqual(new Set(list));
    // every key the buckets still hold is found with its own model, every other one is not
    const kept = new Set([...model.values()].flat());
    keys.slice(-500).forEach((key, j) => {
      const i = keys.length - 500 + j;
      expect(lookup(workers[(i + 1) % 2], key)).toBe(kept.has(key) ? `hit ${i.toString(16)} ${i} ${keys.length - i}` : "miss");
    });
  });

  it("two workers writing the same bucket at the same time keep both entries (compare-and-swap)", async () => {
    const { proc, workers: [w1, w2] } = await twoWorkers(1);
    // w1's write lands after w2 wrote in between its read and its write: cpp-host refuses it
    // (CAS_MISMATCH), w1 reads again and writes both.
    const set = proc.shared.set.bind(proc.shared);
    let raced = 0;
    proc.shared.set = (vmId, key, value, cas) => {
      if (raced === 0) { raced = 1; expect(remember(w2, 0xbbn, 2n, 20)).toBe("done"); raced = 2; }
      return set(vmId, key, value, cas);
    };
    expect(remember(w1, 0xaan, 1n, 10)).toBe("done");
    proc.shared.set = set;
    expect(raced).toBe(2);
    expect(lookup(w1, 0xaan)).toBe("hit 1 10 0");
    expect(lookup(w2, 0xbbn)).toBe("hit 2 20 0");
    // the same key from both: one entry, the last write's
    proc.shared.set = (vmId, key, value, cas) => {
      if (raced === 2) { raced = 3; remember(w2, 0xaan, 3n, 30); }
      return set(vmId, key, value, cas);
    };
    remember(w1, 0xaan, 4n, 40);
    proc.shared.set = set;
    const stored = entries(proc.shared.get(VM_ID, bucketName(0))!.value);
    expect(stored.filter((e) => e.key === 0xaan)).toHaveLength(1);
    expect(lookup(w2, 0xaan)).toBe("hit 4 40 0");
  });

  it("a writer that keeps losing the race gives up after a bounded number of attempts", async () => {
    const { proc, workers: [w1, w2] } = await twoWorkers(1);
    const set = proc.shared.set.bind(proc.shared);
    let competing = 0;
    proc.shared.set = (vmId, key, value, cas) => {
      if (competing >= 0 && competing < 100) { const n = competing++; competing = -1; remember(w2, BigInt(1000 + n), 1n, 1); competing = n + 1; }
      return set(vmId, key, value, cas);
    };
    expect(remember(w1, 0xaan, 1n, 10)).toBe("contended");
    proc.shared.set = set;
    expect(competing).toBe(8);
  });

  it("garbage records are never trusted and never trap; the next write replaces them", async () => {
    const { proc, workers: [w1, w2] } = await twoWorkers(1);
    const name = bucketName(0);
    const key = 0x0123_4567_89ab_cdefn;
    const valid = (entriesOf: Array<[bigint, number]>) => {
      const v = new DataView(new ArrayBuffer(RECORD_SIZE));
      v.setUint32(0, 0x31666661, true);
      entriesOf.forEach(([k, at], i) => { v.setBigUint64(8 + 32 * i, k, true); v.setBigUint64(16 + 32 * i, 5n, true); v.setFloat64(24 + 32 * i, at, true); v.setUint32(32 + 32 * i, 77, true); });
      return new Uint8Array(v.buffer);
    };
    const now = Number(proc.clock.now() / 1_000_000n);
    const garbage: Uint8Array[] = [
      new Uint8Array([1, 2, 3]),                                              // too short
      Uint8Array.from({ length: RECORD_SIZE }, (_, i) => (i * 37 + 11) & 0xff), // right size, no magic
      new Uint8Array(RECORD_SIZE + 8).fill(0xff),                             // too long
      valid([[key, NaN]]),                                                    // its key, no time
      valid([[key, now + 3_600_000]]),                                        // its key, an hour ahead
      valid([[key, -Infinity]]),
    ];
    for (const g of garbage) {
      proc.shared.set(VM_ID, name, g, 0);
      expect(lookup(w2, key)).toBe("miss");
      expect(remember(w1, key ^ 1n, 6n, 60)).toBe("done");
      expect(lookup(w2, key ^ 1n)).toBe("hit 6 60 0");
      expect(proc.shared.get(VM_ID, name)!.value.length).toBe(RECORD_SIZE);
    }
    // an entry from an hour ahead (a clock that stepped back) is the first one replaced
    proc.shared.set(VM_ID, name, valid([[1n, now], [2n, now + 3_600_000], [3n, now], [4n, now]]), 0);
    remember(w1, 5n, 1n, 1);
    expect(new Set(entries(proc.shared.get(VM_ID, name)!.value).map((e) => e.key))).toEqual(new Set([1n, 3n, 4n, 5n]));
    expect(w1.vmFailed || w2.vmFailed).toBe(false);
  });
});
