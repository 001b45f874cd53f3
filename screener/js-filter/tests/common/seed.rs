//! The seven built-in traders of the platform's `supabase/seed_built_in_signals.sql`, read from the screener's
//! trader-code fixture (`screener/tests/fixtures/trader_code/cases.json`), the one place their code is restated.

use std::sync::OnceLock;

const CASES: &str = include_str!("../../../tests/fixtures/trader_code/cases.json");

/// (fixture name, code, primary timeframe) of every JavaScript case, in the seed file's order.
pub fn all() -> &'static [(String, String, String)] {
    static ALL: OnceLock<Vec<(String, String, String)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let cases: Vec<serde_json::Value> = serde_json::from_str(CASES).expect("cases.json parses");
        cases
            .iter()
            .filter(|c| c["language"] == "javascript")
            .map(|c| {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                let tf = c["requiredTimeframes"][0]
                    .as_str()
                    .unwrap_or("1m")
                    .to_string();
                (text("name"), text("code"), tf)
            })
            .collect()
    })
}

fn code(name: &str) -> &'static str {
    all()
        .iter()
        .find(|(n, ..)| n == name)
        .map(|(_, code, _)| code.as_str())
        .unwrap_or_else(|| panic!("{name} is not in cases.json"))
}

pub fn rsi_oversold() -> &'static str {
    code("js_rsi_oversold_bounce")
}
pub fn volume_spike() -> &'static str {
    code("js_volume_spike_detector")
}
pub fn golden_cross() -> &'static str {
    code("js_golden_cross")
}
pub fn macd_divergence() -> &'static str {
    code("js_macd_bullish_divergence")
}
pub fn bb_squeeze() -> &'static str {
    code("js_bollinger_squeeze_exit")
}
pub fn multi_tf_momentum() -> &'static str {
    code("js_multi_timeframe_momentum")
}
pub fn market_structure() -> &'static str {
    code("js_smart_money_structure_break")
}
