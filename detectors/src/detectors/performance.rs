//! `performance`: patterns that waste time in JS/TS, found on the oxc tree.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::SourceFile;
use oxc_ast::ast::{
    Argument, ArrayExpressionElement, Expression, FunctionBody, ObjectPropertyKind, Statement,
};
use oxc_ast::AstKind;
use oxc_semantic::NodeId;
use oxc_span::{GetSpan, Span};

pub const AWAIT_IN_LOOP: Rule = Rule::new("await-in-loop", Category::Performance, Severity::Medium)
    .confidence(0.7)
    .suggest("Start the operations first and await them together with Promise.all, unless each step needs the previous one.");
pub const SYNC_IO_IN_ASYNC: Rule = Rule::new("sync-io-in-async", Category::Performance, Severity::Medium)
    .confidence(0.85)
    .suggest("Use the promise-based API (fs/promises, util.promisify(exec)) so the event loop keeps serving other work.");
pub const SPREAD_ACCUMULATION: Rule = Rule::new("spread-accumulation", Category::Performance, Severity::Medium)
    .confidence(0.85)
    .suggest("Mutate one accumulator (push, Object.assign, a Map) instead of copying it on every iteration: the copies make the loop quadratic.");
pub const JSON_DEEP_CLONE: Rule =
    Rule::new("json-deep-clone", Category::Performance, Severity::Low)
        .confidence(0.8)
        .suggest("Use structuredClone(value), which is faster and keeps Dates, Maps and Sets.");

/// Blocking calls of Node's `fs` and `child_process` modules.
const BLOCKING_CALLS: &[&str] = &[
    "readFileSync",
    "writeFileSync",
    "appendFileSync",
    "existsSync",
    "statSync",
    "lstatSync",
    "readdirSync",
    "mkdirSync",
    "rmSync",
    "rmdirSync",
    "unlinkSync",
    "copyFileSync",
    "cpSync",
    "renameSync",
    "accessSync",
    "openSync",
    "closeSync",
    "readSync",
    "writeSync",
    "realpathSync",
    "opendirSync",
    "chmodSync",
    "chownSync",
    "truncateSync",
    "execSync",
    "execFileSync",
    "spawnSync",
];

pub struct PerformanceDetector;

