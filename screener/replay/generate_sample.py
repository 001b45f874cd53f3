"""Writes sample.jsonl: 240 one-minute candles for BTCUSDT and ETHUSDT (from 2024-01-01 00:00 UTC) with a
sell-off around bar 150 and a recovery, so RSI(14) dips below 30 and crosses back above it. Deterministic."""
import json, math, random

random.seed(7)
START = 1704067200000
lines = []
for symbol, base in (("BTCUSDT", 42000.0), ("ETHUSDT", 2300.0)):
    price = base
    for i in range(240):
        drift = -0.004 if 140 <= i < 155 else (0.003 if 155 <= i < 170 else 0.0)
        change = drift + random.gauss(0, 0.0015)
        o = price
        c = round(o * (1 + change), 2)
        h = round(max(o, c) * (1 + abs(random.gauss(0, 0.0007))), 2)
        l = round(min(o, c) * (1 - abs(random.gauss(0, 0.0007))), 2)
        v = round(10 + 5 * abs(math.sin(i / 7)) + (30 if 140 <= i < 170 else 0), 4)
        t = START + i * 60000
        lines.append({"symbol": symbol, "interval": "1m", "open_time": t, "close_time": t + 59999,
                      "open": o, "high": h, "low": l, "close": c, "volume": v, "quote_volume": round(v * c, 2)})
        price = c
with open("sample.jsonl", "w") as f:
    for line in lines:
        f.write(json.dumps(line) + "\n")
