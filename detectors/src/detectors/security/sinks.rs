//! Dangerous sinks in JS/TS, found on the oxc syntax tree with scope information (so a local
//! function named `eval` or a `RegExp#exec` call is not mistaken for the real thing).

use crate::detector::{FileSink, Rule};
use crate::detectors::ast_util::{
    declared_initializer, first_argument, is_dynamic_string, is_global_reference,
    mentions_password, static_text,
};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::SourceFile;
use oxc_ast::ast::{
    BindingPattern, CallExpression, Expression, ImportDeclarationSpecifier, JSXAttributeValue,
    ObjectPropertyKind, PropertyKey,
};
use oxc_ast::AstKind;
use oxc_span::GetSpan;
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

pub const EVAL: Rule = Rule::new("eval", Category::Security, Severity::High)
    .suggest("Parse data with JSON.parse or dispatch on known values instead of evaluating code.");
pub const FUNCTION_CONSTRUCTOR: Rule =
    Rule::new("function-constructor", Category::Security, Severity::High)
        .suggest("Build behaviour from functions written in the source, not from strings.");
pub const STRING_TIMER: Rule = Rule::new("string-timer", Category::Security, Severity::Medium)
    .suggest("Pass a function to setTimeout/setInterval, not a string of code.");
pub const COMMAND_INJECTION: Rule =
    Rule::new("command-injection", Category::Security, Severity::Critical)
        .suggest("Use execFile/spawn with an argument array (no shell), and validate the inputs.");
pub const INNER_HTML: Rule = Rule::new("inner-html", Category::Security, Severity::High)
    .confidence(0.7)
    .suggest("Assign textContent, or sanitise the HTML (for example with DOMPurify) first.");
pub const DANGEROUSLY_SET_INNER_HTML: Rule = Rule::new(
    "dangerously-set-inner-html",
    Category::Security,
    Severity::Medium,
)
.confidence(0.7)
.suggest("Render the content as React children, or sanitise it first.");
pub const SQL_INJECTION: Rule = Rule::new("sql-injection", Category::Security, Severity::Critical)
    .confidence(0.85)
    .suggest(
        "Use parameterised queries (placeholders such as ? or $1) instead of building SQL text.",
    );
pub const TLS_VERIFICATION_DISABLED: Rule = Rule::new(
    "tls-verification-disabled",
    Category::Security,
    Severity::High,
)
.suggest("Keep certificate verification on; trust a private CA with the `ca` option instead.");
pub const WEAK_PASSWORD_HASH: Rule =
    Rule::new("weak-password-hash", Category::Security, Severity::High)
        .confidence(0.85)
        .suggest("Hash passwords with bcrypt, scrypt or argon2, never with MD5 or SHA-1.");

const WEAK_HASHES: &[&str] = &["md5", "md4", "sha1", "sha-1", "md5-sha1", "ripemd160"];
const SHELL_EXEC_FUNCTIONS: &[&str] = &["exec", "execSync"];
const QUERY_METHODS: &[&str] = &[
    "query",
    "execute",
    "raw",
    "queryRaw",
    "executeRaw",
    "$queryRawUnsafe",
    "$executeRawUnsafe",
    "unsafe",
    "sql",
];

