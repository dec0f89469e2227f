// One budget as the ledger enforces it: who and what it covers, its limits and window, and what
// happens near and at the cap. Built once from the configuration (the `budgets` list; parsed and
// validated in config/, which calls this plain API), never changed afterwards.
//
// Amounts are integers in base units so that many workers can add and subtract them without
// drift: nano-USD for money (a request's cost in µUSD × 1000; i64 holds $9.2 billion), tokens
// (input + output), requests.
import { Window } from "./window";

export const enum Limit { Usd = 0, Tokens = 1, Requests = 2 }
export const LIMIT_KINDS: i32 = 3;
export const LIMIT_NAMES: string[] = ["usd", "tokens", "requests"];
export const NO_LIMIT: i64 = -1;
export const NANO_USD_PER_USD: f64 = 1e9;
const MAX_NANO_USD: f64 = 9.2e18;   // below i64's largest

// Who a budget counts: everyone together (no `consumer` in the configuration), one named
// consumer, or each consumer separately (`"*"`).
export const enum ConsumerScope { All = 0, Named = 1, Each = 2 }

// The rate limit service counts in uint32 per window (`requests_per_unit`, `limit_remaining`):
// a limit is sent as a count of store units of 10^k base units, the smallest such unit that lets
// the limit fit (USD: never finer than one µUSD).
const MAX_STORE_COUNT: i64 = 0xffffffff;
const MIN_STORE_UNIT: StaticArray<i64> = [1000, 1, 1];

export function storeUnitFor(kind: Limit, limit: i64): i64 {
  let unit = MIN_STORE_UNIT[<i32>kind];
  while (limit / unit > MAX_STORE_COUNT) unit *= 10;
  return unit;
}

export class Budget {
  index: i32 = 0;                  // position in the ledger (set by the Ledger)
  readonly nameBytes: ArrayBuffer;
  readonly consumerBytes: ArrayBuffer;
  readonly scope: ConsumerScope;
  // Optional narrowing by the configuration's indices: -1 = any route / model / provider.
  routeId: i32 = -1;
  modelId: i32 = -1;
  providerId: i32 = -1;
  readonly limits: StaticArray<i64> = [NO_LIMIT, NO_LIMIT, NO_LIMIT];
  readonly storeUnits: StaticArray<i64> = [1000, 1, 1];
  downgradeAt: f64 = -1;           // share of a limit, 0..1; -1: no downgrade
  downgradeTo: string = "";        // the route whose ranking replaces the alias's
  // Across gateways: counted in the shared store too; what to do when the store does not answer.
  shared: bool = false;
  failOpen: bool = true;
  // "*": distinct consumers with their own record; later ones share one overflow record.
  maxConsumers: i32 = 1000;

  // consumer: null for everyone together, "*" for each consumer separately, else one name.
  constructor(readonly name: string, consumer: string | null, readonly window: Window) {
    this.nameBytes = String.UTF8.encode(name);
    if (consumer === null) {
      this.scope = ConsumerScope.All;
      this.consumerBytes = new ArrayBuffer(0);
    } else if (consumer == "*") {
      this.scope = ConsumerScope.Each;
      this.consumerBytes = new ArrayBuffer(0);
    } else {
      this.scope = ConsumerScope.Named;
      this.consumerBytes = String.UTF8.encode(consumer);
    }
  }

  // Anything but a finite amount ≥ 0 is 0 (the configuration refuses it first; this never traps).
  limitUsd(usd: f64): Budget {
    const nano = usd * NANO_USD_PER_USD;
    return this.setLimit(Limit.Usd, nano >= 0 && nano < MAX_NANO_USD ? <i64>Math.ceil(nano) : nano >= MAX_NANO_USD ? <i64>MAX_NANO_USD : 0);
  }
  limitTokens(tokens: i64): Budget { return this.setLimit(Limit.Tokens, tokens); }
  limitRequests(requests: i64): Budget { return this.setLimit(Limit.Requests, requests); }

  private setLimit(kind: Limit, amount: i64): Budget {
    const value = amount < 0 ? 0 : amount;
    this.limits[<i32>kind] = value;
    this.storeUnits[<i32>kind] = storeUnitFor(kind, value);
    return this;
  }

  narrow(routeId: i32, modelId: i32, providerId: i32): Budget {
    this.routeId = routeId;
    this.modelId = modelId;
    this.providerId = providerId;
    return this;
  }

  downgrade(at: f64, toRoute: string): Budget {
    this.downgradeAt = at;
    this.downgradeTo = toRoute;
    return this;
  }

  acrossGateways(failOpen: bool): Budget {
    this.shared = true;
    this.failOpen = failOpen;
    return this;
  }

  // Whether a request for this route, model and provider is in scope (the consumer is matched by
  // the ledger, which knows the request's consumer bytes).
  @inline covers(routeId: i32, modelId: i32, providerId: i32): bool {
    return (this.routeId < 0 || this.routeId == routeId) && (this.modelId < 0 || this.modelId == modelId) &&
      (this.providerId < 0 || this.providerId == providerId);
  }
}
