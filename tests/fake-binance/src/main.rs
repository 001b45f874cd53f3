//! `fake-binance --fixture FILE [--port P] [--cursor N]`: serves the fixture until killed.
//! Control: POST /control/advance?n=1[&silent=true], POST /control/drop, POST /control/rate_limit?n=1,
//! GET /control/stats.

use fake_binance::{FakeBinance, Fixture, Options};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let Some(path) = arg("--fixture") else {
        eprintln!("usage: fake-binance --fixture FILE [--port P] [--cursor N]");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("fake-binance: reading {path}: {e}");
        std::process::exit(2)
    });
    let fixture = Fixture::from_jsonl(&text).unwrap_or_else(|e| {
        eprintln!("fake-binance: {e}");
        std::process::exit(2)
    });
    let options = Options {
        port: arg("--port").and_then(|p| p.parse().ok()).unwrap_or(0),
        cursor: arg("--cursor")
            .and_then(|c| c.parse().ok())
            .unwrap_or(fixture.len() / 2),
        ..Options::default()
    };
    let fake = FakeBinance::start(fixture, options);
    println!("fake-binance listening on 127.0.0.1:{}", fake.port());
    loop {
        std::thread::park();
    }
}
