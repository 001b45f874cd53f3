//! One program cannot change what another sees: globals, intrinsics, the shared klines/timeframes/ticker and
//! shared indicator results.

mod common;

use common::*;
use filter_core::IndicatorCache;

/// Runs `attacker` then `victim` in one evaluate_many (sharing the converted data), twice, and returns the
/// victim's verdicts.
fn after(attacker: &str, victim: &str) -> Vec<Result<bool, filter_core::EvalError>> {
    let d = market(vec![
        ("1m", klines(250, MINUTE, 1, 0.0)),
        ("5m", klines(250, 5 * MINUTE, 2, 0.0)),
    ]);
    let mut w = worker();
    let a = w.compile(attacker).unwrap();
    let v = w.compile(victim).unwrap();
    let mut verdicts = Vec::new();
    for _ in 0..2 {
        let out = w.evaluate_many(&[(a, "1m"), (v, "1m")], &d, &mut IndicatorCache::new());
        verdicts.push(out[1].clone());
    }
    verdicts
}

fn unaffected(attacker: &str, victim: &str) {
    assert_eq!(
        after(attacker, victim),
        vec![Ok(true), Ok(true)],
        "attacker: {attacker}"
    );
}

#[test]
fn intrinsics_are_per_program() {
    let victim = "return [1, 2].map(x => x * 2)[1] === 4 && JSON.stringify({a: 1}) === '{\"a\":1}' \
                  && Math.max(1, 2) === 2 && parseFloat('1.5') === 1.5 && ({}).polluted === undefined;";
    unaffected("Array.prototype.map = () => [0, 0]; return true;", victim);
    unaffected("JSON.stringify = () => 'x'; Math.max = () => -1; globalThis.parseFloat = () => 0; return true;", victim);
    unaffected("Object.prototype.polluted = 1; return true;", victim);
    unaffected(
        "Object.defineProperty(Object.prototype, 'polluted', { get() { throw 1; } }); return true;",
        victim,
    );
}

#[test]
fn globals_are_per_program() {
    unaffected(
        "globalThis.shared = 42; leaked = 1; return true;",
        "return typeof shared === 'undefined' && typeof leaked === 'undefined';",
    );
    unaffected(
        "globalThis.indicators = null; globalThis.klines = []; return true;",
        "return klines.length === 250 && typeof indicators.rsi === 'function';",
    );
}

#[test]
fn shared_market_data_is_frozen() {
    let attacks = [
        "klines.push(klines[0]); return true;",
        "klines[249] = ['x']; return true;",
        "klines.length = 0; return true;",
        "klines[249][4] = '0'; return true;",
        "klines.reverse(); return true;",
        "timeframes['1m'] = []; delete timeframes['5m']; return true;",
        "ticker.c = '0'; return true;",
        "Object.getPrototypeOf(klines).map = () => []; return true;",
        "Object.getPrototypeOf(klines).constructor.prototype.slice = () => []; return true;",
        "Object.getPrototypeOf(klines[0]).at = () => 1; return true;",
    ];
    let victim = "return klines.length === 250 && klines[249][4] !== '0' && klines[0][0] < klines[249][0] \
                  && timeframes['1m'] === klines && timeframes['5m'].length === 250 && ticker.c !== '0' \
                  && klines.map(k => 1).length === 250 && klines.slice(-2).length === 2 && klines[0].at(0) === klines[0][0];";
    for attack in attacks {
        // In sloppy mode the writes fail silently; in strict mode they throw. Either way nothing changes.
        unaffected(attack, victim);
        unaffected(
            &format!("'use strict'; try {{ {attack} }} catch (e) {{ return true; }}"),
            victim,
        );
    }
}

#[test]
fn shared_indicator_results_cannot_be_altered() {
    let attacker = "const m = await indicators.macd(klines); m.histogram[249] = 1e9; m.histogram.push(1); \
                    const r = await indicators.rsi(klines, 14); r.value = -1; r.values[249] = -1; return true;";
    let victim = "const m = await indicators.macd(klines); const r = await indicators.rsi(klines, 14); \
                  return m.histogram.length === 250 && m.histogram[249] !== 1e9 && r.value >= 0 && r.values[249] === r.value;";
    unaffected(attacker, victim);
}

#[test]
fn a_series_first_converted_by_a_tampering_program_is_still_pristine() {
    // The attacker is the first to touch the 5m series (converted lazily, on that access).
    let attacker = "Array.prototype.map = () => []; Object.freeze = (x) => x; const k = timeframes['5m']; return k.length > 0;";
    let victim =
        "const k = timeframes['5m']; return Object.isFrozen(k) && k.map(r => 1).length === 250 \
                  && Object.getPrototypeOf(k) !== Array.prototype;";
    unaffected(attacker, victim);
}