static SQL_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:select\s[\s\S]*\bfrom\b|insert\s+into\b|update\s+[\w.`\x22\[\]]+\s+set\b|delete\s+from\b|drop\s+table\b|alter\s+table\b|create\s+table\b|\bwhere\s+\w+\s*(?:=|like|in)\b)",
    )
    .expect("the SQL regex is valid")
});

static TLS_ENV_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(?:export\s+)?NODE_TLS_REJECT_UNAUTHORIZED\s*[=:]\s*["']?0["']?\s*$"#)
        .expect("the TLS env regex is valid")
});

/// `NODE_TLS_REJECT_UNAUTHORIZED=0` in `.env`, shell and YAML files.
pub fn check_config_text(file: &SourceFile<'_>, out: &mut FileSink<'_>) {
    if file.language.is_js_family() || !file.text.contains("NODE_TLS_REJECT_UNAUTHORIZED") {
        return;
    }
    for found in TLS_ENV_OFF.find_iter(file.text) {
        out.report(
            &TLS_VERIFICATION_DISABLED,
            found.start(),
            found.end(),
            "NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS certificate verification for the whole process",
        );
    }
}

/// Reports every dangerous sink in a parsed JS/TS file.
pub fn check(js: &ParsedJs<'_>, out: &mut FileSink<'_>) {
    if js.panicked {
        return;
    }
    let child_process = ChildProcessNames::collect(js);
    for node in js.semantic.nodes().iter() {
        match node.kind() {
            AstKind::CallExpression(call) => check_call(js, call, &child_process, out),
            AstKind::NewExpression(new) => {
                if let Expression::Identifier(callee) = &new.callee {
                    if callee.name == "Function"
                        && !new.arguments.is_empty()
                        && is_global_reference(&js.semantic, callee)
                    {
                        report(
                            out,
                            &FUNCTION_CONSTRUCTOR,
                            new.span,
                            "new Function(...) compiles a string into code",
                        );
                    }
                }
            }
            AstKind::AssignmentExpression(assignment) => {
                let Some(member) = assignment.left.as_member_expression() else {
                    continue;
                };
                match member.static_property_name() {
                    Some(property @ ("innerHTML" | "outerHTML"))
                        if is_dynamic_html(&assignment.right) =>
                    {
                        report(
                            out,
                            &INNER_HTML,
                            assignment.span,
                            format!(
                                "Assigning run-time data to {property} can inject script (XSS)"
                            ),
                        );
                    }
                    Some("NODE_TLS_REJECT_UNAUTHORIZED") if is_zero(&assignment.right) => {
                        report(
                            out,
                            &TLS_VERIFICATION_DISABLED,
                            assignment.span,
                            "NODE_TLS_REJECT_UNAUTHORIZED = 0 turns off TLS certificate verification for the whole process",
                        );
                    }
                    _ => {}
                }
            }
            AstKind::ObjectProperty(property)
                if property_key_is(&property.key, "rejectUnauthorized")
                    && matches!(property.value.get_inner_expression(), Expression::BooleanLiteral(b) if !b.value) =>
            {
                report(
                    out,
                    &TLS_VERIFICATION_DISABLED,
                    property.span,
                    "rejectUnauthorized: false accepts any TLS certificate (man-in-the-middle)",
                );
            }
            AstKind::JSXAttribute(attribute) => {
                if attribute.name.get_identifier().name != "dangerouslySetInnerHTML" {
                    continue;
                }
                let Some(JSXAttributeValue::ExpressionContainer(container)) = &attribute.value
                else {
                    continue;
                };
                let Some(Expression::ObjectExpression(object)) =
                    container.expression.as_expression()
                else {
                    continue;
                };
                let html_is_dynamic = object.properties.iter().any(|property| match property {
                    ObjectPropertyKind::ObjectProperty(property) => {
                        property_key_is(&property.key, "__html") && is_dynamic_html(&property.value)
                    }
                    ObjectPropertyKind::SpreadProperty(_) => true,
                });
                if html_is_dynamic {
                    report(
                        out,
                        &DANGEROUSLY_SET_INNER_HTML,
                        attribute.span,
                        "dangerouslySetInnerHTML renders run-time data as HTML (XSS)",
                    );
                }
            }
            _ => {}
        }
    }
}

fn check_call(
    js: &ParsedJs<'_>,
    call: &CallExpression<'_>,
    child_process: &ChildProcessNames,
    out: &mut FileSink<'_>,
) {
    let first = first_argument(&call.arguments);
    match call.callee.get_inner_expression() {
        Expression::Identifier(callee) => {
            let name = callee.name.as_str();
            if name == "eval" && is_global_reference(&js.semantic, callee) {
                let dynamic = first.is_some_and(|arg| !matches!(arg, Expression::StringLiteral(_)));
                let finding = report(out, &EVAL, call.span, "eval() runs a string as code");
                if !dynamic {
                    finding.severity = Severity::Medium;
                }
            } else if name == "Function"
                && !call.arguments.is_empty()
                && is_global_reference(&js.semantic, callee)
            {
                report(
                    out,
                    &FUNCTION_CONSTRUCTOR,
                    call.span,
                    "Function(...) compiles a string into code",
                );
            } else if matches!(name, "setTimeout" | "setInterval")
                && first.is_some_and(|arg| {
                    matches!(arg, Expression::StringLiteral(_)) || is_dynamic_string(arg)
                })
                && is_global_reference(&js.semantic, callee)
            {
                report(
                    out,
                    &STRING_TIMER,
                    call.span,
                    format!("{name}() with a string evaluates it as code"),
                );
            } else if child_process.functions.contains(name) {
                check_shell_command(js, call, name, out);
            } else if matches!(name, "md5" | "sha1") {
                check_weak_password_hash(js, call, name, out);
            }
        }
        callee => {
            let Some(member) = callee.as_member_expression() else {
                return;
            };
            let Some(method) = member.static_property_name() else {
                return;
            };
            let object = member.object().get_inner_expression();
            let on_child_process = match object {
                Expression::Identifier(object) => {
                    child_process.modules.contains(object.name.as_str())
                }
                Expression::CallExpression(inner) => inner
                    .common_js_require()
                    .is_some_and(|module| is_child_process_module(module.value.as_str())),
                _ => false,
            };
            if on_child_process && SHELL_EXEC_FUNCTIONS.contains(&method) {
                check_shell_command(js, call, method, out);
            } else if QUERY_METHODS.contains(&method) {
                check_sql(js, call, method, out);
            } else if method == "update" {
                check_hash_update(js, call, object, out);
            } else if matches!(method, "MD5" | "SHA1" | "md5" | "sha1") {
                check_weak_password_hash(js, call, method, out);
            } else if method == "insertAdjacentHTML"
                && call
                    .arguments
                    .get(1)
                    .and_then(|arg| arg.as_expression())
                    .is_some_and(is_dynamic_html)
            {
                report(
                    out,
                    &INNER_HTML,
                    call.span,
                    "insertAdjacentHTML with run-time data can inject script (XSS)",
                );
            } else if matches!(method, "write" | "writeln")
                && matches!(object, Expression::Identifier(document) if document.name == "document")
                && first.is_some_and(is_dynamic_html)
            {
                report(
                    out,
                    &INNER_HTML,
                    call.span,
                    "document.write with run-time data can inject script (XSS)",
                );
            }
        }
    }
}

fn check_shell_command(
    js: &ParsedJs<'_>,
    call: &CallExpression<'_>,
    function: &str,
    out: &mut FileSink<'_>,
) {
    let Some(command) = first_argument(&call.arguments) else {
        return;
    };
    if is_dynamic_string(command) || is_dynamic_variable(js, command) {
        report(
            out,
            &COMMAND_INJECTION,
            call.span,
            format!("child_process.{function}() runs a command built from run-time data through a shell"),
        );
    }
}

fn check_sql(js: &ParsedJs<'_>, call: &CallExpression<'_>, method: &str, out: &mut FileSink<'_>) {
    let Some(query) = first_argument(&call.arguments) else {
        return;
    };
    let built = if is_dynamic_string(query) {
        Some(query)
    } else if let Expression::Identifier(identifier) = query.get_inner_expression() {
        declared_initializer(&js.semantic, identifier).filter(|init| is_dynamic_string(init))
    } else {
        None
    };
    if let Some(built) = built {
        if SQL_TEXT.is_match(&static_text(built)) {
            report(
                out,
                &SQL_INJECTION,
                call.span,
                format!("SQL passed to {method}() is built by concatenating run-time data"),
            );
        }
    }
}

/// `crypto.createHash('md5').update(password)`.
fn check_hash_update(
    js: &ParsedJs<'_>,
    call: &CallExpression<'_>,
    object: &Expression<'_>,
    out: &mut FileSink<'_>,
) {
    let Expression::CallExpression(create) = object else {
        return;
    };
    if create.callee_name() != Some("createHash") {
        return;
    }
    let Some(Expression::StringLiteral(algorithm)) = first_argument(&create.arguments) else {
        return;
    };
    let algorithm = algorithm.value.as_str().to_ascii_lowercase();
    if !WEAK_HASHES.contains(&algorithm.as_str()) {
        return;
    }
    if let Some(input) = first_argument(&call.arguments) {
        if mentions_password(js.text_of(input.span())) {
            report(
                out,
                &WEAK_PASSWORD_HASH,
                call.span,
                format!("Password hashed with {algorithm}, which is fast to brute-force"),
            );
        }
    }
}

/// `md5(password)`, `CryptoJS.SHA1(password)`.
fn check_weak_password_hash(
    js: &ParsedJs<'_>,
    call: &CallExpression<'_>,
    function: &str,
    out: &mut FileSink<'_>,
) {
    if let Some(input) = first_argument(&call.arguments) {
        if mentions_password(js.text_of(input.span())) {
            report(
                out,
                &WEAK_PASSWORD_HASH,
                call.span,
                format!(
                    "Password hashed with {}, which is fast to brute-force",
                    function.to_ascii_lowercase()
                ),
            );
        }
    }
}

/// An identifier whose declaration builds a dynamic string (`const cmd = "ls " + dir`).
fn is_dynamic_variable(js: &ParsedJs<'_>, expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::Identifier(identifier) => declared_initializer(&js.semantic, identifier)
            .is_some_and(|init| is_dynamic_string(init)),
        _ => false,
    }
}

/// HTML that is not a fixed literal.
fn is_dynamic_html(expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::StringLiteral(_) | Expression::NullLiteral(_) => false,
        Expression::TemplateLiteral(template) => !template.expressions.is_empty(),
        Expression::BinaryExpression(_) => is_dynamic_string(expression),
        _ => true,
    }
}

fn is_zero(expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::StringLiteral(literal) => literal.value == "0",
        Expression::NumericLiteral(number) => number.value == 0.0,
        _ => false,
    }
}

fn property_key_is(key: &PropertyKey<'_>, name: &str) -> bool {
    key.static_name().is_some_and(|key| key == name)
}

fn is_child_process_module(module: &str) -> bool {
    module == "child_process" || module == "node:child_process"
}

/// Local names bound to the `child_process` module and to its shell-running functions.
#[derive(Default)]
struct ChildProcessNames {
    modules: HashSet<String>,
    functions: HashSet<String>,
}

impl ChildProcessNames {
    fn collect(js: &ParsedJs<'_>) -> ChildProcessNames {
        let mut names = ChildProcessNames::default();
        for node in js.semantic.nodes().iter() {
            match node.kind() {
                AstKind::ImportDeclaration(import)
                    if is_child_process_module(import.source.value.as_str()) =>
                {
                    for specifier in import.specifiers.iter().flatten() {
                        match specifier {
                            ImportDeclarationSpecifier::ImportSpecifier(named) => {
                                if SHELL_EXEC_FUNCTIONS.contains(&named.imported.name().as_str()) {
                                    names.functions.insert(named.local.name.to_string());
                                }
                            }
                            ImportDeclarationSpecifier::ImportDefaultSpecifier(default) => {
                                names.modules.insert(default.local.name.to_string());
                            }
                            ImportDeclarationSpecifier::ImportNamespaceSpecifier(namespace) => {
                                names.modules.insert(namespace.local.name.to_string());
                            }
                        }
                    }
                }
                AstKind::VariableDeclarator(declarator) => {
                    let Some(Expression::CallExpression(call)) = declarator
                        .init
                        .as_ref()
                        .map(|init| init.get_inner_expression())
                    else {
                        continue;
                    };
                    if !call
                        .common_js_require()
                        .is_some_and(|module| is_child_process_module(module.value.as_str()))
                    {
                        continue;
                    }
                    match &declarator.id {
                        BindingPattern::BindingIdentifier(identifier) => {
                            names.modules.insert(identifier.name.to_string());
                        }
                        BindingPattern::ObjectPattern(pattern) => {
                            for property in &pattern.properties {
                                let Some(key) = property.key.static_name() else {
                                    continue;
                                };
                                if !SHELL_EXEC_FUNCTIONS.contains(&key.as_ref()) {
                                    continue;
                                }
                                if let BindingPattern::BindingIdentifier(local) = &property.value {
                                    names.functions.insert(local.name.to_string());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        names
    }
}

fn report<'o>(
    out: &'o mut FileSink<'_>,
    rule: &Rule,
    span: oxc_span::Span,
    message: impl Into<String>,
) -> &'o mut crate::finding::Finding {
    out.report(rule, span.start as usize, span.end as usize, message)
}
