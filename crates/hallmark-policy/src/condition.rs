//! CEL conditions of attestation requirements (the `cel` crate, 0.15, standard library).
//!
//! Declared variables: `predicate` (the statement's predicate), `predicateType`, `subject`
//! (the statement's subject list), `statement` (the whole in-toto statement), `image` (map:
//! `name`, `tag`, `digest`; absent parts are null) and `now` (a timestamp). A condition is
//! compiled and checked when the policy loads: syntax, undeclared variables, unknown
//! functions and unknown types are load errors with their position in the expression.

use crate::pattern::ImageName;
use cel::common::ast::{Expr, IdedExpr};
use cel::objects::Key;
use cel::{Context, Env, Program, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The variables a condition may use.
pub const VARIABLES: &[&str] = &[
    "predicate",
    "predicateType",
    "subject",
    "statement",
    "image",
    "now",
];

/// A compiled, checked CEL condition.
#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// Why a condition does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column} of the expression)")]
pub struct ConditionError {
    /// What kind of error.
    pub kind: ConditionErrorKind,
    /// What is wrong (names what was expected and what was found).
    pub message: String,
    /// 1-based line within the expression.
    pub line: usize,
    /// 1-based column (characters) within the expression.
    pub column: usize,
}

/// Kinds of [`ConditionError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionErrorKind {
    /// The expression does not parse.
    Syntax,
    /// An identifier that is not a declared variable (nor a comprehension variable).
    UndeclaredVariable,
    /// A function the standard library does not have.
    UnknownFunction,
    /// A message type (struct literal) that is not declared.
    UnknownType,
}

/// What a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct ConditionInput<'a> {
    /// The in-toto statement.
    pub statement: &'a serde_json::Value,
    /// The image.
    pub image: &'a ImageName,
    /// The evaluation time (unix seconds).
    pub now: i64,
}

/// The result of evaluating a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionOutcome {
    /// It holds.
    True,
    /// It does not; for a top-level comparison (or the first false conjunct of `&&`), the
    /// value of each side found.
    False {
        /// e.g. `predicate.x is "a", expected == "b"`.
        found: Option<String>,
    },
    /// It could not be evaluated (no such key, wrong types, not a bool).
    Error(String),
}

const OPERATORS: &[&str] = &[
    "_?_:_",
    "_&&_",
    "_||_",
    "!_",
    "_-_",
    "_+_",
    "_*_",
    "_/_",
    "_%_",
    "_==_",
    "_!=_",
    "_>=_",
    "_<=_",
    "_>_",
    "_<_",
    "-_",
    "_[_]",
    "_[?_]",
    "_?._",
    "@in",
    "@not_strictly_false",
];

fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib())).clone()
}

/// Is `name` a function of the standard library? (`Context::add_function` refuses names
/// the environment declares as overloads, member functions included.)
fn is_known_function(name: &str) -> bool {
    if OPERATORS.contains(&name) {
        return true;
    }
    let mut ctx = Context::with_env(env());
    ctx.add_function(name, |a: i64| a).is_err()
}

fn is_known_type(name: &str) -> bool {
    env().types().find_type(name).is_some()
}

