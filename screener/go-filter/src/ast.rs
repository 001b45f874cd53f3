//! The parsed Go subset, before name resolution and type checking.

use crate::lexer::Pos;

#[derive(Debug, Clone)]
pub enum TypeExpr {
    /// `float64`, `int`, `Kline` (only via `types.`), ...
    Name(String, Pos),
    /// `types.Kline`, `indicators.X` ...
    Qualified(String, String, Pos),
    Slice(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    Pointer(Box<TypeExpr>),
    Func(Box<FuncSig>),
    Struct(Vec<(String, TypeExpr)>),
}

#[derive(Debug, Clone)]
pub struct FuncSig {
    pub params: Vec<(String, TypeExpr)>,
    pub results: Vec<TypeExpr>,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub pos: Pos,
    pub kind: ExprKind,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Ident(String),
    Int(i128),
    Float(f64),
    Char(i128),
    Str(String),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Selector(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    SliceExpr(
        Box<Expr>,
        Option<Box<Expr>>,
        Option<Box<Expr>>,
        Option<Box<Expr>>,
    ),
    /// `f(args)`; `spread` for `append(a, b...)`.
    Call(Box<Expr>, Vec<Expr>, bool),
    /// A type in expression position (conversion target, `make` argument, composite literal type).
    Type(TypeExpr),
    Composite(TypeExpr, Vec<(Option<Expr>, Expr)>),
    FuncLit(Box<FuncSig>, Vec<Stmt>),
    Paren(Box<Expr>),
}

#[derive(Debug, Clone)]
pub struct Stmt {
    pub pos: Pos,
    pub kind: StmtKind,
}

#[derive(Debug, Clone)]
pub enum StmtKind {
    Expr(Expr),
    /// `a, b := x, y`
    Define(Vec<(String, Pos)>, Vec<Expr>),
    /// `a, b = x, y`, or `a op= x` (op is `+` for `+=`).
    Assign(Vec<Expr>, Vec<Expr>, Option<&'static str>),
    IncDec(Expr, bool),
    Var(Vec<(String, Pos)>, Option<TypeExpr>, Vec<Expr>),
    Const(Vec<(String, Pos)>, Option<TypeExpr>, Vec<Expr>),
    Block(Vec<Stmt>),
    /// `var ( ... )` / `const ( ... )`: declarations into the enclosing scope.
    Group(Vec<Stmt>),
    If(Option<Box<Stmt>>, Expr, Vec<Stmt>, Option<Box<Stmt>>),
    For {
        init: Option<Box<Stmt>>,
        cond: Option<Expr>,
        post: Option<Box<Stmt>>,
        body: Vec<Stmt>,
        label: Option<String>,
    },
    Range {
        key: Option<Expr>,
        value: Option<Expr>,
        define: bool,
        expr: Expr,
        body: Vec<Stmt>,
        label: Option<String>,
    },
    Switch {
        init: Option<Box<Stmt>>,
        tag: Option<Expr>,
        clauses: Vec<Clause>,
        label: Option<String>,
    },
    Return(Vec<Expr>),
    Break(Option<String>),
    Continue(Option<String>),
    Fallthrough,
    Empty,
}

#[derive(Debug, Clone)]
pub struct Clause {
    pub pos: Pos,
    /// `None` for `default`.
    pub exprs: Option<Vec<Expr>>,
    pub body: Vec<Stmt>,
}
