// xorshift64* for the weighted-random strategy. AssemblyScript's Math.random would import
// `env.seed`, which no proxy-wasm host provides, so the generator is seeded from the host clock.
let state: u64 = 0x9e3779b97f4a7c15;

export function seedRandom(seed: u64): void {
  state = seed != 0 ? seed : 0x9e3779b97f4a7c15;
}

// A uniform double in [0, 1).
export function nextRandom(): f64 {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  const x = state * 0x2545f4914f6cdd1d;
  return <f64>(x >> 11) / 9007199254740992.0;
}
