// Evaluated once in each program's own realm before its code is compiled: removes what a filter must not
// reach (code generation, the clock, randomness) and defines the platform's `indicators` and `helpers`.
// Returns `run`, through which Rust calls the compiled filter.
(function (native) {
  "use strict";
  const g = globalThis;

  // No code generation from strings: the filter was compiled once, up front.
  delete g.eval;
  const blocked = function Function() {
    throw new EvalError("code generation from strings is disabled in filters");
  };
  blocked.prototype = Function.prototype;
  for (const f of [function () {}, async function () {}, function* () {}, async function* () {}]) {
    Object.defineProperty(Object.getPrototypeOf(f), "constructor", { value: blocked });
  }
  g.Function = blocked;

  // The clock is the close being evaluated (data.timestamp_ms).
  const RealDate = Date;
  const now = native.now;
  const FrozenDate = function Date(...args) {
    if (!new.target) return new RealDate(now()).toString();
    return args.length === 0 ? new RealDate(now()) : new RealDate(...args);
  };
  FrozenDate.prototype = RealDate.prototype;
  FrozenDate.now = () => now();
  FrozenDate.UTC = RealDate.UTC;
  FrozenDate.parse = RealDate.parse;
  Object.defineProperty(RealDate.prototype, "constructor", { value: FrozenDate });
  g.Date = FrozenDate;

  // Randomness is a fixed xorshift sequence, restarted for every evaluation.
  const SEED = 0x2545f491;
  let state = SEED;
  Math.random = function random() {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };

  // The platform's executors hand filters a no-op console.
  const noop = () => {};
  g.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop };

  const indicators = Object.freeze({
    rsi: native.rsi,
    sma: native.sma,
    ema: native.ema,
    macd: native.macd,
    bollingerBands: native.bollingerBands,
    atr: native.atr,
    convertTimeframe: native.convertTimeframe,
  });

  // The subset of the platform's `screenerHelpers.ts` that maps onto the same indicator code.
  const lastValid = (a) => {
    for (let i = a.length - 1; i >= 0; i--) if (a[i] !== null) return a[i];
    return null;
  };
  const num = (x) => parseFloat(x);
  const helpers = Object.freeze({
    calculateMA: (k, p) => (!k || p <= 0 || k.length < p ? null : native.sma(k, p).value),
    calculateMASeries: (k, p) => Array.from(native.sma(k, p).values),
    calculateSMA: (v, p) => (!v || p <= 0 || v.length < p ? 0 : native.sma(v, p).value),
    calculateEMASeries: (k, p) => Array.from(native.ema(k, p).values),
    getLatestEMA: (k, p) => lastValid(native.ema(k, p).values),
    calculateRSI: (k, p = 14) => (!k || p <= 0 || k.length < p + 1 ? null : Array.from(native.rsi(k, p).values)),
    getLatestRSI: (k, p = 14) => (!k || p <= 0 || k.length < p + 1 ? null : lastValid(native.rsi(k, p).values)),
    calculateMACDValues: (k, s = 12, l = 26, sig = 9) => {
      const m = native.macd(k, s, l, sig);
      return { macdLine: Array.from(m.macd), signalLine: Array.from(m.signal), histogram: Array.from(m.histogram) };
    },
    getLatestMACD: (k, s = 12, l = 26, sig = 9) => {
      const m = native.macd(k, s, l, sig);
      return { macd: lastValid(m.macd), signal: lastValid(m.signal), histogram: lastValid(m.histogram) };
    },
    getLatestBollingerBands: (k, p = 20, d = 2) => {
      const b = native.bollingerBands(k, p, d);
      return { upper: b.upper, middle: b.middle, lower: b.lower };
    },
    calculateAvgVolume: (k, p) => {
      if (!k || p <= 0 || k.length < p) return null;
      let sum = 0;
      for (const row of k.slice(-p)) sum += num(row[5]);
      return sum / p;
    },
    getHighestHigh: (k, p) => (!k || p <= 0 || k.length < p ? null : Math.max(...k.slice(-p).map((r) => num(r[2])))),
    getLowestLow: (k, p) => (!k || p <= 0 || k.length < p ? null : Math.min(...k.slice(-p).map((r) => num(r[3])))),
  });

  return function run(filter, ticker, timeframes, klines) {
    state = SEED;
    return filter(ticker, timeframes, helpers, [], klines, indicators);
  };
})
