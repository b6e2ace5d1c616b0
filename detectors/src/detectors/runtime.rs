//! `runtime`: JS/TS code that parses but throws as soon as it runs, found on the oxc tree with
//! its scopes and symbols (no type checker): calls of names nothing declares, writes to
//! constants and imports, `new` on arrow functions, calls of classes without `new` and of
//! values that are not functions, and reads of `let`/`const`/`class` bindings before their
//! declaration in the same function (the temporal dead zone).
//!
//! `valid-typeof` lives in the `eslint` detector; syntax errors in the `typescript` one.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::SourceFile;
use oxc_ast::ast::{Expression, IdentifierReference};
use oxc_ast::AstKind;
use oxc_semantic::Semantic;
use oxc_span::{GetSpan, Span};
use oxc_syntax::scope::{ScopeFlags, ScopeId};
use oxc_syntax::symbol::SymbolFlags;
use std::collections::HashSet;

pub const UNDECLARED_CALL: Rule =
    Rule::new("undeclared-call", Category::Correctness, Severity::High)
        .confidence(0.8)
        .suggest(
            "Import or declare the function, or fix the name: calling it throws a ReferenceError.",
        );
pub const CONST_ASSIGN: Rule = Rule::new("const-assign", Category::Correctness, Severity::High)
    .suggest("Declare the variable with `let`, or assign to a new one: writing to a constant throws a TypeError.");
pub const IMPORT_ASSIGN: Rule = Rule::new("import-assign", Category::Correctness, Severity::High)
    .suggest("Imported bindings are read-only: copy the value into a local variable first.");
pub const NEW_ARROW: Rule = Rule::new("new-arrow-function", Category::Correctness, Severity::High)
    .suggest("Arrow functions cannot be constructors: use a class or a `function` declaration.");
pub const CLASS_CALL: Rule = Rule::new(
    "class-call-without-new",
    Category::Correctness,
    Severity::High,
)
.fixable()
.suggest("Classes must be called with `new`.");
pub const NOT_A_FUNCTION: Rule =
    Rule::new("call-non-function", Category::Correctness, Severity::High)
        .suggest("The constant holds a literal, not a function: calling it throws a TypeError.");
pub const TEMPORAL_DEAD_ZONE: Rule =
    Rule::new("use-before-declaration", Category::Correctness, Severity::High)
        .confidence(0.85)
        .suggest("Move the declaration above its first use: `let`, `const` and `class` bindings cannot be read before it.");

pub const RULES: &[Rule] = &[
    UNDECLARED_CALL,
    CONST_ASSIGN,
    IMPORT_ASSIGN,
    NEW_ARROW,
    CLASS_CALL,
    NOT_A_FUNCTION,
    TEMPORAL_DEAD_ZONE,
];