impl Detector for PerformanceDetector {
    fn name(&self) -> &'static str {
        "performance"
    }

    fn description(&self) -> &'static str {
        "await in loops, blocking fs/child_process calls in async functions, accumulating spreads in loops and reduce, JSON deep clones"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            imports: false,
            files: false,
            js_syntax_errors: false,
        }
    }

    fn check_file(
        &self,
        _file: &SourceFile<'_>,
        js: Option<&ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        let Some(js) = js.filter(|js| !js.panicked) else {
            return;
        };
        let nodes = js.semantic.nodes();
        for node in nodes.iter() {
            match node.kind() {
                AstKind::AwaitExpression(await_expression) => {
                    if let Some(loop_kind) = enclosing_loop_body(js, node.id()) {
                        report(
                            out,
                            &AWAIT_IN_LOOP,
                            await_expression.span,
                            format!(
                                "await inside a {loop_kind} runs the iterations one after another"
                            ),
                        );
                    }
                }
                AstKind::CallExpression(call) => {
                    let Some(name) = call.callee_name() else {
                        continue;
                    };
                    if BLOCKING_CALLS.contains(&name) && in_async_function(js, node.id()) {
                        report(
                            out,
                            &SYNC_IO_IN_ASYNC,
                            call.span,
                            format!("{name}() blocks the event loop inside an async function"),
                        );
                    } else if name == "reduce" && reduce_spreads_accumulator(call.arguments.first())
                    {
                        report(out, &SPREAD_ACCUMULATION, call.span, "reduce() copies its accumulator with a spread on every element (quadratic)");
                    } else if name == "parse" && is_json_stringify_of_json_parse(call) {
                        report(
                            out,
                            &JSON_DEEP_CLONE,
                            call.span,
                            "JSON.parse(JSON.stringify(x)) is a slow, lossy deep clone",
                        );
                    }
                }
                AstKind::AssignmentExpression(assignment) => {
                    let Some(target) = assignment.left.get_identifier_name() else {
                        continue;
                    };
                    if spreads_identifier(&assignment.right, target)
                        && enclosing_loop_body(js, node.id()).is_some()
                    {
                        report(
                            out,
                            &SPREAD_ACCUMULATION,
                            assignment.span,
                            format!(
                                "'{target}' is copied with a spread on every iteration (quadratic)"
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

fn report(out: &mut FileSink<'_>, rule: &Rule, span: Span, message: impl Into<String>) {
    out.report(rule, span.start as usize, span.end as usize, message);
}

/// The kind of loop whose body (not its iterable or its `for await` head) contains the node,
/// looking no further than the enclosing function.
fn enclosing_loop_body(js: &ParsedJs<'_>, id: NodeId) -> Option<&'static str> {
    let nodes = js.semantic.nodes();
    let mut child: Span = nodes.kind(id).span();
    for ancestor in nodes.ancestors(id) {
        let in_body = |body: &Statement<'_>| body.span() == child;
        let found = match ancestor.kind() {
            AstKind::Function(_) | AstKind::ArrowFunctionExpression(_) => return None,
            AstKind::ForStatement(statement) if in_body(&statement.body) => Some("for loop"),
            AstKind::ForInStatement(statement) if in_body(&statement.body) => Some("for...in loop"),
            // `for await` is sequential on purpose.
            AstKind::ForOfStatement(statement)
                if in_body(&statement.body) && !statement.r#await =>
            {
                Some("for...of loop")
            }
            AstKind::WhileStatement(statement) if in_body(&statement.body) => Some("while loop"),
            AstKind::DoWhileStatement(statement) if in_body(&statement.body) => {
                Some("do...while loop")
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
        child = ancestor.kind().span();
    }
    None
}

fn in_async_function(js: &ParsedJs<'_>, id: NodeId) -> bool {
    for kind in js.semantic.nodes().ancestor_kinds(id) {
        match kind {
            AstKind::Function(function) => return function.r#async,
            AstKind::ArrowFunctionExpression(arrow) => return arrow.r#async,
            _ => {}
        }
    }
    false
}

/// `[...name, x]` or `{ ...name, k: v }`.
fn spreads_identifier(expression: &Expression<'_>, name: &str) -> bool {
    match expression.get_inner_expression() {
        Expression::ArrayExpression(array) => array.elements.iter().any(|element| {
            matches!(element, ArrayExpressionElement::SpreadElement(spread) if spread.argument.is_specific_id(name))
        }),
        Expression::ObjectExpression(object) => object.properties.iter().any(|property| {
            matches!(property, ObjectPropertyKind::SpreadProperty(spread) if spread.argument.is_specific_id(name))
        }),
        _ => false,
    }
}

/// A reducer whose result spreads its accumulator: `(acc, x) => ({ ...acc, [x.id]: x })`.
fn reduce_spreads_accumulator(reducer: Option<&Argument<'_>>) -> bool {
    let Some(reducer) = reducer.and_then(Argument::as_expression) else {
        return false;
    };
    let (params, body) = match reducer.get_inner_expression() {
        Expression::ArrowFunctionExpression(arrow) => {
            if let Some(result) = arrow.get_expression() {
                let accumulator = arrow
                    .params
                    .items
                    .first()
                    .and_then(|param| param.pattern.get_binding_identifier());
                return accumulator.is_some_and(|accumulator| {
                    spreads_identifier(result, accumulator.name.as_str())
                });
            }
            match arrow.get_function_body() {
                Some(body) => (&arrow.params, body),
                None => return false,
            }
        }
        Expression::FunctionExpression(function) => match &function.body {
            Some(body) => (&function.params, &**body),
            None => return false,
        },
        _ => return false,
    };
    let Some(accumulator) = params
        .items
        .first()
        .and_then(|param| param.pattern.get_binding_identifier())
    else {
        return false;
    };
    returns_spread_of(body, accumulator.name.as_str())
}

fn returns_spread_of(body: &FunctionBody<'_>, name: &str) -> bool {
    body.statements.iter().any(|statement| {
        matches!(statement, Statement::ReturnStatement(ret)
            if ret.argument.as_ref().is_some_and(|argument| spreads_identifier(argument, name)))
    })
}

fn is_json_stringify_of_json_parse(call: &oxc_ast::ast::CallExpression<'_>) -> bool {
    let is_json_member = |callee: &Expression<'_>, method: &str| {
        callee
            .get_inner_expression()
            .as_member_expression()
            .is_some_and(|member| member.is_specific_member_access("JSON", method))
    };
    if !is_json_member(&call.callee, "parse") {
        return false;
    }
    matches!(call.arguments.first().and_then(Argument::as_expression).map(Expression::get_inner_expression),
        Some(Expression::CallExpression(inner)) if is_json_member(&inner.callee, "stringify"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check, rule_ids};

    fn rules(code: &str) -> Vec<String> {
        rule_ids(&check(&PerformanceDetector, "a.ts", code))
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn await_in_a_loop_body_is_reported() {
        assert_eq!(
            rules("async function f(ids) { for (const id of ids) { await load(id); } }"),
            vec!["await-in-loop"]
        );
        assert_eq!(
            rules(
                "async function f() { while (more()) { const page = await next(); use(page); } }"
            ),
            vec!["await-in-loop"]
        );
    }

    #[test]
    fn awaits_outside_loop_bodies_are_not_reported() {
        let code = "async function f(ids) {\n  for (const id of await list()) { use(id); }\n  for await (const chunk of stream) { await write(chunk); }\n  for (const id of ids) { tasks.push(async () => { await load(id); }); }\n  await Promise.all(ids.map(load));\n}";
        assert!(rules(code).is_empty());
    }

    #[test]
    fn blocking_calls_in_async_functions_are_reported() {
        assert_eq!(
            rules("async function f() { return fs.readFileSync('a'); }"),
            vec!["sync-io-in-async"]
        );
        assert_eq!(
            rules("const g = async () => { execSync('ls'); };"),
            vec!["sync-io-in-async"]
        );
        assert!(rules("function f() { return fs.readFileSync('a'); }\nasync function g() { return fs.promises.readFile('a'); }").is_empty());
    }

    #[test]
    fn accumulating_spreads_are_reported() {
        assert_eq!(
            rules("let all = [];\nfor (const x of xs) { all = [...all, x]; }"),
            vec!["spread-accumulation"]
        );
        assert_eq!(
            rules("const byId = items.reduce((acc, item) => ({ ...acc, [item.id]: item }), {});"),
            vec!["spread-accumulation"]
        );
        assert!(rules("let all = [];\nfor (const x of xs) { all.push(x); }\nconst copy = { ...base, x: 1 };\nconst byId = items.reduce((acc, item) => { acc[item.id] = item; return acc; }, {});").is_empty());
    }

    #[test]
    fn json_deep_clones_are_reported() {
        assert_eq!(
            rules("const copy = JSON.parse(JSON.stringify(state));"),
            vec!["json-deep-clone"]
        );
        assert!(rules("const data = JSON.parse(text);").is_empty());
    }
}
