//! `indicators.convertTimeframe`: aggregates closed candles into a longer interval.

use filter_core::Kline;

/// Milliseconds of a Binance interval name (`1m` … `1M`); `None` for anything else.
pub fn interval_ms(name: &str) -> Option<i64> {
    let (num, unit) = name.split_at(name.len().checked_sub(1)?);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "M" => 30 * 86_400_000,
        _ => return None,
    };
    Some(n * unit_ms)
}

/// Groups `source` (one interval, oldest first) into buckets aligned on multiples of `target_ms` since the
/// epoch, keeping only complete buckets: a partial first bucket lacks its open, a partial last one is a candle
/// still forming, and filters only ever see closed candles.
pub fn aggregate(source: &[Kline], source_ms: i64, target_ms: i64) -> Vec<Kline> {
    if source_ms <= 0 || target_ms < source_ms || target_ms % source_ms != 0 {
        return Vec::new();
    }
    let per_bucket = (target_ms / source_ms) as usize;
    let mut out = Vec::new();
    let mut i = 0;
    while i < source.len() {
        let bucket = source[i].open_time.div_euclid(target_ms);
        let mut j = i;
        while j < source.len() && source[j].open_time.div_euclid(target_ms) == bucket {
            j += 1;
        }
        let group = &source[i..j];
        if group.len() == per_bucket {
            let start = bucket * target_ms;
            out.push(Kline {
                open_time: start,
                open: group[0].open,
                high: group.iter().map(|k| k.high).fold(f64::MIN, f64::max),
                low: group.iter().map(|k| k.low).fold(f64::MAX, f64::min),
                close: group[group.len() - 1].close,
                volume: group.iter().map(|k| k.volume).sum(),
                buy_volume: group.iter().map(|k| k.buy_volume).sum(),
                quote_volume: group.iter().map(|k| k.quote_volume).sum(),
                buy_quote_volume: group.iter().map(|k| k.buy_quote_volume).sum(),
                trades: group.iter().map(|k| k.trades).sum(),
                close_time: start + target_ms - 1,
            });
        }
        i = j;
    }
    out
}

/// The interval of a series, from the spacing of its first two open times (or its first candle's span).
pub fn infer_interval_ms(klines: &[Kline]) -> Option<i64> {
    match klines {
        [a, b, ..] => Some(b.open_time - a.open_time).filter(|d| *d > 0),
        [a] => Some(a.close_time + 1 - a.open_time).filter(|d| *d > 0),
        [] => None,
    }
}
