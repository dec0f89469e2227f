// The plan as the router filter hands it over, in two forms written side by side (handOverPlan):
// - the chain header, for Envoy: the plan's providers joined by '+' ("openai+deepseek"), the
//   fallback cluster the generated bootstrap routes on, whose retries move along the providers;
// - the plan message, for the upstream filter: Envoy filter state (a Wasm property the upstream
//   filter of every attempt reads). Binary, little-endian:
//   u32 magic "rlp1" · u32 VM nonce · u32 downstream context id · u32 configuration fingerprint ·
//   u16 configuration id · u16 requested route (0xffff: a catalog model) · u32 model literal start ·
//   u32 model literal end (the bytes of the first model's id in the body the router forwards) ·
//   u8 chain length · u8 0 · u16 path length · u16 model index × length · the client's :path.
// Both are built in scratch memory kept here (no allocation per request). The upstream filter
// trusts nothing it cannot check: the fingerprint must be its own configuration's, indices must be
// in range, the body must hold the first model's literal where the plan says (else it finds
// `model` again).
import { ByteBuffer } from "../abi/byte_buffer";
import { freeHostBlock, hostSize, readProperty, replaceRequestHeaderBytes, takeHostData, writePropertyBytes } from "../abi/host";
import { PLUS } from "../bytes";
import { MAX_CHAIN_LENGTH } from "../config/failover";
import { RouterConfig } from "../config/types";
import { PLAN_FILTER_STATE } from "../names";
import { FailoverPlan } from "./plan";

const MAGIC: u32 = 0x31706c72;
const HEADER_SIZE: usize = 32;
// The filter-state key the plan travels under (wasm.llm_router.plan).
const PLAN_PROPERTY = String.UTF8.encode(PLAN_FILTER_STATE);
export const NO_ROUTE: i32 = 0xffff;
// A :path longer than this makes no plan (the request then goes to its first model only).
export const MAX_PLAN_PATH: usize = 8192;

// Identifies this VM instance: a plan names its downstream stream by context id, which only means
// something in the VM that made it (the router and upstream filters share a VM when their vm_config
// is the same). Set at the first configuration.
export let vmNonce: u32 = 0;

export function initVmNonce(seed: u64): void {
  if (vmNonce != 0) return;
  const mixed = (seed ^ (seed >> 29)) * 0xbf58476d1ce4e5b9;
  vmNonce = <u32>(mixed >> 32) | 1;
}

const message = new ByteBuffer();
const chain = new ByteBuffer();

// Encodes into `message`; false when the path is too long to carry.
function encodePlan(plan: FailoverPlan, vmNonce: u32, contextId: u32, fingerprint: u32, configId: i32,
  modelStart: u32, modelEnd: u32, path: usize, pathSize: usize): bool {
  if (pathSize > MAX_PLAN_PATH) return false;
  const size = HEADER_SIZE + 2 * <usize>plan.length + pathSize;
  const p = message.reserve(size, 64);
  store<u32>(p, MAGIC);
  store<u32>(p, vmNonce, 4);
  store<u32>(p, contextId, 8);
  store<u32>(p, fingerprint, 12);
  store<u16>(p, <u16>configId, 16);
  store<u16>(p, <u16>(plan.requestedRoute >= 0 ? plan.requestedRoute : NO_ROUTE), 18);
  store<u32>(p, modelStart, 20);
  store<u32>(p, modelEnd, 24);
  store<u8>(p, <u8>plan.length, 28);
  store<u8>(p, 0, 29);
  store<u16>(p, <u16>pathSize, 30);
  for (let i = 0; i < plan.length; i++) store<u16>(p + HEADER_SIZE + 2 * <usize>i, <u16>plan.model(i));
  memory.copy(p + HEADER_SIZE + 2 * <usize>plan.length, path, pathSize);
  message.size = size;
  return true;
}

// The chain header's value into `chain`.
function encodeChain(cfg: RouterConfig, plan: FailoverPlan): void {
  let size: usize = 0;
  for (let i = 0; i < plan.length; i++) size += <usize>unchecked(cfg.models[plan.model(i)]).upstreamBytes.byteLength + 1;
  const start = chain.reserve(size);
  let q = start;
  for (let i = 0; i < plan.length; i++) {
    if (i > 0) store<u8>(q++, PLUS);
    const name = unchecked(cfg.models[plan.model(i)]).upstreamBytes;
    memory.copy(q, changetype<usize>(name), name.byteLength);
    q += name.byteLength;
  }
  chain.size = q - start;
}

// Envoy routes the request to the plan's fallback cluster (the chain header); every attempt's
// upstream filter reads the plan (filter state) to know which model its provider gets, and where
// the model is in the body. A plan that cannot travel (a path too long, a host refusing the filter
// state) names no chain: the request goes to its first model only.
export function handOverPlan(cfg: RouterConfig, plan: FailoverPlan, contextId: u32, fingerprint: u32, modelStart: u32,
  modelEnd: u32, path: usize, pathSize: usize): void {
  if (!encodePlan(plan, vmNonce, contextId, fingerprint, cfg.id, modelStart, modelEnd, path, pathSize)) return;
  if (!writePropertyBytes(PLAN_PROPERTY, message.ptr, message.size)) return;
  encodeChain(cfg, plan);
  replaceRequestHeaderBytes(cfg.chainHeader, chain.ptr, chain.size);
}

// What an attempt reads back; fields valid after a successful read.
export class PlanMessage {
  private block: usize = 0;    // the filter state as the host gave it, until release()
  vmNonce: u32 = 0;
  contextId: u32 = 0;
  fingerprint: u32 = 0;
  configId: i32 = 0;
  requestedRoute: i32 = NO_ROUTE;
  modelStart: u32 = 0;
  modelEnd: u32 = 0;
  length: i32 = 0;
  readonly models: StaticArray<i32> = new StaticArray<i32>(MAX_CHAIN_LENGTH);
  path: usize = 0;             // into the block (valid until release())
  pathSize: usize = 0;

  // Reads the plan from filter state; false when there is none or it is not one encodePlan wrote
  // (nothing is kept then). Otherwise the block is kept until release().
  read(): bool {
    if (!readProperty(PLAN_PROPERTY)) return false;
    const size = hostSize;
    this.block = takeHostData();
    if (this.decode(this.block, size)) return true;
    this.release();
    return false;
  }

  release(): void {
    freeHostBlock(this.block);
    this.block = 0;
  }

  // False for anything not written by encodePlan (wrong size, magic or length).
  private decode(p: usize, size: usize): bool {
    if (size < HEADER_SIZE || load<u32>(p) != MAGIC) return false;
    const length = <i32>load<u8>(p, 28);
    const pathSize = <usize>load<u16>(p, 30);
    if (length < 1 || length > MAX_CHAIN_LENGTH || size != HEADER_SIZE + 2 * <usize>length + pathSize) return false;
    this.vmNonce = load<u32>(p, 4);
    this.contextId = load<u32>(p, 8);
    this.fingerprint = load<u32>(p, 12);
    this.configId = <i32>load<u16>(p, 16);
    this.requestedRoute = <i32>load<u16>(p, 18);
    this.modelStart = load<u32>(p, 20);
    this.modelEnd = load<u32>(p, 24);
    this.length = length;
    for (let i = 0; i < length; i++) unchecked(this.models[i] = <i32>load<u16>(p + HEADER_SIZE + 2 * <usize>i));
    this.path = p + HEADER_SIZE + 2 * <usize>length;
    this.pathSize = pathSize;
    return true;
  }
}
