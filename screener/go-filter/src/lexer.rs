//! Go tokens with automatic semicolon insertion (the Go spec's rule: a newline ends a statement after an
//! identifier, a literal, `break`/`continue`/`fallthrough`/`return`, `++`/`--` or a closing bracket).

use filter_core::CompileError;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(i128),
    Float(f64),
    Char(i128),
    Str(String),
    /// Operators, punctuation and keywords, spelled as in Go.
    Sym(&'static str),
    Kw(&'static str),
    Semi,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

pub fn err(pos: Pos, message: impl Into<String>) -> CompileError {
    CompileError {
        line: pos.line,
        column: pos.col,
        message: message.into(),
    }
}

const KEYWORDS: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
];

// Longest first so that maximal munch works by trying in order.
const SYMBOLS: &[&str] = &[
    "<<=", ">>=", "&^=", "...", "&&", "||", "<-", "++", "--", "==", "!=", "<=", ">=", ":=", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<", ">>", "&^", "+", "-", "*", "/", "%", "&", "|",
    "^", "<", ">", "=", "!", "(", ")", "[", "]", "{", "}", ",", ";", ".", ":", "~",
];

/// Upper bounds on input and tokens (filters are a few KB), so a huge input cannot make compilation
/// allocate without bound.
const MAX_SOURCE: usize = 512 * 1024;
const MAX_TOKENS: usize = 512 * 1024;

pub fn lex(src: &str) -> Result<Vec<Token>, CompileError> {
    if src.len() > MAX_SOURCE {
        return Err(err(
            Pos { line: 1, col: 1 },
            format!("program too large (more than {MAX_SOURCE} bytes)"),
        ));
    }
    let bytes = src.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    // Bracket depth, checked here so that a huge nested input fails before it is even tokenised.
    let mut depth = 0u32;
    let needs_semi = |out: &Vec<Token>| match out.last().map(|t| &t.tok) {
        Some(Tok::Ident(_) | Tok::Int(_) | Tok::Float(_) | Tok::Char(_) | Tok::Str(_)) => true,
        Some(Tok::Kw(k)) => matches!(*k, "break" | "continue" | "fallthrough" | "return"),
        Some(Tok::Sym(s)) => matches!(*s, "++" | "--" | ")" | "]" | "}"),
        _ => false,
    };
    while i < bytes.len() {
        if out.len() > MAX_TOKENS {
            return Err(err(Pos { line, col }, "program too large"));
        }
        let c = bytes[i];
        let pos = Pos { line, col };
        if c == b'\n' {
            if needs_semi(&out) {
                out.push(Token {
                    tok: Tok::Semi,
                    pos,
                });
            }
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c == b' ' || c == b'\t' || c == b'\r' {
            i += 1;
            col += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            let mut had_newline = false;
            i += 2;
            col += 2;
            loop {
                if i + 1 >= bytes.len() {
                    return Err(err(pos, "comment not terminated"));
                }
                if bytes[i] == b'*' && bytes[i + 1] == b'/' {
                    i += 2;
                    col += 2;
                    break;
                }
                if bytes[i] == b'\n' {
                    had_newline = true;
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
                i += 1;
            }
            if had_newline && needs_semi(&out) {
                out.push(Token {
                    tok: Tok::Semi,
                    pos,
                });
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            let word = &src[start..i];
            col += word.chars().count() as u32;
            let tok = match KEYWORDS.iter().find(|k| **k == word) {
                Some(k) => Tok::Kw(k),
                None => Tok::Ident(word.to_string()),
            };
            out.push(Token { tok, pos });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let (tok, len) = number(&src[i..]).ok_or_else(|| err(pos, "malformed number"))?;
            i += len;
            col += len as u32;
            out.push(Token { tok, pos });
            continue;
        }
        if c == b'"' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                let Some(&b) = bytes.get(j) else {
                    return Err(err(pos, "string literal not terminated"));
                };
                match b {
                    b'"' => break,
                    b'\n' => return Err(err(pos, "string literal not terminated")),
                    b'\\' => {
                        let (ch, len) = escape(&src[j..], b'"')
                            .ok_or_else(|| err(pos, "invalid escape in string"))?;
                        s.push(ch);
                        j += len;
                    }
                    _ => {
                        let ch = src[j..].chars().next().unwrap_or('\u{fffd}');
                        s.push(ch);
                        j += ch.len_utf8();
                    }
                }
            }
            col += src[i..=j].chars().count() as u32;
            i = j + 1;
            out.push(Token {
                tok: Tok::Str(s),
                pos,
            });
            continue;
        }
        if c == b'`' {
            let rest = &src[i + 1..];
            let end = rest
                .find('`')
                .ok_or_else(|| err(pos, "raw string literal not terminated"))?;
            let body = &rest[..end];
            for ch in body.chars() {
                if ch == '\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
            col += 2;
            out.push(Token {
                tok: Tok::Str(body.replace('\r', "")),
                pos,
            });
            i += end + 2;
            continue;
        }
        if c == b'\'' {
            let rest = &src[i + 1..];
            let (ch, len) = if rest.starts_with('\\') {
                escape(rest, b'\'').ok_or_else(|| err(pos, "invalid rune literal"))?
            } else {
                let ch = rest
                    .chars()
                    .next()
                    .ok_or_else(|| err(pos, "invalid rune literal"))?;
                (ch, ch.len_utf8())
            };
            if rest.as_bytes().get(len) != Some(&b'\'') || ch == '\n' {
                return Err(err(pos, "invalid rune literal"));
            }
            col += rest[..len].chars().count() as u32 + 2;
            i += len + 2;
            out.push(Token {
                tok: Tok::Char(ch as i128),
                pos,
            });
            continue;
        }
        match SYMBOLS.iter().find(|s| src[i..].starts_with(**s)) {
            Some(s) => {
                i += s.len();
                col += s.len() as u32;
                match *s {
                    "(" | "[" | "{" => {
                        depth += 1;
                        if depth > crate::parser::MAX_NESTING {
                            return Err(err(
                                pos,
                                format!(
                                    "nesting too deep (more than {} levels)",
                                    crate::parser::MAX_NESTING
                                ),
                            ));
                        }
                    }
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                let tok = if *s == ";" { Tok::Semi } else { Tok::Sym(s) };
                out.push(Token { tok, pos });
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(pos, format!("invalid character {ch:?}")));
            }
        }
    }
    let pos = Pos { line, col };
    if needs_semi(&out) {
        out.push(Token {
            tok: Tok::Semi,
            pos,
        });
    }
    out.push(Token { tok: Tok::Eof, pos });
    Ok(out)
}

fn escape(s: &str, quote: u8) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let c = *b.get(1)?;
    let simple = match c {
        b'n' => Some('\n'),
        b't' => Some('\t'),
        b'r' => Some('\r'),
        b'\\' => Some('\\'),
        b'a' => Some('\x07'),
        b'b' => Some('\x08'),
        b'f' => Some('\x0c'),
        b'v' => Some('\x0b'),
        _ if c == quote => Some(c as char),
        _ => None,
    };
    if let Some(ch) = simple {
        return Some((ch, 2));
    }
    let (digits, radix, skip) = match c {
        b'x' => (2, 16, 2),
        b'u' => (4, 16, 2),
        b'U' => (8, 16, 2),
        b'0'..=b'7' => (3, 8, 1),
        _ => return None,
    };
    let text = s.get(skip..skip + digits)?;
    let v = u32::from_str_radix(text, radix).ok()?;
    Some((char::from_u32(v)?, skip + digits))
}

fn number(s: &str) -> Option<(Tok, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.len() > 1 && b[0] == b'0' && matches!(b[1], b'x' | b'X' | b'b' | b'B' | b'o' | b'O') {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'b' | b'B' => 2,
            _ => 8,
        };
        i = 2;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let digits: String = s[2..i].chars().filter(|c| *c != '_').collect();
        return Some((Tok::Int(i128::from_str_radix(&digits, radix).ok()?), i));
    }
    let mut is_float = false;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        is_float = true;
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        is_float = true;
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return None;
    }
    let text: String = s[..i].chars().filter(|c| *c != '_').collect();
    if is_float {
        Some((Tok::Float(text.parse().ok()?), i))
    } else if text.len() > 1 && text.starts_with('0') {
        Some((Tok::Int(i128::from_str_radix(&text[1..], 8).ok()?), i))
    } else {
        Some((Tok::Int(text.parse().ok()?), i))
    }
}