impl Condition {
    /// Parse and check `source`.
    pub fn compile(source: &str) -> Result<Condition, ConditionError> {
        let program = match env().compile(source) {
            Ok(p) => p,
            Err(errors) => {
                let first = errors.errors.first();
                let (line, column) = first.map_or((1, 1), |e| {
                    (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize)
                });
                let message = first.map_or_else(
                    || "the expression does not parse".to_string(),
                    |e| format!("CEL syntax error: {}", e.msg),
                );
                return Err(ConditionError {
                    kind: ConditionErrorKind::Syntax,
                    message,
                    line,
                    column,
                });
            }
        };
        let mut checker = Checker {
            program: &program,
            source,
            scopes: Vec::new(),
        };
        checker.check(program.expression())?;
        Ok(Condition {
            source: source.to_string(),
            program: Arc::new(program),
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluate against one statement.
    pub fn evaluate(&self, input: &ConditionInput<'_>) -> ConditionOutcome {
        let ctx = match context(input) {
            Ok(c) => c,
            Err(e) => return ConditionOutcome::Error(e),
        };
        match self.program.execute(&ctx) {
            Ok(Value::Bool(true)) => ConditionOutcome::True,
            Ok(Value::Bool(false)) => ConditionOutcome::False {
                found: explain(self.program.expression(), &self.program, &self.source, &ctx),
            },
            Ok(other) => ConditionOutcome::Error(format!(
                "the condition evaluated to {}, not a bool",
                render(&other)
            )),
            Err(e) => ConditionOutcome::Error(e.to_string()),
        }
    }
}

fn context(input: &ConditionInput<'_>) -> Result<Context<'static, 'static>, String> {
    let mut ctx = Context::with_env(env());
    let s = input.statement;
    let field = |k: &str| s.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let vars = [
        ("predicate", field("predicate")),
        ("predicateType", field("predicateType")),
        ("subject", field("subject")),
        ("statement", s.clone()),
        (
            "image",
            serde_json::json!({
                "name": input.image.name,
                "tag": input.image.tag,
                "digest": input.image.digest,
            }),
        ),
    ];
    for (name, v) in vars {
        ctx.add_variable_from_value(name, json_to_cel(&v));
    }
    let now = chrono::DateTime::from_timestamp(input.now, 0)
        .ok_or_else(|| format!("now ({}) is out of range", input.now))?;
    ctx.add_variable_from_value("now", Value::Timestamp(now.fixed_offset()));
    Ok(ctx)
}

/// The offsets a node and its children cover.
fn extent(program: &Program, e: &IdedExpr, acc: &mut Option<(u32, u32)>) {
    if let Some((start, mut stop)) = program.source_info().offset_for(e.id) {
        // A selection's offset is its `.`; an identifier's, its first character.
        let name_len = match &e.expr {
            Expr::Select(s) => s.field.chars().count() as u32,
            Expr::Ident(n) => (n.chars().count() as u32).saturating_sub(1),
            _ => 0,
        };
        stop = stop.max(start + name_len);
        *acc = Some(match *acc {
            Some((a, b)) => (a.min(start), b.max(stop)),
            None => (start, stop),
        });
    }
    match &e.expr {
        Expr::Select(s) => extent(program, &s.operand, acc),
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                extent(program, t, acc);
            }
            for a in &c.args {
                extent(program, a, acc);
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                extent(program, x, acc);
            }
        }
        _ => {}
    }
}

/// Source text of a node and its children (from the parser's offsets).
fn text_of(program: &Program, source: &str, e: &IdedExpr) -> Option<String> {
    let mut acc = None;
    extent(program, e, &mut acc);
    let (start, stop) = acc?;
    let chars: Vec<char> = source.chars().collect();
    let start = start as usize;
    // `stop` is the last character's index (inclusive), as ANTLR gives it.
    let stop = (stop as usize + 1).min(chars.len());
    let text: String = chars.get(start..stop)?.iter().collect();
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// JSON → CEL, numbers as `int` when they fit (then `uint`, then `double`).
fn json_to_cel(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(Arc::new(s.clone())),
        J::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        J::Object(m) => {
            let map: std::collections::HashMap<Key, Value> = m
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

fn explain(e: &IdedExpr, program: &Program, source: &str, ctx: &Context<'_, '_>) -> Option<String> {
    let Expr::Call(call) = &e.expr else {
        return None;
    };
    if call.target.is_some() || call.args.len() != 2 {
        return None;
    }
    if call.func_name == "_&&_" {
        for arg in &call.args {
            if matches!(Value::resolve(arg, ctx), Ok(Value::Bool(false))) {
                return explain(arg, program, source, ctx)
                    .or_else(|| text_of(program, source, arg).map(|t| format!("{t} is false")));
            }
        }
        return None;
    }
    let op = match call.func_name.as_str() {
        "_==_" => "==",
        "_!=_" => "!=",
        "_<_" => "<",
        "_<=_" => "<=",
        "_>_" => ">",
        "_>=_" => ">=",
        "@in" => "in",
        _ => return None,
    };
    let side = |a: &IdedExpr| match Value::resolve(a, ctx) {
        Ok(v) => render(&v),
        Err(e) => format!("an error ({e})"),
    };
    let (l, r) = (&call.args[0], &call.args[1]);
    let ltext = text_of(program, source, l).unwrap_or_else(|| "the left side".to_string());
    let rtext = text_of(program, source, r).unwrap_or_else(|| "the right side".to_string());
    let literal = |x: &IdedExpr| matches!(x.expr, Expr::Literal(_));
    Some(if literal(r) {
        format!("{ltext} is {}, expected {op} {}", side(l), side(r))
    } else if literal(l) && op == "in" {
        format!("{rtext} is {}, expected to contain {}", side(r), side(l))
    } else if literal(l) {
        format!("{rtext} is {}, expected {} {op} it", side(r), side(l))
    } else {
        format!(
            "{ltext} is {}, {rtext} is {} (expected {op})",
            side(l),
            side(r)
        )
    })
}

/// A CEL value as JSON-like text, cut at 200 characters.
pub(crate) fn render(v: &Value) -> String {
    let mut s = String::new();
    render_into(v, &mut s, 0);
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn render_into(v: &Value, out: &mut String, depth: usize) {
    if out.len() > 400 || depth > 16 {
        out.push('…');
        return;
    }
    match v {
        Value::String(s) => out.push_str(&serde_json::Value::String(s.to_string()).to_string()),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&format!("{u}u")),
        Value::Float(f) => out.push_str(&f.to_string()),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Null => out.push_str("null"),
        Value::Bytes(b) => out.push_str(&format!("b\"{}\"", String::from_utf8_lossy(b))),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(x, out, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut entries: Vec<(String, &Value)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::String(s) => serde_json::Value::String(s.to_string()).to_string(),
                        Key::Int(i) => i.to_string(),
                        Key::Uint(u) => format!("{u}u"),
                        Key::Bool(b) => b.to_string(),
                    };
                    (k, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&k);
                out.push_str(": ");
                render_into(x, out, depth + 1);
            }
            out.push('}');
        }
        Value::Timestamp(t) => out.push_str(&format!("timestamp(\"{}\")", t.to_rfc3339())),
        other => out.push_str(&format!("{other:?}")),
    }
}

struct Checker<'a> {
    program: &'a Program,
    source: &'a str,
    scopes: Vec<BTreeSet<String>>,
}

impl Checker<'_> {
    fn error(&self, e: &IdedExpr, kind: ConditionErrorKind, message: String) -> ConditionError {
        let (line, column) =
            self.program
                .source_info()
                .offset_for(e.id)
                .map_or((1, 1), |(start, _)| {
                    let mut start = start as usize;
                    // A call's offset is its `(`: point at the function's name instead.
                    if let Expr::Call(call) = &e.expr
                        && self.source.chars().nth(start) == Some('(')
                    {
                        start = start.saturating_sub(call.func_name.chars().count());
                    }
                    line_column(self.source, start)
                });
        ConditionError {
            kind,
            message,
            line,
            column,
        }
    }

