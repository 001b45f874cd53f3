//! Fuzz-ish: every prefix of realistic programs, single-byte mutations of them and random byte strings
//! compile or fail cleanly, and whatever compiles evaluates without panicking.
mod common;
#[path = "fixtures/platform_examples.rs"]
mod fixtures;
use common::*;
use filter_core::{IndicatorCache, Limits};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn try_all(code: &str, data: &filter_core::MarketData) {
    let limits = Limits {
        fuel: 200_000,
        memory_bytes: 1 << 20,
        call_depth: 50,
    };
    if let Ok(p) = go_filter::compile(code) {
        let _ = p.evaluate(data, &limits, &mut IndicatorCache::new());
        let _ = p.timeframes();
    }
}

#[test]
fn prefixes_of_realistic_programs() {
    let data = default_market();
    for (i, (_, code)) in fixtures::EXAMPLES.iter().enumerate() {
        // Every byte boundary for a few programs, every 3rd for the rest (keeps the test fast).
        let step = if i % 5 == 0 { 1 } else { 3 };
        let mut cut = 0;
        while cut <= code.len() {
            if code.is_char_boundary(cut) {
                try_all(&code[..cut], &data);
            }
            cut += step;
        }
    }
}

#[test]
fn mutations_of_realistic_programs() {
    let data = default_market();
    let mut rng = Lcg(42);
    let alphabet = b"(){}[];:=+-*/%<>!&|^.,\"'`0123456789xyzkiv_ \n\tabcdefghijklmnopqrstuvwxyz";
    for (_, code) in fixtures::EXAMPLES {
        for _ in 0..40 {
            let mut bytes = code.as_bytes().to_vec();
            let n = 1 + rng.next() as usize % 3;
            for _ in 0..n {
                let at = rng.next() as usize % bytes.len().max(1);
                match rng.next() % 3 {
                    0 if !bytes.is_empty() => {
                        bytes.remove(at.min(bytes.len() - 1));
                    }
                    1 => bytes.insert(
                        at.min(bytes.len()),
                        alphabet[rng.next() as usize % alphabet.len()],
                    ),
                    _ if !bytes.is_empty() => {
                        let i = at.min(bytes.len() - 1);
                        bytes[i] = alphabet[rng.next() as usize % alphabet.len()];
                    }
                    _ => {}
                }
            }
            try_all(&String::from_utf8_lossy(&bytes), &data);
        }
    }
}

#[test]
fn random_bytes() {
    let data = default_market();
    let mut rng = Lcg(7);
    for len in [1usize, 2, 5, 10, 50, 200, 1000] {
        for _ in 0..100 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            try_all(&String::from_utf8_lossy(&bytes), &data);
        }
    }
}

#[test]
fn edge_values_do_not_panic() {
    let cases = [
        "x := math.MinInt64\ny := -1\nreturn x/y == x && x%y == 0",
        "x := math.MaxInt64\nreturn x*x == 1",
        "var b byte = 255\nb++\nreturn b == 0",
        "f := math.Inf(1)\nreturn int(f) == math.MinInt64",
        "n := math.NaN()\nreturn int(n) != 0 || true",
        "s := \"héllo\"\nt := s[1:2]\nreturn len(t) > 0",
        "x := 1\ns := 70\nreturn x<<s == 0 && x>>s == 0",
        "xs := []float64{}\nreturn len(xs[0:0]) == 0",
        "k := data.Klines[\"5m\"]\nr := indicators.CalculateRSI(k, math.MaxInt64)\nm := indicators.CalculateMA(k, math.MinInt64)\nreturn r == nil && m == nil",
        "k := data.Klines[\"5m\"]\nreturn indicators.GetLatestMACD(k, math.MaxInt64, 2, 3) == nil || true",
        "k := data.Klines[\"5m\"]\ns := indicators.CalculateMASeries(k, math.MaxInt64)\nreturn len(s) == 250",
        "xs := make([]float64, 3, 3)\nys := xs[:3:3]\nreturn cap(ys) == 3",
    ];
    for c in cases {
        let r = eval(c);
        assert!(matches!(r, Ok(true)), "{c}: {r:?}");
    }
    let shift = "x := 1\ns := -1\nreturn x<<s == 0";
    assert!(matches!(
        eval(shift),
        Err(filter_core::EvalError::Runtime { .. })
    ));
}

/// Longer run of the mutation fuzzer: `cargo test -p go-filter --release --test no_panics -- --ignored`.
#[test]
#[ignore]
fn long_mutation_run() {
    let data = default_market();
    let mut rng = Lcg(1234);
    let alphabet = b"(){}[];:=+-*/%<>!&|^.,\"'`0123456789xyzkiv_ \n\tabcdefghijklmnopqrstuvwxyz";
    for round in 0..3000 {
        for (_, code) in fixtures::EXAMPLES {
            let mut bytes = code.as_bytes().to_vec();
            for _ in 0..(1 + round % 5) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.next() as usize % bytes.len();
                match rng.next() % 4 {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[rng.next() as usize % alphabet.len()]),
                    2 => {
                        // Duplicate a chunk (grows loops, nesting and expressions).
                        let end = (at + 1 + rng.next() as usize % 40).min(bytes.len());
                        let chunk = bytes[at..end].to_vec();
                        bytes.splice(at..at, chunk);
                    }
                    _ => bytes[at] = alphabet[rng.next() as usize % alphabet.len()],
                }
            }
            try_all(&String::from_utf8_lossy(&bytes), &data);
        }
    }
}
