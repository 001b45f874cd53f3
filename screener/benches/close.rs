//! One candle close for 100 traders × 300 symbols: latency from the close messages to committed signal rows
//! (real PostgreSQL), CPU time of this process per close, and peak RSS.
//!
//! `cargo bench -p screener --bench close` (CLOSES=50 by default; RSI_BASE=0 makes no trader match, which
//! isolates parse + indicator + evaluation cost).

#[path = "../tests/common/mod.rs"]
mod common;

use screener::candle::{Candle, Interval};
use screener::engine::{Engine, SignalRow};
use screener::market::gap::Sequencer;
use screener::market::kline::{parse_ws, WsEvent};
use screener::metrics::Metrics;
use screener::store::{Scope, SignalOrigin, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SYMBOLS: usize = 300;
const TRADERS: usize = 100;
const WARMUP_BARS: usize = 300;
const T0: i64 = 1_704_067_200_000;

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// 4 conditions per trader, parameters varied so indicator instances are shared by some traders, not all.
/// `rsi_base` sets how often traders match (45: ~12 % of trader×symbol pairs; 0: never).
fn filter(i: usize, rsi_base: usize) -> serde_json::Value {
    let (fast, slow) = [(9, 21), (12, 26), (5, 20), (10, 50)][i % 4];
    json!({"version": 1, "timeframe": "1m", "when": {"all": [
        {"left": {"ind": "rsi", "period": 14}, "op": "lt", "right": {"const": if rsi_base == 0 { 0 } else { rsi_base + (i % 20) }}},
        {"any": [
            {"left": {"ind": "ema", "period": fast}, "op": "crosses_above", "right": {"ind": "ema", "period": slow}},
            {"left": {"ind": "close"}, "op": "gt", "right": {"ind": "vwap"}}
        ]},
        {"left": {"ind": "volume"}, "op": "gt", "right": {"ind": "volume_sma", "period": 20, "mul": 0.8 + (i % 5) as f64 * 0.1}}
    ]}})
}

struct Walk(u64);
impl Walk {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

fn candle(bar: usize, prev: f64, w: &mut Walk) -> Candle {
    let close = (prev * (1.0 + 0.01 * w.next())).max(0.01);
    let t = T0 + bar as i64 * 60_000;
    Candle {
        open_time: t,
        close_time: t + 59_999,
        open: prev,
        high: prev.max(close) * 1.001,
        low: prev.min(close) * 0.999,
        close,
        volume: 100.0 + 80.0 * w.next(),
        quote_volume: 0.0,
    }
}

fn message(symbol: &str, c: &Candle) -> String {
    fake_binance::ws_event(
        symbol,
        "1m",
        &fake_binance::Kline {
            open_time: c.open_time,
            close_time: c.close_time,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            quote_volume: 0.0,
        },
        true,
    )
}

fn main() {
    let env_num = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let closes = env_num("CLOSES", 50);
    let rsi_base = env_num("RSI_BASE", 45);
    let db_url = common::migrated_postgres();
    let mut db = common::pg(&db_url);
    for i in 0..TRADERS {
        common::insert_trader(&mut db, None, true, true, &filter(i, rsi_base));
    }
    let config = screener::config::Config::from_map(
        &[("DATABASE_URL".to_string(), db_url)].into_iter().collect(),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Store::open(&config).unwrap();
        let set = screener::traders::compile_rows(store.load_traders(Scope::BuiltIn).await.unwrap());
        assert_eq!(set.valid.len(), TRADERS, "{:?}", set.invalid);
        let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("SYM{i:03}USDT")).collect();
        let mut engine = Engine::new(serde_json::Map::new());
        engine.configure(symbols.clone(), set.valid);
        let tf = Interval::parse("1m").unwrap();
        let mut walks: Vec<Walk> = (0..SYMBOLS).map(|i| Walk(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1))).collect();
        let mut last: Vec<f64> = vec![100.0; SYMBOLS];
        let mut sink = Vec::new();
        for bar in 0..WARMUP_BARS {
            for (s, sym) in symbols.iter().enumerate() {
                let c = candle(bar, last[s], &mut walks[s]);
                last[s] = c.close;
                engine.apply(sym, tf, &c, false, &mut sink);
            }
        }
        let sequencer = Sequencer::new(None, Arc::new(Metrics::default()));
        let origin = SignalOrigin { source: "cloud".into(), fleet_app_id: None };
        let (mut latency, mut eval, mut cpu, mut signals) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
        for k in 0..closes {
            let bar = WARMUP_BARS + k;
            let messages: Vec<String> = symbols
                .iter()
                .enumerate()
                .map(|(s, sym)| {
                    let c = candle(bar, last[s], &mut walks[s]);
                    last[s] = c.close;
                    message(sym, &c)
                })
                .collect();
            let (start, cpu_start) = (Instant::now(), cpu_time());
            let mut out: Vec<SignalRow> = Vec::new();
            for m in &messages {
                let Ok(WsEvent::Kline { symbol, interval, candle, closed }) = parse_ws(m) else { panic!("parse") };
                sequencer.on_kline(&mut engine, &symbol, interval, &candle, closed, &mut out).await.unwrap();
            }
            let evaluated = start.elapsed();
            for batch in out.chunks(1000) {
                let n = store.insert_signals(batch, &origin).await.unwrap();
                assert_eq!(n as usize, batch.len());
            }
            latency.push(start.elapsed());
            eval.push(evaluated);
            cpu.push(cpu_time() - cpu_start);
            signals += out.len();
        }
        let pct = |v: &mut Vec<Duration>, p: f64| {
            v.sort();
            v[((v.len() as f64 - 1.0) * p).round() as usize]
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mean_cpu = cpu.iter().sum::<Duration>() / cpu.len() as u32;
        println!("close bench: {TRADERS} traders x {SYMBOLS} symbols, {closes} closes, {:.0} signals/close", signals as f64 / closes as f64);
        println!("  close messages -> committed signals: p50 {:.2} ms  p99 {:.2} ms", ms(pct(&mut latency, 0.5)), ms(pct(&mut latency, 0.99)));
        println!("  parse + indicators + evaluation:      p50 {:.3} ms  p99 {:.3} ms", ms(pct(&mut eval, 0.5)), ms(pct(&mut eval, 0.99)));
        println!("  CPU time of the screener process per close: mean {:.2} ms (p99 {:.2} ms)", ms(mean_cpu), ms(pct(&mut cpu, 0.99)));
        println!("  peak RSS: {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    });
}
