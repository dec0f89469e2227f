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

export function keyReset(body: usize): void { key.reset(body); }
export function keyConsumer(h: u64): void { key.consumer(h); }
export function keyHead(start: u32, end: u32, part: u32): void { key.head(start, end, <HeadPart>part); }
export function keyLeaveOut(start: u32, end: u32): void { key.leaveOut(start, end); }
export function keyMessage(start: u32, end: u32, fromModel: bool): void { key.message(start, end, fromModel); }
export function keyFinish(): void { key.finish(); }
export function keyHas(): bool { return key.hasKey(); }
export function keyValue(): u64 { return key.key(); }
export function keyHasPrevious(): bool { return key.hasPrevious(); }
export function keyPrevious(): u64 { return key.previousKey(); }
