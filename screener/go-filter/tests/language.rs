//! Language features of the Go subset, each with an asserted result (programs return whether their own
//! expectations held).
mod common;
use common::*;

#[test]
fn variables_constants_and_zero_values() {
    check("var a int\nvar b float64\nvar s string\nvar ok bool\nvar p *float64\nvar xs []float64\nvar m map[string]int\nreturn a == 0 && b == 0 && s == \"\" && !ok && p == nil && xs == nil && m == nil && len(xs) == 0 && len(m) == 0");
    check("const n = 10\nconst f float64 = 2\nconst (\n a = 1\n b = \"x\"\n)\nvar x, y = 1, 2.5\nvar u, v float64 = 3, 4\nreturn n*f == 20 && a == 1 && b == \"x\" && x == 1 && y == 2.5 && u+v == 7");
    check("a, b := 1, 2\na, b = b, a\nc, a := 3, 5\nreturn a == 5 && b == 1 && c == 3");
    check("var maxRSI, minRSI float64 = 1.5, 0.5\nreturn maxRSI > minRSI");
}

#[test]
fn int_and_float_rules() {
    check("x := 7\ny := 2\nreturn x/y == 3 && x%y == 1 && -7/2 == -3 && -7%2 == -1");
    check("x := 0.0\nx += 1\nn := 3\nreturn x/float64(n) > 0.33 && int(x+1.9) == 2 && int(-x-1.9) == -2 && float64(n)/2 == 1.5");
    check("volSum := 38.0\navg := volSum / 19\nreturn avg == 2");
    check("f := 1.0\nz := 0.0\ninf := f / z\nreturn math.IsInf(inf, 1) && math.IsNaN(z/z)");
    // Go wraps int64 on overflow.
    check("x := math.MaxInt64\nx++\nreturn x == math.MinInt64");
    check("var b byte = 250\nb += 10\nreturn b == 4");
    check("x := 1 << 10\nreturn x == 1024 && x>>3 == 128 && 5&3 == 1 && 5|3 == 7 && 5^3 == 6");
    check("const big = 1 << 62\nreturn big/(1<<60) == 4");
}

#[test]
fn int_float_mismatch_is_a_compile_error() {
    let e = compile_err("x := 10\ny := 2.5\nreturn float64(x) * y > x * y");
    assert!(
        e.message.contains("mismatched types int and float64"),
        "{e}"
    );
    assert_eq!((e.line, e.column), (3, 27));
    let e = compile_err("x := \"a\"\nvar f float64 = x\nreturn f > 0");
    assert_eq!(
        e.message,
        "cannot use x (variable of type string) as float64 value in assignment"
    );
    assert_eq!((e.line, e.column), (2, 17));
    let e = compile_err("var n int = 2.5\nreturn n > 0");
    assert!(e.message.contains("truncated"), "{e}");
}

#[test]
fn control_flow() {
    check("s := 0\nfor i := 0; i < 10; i++ {\n if i%2 == 0 { continue }\n if i > 7 { break }\n s += i\n}\nreturn s == 1+3+5+7");
    check("i := 0\nfor i < 5 { i++ }\nn := 0\nfor {\n n++\n if n == 3 { break }\n}\nreturn i == 5 && n == 3");
    check("x := 5\nif y := x * 2; y > 8 {\n return y == 10\n} else if y > 4 {\n return false\n} else {\n return false\n}");
    check("count := 0\nouter:\nfor i := 0; i < 3; i++ {\n for j := 0; j < 3; j++ {\n  if j == 1 { continue outer }\n  if i == 2 { break outer }\n  count++\n }\n}\nreturn count == 2");
    check("grade := func(x int) string {\n switch {\n case x >= 90:\n  return \"A\"\n case x >= 80:\n  return \"B\"\n default:\n  return \"C\"\n }\n}\nreturn grade(95) == \"A\" && grade(85) == \"B\" && grade(10) == \"C\"");
    check("n := 0\nswitch x := 2; x {\ncase 1, 2:\n n = 12\n fallthrough\ncase 3:\n n += 100\ncase 4:\n n = -1\n}\nreturn n == 112");
    check("hits := 0\nfor i := 0; i < 5; i++ {\n switch i {\n case 2:\n  break\n default:\n  hits++\n }\n}\nreturn hits == 4");
    check("total := 0\nfor i := range 4 { total += i }\nreturn total == 6");
}

