// A budget's window: the calendar minute, hour, day or month in UTC that holds a moment. Minutes,
// hours and days are fixed lengths from the epoch (UTC has no leap seconds in Unix time); months
// are not, so the civil date is computed once here (days from 1970-01-01 to year/month/day and
// back, in the proleptic Gregorian calendar: leap years every 4 years except centuries not
// divisible by 400). Every time is whole seconds since the epoch, i64.

export const enum Window { Minute = 0, Hour = 1, Day = 2, Month = 3 }

export const WINDOW_NAMES: string[] = ["minute", "hour", "day", "month"];

const SECONDS_PER_DAY: i64 = 86400;

// Floor division (the epoch is not a lower bound: a clock may read before 1970 in a test).
@inline function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of year/month(1..12)/day(1..31). Eras of 400 years (146097 days) make the
// leap rule a matter of integer division; March-based years put the leap day last.
export function daysFromCivil(year: i64, month: i32, day: i32): i64 {
  const y = month <= 2 ? year - 1 : year;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;                                          // [0, 399]
  const mp: i64 = <i64>((month + 9) % 12);                            // March = 0
  const doy = (153 * mp + 2) / 5 + <i64>day - 1;                      // [0, 365]
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                  // [0, 146096]
  return era * 146097 + doe - 719468;
}

// The civil year and month (1..12) of a day number, as year * 12 + (month - 1).
export function monthIndexOfDay(days: i64): i64 {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + month - 1;
}

// The first second of the month with this index (year * 12 + month - 1).
export function monthStart(monthIndex: i64): i64 {
  const year = floorDiv(monthIndex, 12);
  const month = <i32>(monthIndex - year * 12) + 1;
  return daysFromCivil(year, month, 1) * SECONDS_PER_DAY;
}

// The first second of the window holding `now`.
export function windowStart(kind: Window, now: i64): i64 {
  switch (kind) {
    case Window.Minute: return floorDiv(now, 60) * 60;
    case Window.Hour: return floorDiv(now, 3600) * 3600;
    case Window.Day: return floorDiv(now, SECONDS_PER_DAY) * SECONDS_PER_DAY;
    default: return monthStart(monthIndexOfDay(floorDiv(now, SECONDS_PER_DAY)));
  }
}

// The first second after the window holding `now` (when it resets).
export function windowEnd(kind: Window, now: i64): i64 {
  switch (kind) {
    case Window.Minute: return windowStart(kind, now) + 60;
    case Window.Hour: return windowStart(kind, now) + 3600;
    case Window.Day: return windowStart(kind, now) + SECONDS_PER_DAY;
    default: return monthStart(monthIndexOfDay(floorDiv(now, SECONDS_PER_DAY)) + 1);
  }
}

// Whole seconds from `now` until the window resets, at least 1 (what retry-after says).
export function secondsUntilReset(kind: Window, now: i64): i64 {
  const left = windowEnd(kind, now) - now;
  return left > 0 ? left : 1;
}

// "2026-12": the month holding `now`, as the shared store's descriptor names it.
export function monthLabel(now: i64): string {
  const index = monthIndexOfDay(floorDiv(now, SECONDS_PER_DAY));
  const year = floorDiv(index, 12);
  const month = <i32>(index - year * 12) + 1;
  return year.toString() + (month < 10 ? "-0" : "-") + month.toString();
}

// The window kind by its configuration name; -1 for anything else.
export function windowByName(name: string): i32 {
  for (let i = 0; i < WINDOW_NAMES.length; i++) if (WINDOW_NAMES[i] == name) return i;
  return -1;
}
