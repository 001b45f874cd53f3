//! Parsing Binance kline payloads: combined-stream WebSocket events and REST `/api/v3/klines` rows.

use crate::candle::{Candle, Interval};
use serde::Deserialize;

/// What one WebSocket text message means to the screener.
#[derive(Debug, PartialEq)]
pub enum WsEvent {
    Kline {
        symbol: String,
        interval: Interval,
        candle: Candle,
        closed: bool,
    },
    /// Binance is about to drop the connection: reconnect now.
    ServerShutdown,
    /// Subscription acknowledgements and anything else.
    Other,
}

#[derive(Deserialize)]
struct Combined<'a> {
    #[serde(borrow, default)]
    stream: Option<&'a str>,
    #[serde(borrow)]
    data: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow, rename = "e")]
    event: Option<&'a str>,
    #[serde(borrow, rename = "k")]
    kline: Option<RawKline<'a>>,
}

#[derive(Deserialize)]
struct RawKline<'a> {
    t: i64,
    #[serde(rename = "T")]
    close_time: i64,
    s: &'a str,
    i: &'a str,
    o: &'a str,
    h: &'a str,
    l: &'a str,
    c: &'a str,
    v: &'a str,
    #[serde(default)]
    q: Option<&'a str>,
    #[serde(default, rename = "V")]
    taker_buy_volume: Option<&'a str>,
    #[serde(default, rename = "Q")]
    taker_buy_quote_volume: Option<&'a str>,
    #[serde(default)]
    n: Option<i64>,
    x: bool,
}

fn num(s: &str, field: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("kline field {field}: not a number: {s:?}"))
}

/// Parses one combined-stream message (`{"stream": ..., "data": ...}`) or a raw payload.
pub fn parse_ws(text: &str) -> Result<WsEvent, String> {
    let msg: Combined =
        serde_json::from_str(text).map_err(|e| format!("bad stream message: {e}"))?;
    if msg.stream == Some("!serverShutdown") {
        return Ok(WsEvent::ServerShutdown);
    }
    let payload = match msg.data {
        Some(p) => p,
        None => return Ok(WsEvent::Other),
    };
    match (payload.event, payload.kline) {
        (Some("serverShutdown"), _) => Ok(WsEvent::ServerShutdown),
        (Some("kline"), Some(k)) => {
            let interval =
                Interval::parse(k.i).ok_or_else(|| format!("unsupported interval {:?}", k.i))?;
            let candle = Candle {
                open_time: k.t,
                close_time: k.close_time,
                open: num(k.o, "o")?,
                high: num(k.h, "h")?,
                low: num(k.l, "l")?,
                close: num(k.c, "c")?,
                volume: num(k.v, "v")?,
                quote_volume: k.q.map(|q| num(q, "q")).transpose()?.unwrap_or(0.0),
                taker_buy_volume: k
                    .taker_buy_volume
                    .map(|v| num(v, "V"))
                    .transpose()?
                    .unwrap_or(0.0),
                taker_buy_quote_volume: k
                    .taker_buy_quote_volume
                    .map(|v| num(v, "Q"))
                    .transpose()?
                    .unwrap_or(0.0),
                trades: k.n.unwrap_or(0),
            };
            Ok(WsEvent::Kline {
                symbol: k.s.to_ascii_uppercase(),
                interval,
                candle,
                closed: k.x,
            })
        }
        _ => Ok(WsEvent::Other),
    }
}

/// Parses a `/api/v3/klines` response, keeping only candles closed before `now_ms` (the last row of a live
/// response is the still-open candle).
pub fn parse_rest(body: &str, now_ms: i64) -> Result<Vec<Candle>, String> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_str(body).map_err(|e| format!("bad klines response: {e}"))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let int = |i: usize| {
            row.get(i)
                .and_then(|v| v.as_i64())
                .ok_or_else(|| format!("klines row field {i}"))
        };
        let float = |i: usize| match row.get(i) {
            Some(serde_json::Value::String(s)) => num(s, "row"),
            Some(v) => v.as_f64().ok_or_else(|| format!("klines row field {i}")),
            None => Err(format!("klines row field {i} missing")),
        };
        let candle = Candle {
            open_time: int(0)?,
            open: float(1)?,
            high: float(2)?,
            low: float(3)?,
            close: float(4)?,
            volume: float(5)?,
            close_time: int(6)?,
            quote_volume: float(7).unwrap_or(0.0),
            trades: int(8).unwrap_or(0),
            taker_buy_volume: float(9).unwrap_or(0.0),
            taker_buy_quote_volume: float(10).unwrap_or(0.0),
        };
        if candle.close_time < now_ms {
            out.push(candle);
        }
    }
    Ok(out)
}

/// The stream name Binance expects: lowercase symbol.
pub fn stream_name(symbol: &str, interval: Interval) -> String {
    format!("{}@kline_{}", symbol.to_ascii_lowercase(), interval.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}"#;

    #[test]
    fn parses_a_closed_combined_kline() {
        let WsEvent::Kline {
            symbol,
            interval,
            candle,
            closed,
        } = parse_ws(MSG).unwrap()
        else {
            panic!("not a kline")
        };
        assert_eq!(symbol, "BTCUSDT");
        assert_eq!(interval.name(), "1m");
        assert!(closed);
        assert_eq!(candle.open_time, 1672515780000);
        assert_eq!(candle.close, 0.002);
        assert_eq!(candle.volume, 1000.0);
        assert_eq!(
            (
                candle.taker_buy_volume,
                candle.taker_buy_quote_volume,
                candle.trades
            ),
            (500.0, 0.5, 100)
        );
    }

    #[test]
    fn recognises_server_shutdown_and_acks() {
        assert_eq!(
            parse_ws(r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}}"#)
                .unwrap(),
            WsEvent::ServerShutdown
        );
        assert_eq!(
            parse_ws(r#"{"result":null,"id":1}"#).unwrap(),
            WsEvent::Other
        );
        assert!(parse_ws("not json").is_err());
    }

    #[test]
    fn rest_rows_drop_the_open_candle() {
        let body = r#"[[1000,"1","2","0.5","1.5","10",1999,"15",3,"5","7","0"],[2000,"1.5","2","1","1.8","4",2999,"7",1,"2","3","0"]]"#;
        let rows = parse_rest(body, 2500).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].close, 1.5);
        assert_eq!(
            (
                rows[0].trades,
                rows[0].taker_buy_volume,
                rows[0].taker_buy_quote_volume
            ),
            (3, 5.0, 7.0)
        );
        assert_eq!(parse_rest(body, 3000).unwrap().len(), 2);
    }

    #[test]
    fn stream_names_are_lowercase() {
        assert_eq!(
            stream_name("BTCUSDT", Interval::parse("15m").unwrap()),
            "btcusdt@kline_15m"
        );
    }
}
