// Evaluated once in the worker's data realm, where every shared value lives (klines rows, timeframes,
// ticker, indicator results). Its intrinsics are frozen so no program can change how shared values behave.
(function () {
  "use strict";
  const freeze = Object.freeze;
  const parse = JSON.parse;
  const setProto = Object.setPrototypeOf;
  const ArrayProto = Array.prototype;

  // Freeze everything reachable from the global object: prototypes, constructors, accessors.
  const seen = new Set();
  const harden = (value) => {
    if ((typeof value !== "object" && typeof value !== "function") || value === null || seen.has(value)) return;
    seen.add(value);
    freeze(value);
    harden(Object.getPrototypeOf(value));
    for (const key of Reflect.ownKeys(value)) {
      const d = Object.getOwnPropertyDescriptor(value, key);
      if ("value" in d) harden(d.value);
      harden(d.get);
      harden(d.set);
    }
  };

  // Indicator results: plain data, plus valueOf so `atr * 2` works as well as `atr.value`.
  const scalarProto = freeze({ valueOf() { return this.value; } });

  // Results of cached indicators build their series arrays on first read: most filters only read `.value`.
  // `materialize(handle, field)` is the worker's native (set once by `lazy`); the array it returns is frozen
  // and shared by every program of the close, and is then kept on the result object as a plain property.
  let materialize = null;
  const H = Symbol("series");
  const keep = (o, name, v) => {
    Object.defineProperty(o, name, { value: v, writable: true, enumerable: true, configurable: true });
    return v;
  };
  const lineLazy = freeze({
    valueOf() { return this.value; },
    get values() { return keep(this, "values", materialize(this[H], 0)); },
  });
  const macdLazy = freeze({
    valueOf() { return this.value; },
    get macd() { return keep(this, "macd", materialize(this[H], 0)); },
    get signal() { return keep(this, "signal", materialize(this[H], 1)); },
    get histogram() { return keep(this, "histogram", materialize(this[H], 2)); },
  });
  const bandsLazy = freeze({
    valueOf() { return this.value; },
    get values() {
      const h = this[H];
      return keep(this, "values", freeze({
        upper: materialize(h, 0), middle: materialize(h, 1), lower: materialize(h, 2),
      }));
    },
  });

  const api = {
    // A series of raw Binance kline rows given as JSON text: each row and the array are frozen.
    series(text) {
      const rows = parse(text);
      for (let i = 0; i < rows.length; i++) freeze(rows[i]);
      return freeze(rows);
    },
    // An array built by Rust in a program's realm becomes a shared, frozen data-realm array.
    seal(a) {
      setProto(a, ArrayProto);
      return freeze(a);
    },
    record(text) {
      return freeze(parse(text));
    },
    freeze,
    line(value, previous, values) {
      const r = Object.create(scalarProto);
      r.value = value;
      r.previous = previous;
      r.increasing = value !== null && previous !== null && value > previous;
      r.values = values;
      return r;
    },
    macd(macd, signal, histogram) {
      const n = macd.length;
      const r = Object.create(scalarProto);
      r.value = n ? macd[n - 1] : null;
      r.macd = macd;
      r.signal = signal;
      r.histogram = histogram;
      r.signalValue = n ? signal[n - 1] : null;
      r.histogramValue = n ? histogram[n - 1] : null;
      return r;
    },
    // `timeframes`: one enumerable getter per interval, converting that series on first access.
    timeframes(names, load) {
      const o = {};
      names.forEach((name, i) => Object.defineProperty(o, name, { get: () => load(i), enumerable: true }));
      return freeze(o);
    },
    bands(upper, middle, lower, values) {
      return { upper, middle, lower, value: middle, values };
    },
    lazy(fn) {
      if (materialize === null) materialize = fn;
    },
    lineLazy(value, previous, h) {
      const r = Object.create(lineLazy);
      r[H] = h;
      r.value = value;
      r.previous = previous;
      r.increasing = value !== null && previous !== null && value > previous;
      return r;
    },
    macdLazy(value, signalValue, histogramValue, h) {
      const r = Object.create(macdLazy);
      r[H] = h;
      r.value = value;
      r.signalValue = signalValue;
      r.histogramValue = histogramValue;
      return r;
    },
    bandsLazy(upper, middle, lower, h) {
      const r = Object.create(bandsLazy);
      r[H] = h;
      r.upper = upper;
      r.middle = middle;
      r.lower = lower;
      r.value = middle;
      return r;
    },
  };
  harden(globalThis);
  return freeze(api);
})()
