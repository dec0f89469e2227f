// Envoy's shared data as the home of each model's LiveRecord: one key per measured thing, read
// whole and written back with compare-and-swap, so concurrent workers never lose each other's
// updates. Shared data is one map for the whole Envoy process (per vm_id), so every worker reads
// the same numbers; when the host cannot serve it, each worker keeps going on its own copy.
import { Status } from "../abi/constants";
import { freeHostBlock, hostData, hostSize, readSharedData, releaseHostData, sharedCas, takeHostData, writeSharedData } from "../abi/host";
import { ModelSpec } from "../config/types";
import { LiveRecord, RECORD_SIZE } from "./record";
import { HEALTH_KEY, LIVE_KEY_PREFIX } from "../names";

// Statistics belong to what is measured: the upstream (cluster) and the model id sent to it. Two
// configurations or Higress rules naming the same provider model share them; a model moved to
// another upstream starts afresh. The upstream's length keeps the key unambiguous whatever
// characters either part holds; "v1" is the record layout (record.ts).
export function statisticsKey(m: ModelSpec): ArrayBuffer {
  const literal = String.UTF8.decode(m.upstreamModelLiteral);
  const upstreamModel = literal.substring(1, literal.length - 1);
  const upstreamBytes = m.upstreamBytes.byteLength;
  return String.UTF8.encode(LIVE_KEY_PREFIX + upstreamBytes.toString() + "/" + m.upstream + "/" + upstreamModel);
}

export const enum Read { Found, Missing, Garbage, Unavailable }

// A cas no stored value carries (cpp-host hands out cas values from one process-wide counter; this
// one would be its 4-billionth write): used to create a key only if nobody created it meanwhile.
const CREATE_ONLY: u32 = 0xffffffff;
const scratch = memory.data(RECORD_SIZE);

// The cas to write back with after the last read.
export let readCas: u32 = 0;

// Reads the shared record into `into` (left untouched unless Found).
export function readRecord(key: ArrayBuffer, into: LiveRecord): Read {
  const status = readSharedData(key);
  if (status == Status.NotFound) { readCas = CREATE_ONLY; return Read.Missing; }
  if (status != Status.Ok) { readCas = 0; return Read.Unavailable; }
  readCas = sharedCas;
  const ok = into.parse(hostData, hostSize);
  releaseHostData();
  return ok ? Read.Found : Read.Garbage;
}

export const enum Write { Done, Conflict, Unavailable }

// Writes `r` if the key still holds what the last readRecord saw.
export function writeRecord(key: ArrayBuffer, r: LiveRecord): Write {
  r.serialize(scratch);
  const status = writeSharedData(key, scratch, RECORD_SIZE, readCas);
  if (status == Status.Ok) return Write.Done;
  return status == Status.CasMismatch ? Write.Conflict : Write.Unavailable;
}

// ---- the health generation: one small key every worker reads per routed request ----------------
//
// Cooldowns must reach every worker before its next request, not at its next refresh: a provider
// that fails on one worker should cost no further errors on the others. Every change of a model's
// cooldown state (start, end, probe) bumps a counter stored with the key of the model that changed;
// a worker that sees the counter one ahead of its own re-reads just that model, further ahead all.

const GENERATION_KEY = String.UTF8.encode(HEALTH_KEY);

// What the last readGeneration found: the counter (-1: none yet) and the changed model's key,
// [changedKey, changedKey + changedKeySize) in a host block kept until the next read.
export let generation: i64 = -1;
export let changedKey: usize = 0;
export let changedKeySize: usize = 0;

export function readGeneration(): bool {
  freeHostBlock(changedKey);
  changedKey = 0;
  changedKeySize = 0;
  generation = -1;
  const status = readSharedData(GENERATION_KEY);
  if (status != Status.Ok) return status == Status.NotFound;
  const size = hostSize;
  const block = takeHostData();
  if (size < 4) { freeHostBlock(block); return true; }
  generation = <i64>load<u32>(block);
  // The key bytes stay in the block: point past the counter, free the block on the next read.
  changedKey = block;
  changedKeySize = size;
  return true;
}

// The changed model's key as [ptr, size).
export function changedKeyPtr(): usize { return changedKey + 4; }
export function changedKeyLength(): usize { return changedKeySize >= 4 ? changedKeySize - 4 : 0; }

export function bumpGeneration(key: ArrayBuffer): void {
  const n = key.byteLength;
  const value = heap.alloc(4 + <usize>n);
  memory.copy(value + 4, changetype<usize>(key), n);
  for (let attempt = 0; attempt < 8; attempt++) {
    const status = readSharedData(GENERATION_KEY);
    let next: u32 = 1;
    let cas = CREATE_ONLY;
    if (status == Status.Ok) {
      if (hostSize >= 4) next = load<u32>(hostData) + 1;
      cas = sharedCas;
      releaseHostData();
    } else if (status != Status.NotFound) break;
    store<u32>(value, next);
    const written = writeSharedData(GENERATION_KEY, value, 4 + <usize>n, cas);
    if (written != Status.CasMismatch) break;
  }
  heap.free(value);
}