/// Globals of ECMAScript, browsers, web workers, Node and the common test runners: a call of one
/// of these without a declaration is fine.
const KNOWN_GLOBALS: &[&str] = &[
    // ECMAScript
    "Array",
    "ArrayBuffer",
    "Atomics",
    "BigInt",
    "BigInt64Array",
    "BigUint64Array",
    "Boolean",
    "DataView",
    "Date",
    "decodeURI",
    "decodeURIComponent",
    "encodeURI",
    "encodeURIComponent",
    "Error",
    "escape",
    "eval",
    "EvalError",
    "FinalizationRegistry",
    "Float32Array",
    "Float64Array",
    "Function",
    "globalThis",
    "Infinity",
    "Int16Array",
    "Int32Array",
    "Int8Array",
    "Intl",
    "isFinite",
    "isNaN",
    "Iterator",
    "JSON",
    "Map",
    "Math",
    "NaN",
    "Number",
    "Object",
    "parseFloat",
    "parseInt",
    "Promise",
    "Proxy",
    "RangeError",
    "ReferenceError",
    "Reflect",
    "RegExp",
    "Set",
    "SharedArrayBuffer",
    "String",
    "Symbol",
    "SyntaxError",
    "TypeError",
    "Uint16Array",
    "Uint32Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "undefined",
    "unescape",
    "URIError",
    "WeakMap",
    "WeakRef",
    "WeakSet",
    "AggregateError",
    "SuppressedError",
    "DisposableStack",
    "AsyncDisposableStack",
    "Float16Array",
    // Browsers and workers
    "window",
    "self",
    "document",
    "navigator",
    "location",
    "history",
    "screen",
    "alert",
    "confirm",
    "prompt",
    "open",
    "close",
    "print",
    "postMessage",
    "fetch",
    "Request",
    "Response",
    "Headers",
    "FormData",
    "URL",
    "URLSearchParams",
    "Blob",
    "File",
    "FileReader",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "setImmediate",
    "clearImmediate",
    "queueMicrotask",
    "requestAnimationFrame",
    "cancelAnimationFrame",
    "requestIdleCallback",
    "cancelIdleCallback",
    "structuredClone",
    "atob",
    "btoa",
    "getComputedStyle",
    "matchMedia",
    "XMLHttpRequest",
    "WebSocket",
    "EventSource",
    "Event",
    "CustomEvent",
    "EventTarget",
    "AbortController",
    "AbortSignal",
    "TextEncoder",
    "TextDecoder",
    "crypto",
    "Crypto",
    "performance",
    "console",
    "localStorage",
    "sessionStorage",
    "indexedDB",
    "caches",
    "Worker",
    "SharedWorker",
    "MessageChannel",
    "MessagePort",
    "BroadcastChannel",
    "Image",
    "Audio",
    "Option",
    "Notification",
    "MutationObserver",
    "IntersectionObserver",
    "ResizeObserver",
    "PerformanceObserver",
    "DOMParser",
    "XMLSerializer",
    "Node",
    "Element",
    "HTMLElement",
    "customElements",
    "importScripts",
    "reportError",
    "ReadableStream",
    "WritableStream",
    "TransformStream",
    "CompressionStream",
    "DecompressionStream",
    "WebAssembly",
    "scrollTo",
    "scrollBy",
    "addEventListener",
    "removeEventListener",
    "dispatchEvent",
    "getSelection",
    "ShadowRoot",
    "DocumentFragment",
    "Range",
    "NodeFilter",
    "DOMException",
    "CSS",
    "ImageData",
    "OffscreenCanvas",
    "createImageBitmap",
    "Intl",
    "frames",
    "parent",
    "top",
    "opener",
    // Node
    "require",
    "module",
    "exports",
    "process",
    "global",
    "Buffer",
    "__dirname",
    "__filename",
    "setImmediate",
    "clearImmediate",
    // Module loaders and bundlers
    "define",
    "System",
    // Test runners (Jest, Mocha, Jasmine, Vitest, QUnit)
    "describe",
    "it",
    "test",
    "expect",
    "beforeEach",
    "afterEach",
    "beforeAll",
    "afterAll",
    "before",
    "after",
    "jest",
    "vi",
    "suite",
    "context",
    "specify",
    "xit",
    "xdescribe",
    "fit",
    "fdescribe",
    "spyOn",
    "jasmine",
    "pending",
    "fail",
    "QUnit",
    "assert",
    "sinon",
    "chai",
];

pub struct RuntimeDetector;

impl Detector for RuntimeDetector {
    fn name(&self) -> &'static str {
        "runtime"
    }

    fn description(&self) -> &'static str {
        "JS/TS that throws when run: undeclared calls, writes to constants and imports, new on arrows, class calls without new, temporal dead zone"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            ..Needs::default()
        }
    }

    fn check_file(&self, file: &SourceFile<'_>, js: Option<&ParsedJs<'_>>, out: &mut FileSink<'_>) {
        let Some(js) = js else {
            return;
        };
        // An abandoned tree is empty; Flow is not what oxc parsed; declaration files never run.
        if js.panicked || js.is_flow || file.path.ends_with(".d.ts") {
            return;
        }
        let mut checker = Checker { js, out };
        checker.check_symbols();
        checker.check_undeclared_calls();
    }
}

struct Checker<'l, 'f, 'a> {
    js: &'l ParsedJs<'a>,
    out: &'l mut FileSink<'f>,
}

