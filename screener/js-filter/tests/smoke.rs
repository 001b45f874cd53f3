mod common;
use common::*;
use filter_core::{IndicatorCache, Limits};
use js_filter::Worker;

#[test]
fn smoke() {
    let mut w = Worker::new(Limits::default()).unwrap();
    let data = market(vec![
        ("1m", klines(250, MINUTE, 1, 0.0)),
        ("5m", klines(250, 5 * MINUTE, 2, 0.0)),
        ("15m", klines(250, 15 * MINUTE, 3, 0.0)),
    ]);
    for (name, code, tf) in seed::ALL {
        let id = w.compile(code).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut cache = IndicatorCache::new();
        let r = w.evaluate_many(&[(id, tf)], &data, &mut cache);
        println!("{name}: {r:?}");
    }
    for code in [
        "return 1 +",
        "}); (function(){",
        "\n\n  let x = ;",
        "throw new Error('boom')",
        "\nnull.x",
        "return 5",
        "while(true){}",
        "function f(){return f()+1}; return f()",
        "const a=[]; while(true) a.push(new Array(1e6))",
        "return 'x'.repeat(1e9).length > 0",
        "let s='x'; while(true) s = s + s; ",
        "await new Promise(()=>{})",
        "while(true) await null;",
        "return Date.now() > 0 && new Date().getTime() === Date.now()",
        "return typeof eval",
        "return Function('return 1')()",
        "return (function(){}).constructor('return 1')()",
    ] {
        match w.compile(code) {
            Err(e) => println!("{code:?} -> compile {e:?}"),
            Ok(id) => {
                let mut cache = IndicatorCache::new();
                let t = std::time::Instant::now();
                let r = w.evaluate_many(&[(id, "1m")], &data, &mut cache);
                println!("{code:?} -> {r:?} in {:?}", t.elapsed());
            }
        }
    }
}
