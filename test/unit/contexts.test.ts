// The table every callback finds its context in (assembly/contexts.ts), against a JavaScript Map:
// random inserts and deletes with ids that collide in the table, growth past thousands of live
// contexts, and lookups of ids never or no longer present.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const OUT = join(ROOT, "build", "test-contexts.wasm");
let table: { set(id: number): void; find(id: number): number; remove(id: number): number };

beforeAll(async () => {
  mkdirSync(join(ROOT, "build"), { recursive: true });
  // cwd entries/: the plugin's asconfig.json (its abort handler and entries) must not apply here
  execFileSync(join(ROOT, "node_modules", ".bin", "asc"), ["contexts-entry.ts", "-O3", "--runtime", "incremental", "--use", "abort=", "-o", OUT], { cwd: join(ROOT, "test", "unit", "entries") });
  const { instance } = await WebAssembly.instantiate(readFileSync(OUT), {});
  table = instance.exports as any;
}, 60_000);

describe("the context table", () => {
  it("finds, replaces and removes exactly what a Map would, through growth and collisions", () => {
    const model = new Map<number, true>();
    let x = 12345;
    const rnd = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n);
    // ids from a narrow range so that probe runs overlap and deletions shift entries back
    for (let step = 0; step < 200_000; step++) {
      const id = 1 + rnd(step < 100_000 ? 5000 : 300);
      const op = rnd(3);
      if (op === 0) { table.set(id); model.set(id, true); }
      else if (op === 1) expect(table.remove(id)).toBe(model.delete(id) ? id : 0);
      else expect(table.find(id)).toBe(model.has(id) ? id : 0);
    }
    for (let id = 1; id <= 5000; id++) expect(table.find(id)).toBe(model.has(id) ? id : 0);
    expect(table.find(0)).toBe(0);
    expect(table.find(0xffffffff)).toBe(0);
  });

  it("keeps ids counted up by the host (sequential) findable while thousands are alive at once", () => {
    for (let id = 100_001; id <= 110_000; id++) table.set(id);
    for (let id = 100_001; id <= 110_000; id += 2) expect(table.remove(id)).toBe(id);
    for (let id = 100_001; id <= 110_000; id++) expect(table.find(id)).toBe(id % 2 === 0 ? id : 0);
  });
});