impl<'a> Checker<'_, '_, 'a> {
    fn semantic(&self) -> &Semantic<'a> {
        &self.js.semantic
    }

    fn report(&mut self, rule: &Rule, span: Span, message: String) {
        self.out
            .report(rule, span.start as usize, span.end as usize, message);
    }

    /// One pass over the declared symbols and their references.
    fn check_symbols(&mut self) {
        // Borrowed from the tree, not from `self`, so names need no copy while reporting.
        let js = self.js;
        let semantic = &js.semantic;
        let scoping = semantic.scoping();
        for symbol in scoping.symbol_ids() {
            let flags = scoping.symbol_flags(symbol);
            let interesting = flags.intersects(
                SymbolFlags::ConstVariable
                    | SymbolFlags::Import
                    | SymbolFlags::Class
                    | SymbolFlags::BlockScopedVariable,
            );
            if !interesting || flags.contains(SymbolFlags::TypeImport) {
                continue;
            }
            let name = scoping.symbol_name(symbol);
            let declaration = semantic.symbol_declaration(symbol);
            let initializer = match declaration.kind() {
                AstKind::VariableDeclarator(declarator) => declarator.init.as_ref(),
                _ => None,
            };
            // Before the declaration, or inside its own initialiser (`let x = x + 1`); not in
            // the binding pattern, whose defaults may read earlier names of the same pattern.
            let in_dead_zone = |start: u32| match declaration.kind() {
                AstKind::VariableDeclarator(declarator) => {
                    start < declarator.span.start
                        || declarator.init.as_ref().is_some_and(|init| {
                            let span = init.span();
                            span.start <= start && start < span.end
                        })
                }
                AstKind::Class(class) => !class.declare && start < class.span.start,
                _ => false,
            };
            let is_const = flags.contains(SymbolFlags::ConstVariable);
            for reference in scoping.get_resolved_references(symbol) {
                if !(reference.is_read() || reference.is_write()) {
                    continue;
                }
                let node = semantic.nodes().get_node(reference.node_id());
                let span = node.kind().span();
                if reference.is_write() {
                    if flags.contains(SymbolFlags::Import) {
                        self.report(
                            &IMPORT_ASSIGN,
                            span,
                            format!("'{name}' is an import and cannot be assigned"),
                        );
                        continue;
                    }
                    if is_const {
                        self.report(
                            &CONST_ASSIGN,
                            span,
                            format!("'{name}' is a constant and cannot be assigned"),
                        );
                        continue;
                    }
                }
                {
                    if in_dead_zone(span.start)
                        && flags.intersects(SymbolFlags::BlockScopedVariable | SymbolFlags::Class)
                        && self.same_function(reference.scope_id(), scoping.symbol_scope_id(symbol))
                        && !self.inside_type_position(reference.node_id())
                    {
                        self.report(
                            &TEMPORAL_DEAD_ZONE,
                            span,
                            format!("'{name}' is used before its declaration"),
                        );
                        continue;
                    }
                }
                let parent = semantic.nodes().parent_kind(reference.node_id());
                let (called, constructed) = match parent {
                    AstKind::CallExpression(call) if call.callee.span() == span => (true, false),
                    AstKind::NewExpression(new) if new.callee.span() == span => (false, true),
                    _ => (false, false),
                };
                if called && flags.contains(SymbolFlags::Class) {
                    self.report(
                        &CLASS_CALL,
                        span,
                        format!("Class constructor '{name}' cannot be invoked without 'new'"),
                    );
                }
                if !is_const {
                    continue;
                }
                match initializer.map(Expression::get_inner_expression) {
                    Some(Expression::ArrowFunctionExpression(_)) if constructed => {
                        self.report(
                            &NEW_ARROW,
                            span,
                            format!("'{name}' is an arrow function and is not a constructor"),
                        );
                    }
                    Some(value) if (called || constructed) && is_literal_value(value) => {
                        self.report(
                            &NOT_A_FUNCTION,
                            span,
                            format!("'{name}' is not a function: it holds {}", describe(value)),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    /// Whether the reference runs as part of the declaring scope's function, so it runs before
    /// the declaration when it comes first (a nested function may be called later).
    fn same_function(&self, reference_scope: ScopeId, symbol_scope: ScopeId) -> bool {
        let scoping = self.semantic().scoping();
        for scope in scoping.scope_ancestors(reference_scope) {
            if scope == symbol_scope {
                return true;
            }
            if scoping
                .scope_flags(scope)
                .intersects(ScopeFlags::Function | ScopeFlags::Arrow | ScopeFlags::ClassStaticBlock)
            {
                return false;
            }
        }
        false
    }

    /// `typeof x` in a type annotation is erased and never runs.
    fn inside_type_position(&self, node: oxc_semantic::NodeId) -> bool {
        self.semantic()
            .nodes()
            .ancestor_kinds(node)
            .any(|kind| matches!(kind, AstKind::TSTypeQuery(_) | AstKind::TSTypeAnnotation(_)))
    }

    /// Calls and `new` of names that nothing in the file declares and that are no known global.
    fn check_undeclared_calls(&mut self) {
        let js = self.js;
        let semantic = &js.semantic;
        let scoping = semantic.scoping();
        // A script (no import, export or require) shares its globals with other scripts.
        let unresolved = scoping.root_unresolved_references();
        let is_module = js.source_type.is_module()
            || unresolved.contains_key("require")
            || unresolved.contains_key("module")
            || unresolved.contains_key("exports");
        if !is_module {
            return;
        }
        let declared_in_comments = comment_globals(js);
        let mut found: Vec<(Span, String)> = Vec::new();
        for (name, references) in unresolved.iter() {
            let name: &str = name.as_str();
            if is_known_global(name) || declared_in_comments.contains(name) {
                continue;
            }
            for &reference_id in references.iter() {
                let reference = scoping.get_reference(reference_id);
                let node_id = reference.node_id();
                let AstKind::IdentifierReference(identifier) = semantic.nodes().kind(node_id)
                else {
                    continue;
                };
                if guarded_by_typeof(identifier, semantic, node_id) {
                    continue;
                }
                let called = match semantic.nodes().parent_kind(node_id) {
                    AstKind::CallExpression(call) => call.callee.span() == identifier.span,
                    AstKind::NewExpression(new) => new.callee.span() == identifier.span,
                    _ => false,
                };
                if called {
                    found.push((identifier.span, name.to_owned()));
                }
            }
        }
        found.sort_by_key(|(span, _)| span.start);
        for (span, name) in found {
            self.report(&UNDECLARED_CALL, span, format!("'{name}' is not defined"));
        }
    }
}

fn is_known_global(name: &str) -> bool {
    // Bundler and framework injections (`__DEV__`, `__webpack_require__`), and jQuery-style
    // globals that pages load with a script tag.
    name.starts_with("__") || name == "$" || name == "jQuery" || KNOWN_GLOBALS.contains(&name)
}

/// Names declared by `/* global a, b */` and `/* globals a */` comments.
fn comment_globals<'a>(js: &'a ParsedJs<'_>) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for comment in js.program.comments.iter() {
        let text = js.text_of(comment.content_span()).trim_start();
        let rest = text
            .strip_prefix("globals")
            .or_else(|| text.strip_prefix("global"));
        if let Some(rest) = rest {
            if !rest.starts_with(char::is_whitespace) {
                continue;
            }
            for item in rest.split(',') {
                let name = item.split(':').next().unwrap_or("").trim();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// `typeof foo === "function" && foo()` or `if (typeof foo !== "undefined") foo()`: the code
/// checks for the global before using it. Any `typeof name` in an enclosing condition counts.
fn guarded_by_typeof(
    identifier: &IdentifierReference<'_>,
    semantic: &Semantic<'_>,
    node: oxc_semantic::NodeId,
) -> bool {
    let name = identifier.name.as_str();
    let mentions = |expression: &Expression<'_>| {
        let text = expression.span().source_text(semantic.source_text());
        text.contains("typeof") && text.contains(name)
    };
    semantic
        .nodes()
        .ancestor_kinds(node)
        .any(|kind| match kind {
            AstKind::IfStatement(statement) => mentions(&statement.test),
            AstKind::ConditionalExpression(conditional) => mentions(&conditional.test),
            AstKind::LogicalExpression(logical) => mentions(&logical.left),
            AstKind::TryStatement(_) => true,
            _ => false,
        })
}

fn is_literal_value(expression: &Expression<'_>) -> bool {
    matches!(
        expression,
        Expression::NumericLiteral(_)
            | Expression::StringLiteral(_)
            | Expression::BooleanLiteral(_)
            | Expression::NullLiteral(_)
            | Expression::BigIntLiteral(_)
            | Expression::TemplateLiteral(_)
            | Expression::ArrayExpression(_)
            | Expression::ObjectExpression(_)
    )
}

fn describe(expression: &Expression<'_>) -> &'static str {
    match expression {
        Expression::NumericLiteral(_) | Expression::BigIntLiteral(_) => "a number",
        Expression::StringLiteral(_) | Expression::TemplateLiteral(_) => "a string",
        Expression::BooleanLiteral(_) => "a boolean",
        Expression::NullLiteral(_) => "null",
        Expression::ArrayExpression(_) => "an array",
        _ => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check, rule_ids};

    /// Rule ids in source order (the engine sorts; a bare sink keeps report order).
    fn ids(path: &str, text: &str) -> Vec<String> {
        let mut findings = check(&RuntimeDetector, path, text);
        findings.sort_by_key(|finding| (finding.line, finding.column));
        rule_ids(&findings).into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn a_call_of_an_undeclared_function_in_a_module_is_reported() {
        let findings = check(
            &RuntimeDetector,
            "a.js",
            "import x from 'x';\nexport function f() { return lodashGet(x, 'a'); }\n",
        );
        assert_eq!(rule_ids(&findings), ["undeclared-call"]);
        assert_eq!(findings[0].message, "'lodashGet' is not defined");
        assert_eq!((findings[0].line, findings[0].column), (2, 30));
    }

    #[test]
    fn known_globals_declared_names_and_guarded_calls_are_fine() {
        let text = "/* global legacyInit */\nimport a from 'a';\n\
                    export function f() { setTimeout(() => fetch('/x'), 1); require('y');\n\
                    legacyInit(); if (typeof gtag === 'function') { gtag('x'); }\n\
                    try { optional(); } catch (e) {}\n\
                    return new Map([[1, parseInt('2')]]); }\n";
        assert!(ids("a.js", text).is_empty(), "{:?}", ids("a.js", text));
    }

    #[test]
    fn scripts_share_globals_and_are_not_checked_for_undeclared_calls() {
        assert!(ids("a.js", "helperFromOtherScript();\n").is_empty());
    }

    #[test]
    fn writes_to_constants_and_imports_are_reported() {
        let text = "import config from './c';\nconst limit = 1;\nlet ok = 1;\n\
                    export function f() { limit += 1; ok = 2; config = {}; }\n";
        assert_eq!(ids("a.ts", text), ["const-assign", "import-assign"]);
    }

    #[test]
    fn new_on_an_arrow_class_calls_and_literal_calls_are_reported() {
        let text = "export const Make = () => ({});\nexport class Shape {}\n\
                    const answer = 42;\nconst options = { a: 1 };\n\
                    export function f() { new Make(); Shape(); answer(); options(); return new Shape(); }\n";
        assert_eq!(
            ids("a.js", text),
            [
                "new-arrow-function",
                "class-call-without-new",
                "call-non-function",
                "call-non-function"
            ]
        );
    }

    #[test]
    fn constructors_and_functions_held_in_constants_are_fine() {
        let text = "export const make = function () {};\nconst Fn = function () {};\n\
                    export const g = () => 1;\nexport function f() { make(); g(); return new Fn(); }\n";
        assert!(ids("a.js", text).is_empty());
    }

    #[test]
    fn reading_a_binding_before_its_declaration_in_the_same_function_is_reported() {
        let text = "export function f() {\n  total += 1;\n  let total = 0;\n  return total;\n}\n\
                    console.log(Later);\nclass Later {}\nlet self = self + 1;\n";
        let findings = check(&RuntimeDetector, "a.js", text);
        assert_eq!(
            rule_ids(&findings),
            [
                "use-before-declaration",
                "use-before-declaration",
                "use-before-declaration"
            ]
        );
        assert_eq!(findings[0].line, 2);
        assert_eq!(findings[1].line, 6);
    }

    #[test]
    fn a_use_inside_a_function_declared_earlier_is_not_a_dead_zone_read() {
        let text = "export function f() { return later(); }\nconst later = () => value;\n\
                    const { tag = 'x', boundary = tag + '-' } = {};\n\
                    const value = 1;\nconst self = { get me() { return self; } };\n\
                    type T = typeof holder;\nconst holder = 1;\n";
        assert!(ids("a.ts", text).is_empty(), "{:?}", ids("a.ts", text));
    }

    #[test]
    fn declaration_files_and_unparsable_files_are_skipped() {
        assert!(ids("a.d.ts", "export {};\ndeclare const x: number;\nfoo();\n").is_empty());
        assert!(ids("a.js", "export const = ;\n").is_empty());
    }
}
