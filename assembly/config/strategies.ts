// The ranking strategies, one row each: the name a route's `strategy` uses, whether the strategy
// ranks on measured values (live signals move latency and throughput, so exploration applies to it),
// and whether it spreads (picks at random among the survivors within the route's `spread` of the
// best, so a fast model is not herded onto). Validation (routes.ts), ranking (routing/rank.ts) and
// the explanations (routing/describe.ts) read this table; the Higress console's enum
// (config/higress/spec.yaml) is checked against it by test/higress.
//
// A new strategy is a member of Strategy, its row at that position (test/unit/tables.test.ts checks
// the order), and its score in routing/rank.ts.
export const enum Strategy { Price, Latency, Throughput, Quality, Balanced, Random }

export class StrategyRow {
  constructor(
    readonly at: Strategy,        // its own position, checked by a test
    readonly name: string,
    readonly measured: bool,
    readonly spreads: bool,
  ) {}
}

export const STRATEGIES: StrategyRow[] = [
  new StrategyRow(Strategy.Price, "price", false, false),
  new StrategyRow(Strategy.Latency, "latency", true, true),
  new StrategyRow(Strategy.Throughput, "throughput", true, true),
  new StrategyRow(Strategy.Quality, "quality", false, false),
  // Quality, price, latency and throughput weighted: measured, but a score, not one number to spread over.
  new StrategyRow(Strategy.Balanced, "balanced", true, false),
  // Weighted by each model's `weight`.
  new StrategyRow(Strategy.Random, "random", false, false),
];

export const STRATEGY_NAMES: string[] = STRATEGIES.map<string>((row) => row.name);

// "price, latency, throughput, quality, balanced or random".
export function strategyList(): string {
  const n = STRATEGY_NAMES.length;
  return STRATEGY_NAMES.slice(0, n - 1).join(", ") + " or " + STRATEGY_NAMES[n - 1];
}
