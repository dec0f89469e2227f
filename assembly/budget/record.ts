// What one budget has used for one consumer, as every worker of the Envoy process shares it: a
// fixed 152-byte little-endian record in Envoy's shared data, changed only by compare-and-swap
// (ledger.ts). Per limit (USD, tokens, requests) five integer amounts in base units:
//   spent     settled in the current window by this gateway
//   reserved  estimates of requests admitted and not yet settled (any window: see ledger.ts)
//   pending   settled, not yet sent to the shared store (budgets across gateways)
//   transit   sent to the shared store, not yet acknowledged
//   acked     acknowledged by the shared store in the current window
import { LIMIT_KINDS } from "./budget";
import { Window } from "./window";

export const RECORD_SIZE: i32 = 152;
const MAGIC: u32 = 0x3162_6c62;       // "blb1": budget ledger record, layout version 1
const AMOUNTS_AT: usize = 32;
const AMOUNTS_PER_LIMIT: i32 = 5;
const AMOUNTS_SIZE: usize = <usize>(LIMIT_KINDS * AMOUNTS_PER_LIMIT) << 3;

export const enum Amount { Spent = 0, Reserved = 1, Pending = 2, Transit = 3, Acked = 4 }

export class BudgetRecord {
  window: Window = Window.Minute;
  windowStart: i64 = 0;
  inflight: u32 = 0;
  // Budgets across gateways with a month window: the shared store's 365-day bucket the acked
  // amounts went to (see shared.ts, "months in the shared store"); -1: none yet.
  storeBucket: i64 = -1;
  readonly amounts: StaticArray<i64> = new StaticArray<i64>(LIMIT_KINDS * AMOUNTS_PER_LIMIT);

  @inline get(limit: i32, amount: Amount): i64 {
    return unchecked(this.amounts[limit * AMOUNTS_PER_LIMIT + <i32>amount]);
  }

  @inline set(limit: i32, amount: Amount, value: i64): void {
    unchecked(this.amounts[limit * AMOUNTS_PER_LIMIT + <i32>amount] = value < 0 ? 0 : value);
  }

  @inline add(limit: i32, amount: Amount, delta: i64): void {
    this.set(limit, amount, this.get(limit, amount) + delta);
  }

  // A fresh record for the window starting at `start`.
  reset(window: Window, start: i64): void {
    this.window = window;
    this.windowStart = start;
    this.inflight = 0;
    this.storeBucket = -1;
    for (let i = 0; i < this.amounts.length; i++) unchecked(this.amounts[i] = 0);
  }

  // Moves the record into the window starting at `start`: what was spent and acknowledged belongs
  // to the old window; reservations in flight stay (they are charged where they settle), and so do
  // charges not yet acknowledged by the shared store. Returns whether the window changed.
  // A clock that stepped back (the wall clock is the only one proxy-wasm offers) never moves a record
  // into an earlier window: that would forget the newer window's spend when the clock comes back.
  roll(window: Window, start: i64): bool {
    if (this.window == window && this.windowStart >= start) return false;
    this.window = window;
    this.windowStart = start;
    this.storeBucket = -1;
    for (let limit = 0; limit < LIMIT_KINDS; limit++) {
      this.set(limit, Amount.Spent, 0);
      this.set(limit, Amount.Acked, 0);
    }
    return true;
  }

  serialize(p: usize): void {
    store<u32>(p, MAGIC);
    store<u8>(p, <u8>this.window, 4);
    store<u8>(p, 0, 5);
    store<u16>(p, 0, 6);
    store<u32>(p, this.inflight, 8);
    store<u32>(p, 0, 12);
    store<i64>(p, this.windowStart, 16);
    store<i64>(p, this.storeBucket, 24);
    memory.copy(p + AMOUNTS_AT, changetype<usize>(this.amounts), AMOUNTS_SIZE);
  }

  // Reads a record written by serialize; false (and the record untouched) for anything else.
  parse(p: usize, size: usize): bool {
    if (size != <usize>RECORD_SIZE || load<u32>(p) != MAGIC) return false;
    const window = load<u8>(p, 4);
    if (window > <u8>Window.Month || load<i64>(p, 24) < -1) return false;
    // no amount is negative: the sign bits of all of them together
    let signs: i64 = 0;
    for (let at = p + AMOUNTS_AT, end = at + AMOUNTS_SIZE; at < end; at += 8) signs |= load<i64>(at);
    if (signs < 0) return false;
    this.window = <Window>window;
    this.inflight = load<u32>(p, 8);
    this.windowStart = load<i64>(p, 16);
    this.storeBucket = load<i64>(p, 24);
    memory.copy(changetype<usize>(this.amounts), p + AMOUNTS_AT, AMOUNTS_SIZE);
    return true;
  }
}
