//! One candle close for 100 traders × 300 symbols: latency from the close messages to committed signal rows
//! (real PostgreSQL), CPU time of this process per close, and peak RSS.
//!
//! `cargo bench -p screener --bench close` (CLOSES=50 by default; RSI_BASE=0 makes no trader match, which
//! isolates parse + indicator + evaluation cost).
//!
//! A second phase runs 100 code traders (50 Go, 50 JavaScript, in the platform generator's style) on the same
//! 300 symbols through the real code runner (one worker per core): close → every code trader evaluated, and
//! the cost of one evaluation, printed next to the declarative figures.

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
        ..Default::default()
    }
}

/// Feeds WARMUP_BARS 1m candles per symbol (no signals); returns each symbol's random walk and last close.
fn warm_up(engine: &mut Engine, symbols: &[String]) -> (Vec<Walk>, Vec<f64>) {
    let tf = Interval::parse("1m").unwrap();
    let mut walks: Vec<Walk> = (0..symbols.len())
        .map(|i| Walk(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1)))
        .collect();
    let mut last: Vec<f64> = vec![100.0; symbols.len()];
    let mut sink = Vec::new();
    for bar in 0..WARMUP_BARS {
        for (s, sym) in symbols.iter().enumerate() {
            let c = candle(bar, last[s], &mut walks[s]);
            last[s] = c.close;
            engine.apply(sym, tf, &c, false, &mut sink);
        }
    }
    (walks, last)
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
            ..Default::default()
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
        let set = screener::traders::compile_rows(store.load_traders(Scope::BuiltIn).await.unwrap(), &mut screener::code::CodeCache::default());
        assert_eq!(set.valid.len(), TRADERS, "{:?}", set.invalid);
        let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("SYM{i:03}USDT")).collect();
        let mut engine = Engine::new(serde_json::Map::new());
        engine.configure(symbols.clone(), set.valid);
        let (mut walks, mut last) = warm_up(&mut engine, &symbols);
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
    // Outside the runtime: the code phase blocks on its workers' answers.
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("SYM{i:03}USDT")).collect();
    code_phase(closes, &symbols);
    hostile_phase();
}