#[test]
fn ranges() {
    check("xs := []float64{1, 2, 3}\nsum := 0.0\nidx := 0\nfor i, v := range xs { sum += v; idx += i }\nfor range xs { idx++ }\nfor _, v := range xs { sum += v }\nreturn sum == 12 && idx == 6");
    check("m := map[string]float64{\"b\": 2, \"a\": 1, \"c\": 3}\nkeys := \"\"\nfor k, v := range m { keys += k; if v < 0 { return false } }\nreturn keys == \"abc\"");
    check("s := \"héllo\"\nn := 0\nlast := 0\nfor i, r := range s { n++; last = i; _ = r }\nreturn n == 5 && last == 5 && len(s) == 6");
    check("klines := data.Klines[\"5m\"]\nc := 0\nfor _, k := range klines { if k.Close > 0 { c++ } }\nreturn c == len(klines)");
    check("ks := data.Klines[\"5m\"]\nfor i, k := range ks {\n ks[i].Close = k.Close * 2\n}\nreturn ks[1].Close > 150");
    check("ks := data.Klines[\"5m\"]\nvar kept []types.Kline\nvar last types.Kline\nfor i, k := range ks {\n if i == 0 { last = k }\n if i < 3 { kept = append(kept, k) }\n}\nreturn last.OpenTime == ks[0].OpenTime && kept[2].OpenTime == ks[2].OpenTime && kept[0].OpenTime == ks[0].OpenTime");
    check("n := 0\nfor tf, ks := range data.Klines { if len(ks) > 0 && tf != \"\" { n++ } }\nreturn n == 6");
}

#[test]
fn strings() {
    check("s := \"ab\" + \"cd\"\nreturn len(s) == 4 && s[0] == 'a' && s[1:3] == \"bc\" && s < \"b\" && s != \"x\" && s[2:] == \"cd\" && s[:1] == \"a\"");
    check("sym := data.Symbol\nreturn sym == \"BTCUSDT\" && len(sym) == 7 && sym[len(sym)-4:] == \"USDT\"");
    check("return string(rune(65)) == \"A\"");
}

#[test]
fn pointers() {
    check("x := 1.5\np := &x\n*p = 2.5\nreturn x == 2.5 && *p == 2.5 && p != nil");
    check("var p *float64\nreturn p == nil");
    check("q := new(int)\n*q += 3\nreturn *q == 3");
    check("t := data.Ticker\nif t == nil { return false }\nreturn t.LastPrice == 101.5 && data.Ticker.PriceChangePercent == 2.5 && t.QuoteVolume > 0");
    check("t := &types.Kline{Close: 3}\nt.Close = 4\nreturn t.Close == 4");
}

#[test]
fn structs_and_klines() {
    check("k := types.Kline{Open: 1, Close: 2, Volume: 10, BuyVolume: 7}\nreturn k.Close > k.Open && k.SellVolume == 3 && k.VolumeDelta == 4");
    check("klines := data.Klines[\"5m\"]\nlast := klines[len(klines)-1]\nlast.Close = -1\nreturn klines[len(klines)-1].Close > 0 && last.Close == -1");
    check("type_ok := true\nps := make([]struct{ idx int; price float64 }, 0)\nps = append(ps, struct{ idx int; price float64 }{3, 1.5})\nps = append(ps, struct{ idx int; price float64 }{idx: 4, price: 2.5})\nreturn type_ok && len(ps) == 2 && ps[1].price == 2.5 && ps[0].idx == 3");
    check("a := struct{ x, y float64 }{1, 2}\nb := a\nb.x = 10\nreturn a.x == 1 && b.x == 10 && a != b");
    check("ks := []types.Kline{{Close: 1}, {Close: 2}}\nks[0].Close = 5\nreturn ks[0].Close == 5 && ks[1].Close == 2");
    check("ks := data.Klines[\"5m\"]\ni := 0\nt := ks[i].Trades\not := ks[i].OpenTime\nc := ks[i].Close\nreturn t == 100 && ot == 1700000000000 && c > 0 && t+1 == 101");
    check("k := data.Klines[\"5m\"][0]\nreturn k.Trades == 100 && k.OpenTime > 0 && k.CloseTime > k.OpenTime && k.QuoteVolume > 0");
    check("ts := data.Timestamp\nreturn ts.UnixMilli() == 1700000000000 && ts.Unix() == 1700000000 && ts.Hour() == 22 && ts.Weekday() == 2 && ts.Year() == 2023 && ts.Month() == 11 && ts.Day() == 14");
}

