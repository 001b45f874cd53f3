//! Building the frozen JS kline rows directly through the QuickJS C API: the conversion runs for every
//! (symbol, close), and going through JSON text or per-element rquickjs calls costs several times more.

use crate::session::Num;
use filter_core::Kline;
use rquickjs::{qjs, Ctx, Error, Value};
use std::fmt::Write;
use std::ptr::NonNull;

/// A frozen array of frozen Binance raw rows:
/// `[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
///   "takerBuyBase", "takerBuyQuote", "0"]`.
/// The arrays are created in `realm` (the data realm, whose intrinsics are frozen) whichever realm `ctx` is:
/// a program realm's `Array.prototype` may have been changed by that program.
/// `previous` is this (symbol, timeframe)'s series at an earlier close: rows of identical candles are reused
/// (they are immutable), so a new close converts only its new candle.
pub fn frozen_rows<'js>(
    ctx: &Ctx<'js>,
    realm: NonNull<qjs::JSContext>,
    klines: &[Kline],
    previous: Option<(&[Kline], &Value<'js>)>,
) -> rquickjs::Result<Value<'js>> {
    let raw = realm.as_ptr();
    let mut text = String::with_capacity(32);
    let mut rows: Vec<qjs::JSValue> = Vec::with_capacity(klines.len());
    // Where klines[0] sits in the previous series, if it does.
    let offset = previous.and_then(|(old, _)| {
        let first = klines.first()?;
        old.binary_search_by_key(&first.open_time, |k| k.open_time)
            .ok()
    });
    // SAFETY: every JSValue created or duplicated here is either handed to JS_NewArrayFrom (which takes
    // ownership) or freed on the error path; `raw` is the live data-realm context.
    unsafe {
        let mut string = |x: f64| {
            text.clear();
            let _ = write!(text, "{}", Num(x));
            qjs::JS_NewStringLen(raw, text.as_ptr().cast(), text.len() as _)
        };
        for (i, k) in klines.iter().enumerate() {
            if let (Some(off), Some((old, old_array))) = (offset, previous) {
                if old.get(off + i) == Some(k) {
                    let row = qjs::JS_GetPropertyUint32(raw, old_array.as_raw(), (off + i) as u32);
                    if qjs::JS_IsException(row) {
                        return Err(fail(rows, raw));
                    }
                    rows.push(row);
                    continue;
                }
            }
            let fields = [
                qjs::JS_NewFloat64(k.open_time as f64),
                string(k.open),
                string(k.high),
                string(k.low),
                string(k.close),
                string(k.volume),
                qjs::JS_NewFloat64(k.close_time as f64),
                string(k.quote_volume),
                qjs::JS_NewFloat64(k.trades as f64),
                string(k.buy_volume),
                string(k.buy_quote_volume),
                qjs::JS_NewStringLen(raw, c"0".as_ptr(), 1),
            ];
            if fields.iter().any(|v| qjs::JS_IsException(*v)) {
                for v in fields {
                    qjs::JS_FreeValue(raw, v);
                }
                return Err(fail(rows, raw));
            }
            let row = qjs::JS_NewArrayFrom(raw, fields.len() as _, fields.as_ptr());
            if qjs::JS_IsException(row) {
                return Err(fail(rows, raw));
            }
            rows.push(row);
            if qjs::JS_FreezeObject(raw, row) < 0 {
                return Err(fail(rows, raw));
            }
        }
        let array = qjs::JS_NewArrayFrom(raw, rows.len() as _, rows.as_ptr());
        if qjs::JS_IsException(array) {
            return Err(Error::Allocation);
        }
        if qjs::JS_FreezeObject(raw, array) < 0 {
            qjs::JS_FreeValue(raw, array);
            return Err(Error::Allocation);
        }
        Ok(Value::from_raw(ctx.clone(), array))
    }
}

unsafe fn fail(rows: Vec<qjs::JSValue>, raw: *mut qjs::JSContext) -> Error {
    for r in rows {
        qjs::JS_FreeValue(raw, r);
    }
    Error::Allocation
}

/// A fast (unfrozen) array of numbers in `ctx`'s realm, NaN as `null` (the platform's warm-up slots).
pub fn numbers<'js>(ctx: &Ctx<'js>, values: &[f64]) -> rquickjs::Result<rquickjs::Array<'js>> {
    let raw = ctx.as_raw().as_ptr();
    let items: Vec<qjs::JSValue> = values
        .iter()
        .map(|v| {
            if v.is_nan() {
                qjs::JS_NULL
            } else {
                qjs::JS_NewFloat64(*v)
            }
        })
        .collect();
    // SAFETY: numbers and null own no memory; JS_NewArrayFrom takes the values.
    let array = unsafe { qjs::JS_NewArrayFrom(raw, items.len() as _, items.as_ptr()) };
    if unsafe { qjs::JS_IsException(array) } {
        return Err(Error::Allocation);
    }
    rquickjs::Array::from_value(unsafe { Value::from_raw(ctx.clone(), array) })
}
