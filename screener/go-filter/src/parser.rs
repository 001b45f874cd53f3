//! Recursive-descent parser for the Go subset. Nesting is bounded ([`MAX_NESTING`]) so that no input can
//! overflow the Rust stack here or in the later passes, which recurse over the same tree.

use crate::ast::*;
use crate::lexer::{err, Pos, Tok, Token};
use filter_core::CompileError;

/// Deepest nesting of blocks, expressions and types accepted (generated filters nest well under 20).
pub const MAX_NESTING: u32 = 100;

pub struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: u32,
    /// In `if`/`for`/`switch` headers a `{` opens the body, not a composite literal.
    no_lit: bool,
}

type R<T> = Result<T, CompileError>;

pub fn unsupported(pos: Pos, what: &str) -> CompileError {
    err(pos, format!("unsupported construct: {what}"))
}

impl Parser {
    pub fn new(toks: Vec<Token>) -> Self {
        Parser {
            toks,
            i: 0,
            depth: 0,
            no_lit: false,
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> Pos {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn is_sym(&self, s: &str) -> bool {
        if s == ";" {
            return matches!(self.peek(), Tok::Semi);
        }
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }
    fn is_kw(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Kw(x) if *x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) -> R<()> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{s}`")))
        }
    }
    fn unexpected(&self, wanted: &str) -> CompileError {
        let found = match self.peek() {
            Tok::Ident(n) => format!("name {n}"),
            Tok::Int(_) | Tok::Float(_) | Tok::Char(_) | Tok::Str(_) => "literal".to_string(),
            Tok::Sym(s) => format!("`{s}`"),
            Tok::Kw(k) => format!("keyword {k}"),
            Tok::Semi => "newline".to_string(),
            Tok::Eof => "end of code".to_string(),
        };
        err(
            self.pos(),
            format!("syntax error: unexpected {found}, expected {wanted}"),
        )
    }
    fn ident(&mut self) -> R<(String, Pos)> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(n) => {
                self.bump();
                Ok((n, pos))
            }
            _ => Err(self.unexpected("name")),
        }
    }
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(err(
                self.pos(),
                format!("nesting too deep (more than {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The whole body: statements up to the end of input.
    pub fn body(&mut self) -> R<Vec<Stmt>> {
        let mut out = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Semi) {
                self.bump();
            }
            if matches!(self.peek(), Tok::Eof) {
                return Ok(out);
            }
            if self.is_sym("}") {
                return Err(self.unexpected("statement"));
            }
            out.push(self.stmt()?);
            self.end_stmt()?;
        }
    }

    fn end_stmt(&mut self) -> R<()> {
        match self.peek() {
            Tok::Semi => {
                self.bump();
                Ok(())
            }
            Tok::Sym("}") | Tok::Eof => Ok(()),
            _ => Err(self.unexpected("newline or `;` after statement")),
        }
    }

    fn block(&mut self) -> R<Vec<Stmt>> {
        self.enter()?;
        let saved = std::mem::replace(&mut self.no_lit, false);
        self.expect_sym("{")?;
        let mut out = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Semi) {
                self.bump();
            }
            if self.eat_sym("}") {
                break;
            }
            if matches!(self.peek(), Tok::Eof) {
                return Err(self.unexpected("`}`"));
            }
            out.push(self.stmt()?);
            self.end_stmt()?;
        }
        self.no_lit = saved;
        self.leave();
        Ok(out)
    }

    fn stmt(&mut self) -> R<Stmt> {
        // Statements nest only through blocks, which count.
        self.stmt_inner()
    }

    fn stmt_inner(&mut self) -> R<Stmt> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            Tok::Kw("var") => {
                self.bump();
                return self.decl_group(pos, false);
            }
            Tok::Kw("const") => {
                self.bump();
                return self.decl_group(pos, true);
            }
            Tok::Kw("if") => return self.if_stmt(),
            Tok::Kw("for") => return self.for_stmt(None),
            Tok::Kw("switch") => return self.switch_stmt(None),
            Tok::Kw("return") => {
                self.bump();
                let mut vals = Vec::new();
                if !matches!(self.peek(), Tok::Semi | Tok::Eof | Tok::Sym("}")) {
                    vals = self.expr_list()?;
                }
                StmtKind::Return(vals)
            }
            Tok::Kw(k @ ("break" | "continue")) => {
                self.bump();
                let label = match self.peek().clone() {
                    Tok::Ident(n) => {
                        self.bump();
                        Some(n)
                    }
                    _ => None,
                };
                if k == "break" {
                    StmtKind::Break(label)
                } else {
                    StmtKind::Continue(label)
                }
            }
            Tok::Kw("fallthrough") => {
                self.bump();
                StmtKind::Fallthrough
            }
            Tok::Sym("{") => StmtKind::Block(self.block()?),
            Tok::Semi => StmtKind::Empty,
            Tok::Kw("go") => return Err(unsupported(pos, "goroutine (`go` statement)")),
            Tok::Kw("defer") => return Err(unsupported(pos, "`defer` statement")),
            Tok::Kw("select") => return Err(unsupported(pos, "`select` statement (channels)")),
            Tok::Kw("goto") => return Err(unsupported(pos, "`goto` statement")),
            Tok::Kw("type") => return Err(unsupported(pos, "type declaration")),
            Tok::Kw("import") => return Err(unsupported(pos, "import (math, types and indicators need no import)")),
            Tok::Kw("package") => return Err(unsupported(pos, "package clause (write only the function body)")),
            Tok::Kw("func") if matches!(self.peek_at(1), Tok::Ident(_) | Tok::Sym("(")) && !matches!(self.peek_at(1), Tok::Sym("(")) => {
                return Err(unsupported(
                    pos,
                    "function declaration (write only the body; use a function literal: name := func(...) {...})",
                ))
            }
            Tok::Ident(label) if matches!(self.peek_at(1), Tok::Sym(":")) => {
                self.bump();
                self.bump();
                while matches!(self.peek(), Tok::Semi) {
                    self.bump();
                }
                return match self.peek() {
                    Tok::Kw("for") => self.for_stmt(Some(label)),
                    Tok::Kw("switch") => self.switch_stmt(Some(label)),
                    _ => Err(unsupported(pos, "label on a statement other than `for` or `switch`")),
                };
            }
            _ => return self.simple_stmt(),
        };
        Ok(Stmt { pos, kind })
    }

    fn decl_group(&mut self, pos: Pos, is_const: bool) -> R<Stmt> {
        if self.eat_sym("(") {
            let mut stmts = Vec::new();
            loop {
                while matches!(self.peek(), Tok::Semi) {
                    self.bump();
                }
                if self.eat_sym(")") {
                    break;
                }
                let p = self.pos();
                stmts.push(self.decl_spec(p, is_const)?);
                if !self.is_sym(")") {
                    if !matches!(self.peek(), Tok::Semi) {
                        return Err(self.unexpected("newline or `)`"));
                    }
                    self.bump();
                }
            }
            // A group declares into the enclosing scope, unlike a block.
            return Ok(Stmt {
                pos,
                kind: StmtKind::Group(stmts),
            });
        }
        self.decl_spec(pos, is_const)
    }

    fn decl_spec(&mut self, pos: Pos, is_const: bool) -> R<Stmt> {
        let mut names = vec![self.ident()?];
        while self.eat_sym(",") {
            names.push(self.ident()?);
        }
        let ty = if !self.is_sym("=") && !matches!(self.peek(), Tok::Semi | Tok::Sym(")")) {
            Some(self.type_expr()?)
        } else {
            None
        };
        let vals = if self.eat_sym("=") {
            self.expr_list()?
        } else {
            Vec::new()
        };
        if is_const && vals.is_empty() {
            return Err(err(
                pos,
                "missing init expr for const declaration (iota is not supported)",
            ));
        }
        Ok(Stmt {
            pos,
            kind: if is_const {
                StmtKind::Const(names, ty, vals)
            } else {
                StmtKind::Var(names, ty, vals)
            },
        })
    }

    fn if_stmt(&mut self) -> R<Stmt> {
        let pos = self.pos();
        self.bump();
        let saved = std::mem::replace(&mut self.no_lit, true);
        let first = self.simple_stmt()?;
        let (init, cond) = if self.eat_sym(";") {
            let cond = self.expr()?;
            (Some(Box::new(first)), cond)
        } else {
            match first.kind {
                StmtKind::Expr(e) => (None, e),
                _ => {
                    return Err(err(
                        first.pos,
                        "syntax error: missing condition in if statement",
                    ))
                }
            }
        };
        self.no_lit = saved;
        let then = self.block()?;
        let els = if self.is_kw("else") {
            self.bump();
            if self.is_kw("if") {
                // else-if chains nest.
                self.enter()?;
                let s = self.if_stmt();
                self.leave();
                Some(Box::new(s?))
            } else {
                let p = self.pos();
                Some(Box::new(Stmt {
                    pos: p,
                    kind: StmtKind::Block(self.block()?),
                }))
            }
        } else {
            None
        };
        Ok(Stmt {
            pos,
            kind: StmtKind::If(init, cond, then, els),
        })
    }

    fn for_stmt(&mut self, label: Option<String>) -> R<Stmt> {
        let pos = self.pos();
        self.bump();
        let saved = std::mem::replace(&mut self.no_lit, true);
        let mut init = None;
        let mut cond = None;
        let mut post = None;
        if self.is_sym("{") {
            // for {}
        } else if self.is_kw("range") {
            self.bump();
            let expr = self.expr()?;
            self.no_lit = saved;
            let body = self.block()?;
            return Ok(Stmt {
                pos,
                kind: StmtKind::Range {
                    key: None,
                    value: None,
                    define: false,
                    expr,
                    body,
                    label,
                },
            });
        } else {
            let first = if self.is_sym(";") {
                None
            } else {
                Some(self.range_or_simple()?)
            };
            if let Some(Err((key, value, define, expr))) = first {
                self.no_lit = saved;
                let body = self.block()?;
                return Ok(Stmt {
                    pos,
                    kind: StmtKind::Range {
                        key,
                        value,
                        define,
                        expr,
                        body,
                        label,
                    },
                });
            }
            let first = first.map(|f| f.unwrap_or_else(|_| unreachable_stmt(pos)));
            if self.eat_sym(";") {
                init = first.map(Box::new);
                if !self.is_sym(";") {
                    cond = Some(self.expr()?);
                }
                self.expect_sym(";")?;
                if !self.is_sym("{") {
                    post = Some(Box::new(self.simple_stmt()?));
                }
            } else {
                match first.map(|s| s.kind) {
                    Some(StmtKind::Expr(e)) => cond = Some(e),
                    _ => return Err(self.unexpected("`{` after for clause")),
                }
            }
        }
        self.no_lit = saved;
        let body = self.block()?;
        Ok(Stmt {
            pos,
            kind: StmtKind::For {
                init,
                cond,
                post,
                body,
                label,
            },
        })
    }

    /// A simple statement, or the header of a range clause (`k, v := range x`).
    #[allow(clippy::type_complexity)]
    fn range_or_simple(&mut self) -> R<Result<Stmt, (Option<Expr>, Option<Expr>, bool, Expr)>> {
        let save = self.i;
        let lhs = self.expr_list()?;
        if (self.is_sym(":=") || self.is_sym("=")) && matches!(self.peek_at(1), Tok::Kw("range")) {
            let define = self.is_sym(":=");
            self.bump();
            self.bump();
            if lhs.len() > 2 {
                return Err(err(
                    lhs[0].pos,
                    "range clause permits at most two iteration variables",
                ));
            }
            let expr = self.expr()?;
            let mut it = lhs.into_iter();
            return Ok(Err((it.next(), it.next(), define, expr)));
        }
        self.i = save;
        Ok(Ok(self.simple_stmt()?))
    }

    fn switch_stmt(&mut self, label: Option<String>) -> R<Stmt> {
        let pos = self.pos();
        self.bump();
        let saved = std::mem::replace(&mut self.no_lit, true);
        let mut init = None;
        let mut tag = None;
        if !self.is_sym("{") {
            let first = if self.is_sym(";") {
                None
            } else {
                Some(self.simple_stmt()?)
            };
            if self.eat_sym(";") {
                init = first.map(Box::new);
                if !self.is_sym("{") {
                    let s = self.simple_stmt()?;
                    match s.kind {
                        StmtKind::Expr(e) => tag = Some(e),
                        _ => return Err(unsupported(s.pos, "type switch")),
                    }
                }
            } else {
                match first.map(|s| (s.pos, s.kind)) {
                    Some((_, StmtKind::Expr(e))) => tag = Some(e),
                    Some((p, _)) => return Err(unsupported(p, "type switch")),
                    None => {}
                }
            }
        }
        self.no_lit = saved;
        self.enter()?;
        self.expect_sym("{")?;
        let mut clauses = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Semi) {
                self.bump();
            }
            if self.eat_sym("}") {
                break;
            }
            let cpos = self.pos();
            let exprs = if self.is_kw("case") {
                self.bump();
                Some(self.expr_list()?)
            } else if self.is_kw("default") {
                self.bump();
                None
            } else {
                return Err(self.unexpected("`case` or `default`"));
            };
            self.expect_sym(":")?;
            let mut body = Vec::new();
            loop {
                while matches!(self.peek(), Tok::Semi) {
                    self.bump();
                }
                if self.is_kw("case")
                    || self.is_kw("default")
                    || self.is_sym("}")
                    || matches!(self.peek(), Tok::Eof)
                {
                    break;
                }
                body.push(self.stmt()?);
                self.end_stmt()?;
            }
            clauses.push(Clause {
                pos: cpos,
                exprs,
                body,
            });
        }
        self.leave();
        Ok(Stmt {
            pos,
            kind: StmtKind::Switch {
                init,
                tag,
                clauses,
                label,
            },
        })
    }

    fn simple_stmt(&mut self) -> R<Stmt> {
        let pos = self.pos();
        let lhs = self.expr_list()?;
        let kind = match self.peek().clone() {
            Tok::Sym(":=") => {
                self.bump();
                let mut names = Vec::new();
                for e in &lhs {
                    match &e.kind {
                        ExprKind::Ident(n) => names.push((n.clone(), e.pos)),
                        _ => return Err(err(e.pos, "non-name on left side of :=")),
                    }
                }
                if self.is_kw("range") {
                    return Err(err(self.pos(), "syntax error: range outside a for clause"));
                }
                StmtKind::Define(names, self.expr_list()?)
            }
            Tok::Sym("=") => {
                self.bump();
                StmtKind::Assign(lhs, self.expr_list()?, None)
            }
            Tok::Sym(
                op
                @ ("+=" | "-=" | "*=" | "/=" | "%=" | "&=" | "|=" | "^=" | "<<=" | ">>=" | "&^="),
            ) => {
                self.bump();
                if lhs.len() != 1 {
                    return Err(err(
                        pos,
                        format!("assignment operator {op} requires single-valued expressions"),
                    ));
                }
                let rhs = self.expr()?;
                StmtKind::Assign(lhs, vec![rhs], Some(static_op(&op[..op.len() - 1])))
            }
            Tok::Sym(op @ ("++" | "--")) => {
                self.bump();
                if lhs.len() != 1 {
                    return Err(self.unexpected("single expression before ++/--"));
                }
                StmtKind::IncDec(
                    lhs.into_iter()
                        .next()
                        .unwrap_or_else(|| unreachable_expr(pos)),
                    op == "++",
                )
            }
            Tok::Sym("<-") => return Err(unsupported(self.pos(), "channel send")),
            _ => {
                if lhs.len() != 1 {
                    return Err(self.unexpected("`:=` or `=` after expression list"));
                }
                StmtKind::Expr(
                    lhs.into_iter()
                        .next()
                        .unwrap_or_else(|| unreachable_expr(pos)),
                )
            }
        };
        Ok(Stmt { pos, kind })
    }

    fn expr_list(&mut self) -> R<Vec<Expr>> {
        let mut v = vec![self.expr()?];
        while self.eat_sym(",") {
            v.push(self.expr()?);
        }
        Ok(v)
    }

    pub fn expr(&mut self) -> R<Expr> {
        self.binary(1)
    }

    fn binary(&mut self, min_prec: u8) -> R<Expr> {
        let mut left = self.unary()?;
        // A chain `a + b + c ...` nests to the left: every operator counts as a level.
        let mut levels = 0;
        let r = loop {
            let (op, prec) = match self.peek() {
                Tok::Sym(s) => match binary_prec(s) {
                    Some(p) => (*s, p),
                    None => break Ok(left),
                },
                _ => break Ok(left),
            };
            if prec < min_prec {
                break Ok(left);
            }
            let pos = self.pos();
            self.bump();
            if let Err(e) = self.enter() {
                break Err(e);
            }
            levels += 1;
            let right = match self.binary(prec + 1) {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            left = Expr {
                pos,
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
            };
        };
        self.depth -= levels;
        r
    }

    fn unary(&mut self) -> R<Expr> {
        self.enter()?;
        let pos = self.pos();
        let r = match self.peek().clone() {
            Tok::Sym(op @ ("+" | "-" | "!" | "^" | "*" | "&")) => {
                self.bump();
                let inner = self.unary()?;
                Ok(Expr {
                    pos,
                    kind: ExprKind::Unary(op, Box::new(inner)),
                })
            }
            Tok::Sym("<-") => Err(unsupported(pos, "channel receive")),
            _ => self.primary(),
        };
        self.leave();
        r
    }

    fn primary(&mut self) -> R<Expr> {
        let pos = self.pos();
        let mut e = match self.peek().clone() {
            Tok::Ident(n) => {
                self.bump();
                Expr {
                    pos,
                    kind: ExprKind::Ident(n),
                }
            }
            Tok::Int(v) => {
                self.bump();
                Expr {
                    pos,
                    kind: ExprKind::Int(v),
                }
            }
            Tok::Float(v) => {
                self.bump();
                Expr {
                    pos,
                    kind: ExprKind::Float(v),
                }
            }
            Tok::Char(v) => {
                self.bump();
                Expr {
                    pos,
                    kind: ExprKind::Char(v),
                }
            }
            Tok::Str(s) => {
                self.bump();
                Expr {
                    pos,
                    kind: ExprKind::Str(s),
                }
            }
            Tok::Sym("(") => {
                self.bump();
                let saved = std::mem::replace(&mut self.no_lit, false);
                let inner = self.expr()?;
                self.no_lit = saved;
                self.expect_sym(")")?;
                Expr {
                    pos,
                    kind: ExprKind::Paren(Box::new(inner)),
                }
            }
            Tok::Kw("func") => {
                self.bump();
                let sig = self.signature()?;
                if !self.is_sym("{") {
                    return Ok(Expr {
                        pos,
                        kind: ExprKind::Type(TypeExpr::Func(Box::new(sig))),
                    });
                }
                let body = self.block()?;
                Expr {
                    pos,
                    kind: ExprKind::FuncLit(Box::new(sig), body),
                }
            }
            Tok::Sym("[")
            | Tok::Kw("map")
            | Tok::Kw("struct")
            | Tok::Kw("chan")
            | Tok::Kw("interface") => {
                let t = self.type_expr()?;
                Expr {
                    pos,
                    kind: ExprKind::Type(t),
                }
            }
            _ => return Err(self.unexpected("expression")),
        };
        loop {
            let p = self.pos();
            match self.peek().clone() {
                Tok::Sym(".") => {
                    self.bump();
                    if self.is_sym("(") {
                        return Err(unsupported(p, "type assertion"));
                    }
                    let (name, _) = self.ident()?;
                    e = Expr {
                        pos: e.pos,
                        kind: ExprKind::Selector(Box::new(e), name),
                    };
                }
                Tok::Sym("[") => {
                    self.bump();
                    let saved = std::mem::replace(&mut self.no_lit, false);
                    let lo = if self.is_sym(":") {
                        None
                    } else {
                        Some(Box::new(self.expr()?))
                    };
                    if self.eat_sym(":") {
                        let hi = if self.is_sym("]") || self.is_sym(":") {
                            None
                        } else {
                            Some(Box::new(self.expr()?))
                        };
                        let max = if self.eat_sym(":") {
                            Some(Box::new(self.expr()?))
                        } else {
                            None
                        };
                        self.expect_sym("]")?;
                        e = Expr {
                            pos: e.pos,
                            kind: ExprKind::SliceExpr(Box::new(e), lo, hi, max),
                        };
                    } else {
                        self.expect_sym("]")?;
                        let idx = lo.ok_or_else(|| err(p, "syntax error: missing index"))?;
                        e = Expr {
                            pos: e.pos,
                            kind: ExprKind::Index(Box::new(e), idx),
                        };
                    }
                    self.no_lit = saved;
                }
                Tok::Sym("(") => {
                    self.bump();
                    let saved = std::mem::replace(&mut self.no_lit, false);
                    let mut args = Vec::new();
                    let mut spread = false;
                    while !self.is_sym(")") {
                        args.push(self.expr()?);
                        if self.eat_sym("...") {
                            spread = true;
                        }
                        if !self.eat_sym(",") {
                            break;
                        }
                        while matches!(self.peek(), Tok::Semi) {
                            self.bump();
                        }
                    }
                    self.expect_sym(")")?;
                    self.no_lit = saved;
                    e = Expr {
                        pos: e.pos,
                        kind: ExprKind::Call(Box::new(e), args, spread),
                    };
                }
                Tok::Sym("{") if self.literal_type(&e) => {
                    let ty = match e.kind {
                        ExprKind::Type(t) => t,
                        ExprKind::Selector(base, name) => match base.kind {
                            ExprKind::Ident(pkg) => TypeExpr::Qualified(pkg, name, e.pos),
                            _ => return Err(err(e.pos, "invalid composite literal type")),
                        },
                        _ => return Err(err(e.pos, "invalid composite literal type")),
                    };
                    let elems = self.composite_body()?;
                    e = Expr {
                        pos: e.pos,
                        kind: ExprKind::Composite(ty, elems),
                    };
                }
                _ => break,
            }
        }
        Ok(e)
    }

    fn literal_type(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Type(TypeExpr::Func(_)) => false,
            ExprKind::Type(_) => true,
            ExprKind::Selector(base, _) => {
                !self.no_lit && matches!(&base.kind, ExprKind::Ident(p) if p == "types")
            }
            _ => false,
        }
    }

    fn composite_body(&mut self) -> R<Vec<(Option<Expr>, Expr)>> {
        self.enter()?;
        self.expect_sym("{")?;
        let saved = std::mem::replace(&mut self.no_lit, false);
        let mut elems = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Semi) {
                self.bump();
            }
            if self.eat_sym("}") {
                break;
            }
            let first = self.element()?;
            let pair = if self.eat_sym(":") {
                (Some(first), self.element()?)
            } else {
                (None, first)
            };
            elems.push(pair);
            while matches!(self.peek(), Tok::Semi) {
                self.bump();
            }
            if !self.eat_sym(",") {
                while matches!(self.peek(), Tok::Semi) {
                    self.bump();
                }
                self.expect_sym("}")?;
                break;
            }
        }
        self.no_lit = saved;
        self.leave();
        Ok(elems)
    }

    fn element(&mut self) -> R<Expr> {
        if self.is_sym("{") {
            let pos = self.pos();
            let elems = self.composite_body()?;
            return Ok(Expr {
                pos,
                kind: ExprKind::Composite(TypeExpr::Name(String::new(), pos), elems),
            });
        }
        self.expr()
    }

    fn signature(&mut self) -> R<FuncSig> {
        if self.is_sym("[") {
            return Err(unsupported(self.pos(), "generics (type parameters)"));
        }
        self.expect_sym("(")?;
        let mut groups: Vec<ParamGroup> = Vec::new();
        let mut variadic = false;
        // Parameters: either all named (`a, b float64, c int`) or all types (`float64, int`).
        let mut items: Vec<ParamItem> = Vec::new();
        while !self.is_sym(")") {
            if self.eat_sym("...") {
                variadic = true;
            }
            let name = match (self.peek().clone(), self.peek_at(1).clone()) {
                (Tok::Ident(n), t)
                    if !matches!(t, Tok::Sym(",") | Tok::Sym(")") | Tok::Sym(".")) =>
                {
                    let p = self.pos();
                    self.bump();
                    if self.eat_sym("...") {
                        variadic = true;
                    }
                    Some((n, p))
                }
                _ => None,
            };
            if let Some(n) = name {
                items.push((Some(n), Some(self.type_expr()?)));
            } else {
                items.push((None, Some(self.type_expr()?)));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        if variadic {
            return Err(unsupported(self.pos(), "variadic function literal"));
        }
        let any_named = items.iter().any(|(n, _)| n.is_some());
        let mut params = Vec::new();
        if any_named {
            // `a, b float64`: bare names before a named+typed entry take its type.
            let mut pending: Vec<(String, Pos)> = Vec::new();
            for (n, t) in items {
                match (n, t) {
                    (Some(n), Some(t)) => {
                        pending.push(n);
                        groups.push((std::mem::take(&mut pending), Some(t)));
                    }
                    (None, Some(TypeExpr::Name(n, p))) => pending.push((n, p)),
                    _ => {
                        return Err(err(
                            self.pos(),
                            "syntax error: mixed named and unnamed parameters",
                        ))
                    }
                }
            }
            if !pending.is_empty() {
                return Err(err(
                    self.pos(),
                    "syntax error: mixed named and unnamed parameters",
                ));
            }
            for (names, t) in groups {
                for (n, _) in names {
                    params.push((
                        n,
                        t.clone()
                            .unwrap_or(TypeExpr::Name(String::new(), Pos::default())),
                    ));
                }
            }
        } else {
            for (_, t) in items {
                if let Some(t) = t {
                    params.push(("_".to_string(), t));
                }
            }
        }
        let mut results = Vec::new();
        if self.eat_sym("(") {
            while !self.is_sym(")") {
                if matches!(self.peek(), Tok::Ident(_))
                    && !matches!(
                        self.peek_at(1),
                        Tok::Sym(",") | Tok::Sym(")") | Tok::Sym(".")
                    )
                {
                    return Err(unsupported(self.pos(), "named function results"));
                }
                results.push(self.type_expr()?);
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
        } else if !self.is_sym("{")
            && !matches!(
                self.peek(),
                Tok::Semi
                    | Tok::Sym(")")
                    | Tok::Sym(",")
                    | Tok::Sym("]")
                    | Tok::Sym("}")
                    | Tok::Sym("=")
                    | Tok::Eof
            )
        {
            results.push(self.type_expr()?);
        }
        Ok(FuncSig { params, results })
    }

    pub fn type_expr(&mut self) -> R<TypeExpr> {
        self.enter()?;
        let r = self.type_inner();
        self.leave();
        r
    }

    fn type_inner(&mut self) -> R<TypeExpr> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(n) => {
                self.bump();
                if self.is_sym(".") {
                    self.bump();
                    let (m, _) = self.ident()?;
                    return Ok(TypeExpr::Qualified(n, m, pos));
                }
                Ok(TypeExpr::Name(n, pos))
            }
            Tok::Sym("[") => {
                self.bump();
                if self.eat_sym("]") {
                    return Ok(TypeExpr::Slice(Box::new(self.type_expr()?)));
                }
                Err(unsupported(pos, "array type (use a slice: []T)"))
            }
            Tok::Sym("*") => {
                self.bump();
                Ok(TypeExpr::Pointer(Box::new(self.type_expr()?)))
            }
            Tok::Sym("(") => {
                self.bump();
                let t = self.type_expr()?;
                self.expect_sym(")")?;
                Ok(t)
            }
            Tok::Kw("map") => {
                self.bump();
                self.expect_sym("[")?;
                let k = self.type_expr()?;
                self.expect_sym("]")?;
                Ok(TypeExpr::Map(Box::new(k), Box::new(self.type_expr()?)))
            }
            Tok::Kw("func") => {
                self.bump();
                Ok(TypeExpr::Func(Box::new(self.signature()?)))
            }
            Tok::Kw("struct") => {
                self.bump();
                self.expect_sym("{")?;
                let mut fields = Vec::new();
                loop {
                    while matches!(self.peek(), Tok::Semi) {
                        self.bump();
                    }
                    if self.eat_sym("}") {
                        break;
                    }
                    let mut names = vec![self.ident()?.0];
                    while self.eat_sym(",") {
                        names.push(self.ident()?.0);
                    }
                    let t = self.type_expr()?;
                    for n in names {
                        fields.push((n, t.clone()));
                    }
                    if matches!(self.peek(), Tok::Str(_)) {
                        self.bump();
                    }
                    if !matches!(self.peek(), Tok::Semi) && !self.is_sym("}") {
                        return Err(self.unexpected("`;` or `}` in struct type"));
                    }
                }
                Ok(TypeExpr::Struct(fields))
            }
            Tok::Kw("chan") | Tok::Sym("<-") => Err(unsupported(pos, "channel type")),
            Tok::Kw("interface") => Err(unsupported(pos, "interface type")),
            _ => Err(self.unexpected("type")),
        }
    }
}

type ParamGroup = (Vec<(String, Pos)>, Option<TypeExpr>);
type ParamItem = (Option<(String, Pos)>, Option<TypeExpr>);

fn static_op(op: &str) -> &'static str {
    ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "&^"]
        .into_iter()
        .find(|o| *o == op)
        .unwrap_or("+")
}

fn binary_prec(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "==" | "!=" | "<" | "<=" | ">" | ">=" => 3,
        "+" | "-" | "|" | "^" => 4,
        "*" | "/" | "%" | "<<" | ">>" | "&" | "&^" => 5,
        _ => return None,
    })
}

fn unreachable_stmt(pos: Pos) -> Stmt {
    Stmt {
        pos,
        kind: StmtKind::Empty,
    }
}
fn unreachable_expr(pos: Pos) -> Expr {
    Expr {
        pos,
        kind: ExprKind::Int(0),
    }
}