#[test]
fn slices() {
    check("xs := []float64{1, 2, 3}\nfor i, x := range xs {\n xs[i] = x * 2\n xs = append(xs, x)\n}\nreturn len(xs) == 6 && xs[0] == 2 && xs[1] == 4 && xs[3] == 1 && xs[5] == 3");
    check("m := map[string]int{\"a\": 1, \"b\": 2}\nn := 0\nfor k := range m {\n delete(m, \"b\")\n m[k+\"x\"] = 1\n n++\n}\nreturn n == 1 && len(m) == 2");
    check("xs := []float64{1, 2, 3, 4}\nys := xs[1:3]\nys[0] = 20\nreturn xs[1] == 20 && len(ys) == 2 && cap(ys) == 3");
    check("xs := make([]float64, 3)\nys := make([]float64, 0, 10)\nys = append(ys, 1, 2)\nzs := append(ys, xs...)\nreturn len(xs) == 3 && len(ys) == 2 && cap(ys) == 10 && len(zs) == 5 && zs[4] == 0");
    check("a := []int{1, 2, 3}\nb := make([]int, 2)\nn := copy(b, a)\nreturn n == 2 && b[1] == 2");
    check("var s []float64\nfor i := 0; i < 100; i++ { s = append(s, float64(i)) }\nreturn len(s) == 100 && s[99] == 99 && cap(s) >= 100");
    check("grid := [][]float64{{1, 2}, {3}}\ngrid[1] = append(grid[1], 4)\nreturn len(grid) == 2 && grid[1][1] == 4");
    check("xs := []string{\"a\", \"b\"}\nreturn xs[0]+xs[1] == \"ab\"");
}

#[test]
fn maps() {
    check("m := map[string]float64{}\nm[\"a\"] = 1\nm[\"a\"] += 2\nv, ok := m[\"a\"]\n_, missing := m[\"zz\"]\ndelete(m, \"a\")\nreturn v == 3 && ok && !missing && len(m) == 0 && m[\"a\"] == 0");
    check("counts := make(map[int]int)\nfor i := 0; i < 10; i++ { counts[i%3]++ }\nreturn counts[0] == 4 && counts[1] == 3 && len(counts) == 3");
    check("ks, ok := data.Klines[\"5m\"]\n_, ok2 := data.Klines[\"3m\"]\nreturn ok && !ok2 && len(ks) == 250");
}