    fn in_scope(&self, name: &str) -> bool {
        VARIABLES.contains(&name) || self.scopes.iter().any(|s| s.contains(name))
    }

    /// `a.b.c` as segments, when `e` spells a qualified name.
    fn qualified(e: &IdedExpr) -> Option<Vec<&str>> {
        match &e.expr {
            Expr::Ident(n) => Some(vec![n.as_str()]),
            Expr::Select(s) if !s.test => {
                let mut v = Self::qualified(&s.operand)?;
                v.push(&s.field);
                Some(v)
            }
            _ => None,
        }
    }

    fn check(&mut self, e: &IdedExpr) -> Result<(), ConditionError> {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => Ok(()),
            Expr::Ident(name) => {
                if name.starts_with('@') || self.in_scope(name) || is_known_type(name) {
                    Ok(())
                } else {
                    Err(self.error(
                        e,
                        ConditionErrorKind::UndeclaredVariable,
                        format!(
                            "undeclared variable `{name}` (declared: {})",
                            VARIABLES.join(", ")
                        ),
                    ))
                }
            }
            Expr::Select(s) => {
                if let Some(q) = Self::qualified(e)
                    && !self.in_scope(q[0])
                    && is_known_type(&q.join("."))
                {
                    return Ok(());
                }
                self.check(&s.operand)
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    if let Some(q) = Self::qualified(target)
                        && !self.in_scope(q[0])
                    {
                        let full = format!("{}.{}", q.join("."), call.func_name);
                        if is_known_function(&full) {
                            return call.args.iter().try_for_each(|a| self.check(a));
                        }
                    }
                    if !is_known_function(&call.func_name) {
                        return Err(self.error(
                            e,
                            ConditionErrorKind::UnknownFunction,
                            format!(
                                "unknown function `{}` (not in the CEL standard library)",
                                call.func_name
                            ),
                        ));
                    }
                    self.check(target)?;
                } else if !is_known_function(&call.func_name) {
                    return Err(self.error(
                        e,
                        ConditionErrorKind::UnknownFunction,
                        format!(
                            "unknown function `{}` (not in the CEL standard library)",
                            call.func_name
                        ),
                    ));
                }
                call.args.iter().try_for_each(|a| self.check(a))
            }
            Expr::Comprehension(c) => {
                self.check(&c.iter_range)?;
                self.check(&c.accu_init)?;
                let mut scope = BTreeSet::new();
                scope.insert(c.iter_var.clone());
                if let Some(v) = &c.iter_var2 {
                    scope.insert(v.clone());
                }
                scope.insert(c.accu_var.clone());
                self.scopes.push(scope);
                let r = self
                    .check(&c.loop_cond)
                    .and_then(|()| self.check(&c.loop_step))
                    .and_then(|()| self.check(&c.result));
                self.scopes.pop();
                r
            }
            Expr::List(l) => l.elements.iter().try_for_each(|x| self.check(x)),
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        self.check(&me.key)?;
                        self.check(&me.value)?;
                    }
                }
                Ok(())
            }
            Expr::Struct(s) => Err(self.error(
                e,
                ConditionErrorKind::UnknownType,
                format!(
                    "unknown message type `{}` (no types are declared)",
                    s.type_name
                ),
            )),
        }
    }
}

/// 1-based line and column (characters) of character offset `offset` in `s`.
fn line_column(s: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for (i, c) in s.chars().enumerate() {
        if i == offset {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}
