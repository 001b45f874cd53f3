//! Indicator results shared by every trader evaluated for one symbol at one close.
//!
//! A language computes an indicator over (a slice of) one of `MarketData::klines` and stores it here under the
//! series range, the indicator's name and its parameters, so 100 traders asking for RSI(14) on the same 5m
//! series compute it once. The screener makes one cache per (symbol, close) and drops it afterwards.
//! Cached values are shared: a language must hand filters copies (or copy on write), never the cached value.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

/// A contiguous range `start..end` of `MarketData::klines[timeframe].1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesRef {
    pub timeframe: u16,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub series: SeriesRef,
    /// The indicator, namespaced by language where semantics differ (e.g. `go.CalculateRSI`, `js.rsi`).
    pub indicator: &'static str,
    /// Parameters; floats as their bit patterns.
    pub params: [u64; 4],
}

#[derive(Default)]
pub struct IndicatorCache {
    values: HashMap<CacheKey, Arc<dyn Any + Send + Sync>>,
    pub hits: u64,
    pub misses: u64,
}

impl IndicatorCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached value for `key`, computing it with `compute` on first use. A key reused with a different
    /// value type is a bug in the caller; it is recomputed rather than trusted.
    pub fn get_or_compute<T: Any + Send + Sync>(
        &mut self,
        key: CacheKey,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        if let Some(found) = self
            .values
            .get(&key)
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
        {
            self.hits += 1;
            return found;
        }
        self.misses += 1;
        let value = Arc::new(compute());
        self.values.insert(key, value.clone());
        value
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(period: u64) -> CacheKey {
        CacheKey {
            series: SeriesRef {
                timeframe: 0,
                start: 0,
                end: 10,
            },
            indicator: "test.sma",
            params: [period, 0, 0, 0],
        }
    }

    #[test]
    fn computes_once_per_key() {
        let mut cache = IndicatorCache::new();
        let mut calls = 0;
        for _ in 0..3 {
            let v = cache.get_or_compute(key(14), || {
                calls += 1;
                vec![1.0f64]
            });
            assert_eq!(*v, vec![1.0]);
        }
        let _ = cache.get_or_compute(key(20), || vec![2.0f64]);
        assert_eq!((calls, cache.hits, cache.misses, cache.len()), (1, 2, 2, 2));
    }
}
