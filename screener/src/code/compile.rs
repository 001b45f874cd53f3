//! From a `traders` row with `filter.code` to a compiled code trader. Compilation is cached by (language,
//! source), so a reload after another trader changed (`updated_at`) recompiles nothing else.

use crate::candle::Interval;
use crate::filter::PLATFORM_DEFAULT_TIMEFRAME;
use filter_core::CompileError;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// `traders.language`. The platform's column allows `javascript` and `go` and defaults to `javascript`
/// (its migration 019); Fleet's declarative JSON filters are the third language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Go,
    JavaScript,
    Declarative,
}

impl Language {
    /// The platform's column default, used when a row's `language` is NULL.
    pub const PLATFORM_DEFAULT: Language = Language::JavaScript;

    pub fn parse(column: Option<&str>) -> Result<Language, String> {
        match column.map(str::trim) {
            None | Some("") => Ok(Language::PLATFORM_DEFAULT),
            Some("go") => Ok(Language::Go),
            Some("javascript") => Ok(Language::JavaScript),
            Some("declarative") => Ok(Language::Declarative),
            Some(other) => Err(format!(
                "traders.language {other:?} is not one of go, javascript, declarative"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Go => "go",
            Language::JavaScript => "javascript",
            Language::Declarative => "declarative",
        }
    }
}

/// A compiled program. JavaScript engines are per thread, so a JavaScript trader carries its checked source
/// and each worker compiles it into its own engine once.
#[derive(Clone)]
pub enum Compiled {
    Go(go_filter::Program),
    JavaScript(Arc<str>),
}

/// A valid code trader.
#[derive(Clone)]
pub struct CodeTraderDef {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub name: String,
    pub language: Language,
    /// `filter.requiredTimeframes` (the platform's `5m` when absent); the first is the trigger timeframe.
    pub timeframes: Vec<Interval>,
    /// Symbols this trader screens; empty means the whole universe.
    pub symbols: Vec<String>,
    pub program: Compiled,
}

impl CodeTraderDef {
    pub fn trigger_timeframe(&self) -> Interval {
        self.timeframes[0]
    }
}

impl std::fmt::Debug for CodeTraderDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeTraderDef")
            .field("id", &self.id)
            .field("language", &self.language)
            .field("timeframes", &self.timeframes)
            .finish_non_exhaustive()
    }
}

/// Compiled programs by (language, source), kept across trader reloads: a reload caused by one trader's change
/// (`updated_at`) compiles only that trader's new code.
#[derive(Default)]
pub struct CodeCache {
    /// Program and the reload pass that last used it.
    programs: HashMap<(Language, String), (Result<Compiled, CompileError>, u64)>,
    pass: u64,
    pub compilations: u64,
}

impl CodeCache {
    /// Starts a reload; programs not compiled again before [`CodeCache::end_pass`] are forgotten then.
    pub fn begin_pass(&mut self) {
        self.pass += 1;
    }

    pub fn end_pass(&mut self) {
        let pass = self.pass;
        self.programs.retain(|_, (_, used)| *used == pass);
    }

    pub fn compile(&mut self, language: Language, code: &str) -> Result<Compiled, CompileError> {
        let key = (language, code.to_string());
        if let Some((found, used)) = self.programs.get_mut(&key) {
            *used = self.pass;
            return found.clone();
        }
        self.compilations += 1;
        let compiled = match language {
            Language::Go => go_filter::compile(code).map(Compiled::Go),
            Language::JavaScript => {
                js_filter::check(code).map(|()| Compiled::JavaScript(code.into()))
            }
            Language::Declarative => Err(CompileError {
                line: 1,
                column: 1,
                message: "a declarative trader has no code".into(),
            }),
        };
        self.programs.insert(key, (compiled.clone(), self.pass));
        compiled
    }
}

/// The parts of a code filter object the screener uses.
pub struct CodeFilter<'a> {
    pub code: &'a str,
    pub timeframes: Vec<Interval>,
    pub symbols: Vec<String>,
}

/// Reads `{"code": "...", "requiredTimeframes": [...], "symbols": [...]}` (other keys — description,
/// refreshInterval, indicators, seriesCode — are the platform's UI metadata and are ignored).
pub fn parse_code_filter(filter: &serde_json::Value) -> Result<CodeFilter<'_>, String> {
    let code = filter
        .get("code")
        .and_then(|c| c.as_str())
        .ok_or("filter.code: not a string")?;
    if code.trim().is_empty() {
        return Err("filter.code: empty".into());
    }
    if code.len() > MAX_CODE_BYTES {
        return Err(format!(
            "filter.code: {} bytes, more than {MAX_CODE_BYTES}",
            code.len()
        ));
    }
    let mut timeframes = Vec::new();
    match filter.get("requiredTimeframes") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(names)) => {
            for (i, name) in names.iter().enumerate() {
                let name = name.as_str().unwrap_or_default();
                let tf = Interval::parse(name).ok_or_else(|| {
                    format!("requiredTimeframes[{i}]: unknown timeframe {name:?}")
                })?;
                if !timeframes.contains(&tf) {
                    timeframes.push(tf);
                }
            }
        }
        Some(_) => return Err("requiredTimeframes: not an array".into()),
    }
    if timeframes.is_empty() {
        timeframes.push(Interval::parse(PLATFORM_DEFAULT_TIMEFRAME).expect("valid default"));
    }
    if timeframes.len() > MAX_TIMEFRAMES {
        return Err(format!(
            "requiredTimeframes: {} timeframes, more than {MAX_TIMEFRAMES}",
            timeframes.len()
        ));
    }
    let symbols = match filter.get("symbols") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .map(|s| {
                s.as_str()
                    .filter(|s| {
                        !s.is_empty()
                            && s.len() <= 20
                            && s.chars().all(|c| c.is_ascii_alphanumeric())
                    })
                    .map(|s| s.to_ascii_uppercase())
                    .ok_or_else(|| format!("symbols: {s} is not a symbol"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("symbols: not an array".into()),
    };
    Ok(CodeFilter {
        code,
        timeframes,
        symbols,
    })
}

/// Generated filters are a few hundred bytes to a few KiB; 64 KiB bounds compile work and memory.
pub const MAX_CODE_BYTES: usize = 64 * 1024;
const MAX_TIMEFRAMES: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn language_column_follows_the_platform_default() {
        assert_eq!(Language::parse(None), Ok(Language::JavaScript));
        assert_eq!(Language::parse(Some("go")), Ok(Language::Go));
        assert!(Language::parse(Some("python")).is_err());
    }

    #[test]
    fn code_filter_defaults_to_the_platform_timeframe() {
        let f = json!({"code": "return true", "description": ["x"], "refreshInterval": "1m"});
        let parsed = parse_code_filter(&f).unwrap();
        assert_eq!(parsed.timeframes[0].name(), "5m");
        let f = json!({"code": "return true", "requiredTimeframes": ["1h", "5m", "1h"]});
        let names: Vec<_> = parse_code_filter(&f)
            .unwrap()
            .timeframes
            .iter()
            .map(|t| t.name())
            .collect();
        assert_eq!(names, ["1h", "5m"]);
        assert!(parse_code_filter(&json!({"code": "x", "requiredTimeframes": ["7m"]})).is_err());
        assert!(parse_code_filter(&json!({"code": ""})).is_err());
    }
}