#[test]
fn closures_and_recursion() {
    check("avg := func(xs []float64) float64 {\n s := 0.0\n for _, x := range xs { s += x }\n return s / float64(len(xs))\n}\nreturn avg([]float64{1, 2, 3}) == 2");
    check("var fib func(int) int\nfib = func(n int) int {\n if n < 2 { return n }\n return fib(n-1) + fib(n-2)\n}\nreturn fib(15) == 610");
    check("var fs []func() int\nfor i, j := 0, 10; i < 3; i, j = i+1, j-1 {\n fs = append(fs, func() int { return i + j })\n}\nreturn fs[0]() == 10 && fs[2]() == 10 && len(fs) == 3");
    // Go 1.22+: each iteration has its own loop variable.
    check("var fs []func() int\nfor i := 0; i < 3; i++ {\n fs = append(fs, func() int { return i })\n}\nvar gs []func() int\nfor _, v := range []int{7, 8} {\n gs = append(gs, func() int { return v })\n}\nreturn fs[0]() == 0 && fs[2]() == 2 && gs[0]() == 7 && gs[1]() == 8");
    check("counter := 0\ninc := func() { counter++ }\ninc()\ninc()\nreturn counter == 2");
    check("minmax := func(xs []float64) (float64, float64) {\n lo, hi := xs[0], xs[0]\n for _, x := range xs { lo = math.Min(lo, x); hi = math.Max(hi, x) }\n return lo, hi\n}\nlo, hi := minmax([]float64{3, 1, 4})\nreturn lo == 1 && hi == 4");
    check("mk := func(k float64) func(float64) float64 { return func(x float64) float64 { return x * k } }\ndouble := mk(2)\nreturn double(4) == 8");
    check("sma := func(k []types.Kline, n int) float64 {\n s := 0.0\n for i := len(k) - n; i < len(k); i++ { s += k[i].Close }\n return s / float64(n)\n}\nks := data.Klines[\"5m\"]\nm := indicators.CalculateMA(ks, 20)\nreturn m != nil && math.Abs(sma(ks, 20)-*m) < 1e-9");
}

#[test]
fn math_functions() {
    check("return math.Abs(-2) == 2 && math.Max(1, 2) == 2 && math.Min(1, 2) == 1 && math.Sqrt(16) == 4 && math.Pow(2, 10) == 1024 && math.Floor(1.5) == 1 && math.Ceil(1.2) == 2 && math.Round(2.5) == 3 && math.Round(-2.5) == -3 && math.Trunc(-1.7) == -1");
    check("return math.Log(math.E) == 1 && math.Log10(1000) == 3 && math.Exp(0) == 1 && math.IsInf(math.Inf(1), 1) && math.IsInf(math.Inf(-1), -1) && math.IsNaN(math.NaN()) && math.Mod(7, 3) == 1 && math.Mod(-7, 3) == -1");
    check("return math.MaxFloat64 > 1e308 && math.SmallestNonzeroFloat64 > 0 && math.MaxInt == 9223372036854775807 && math.IsNaN(math.Max(1, math.NaN()))");
    check("return max(1, 5, 3) == 5 && min(2.5, 1.5) == 1.5");
}

#[test]
fn nil_slices_from_missing_timeframe() {
    check("k := data.Klines[\"3m\"]\nreturn k == nil && len(k) == 0 && indicators.GetLatestRSI(k, 14) == nil && indicators.CalculateVWAP(k) == 0");
}

#[test]
fn timeframes_are_reported() {
    let p = compile("a := data.Klines[\"5m\"]\nb := data.Klines[\"1h\"]\nc := data.Klines[\"5m\"]\nreturn len(a)+len(b)+len(c) > 0");
    assert_eq!(p.timeframes(), vec!["1h".to_string(), "5m".to_string()]);
}

#[test]
fn more_declarations_and_switches() {
    check("var k types.Kline\nvar ks []types.Kline\nks = append(ks, k)\nk.Close = 3\nreturn ks[0].Close == 0 && k.Close == 3 && k.Trades == 0");
    check("side := \"buy\"\nswitch side {\ncase \"sell\":\n return false\ncase \"buy\", \"long\":\n return true\n}\nreturn false");
    check("n := 0\nouter:\nfor _, a := range []int{1, 2, 3} {\n for _, b := range []int{1, 2, 3} {\n  if b > a { continue outer }\n  n++\n }\n}\nreturn n == 6");
    check("x := 3\nswitch {\ncase x > 2 && x < 5:\n x = 10\n}\nreturn x == 10");
    check("var t *types.SimplifiedTicker = data.Ticker\nreturn t != nil && t.LastPrice > 100");
}

#[test]
fn constant_timeframe_keys_are_reported() {
    let p = compile("const tf = \"15m\"\nk := data.Klines[tf]\nreturn len(k) > 0");
    assert_eq!(p.timeframes(), vec!["15m".to_string()]);
    assert!(compile("tf := \"1h\"\nreturn len(data.Klines[tf]) > 0")
        .timeframes()
        .is_empty());
}