/// How long one hostile evaluation runs before its sandbox limit stops it (the delay it can cause the traders
/// behind it once; it is then disabled).
fn hostile_phase() {
    use filter_core::{IndicatorCache, Limits, MarketData};
    let limits = Limits::default();
    let mut walk = Walk(7);
    let mut prev = 100.0;
    let klines: Vec<filter_core::Kline> = (0..WARMUP_BARS)
        .map(|bar| {
            let c = candle(bar, prev, &mut walk);
            prev = c.close;
            screener::code::snapshot::kline(&c)
        })
        .collect();
    let data = MarketData {
        symbol: "SYM000USDT".into(),
        klines: vec![("1m".into(), klines.into())],
        ..Default::default()
    };
    let go = [
        ("Go endless loop", "n := 0\nfor {\n    n++\n}\nreturn n > 0"),
        ("Go string doubling", "s := \"x\"\nfor i := 0; i < 64; i++ {\n    s = s + s\n}\nreturn len(s) > 0"),
        ("Go recursion", "var f func(n int) int\nf = func(n int) int {\n    return f(n+1) + 1\n}\nreturn f(0) > 0"),
    ];
    println!(
        "hostile filters (default limits: {} work units, {} MiB, depth {}):",
        limits.fuel,
        limits.memory_bytes >> 20,
        limits.call_depth
    );
    for (name, code) in go {
        let program = go_filter::compile(code).unwrap();
        let start = Instant::now();
        let err = program
            .evaluate(&data, &limits, &mut IndicatorCache::new())
            .unwrap_err();
        println!(
            "  {name}: stopped after {:.1} ms ({err})",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let js = [
        ("JavaScript endless loop", "while (true) {}\nreturn true;"),
        (
            "JavaScript allocation bomb",
            "const a = [];\nwhile (true) { a.push(new Array(1000000).fill(1)); }\nreturn true;",
        ),
        (
            "JavaScript recursion",
            "function f(n) { return f(n + 1) + 1; }\nreturn f(0) > 0;",
        ),
    ];
    let mut worker = js_filter::Worker::new(limits).unwrap();
    for (name, code) in js {
        let id = worker.compile(code).unwrap();
        let start = Instant::now();
        let result = worker.evaluate_many(&[(id, "1m")], &data, &mut IndicatorCache::new());
        let err = result[0].as_ref().unwrap_err();
        println!(
            "  {name}: stopped after {:.1} ms ({err})",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// Go filters as the platform's generator writes them; `i` varies the parameters.
fn go_code(i: usize) -> String {
    let p = 10 + i % 10;
    match i % 5 {
        0 => format!("klines := data.Klines[\"1m\"]\nif len(klines) < 30 {{\n    return false\n}}\nrsi := indicators.GetLatestRSI(klines, 14)\navgVol := indicators.CalculateAvgVolume(klines, 20)\nif rsi == nil || avgVol == nil {{\n    return false\n}}\ncurrentVol := klines[len(klines)-1].Volume\nreturn *rsi < {}.0 && currentVol > *avgVol", 40 + i % 20),
        1 => format!("klines := data.Klines[\"1m\"]\nif len(klines) < 60 {{\n    return false\n}}\nema := indicators.CalculateEMA(klines, {p})\nma := indicators.CalculateMA(klines, 50)\nif ema == nil || ma == nil {{\n    return false\n}}\nlastClose := klines[len(klines)-1].Close\nreturn lastClose > *ema && *ema > *ma"),
        2 => "klines := data.Klines[\"1m\"]\nif len(klines) < 35 {\n    return false\n}\nmacd := indicators.GetLatestMACD(klines, 12, 26, 9)\nbb := indicators.GetLatestBollingerBands(klines, 20, 2.0)\nif macd == nil || bb == nil {\n    return false\n}\nlastClose := klines[len(klines)-1].Close\nreturn macd.Histogram > 0 && lastClose < bb.Middle".to_string(),
        3 => format!("klines := data.Klines[\"1m\"]\nif len(klines) < 20 {{\n    return false\n}}\nmomentum := 0.0\nfor i := len(klines) - {p}; i < len(klines); i++ {{\n    change := (klines[i].Close - klines[i].Open) / klines[i].Open\n    weight := klines[i].Volume / klines[i-1].Volume\n    momentum += change * weight\n}}\nreturn math.Abs(momentum) > 0.01"),
        _ => "klines := data.Klines[\"1m\"]\nif len(klines) < 3 {\n    return false\n}\ncandle1 := klines[len(klines)-3]\ncandle2 := klines[len(klines)-2]\ncandle3 := klines[len(klines)-1]\nreturn candle1.Close > candle1.Open && candle2.Close > candle2.Open && candle3.Close > candle3.Open".to_string(),
    }
}

/// Legacy JavaScript filters in the style of the platform's seed traders.
fn js_code(i: usize) -> String {
    match i % 4 {
        0 => format!("const rsi = await indicators.rsi(klines, 14);\nreturn rsi.value < {} && rsi.increasing;", 40 + i % 20),
        1 => "const volumeMA = await indicators.sma(klines.map(k => parseFloat(k[5])), 20);\nconst currentVolume = parseFloat(klines[klines.length - 1][5]);\nreturn currentVolume > volumeMA.value * 1.5;".to_string(),
        2 => "const macd = await indicators.macd(klines);\nconst h = macd.histogram;\nreturn h[h.length - 1] > 0 && h[h.length - 2] <= 0;".to_string(),
        _ => "const bb = await indicators.bollingerBands(klines, 20, 2);\nconst price = parseFloat(klines[klines.length - 1][4]);\nreturn price < bb.lower || price > bb.upper;".to_string(),
    }
}

fn code_phase(closes: usize, symbols: &[String]) {
    use screener::code::{CodeCache, CodeRunner, CodeSet};
    use screener::store::TraderRow;
    // CODE_LANGUAGES=go|javascript runs all 100 traders in one language (default: half each).
    let only = std::env::var("CODE_LANGUAGES").unwrap_or_default();
    let rows: Vec<TraderRow> = (0..TRADERS)
        .map(|i| {
            let go = match only.as_str() {
                "go" => true,
                "javascript" => false,
                _ => i % 2 == 0,
            };
            let (language, code) = if go {
                ("go", go_code(i / 2))
            } else {
                ("javascript", js_code(i / 2))
            };
            TraderRow {
                id: uuid::Uuid::new_v4(),
                user_id: None,
                name: format!("code {i}"),
                filter: json!({"code": code, "requiredTimeframes": ["1m"]}),
                language: Some(language.into()),
            }
        })
        .collect();
    let set = screener::traders::compile_rows(rows, &mut CodeCache::default());
    assert!(set.invalid.is_empty(), "{:?}", set.invalid);
    let code = Arc::new(CodeSet::new(1, set.code, Default::default()));
    let mut engine = Engine::new(serde_json::Map::new());
    engine.configure_with_code(symbols.to_vec(), Vec::new(), code.clone());
    let tf = Interval::parse("1m").unwrap();
    let (mut walks, mut last) = warm_up(&mut engine, symbols);
    let mut sink = Vec::new();
    let metrics = Arc::new(Metrics::default());
    let (signals_tx, mut signals_rx) = tokio::sync::mpsc::unbounded_channel();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runner = CodeRunner::start(workers, signals_tx, metrics.clone(), Some(done_tx));
    let (mut latency, mut matches, mut evaluations, mut hits, mut misses) =
        (Vec::new(), 0u64, 0u64, 0u64, 0u64);
    let mut worker_nanos_before = 0;
    // One close more than measured: the first primes each worker's JavaScript engine (compilation).
    for k in 0..=closes {
        let bar = WARMUP_BARS + k;
        let start = Instant::now();
        for (s, sym) in symbols.iter().enumerate() {
            let c = candle(bar, last[s], &mut walks[s]);
            last[s] = c.close;
            engine.apply(sym, tf, &c, true, &mut sink);
            for job in engine.take_code_jobs() {
                runner.submit(job);
            }
        }
        for _ in 0..symbols.len() {
            let (_, outcome) = done_rx.blocking_recv().expect("a worker answers");
            if k > 0 {
                matches += outcome.matches;
                evaluations += outcome.evaluations;
                hits += outcome.cache_hits;
                misses += outcome.cache_misses;
            }
        }
        if k > 0 {
            latency.push(start.elapsed());
        } else {
            worker_nanos_before = Metrics::get(&metrics.code_eval_nanos_total);
        }
        while signals_rx.try_recv().is_ok() {}
    }
    assert_eq!(
        Metrics::get(&metrics.code_failures),
        0,
        "{:?}",
        code.failures().first().map(|f| &f.1)
    );
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let worker_nanos = Metrics::get(&metrics.code_eval_nanos_total) - worker_nanos_before;
    let per_eval_us = worker_nanos as f64 / 1e3 / evaluations.max(1) as f64;
    let mix = match only.as_str() {
        "go" | "javascript" => format!("all {only}"),
        _ => "50 Go, 50 JavaScript".into(),
    };
    println!("code traders: {TRADERS} ({mix}) x {} symbols, {closes} closes, {workers} workers, {:.0} matches/close", symbols.len(), matches as f64 / closes as f64);
    println!(
        "  close -> every code trader evaluated: p50 {:.2} ms  p99 {:.2} ms",
        ms(pct(&mut latency, 0.5)),
        ms(pct(&mut latency, 0.99))
    );
    println!("  per evaluation (worker time / evaluations): {per_eval_us:.2} us; indicator cache {hits} hits / {misses} computations");
}
