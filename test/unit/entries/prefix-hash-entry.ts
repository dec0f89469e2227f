// Test entry (not part of the plugin): the prefix hash (assembly/affinity/prefix_hash.ts) driven from
// JavaScript, the way the body scan will drive it.
import { HeadPart, PrefixHasher, PrefixKey, hashBytes } from "../../../assembly/affinity/prefix_hash";

const hasher = new PrefixHasher();
const key = new PrefixKey();

export function alloc(n: usize): usize { return heap.alloc(n); }
export function bytesHash(p: usize, n: usize): u64 { return hashBytes(p, n); }

// A hasher fed unit by unit, finished with a seed (for the reference comparison).
export function hasherReset(): void { hasher.reset(); }
export function hasherFeed(p: usize, n: usize): void { hasher.feed(p, n); }
export function hasherEndUnit(tag: u32): void { hasher.endUnit(tag); }
export function hasherFinish(seed: u64): u64 { return hasher.state.finish(seed); }

export function keyReset(): void { key.reset(); }
export function keyConsumer(h: u64): void { key.consumer(h); }
export function keyFeedHead(p: usize, n: usize): void { key.feedHead(p, n); }
export function keyEndHead(part: u32): void { key.endHead(<HeadPart>part); }
export function keyBeginMessage(): void { key.beginMessage(); }
export function keyFeedMessage(p: usize, n: usize): void { key.feedMessage(p, n); }
export function keyEndMessage(fromModel: bool): void { key.endMessage(fromModel); }
export function keyHas(): bool { return key.hasKey(); }
export function keyValue(): u64 { return key.key(); }
export function keyHasPrevious(): bool { return key.hasPrevious(); }
export function keyPrevious(): u64 { return key.previousKey(); }
