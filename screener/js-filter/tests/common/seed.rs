//! The seven built-in traders of the platform's `supabase/seed_built_in_signals.sql`, as data.

pub const RSI_OVERSOLD: &str = "const rsi = await indicators.rsi(klines, 14);
return rsi.value < 30 && rsi.increasing;";

pub const VOLUME_SPIKE: &str =
    "const volumeMA = await indicators.sma(klines.map(k => parseFloat(k[5])), 20);
const currentVolume = parseFloat(klines[klines.length - 1][5]);
return currentVolume > volumeMA.value * 3;";

pub const GOLDEN_CROSS: &str = "const ma50 = await indicators.sma(klines, 50);
const ma200 = await indicators.sma(klines, 200);
const ma50Prev = await indicators.sma(klines.slice(0, -1), 50);
const ma200Prev = await indicators.sma(klines.slice(0, -1), 200);
return ma50Prev.value <= ma200Prev.value && ma50.value > ma200.value;";

pub const MACD_DIVERGENCE: &str = "const macd = await indicators.macd(klines);
const prices = klines.map(k => parseFloat(k[4]));
const recentLows = [];
const macdLows = [];

// Find recent price lows and corresponding MACD values
for (let i = 20; i < prices.length - 1; i++) {
  if (prices[i] < prices[i-1] && prices[i] < prices[i+1]) {
    recentLows.push({ index: i, price: prices[i] });
    macdLows.push({ index: i, macd: macd.histogram[i] });
  }
}

if (recentLows.length >= 2) {
  const lastTwo = recentLows.slice(-2);
  const lastTwoMacd = macdLows.slice(-2);
  
  // Price making lower low, MACD making higher low = bullish divergence
  return lastTwo[1].price < lastTwo[0].price && 
         lastTwoMacd[1].macd > lastTwoMacd[0].macd;
}
return false;";

pub const BB_SQUEEZE: &str = "const bb = await indicators.bollingerBands(klines, 20, 2);
const atr = await indicators.atr(klines, 14);

// Calculate band width
const bandwidth = (bb.upper - bb.lower) / bb.middle;
const avgBandwidth = 0.10; // 10% average

// Squeeze condition: bandwidth < average and now expanding
const inSqueeze = bandwidth < avgBandwidth * 0.5;
const wasInSqueeze = await (async () => {
  const prevBB = await indicators.bollingerBands(klines.slice(0, -5), 20, 2);
  const prevBandwidth = (prevBB.upper - prevBB.lower) / prevBB.middle;
  return prevBandwidth < avgBandwidth * 0.5;
})();

const currentPrice = parseFloat(klines[klines.length - 1][4]);
const breakout = currentPrice > bb.upper || currentPrice < bb.lower;

return wasInSqueeze && !inSqueeze && breakout;";

pub const MULTI_TF_MOMENTUM: &str = "const tf1m = klines;
const tf5m = await indicators.convertTimeframe(klines, \"5m\");
const tf15m = await indicators.convertTimeframe(klines, \"15m\");

const rsi1m = await indicators.rsi(tf1m, 14);
const rsi5m = await indicators.rsi(tf5m, 14);
const rsi15m = await indicators.rsi(tf15m, 14);

const macd1m = await indicators.macd(tf1m);
const macd5m = await indicators.macd(tf5m);
const macd15m = await indicators.macd(tf15m);

// All timeframes bullish
const allRsiBullish = rsi1m.value > 50 && rsi5m.value > 50 && rsi15m.value > 50;
const allMacdBullish = macd1m.histogram[macd1m.histogram.length-1] > 0 &&
                       macd5m.histogram[macd5m.histogram.length-1] > 0 &&
                       macd15m.histogram[macd15m.histogram.length-1] > 0;

// Momentum increasing on lower timeframe
const momentumIncreasing = rsi1m.value > rsi1m.previous;

return allRsiBullish && allMacdBullish && momentumIncreasing;";

pub const MARKET_STRUCTURE: &str = "const highs = [];
const lows = [];
const prices = klines.map(k => ({ 
  high: parseFloat(k[2]), 
  low: parseFloat(k[3]), 
  close: parseFloat(k[4]),
  volume: parseFloat(k[5])
}));

// Find swing highs and lows
for (let i = 10; i < prices.length - 10; i++) {
  // Swing high
  if (prices[i].high > prices[i-1].high && prices[i].high > prices[i+1].high) {
    let isSwingHigh = true;
    for (let j = 1; j <= 5; j++) {
      if (prices[i].high <= prices[i-j].high || prices[i].high <= prices[i+j].high) {
        isSwingHigh = false;
        break;
      }
    }
    if (isSwingHigh) highs.push({ index: i, price: prices[i].high });
  }
  
  // Swing low
  if (prices[i].low < prices[i-1].low && prices[i].low < prices[i+1].low) {
    let isSwingLow = true;
    for (let j = 1; j <= 5; j++) {
      if (prices[i].low >= prices[i-j].low || prices[i].low >= prices[i+j].low) {
        isSwingLow = false;
        break;
      }
    }
    if (isSwingLow) lows.push({ index: i, price: prices[i].low });
  }
}

if (highs.length < 2 || lows.length < 2) return false;

// Check for bullish market structure break
const recentHighs = highs.slice(-2);
const recentLows = lows.slice(-2);
const currentPrice = prices[prices.length - 1].close;

// Higher high and higher low
const higherHigh = recentHighs[1].price > recentHighs[0].price;
const higherLow = recentLows[1].price > recentLows[0].price;

// Volume confirmation
const avgVolume = prices.slice(-20).reduce((sum, p) => sum + p.volume, 0) / 20;
const recentVolume = prices.slice(-5).reduce((sum, p) => sum + p.volume, 0) / 5;
const volumeIncreasing = recentVolume > avgVolume * 1.5;

// Price breaking above recent high with volume
const breakout = currentPrice > recentHighs[1].price;

return higherHigh && higherLow && volumeIncreasing && breakout;";

/// All seven with their primary timeframe (first of requiredTimeframes).
pub const ALL: [(&str, &str, &str); 7] = [
    ("RSI Oversold Bounce", RSI_OVERSOLD, "1m"),
    ("Volume Spike Detector", VOLUME_SPIKE, "1m"),
    ("Golden Cross", GOLDEN_CROSS, "15m"),
    ("MACD Bullish Divergence", MACD_DIVERGENCE, "5m"),
    ("Bollinger Band Squeeze Exit", BB_SQUEEZE, "5m"),
    (
        "Multi-Timeframe Momentum Alignment",
        MULTI_TF_MOMENTUM,
        "1m",
    ),
    ("Smart Money Market Structure Break", MARKET_STRUCTURE, "5m"),
];
