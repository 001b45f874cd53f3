mod common;
use common::*;

#[test]
fn smoke() {
    check("x := 1\ny := 2.5\nreturn float64(x)+y == 3.5");
    check(r#"klines := data.Klines["5m"]
if len(klines) < 20 { return false }
rsi := indicators.GetLatestRSI(klines, 14)
if rsi == nil { return false }
return *rsi > 0 && *rsi < 100"#);
}
