//! The per-close indicator cache is shared between programs; shared market data is never mutated.
mod common;
use common::*;
use filter_core::{IndicatorCache, Limits};

#[test]
fn two_programs_share_one_computation() {
    let data = default_market();
    let a = compile("r := indicators.GetLatestRSI(data.Klines[\"5m\"], 14)\nreturn r != nil");
    let b = compile("r := indicators.CalculateRSI(data.Klines[\"5m\"], 14)\nreturn r != nil && len(r.Values) == 250");
    let mut cache = IndicatorCache::new();
    assert_eq!(a.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!(b.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!((cache.misses, cache.hits, cache.len()), (1, 1, 1));
    // 100 traders, one computation.
    for _ in 0..98 {
        assert_eq!(a.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    }
    assert_eq!((cache.misses, cache.hits), (1, 99));
    // Different parameters or timeframe: a different entry.
    let c = compile("r := indicators.GetLatestRSI(data.Klines[\"5m\"], 7)\ns := indicators.GetLatestRSI(data.Klines[\"1h\"], 14)\nreturn r != nil && s != nil");
    assert_eq!(c.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!((cache.misses, cache.len()), (3, 3));
}

#[test]
fn subslices_of_the_series_are_cached_by_range() {
    let data = default_market();
    let p = compile("k := data.Klines[\"5m\"]\nw := k[len(k)-50:]\nm := indicators.CalculateMA(w, 20)\nm2 := indicators.CalculateMA(k[200:], 20)\nreturn m != nil && *m == *m2");
    let mut cache = IndicatorCache::new();
    assert_eq!(p.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!((cache.misses, cache.hits), (1, 1));
}

#[test]
fn slices_the_filter_built_are_computed_uncached() {
    let data = default_market();
    let p = compile("k := data.Klines[\"5m\"]\nmine := []types.Kline{}\nfor _, x := range k { mine = append(mine, x) }\na := indicators.GetLatestRSI(mine, 14)\nb := indicators.GetLatestRSI(k, 14)\nreturn *a == *b");
    let mut cache = IndicatorCache::new();
    assert_eq!(p.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!((cache.misses, cache.hits, cache.len()), (1, 0, 1));
}

#[test]
fn cached_results_are_copies() {
    let data = default_market();
    let writer = compile("r := indicators.CalculateRSI(data.Klines[\"5m\"], 14)\nfor i := range r.Values { r.Values[i] = -1 }\ns := indicators.CalculateMASeries(data.Klines[\"5m\"], 5)\ns[249] = -1\nreturn r.Values[249] == -1");
    let reader = compile("r := indicators.CalculateRSI(data.Klines[\"5m\"], 14)\ns := indicators.CalculateMASeries(data.Klines[\"5m\"], 5)\nreturn r.Values[249] > 0 && s[249] > 0");
    let mut cache = IndicatorCache::new();
    assert_eq!(
        writer.evaluate(&data, &Limits::default(), &mut cache),
        Ok(true)
    );
    assert_eq!(
        reader.evaluate(&data, &Limits::default(), &mut cache),
        Ok(true)
    );
    assert_eq!(cache.hits, 2);
}

#[test]
fn writes_to_klines_never_reach_the_shared_data() {
    let data = default_market();
    let before: Vec<_> = data.series("5m").map(|s| s.to_vec()).unwrap_or_default();
    let p = compile(
        "k := data.Klines[\"5m\"]\nk[0].Close = 5\nalias := data.Klines[\"5m\"]\nk[1] = types.Kline{Close: 7}\nsub := k[2:4]\nsub[0].High = 9\ncopy(k[10:], k[:5])\nm := indicators.CalculateMA(k[:2], 2)\nreturn alias[0].Close == 5 && alias[1].Close == 7 && k[2].High == 9 && *m == 6 && k[10].Close == 5",
    );
    let mut cache = IndicatorCache::new();
    assert_eq!(p.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    // The modified series was not cached (it is the trader's own copy now).
    assert_eq!(cache.len(), 0);
    let after: Vec<_> = data.series("5m").map(|s| s.to_vec()).unwrap_or_default();
    assert_eq!(before, after);
    // A second evaluation starts from the shared, untouched data.
    let q = compile("k := data.Klines[\"5m\"]\nreturn k[0].Close != 5 && k[1].Close != 7");
    assert_eq!(q.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
    assert_eq!(p.evaluate(&data, &Limits::default(), &mut cache), Ok(true));
}

#[test]
fn ticker_writes_stay_in_the_evaluation() {
    let data = default_market();
    let p = compile("data.Ticker.LastPrice = 1\nreturn data.Ticker.LastPrice == 1");
    assert_eq!(
        p.evaluate(&data, &Limits::default(), &mut IndicatorCache::new()),
        Ok(true)
    );
    assert_eq!(data.ticker.map(|t| t.last_price), Some(101.5));
}

#[test]
fn programs_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<go_filter::Program>();
    let p = compile("return true");
    let q = p.clone();
    let h = std::thread::spawn(move || {
        q.evaluate(
            &default_market(),
            &Limits::default(),
            &mut IndicatorCache::new(),
        )
    });
    assert_eq!(h.join().ok(), Some(Ok(true)));
    assert_eq!(
        p.evaluate(
            &default_market(),
            &Limits::default(),
            &mut IndicatorCache::new()
        ),
        Ok(true)
    );
}
