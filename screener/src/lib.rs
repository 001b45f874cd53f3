//! The screener service every user app runs: traders, Binance klines, filters, signals and /health.
