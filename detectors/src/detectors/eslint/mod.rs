//! `eslint`: well-known ESLint rules, implemented on the oxc tree and its scope information and
//! named by their ESLint ids, so findings read the same as ESLint's.
//!
//! Options follow ESLint's defaults except where noted on the rule (`eqeqeq` uses the common
//! `"smart"` option; `no-unused-vars` leaves parameters alone).

mod flow;

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::SourceFile;
use flow::{statement_list_terminates, statement_terminates};
use oxc_ast::ast::{
    ArrayExpressionElement, Expression, MethodDefinitionKind, ObjectPropertyKind, PropertyKind,
    Statement, VariableDeclarationKind,
};
use oxc_ast::AstKind;
use oxc_semantic::{NodeId, Semantic};
use oxc_span::{GetSpan, Span};
use oxc_syntax::operator::{AssignmentOperator, BinaryOperator, UnaryOperator};
use oxc_syntax::symbol::SymbolFlags;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

macro_rules! eslint_rules {
    ($($constant:ident = $id:literal, $category:ident, $severity:ident $(, $modifier:ident)*;)*) => {
        $(pub const $constant: Rule = Rule::new($id, Category::$category, Severity::$severity) $(.$modifier())*;)*
        /// Every rule this detector implements.
        pub const RULES: &[Rule] = &[$($constant),*];
    };
}

eslint_rules! {
    NO_DEBUGGER = "no-debugger", Suspicious, Medium, fixable;
    NO_EVAL = "no-eval", Security, High;
    EQEQEQ = "eqeqeq", Suspicious, Low, fixable;
    NO_DUPE_KEYS = "no-dupe-keys", Correctness, High;
    NO_UNREACHABLE = "no-unreachable", Correctness, Medium;
    NO_EMPTY = "no-empty", Suspicious, Low;
    NO_SELF_COMPARE = "no-self-compare", Correctness, Medium;
    NO_VAR = "no-var", Style, Low, fixable;
    PREFER_CONST = "prefer-const", Style, Low, fixable;
    NO_UNUSED_VARS = "no-unused-vars", Suspicious, Low;
    NO_DUPLICATE_CASE = "no-duplicate-case", Correctness, High;
    NO_COND_ASSIGN = "no-cond-assign", Correctness, Medium;
    NO_CONSTANT_CONDITION = "no-constant-condition", Correctness, Medium;
    NO_SPARSE_ARRAYS = "no-sparse-arrays", Suspicious, Low;
    NO_WITH = "no-with", Suspicious, Medium;
    USE_ISNAN = "use-isnan", Correctness, High, fixable;
    VALID_TYPEOF = "valid-typeof", Correctness, High;
    NO_SELF_ASSIGN = "no-self-assign", Correctness, Medium;
    NO_DUPE_ELSE_IF = "no-dupe-else-if", Correctness, High;
    NO_UNSAFE_FINALLY = "no-unsafe-finally", Correctness, High;
    NO_EMPTY_PATTERN = "no-empty-pattern", Suspicious, Low;
    NO_FALLTHROUGH = "no-fallthrough", Correctness, Medium;
    NO_COMPARE_NEG_ZERO = "no-compare-neg-zero", Correctness, Medium;
    NO_UNSAFE_NEGATION = "no-unsafe-negation", Correctness, High, fixable;
    NO_DUPE_CLASS_MEMBERS = "no-dupe-class-members", Correctness, High;
    NO_NEW_WRAPPERS = "no-new-wrappers", Suspicious, Low;
    NO_THROW_LITERAL = "no-throw-literal", Suspicious, Low;
    NO_ASYNC_PROMISE_EXECUTOR = "no-async-promise-executor", Correctness, Medium;
    NO_USELESS_CATCH = "no-useless-catch", Style, Low;
    NO_PROTOTYPE_BUILTINS = "no-prototype-builtins", Suspicious, Low;
}

pub struct EslintDetector;

impl Detector for EslintDetector {
    fn name(&self) -> &'static str {
        "eslint"
    }

    fn description(&self) -> &'static str {
        "30 well-known ESLint rules (no-debugger, eqeqeq, no-unused-vars, no-unreachable, ...) on the oxc tree"
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
        let Some(js) = js else {
            return;
        };
        // A tree the parser gave up on is empty; a flow file is not JS: lint neither.
        if js.panicked || js.is_flow {
            return;
        }
        let mut linter = Linter { js, out };
        linter.check_nodes();
        linter.check_unused_variables();
        linter.check_prefer_const();
    }
}

struct Linter<'l, 'f, 'a> {
    js: &'l ParsedJs<'a>,
    out: &'l mut FileSink<'f>,
}

impl<'l, 'a> Linter<'l, '_, 'a> {
    fn semantic(&self) -> &'l Semantic<'a> {
        &self.js.semantic
    }

    fn report(&mut self, rule: &Rule, span: Span, message: impl Into<String>) {
        self.out
            .report(rule, span.start as usize, span.end as usize, message);
    }

    /// Source text with all whitespace removed, to compare two expressions as ESLint compares
    /// their tokens.
    fn compact_text(&self, span: Span) -> String {
        self.js.text_of(span).split_whitespace().collect()
    }

    /// Whether two spans have the same [`Linter::compact_text`], without building either: every
    /// comparison in a file is checked (`no-self-compare`), and almost all differ at once.
    fn same_compact_text(&self, a: Span, b: Span) -> bool {
        let (a, b) = (self.js.text_of(a), self.js.text_of(b));
        a == b
            || a.chars()
                .filter(|c| !c.is_whitespace())
                .eq(b.chars().filter(|c| !c.is_whitespace()))
    }

    fn check_nodes(&mut self) {
        let js = self.js;
        for node in js.semantic.nodes().iter() {
            let id = node.id();
            match node.kind() {
                AstKind::DebuggerStatement(statement) => {
                    self.report(
                        &NO_DEBUGGER,
                        statement.span,
                        "Unexpected 'debugger' statement",
                    );
                }
                AstKind::WithStatement(statement) => {
                    self.report(
                        &NO_WITH,
                        statement.span,
                        "Unexpected use of 'with' statement",
                    );
                }
                AstKind::CallExpression(call) => {
                    self.check_eval(&call.callee, call.span);
                    if let Some(member) = call.callee.get_inner_expression().as_member_expression()
                    {
                        if let Some(
                            method @ ("hasOwnProperty" | "isPrototypeOf" | "propertyIsEnumerable"),
                        ) = member.static_property_name()
                        {
                            if !call.arguments.is_empty() {
                                self.report(
                                    &NO_PROTOTYPE_BUILTINS,
                                    call.span,
                                    format!("Do not access Object.prototype method '{method}' from target object"),
                                );
                            }
                        }
                    }
                }
                AstKind::NewExpression(new) => self.check_new(new),
                AstKind::BinaryExpression(binary) => self.check_binary(binary),
                AstKind::ObjectExpression(object) => self.check_dupe_keys(object),
                AstKind::ClassBody(body) => self.check_dupe_class_members(body),
                AstKind::Program(program) => self.check_unreachable(&program.body),
                AstKind::BlockStatement(block) => {
                    self.check_unreachable(&block.body);
                    self.check_empty_block(id, block.span, block.body.is_empty());
                }
                AstKind::FunctionBody(body) => self.check_unreachable(&body.statements),
                AstKind::StaticBlock(block) => self.check_unreachable(&block.body),
                AstKind::SwitchCase(case) => self.check_unreachable(&case.consequent),
                AstKind::SwitchStatement(switch) => self.check_switch(switch),
                AstKind::VariableDeclaration(declaration)
                    if declaration.kind == VariableDeclarationKind::Var && !declaration.declare =>
                {
                    self.report(
                        &NO_VAR,
                        declaration.span,
                        "Unexpected var, use let or const instead",
                    );
                }
                AstKind::IfStatement(statement) => {
                    self.check_condition(&statement.test, "if");
                    self.check_dupe_else_if(id, statement);
                }
                AstKind::WhileStatement(statement) => {
                    self.check_cond_assign(&statement.test);
                    if !matches!(statement.test.get_inner_expression(), Expression::BooleanLiteral(b) if b.value)
                    {
                        self.check_constant(&statement.test);
                    }
                }
                AstKind::DoWhileStatement(statement) => {
                    self.check_condition(&statement.test, "do-while")
                }
                AstKind::ForStatement(statement) => {
                    if let Some(test) = &statement.test {
                        self.check_condition(test, "for");
                    }
                }
                AstKind::ConditionalExpression(conditional) => {
                    self.check_condition(&conditional.test, "conditional")
                }
                AstKind::ArrayExpression(array)
                    if array
                        .elements
                        .iter()
                        .any(|element| matches!(element, ArrayExpressionElement::Elision(_))) =>
                {
                    self.report(
                        &NO_SPARSE_ARRAYS,
                        array.span,
                        "Unexpected comma in middle of array",
                    );
                }
                AstKind::AssignmentExpression(assignment)
                    if matches!(
                        assignment.operator,
                        AssignmentOperator::Assign
                            | AssignmentOperator::LogicalAnd
                            | AssignmentOperator::LogicalOr
                            | AssignmentOperator::LogicalNullish
                    ) && (assignment.left.is_simple_assignment_target())
                        && matches!(
                            assignment.right.get_inner_expression(),
                            Expression::Identifier(_) | Expression::StaticMemberExpression(_)
                        )
                        && self.same_compact_text(
                            assignment.left.span(),
                            assignment.right.get_inner_expression().span(),
                        ) =>
                {
                    let name = self.js.text_of(assignment.left.span()).to_owned();
                    self.report(
                        &NO_SELF_ASSIGN,
                        assignment.span,
                        format!("'{name}' is assigned to itself"),
                    );
                }
                AstKind::ReturnStatement(statement) => {
                    self.check_unsafe_finally(id, statement.span, "return", None)
                }
                AstKind::ThrowStatement(statement) => {
                    self.check_unsafe_finally(id, statement.span, "throw", None);
                    let literal = match statement.argument.get_inner_expression() {
                        Expression::StringLiteral(_)
                        | Expression::NumericLiteral(_)
                        | Expression::BooleanLiteral(_)
                        | Expression::NullLiteral(_)
                        | Expression::TemplateLiteral(_) => true,
                        Expression::Identifier(identifier) => identifier.name == "undefined",
                        _ => false,
                    };
                    if literal {
                        self.report(
                            &NO_THROW_LITERAL,
                            statement.span,
                            "Expected an error object to be thrown",
                        );
                    }
                }
                AstKind::BreakStatement(statement) => self.check_unsafe_finally(
                    id,
                    statement.span,
                    "break",
                    Some(statement.label.is_some()),
                ),
                AstKind::ContinueStatement(statement) => self.check_unsafe_finally(
                    id,
                    statement.span,
                    "continue",
                    Some(statement.label.is_some()),
                ),
                AstKind::ObjectPattern(pattern)
                    if pattern.properties.is_empty() && pattern.rest.is_none() =>
                {
                    self.report(
                        &NO_EMPTY_PATTERN,
                        pattern.span,
                        "Unexpected empty object pattern",
                    );
                }
                AstKind::ArrayPattern(pattern)
                    if pattern.elements.is_empty() && pattern.rest.is_none() =>
                {
                    self.report(
                        &NO_EMPTY_PATTERN,
                        pattern.span,
                        "Unexpected empty array pattern",
                    );
                }
                AstKind::TryStatement(statement) => {
                    let Some(handler) = &statement.handler else {
                        continue;
                    };
                    let Some(param) = handler
                        .param
                        .as_ref()
                        .and_then(|param| param.pattern.get_binding_identifier())
                    else {
                        continue;
                    };
                    if let [Statement::ThrowStatement(throw)] = handler.body.body.as_slice() {
                        if throw.argument.is_specific_id(param.name.as_str())
                            && statement.finalizer.is_none()
                        {
                            self.report(
                                &NO_USELESS_CATCH,
                                handler.span,
                                "Unnecessary try/catch wrapper",
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn check_eval(&mut self, callee: &Expression<'a>, span: Span) {
        let is_eval = match callee.get_inner_expression() {
            Expression::Identifier(identifier) => {
                identifier.name == "eval" && self.semantic().is_reference_to_global_variable(identifier)
            }
            callee => callee.as_member_expression().is_some_and(|member| {
                member.static_property_name() == Some("eval")
                    && matches!(member.object().get_inner_expression(),
                        Expression::Identifier(object) if matches!(object.name.as_str(), "window" | "globalThis" | "self"))
            }),
        };
        if is_eval {
            self.report(&NO_EVAL, span, "eval can be harmful");
        }
    }

    fn check_new(&mut self, new: &oxc_ast::ast::NewExpression<'a>) {
        let Expression::Identifier(callee) = &new.callee else {
            return;
        };
        if !self.semantic().is_reference_to_global_variable(callee) {
            return;
        }
        match callee.name.as_str() {
            name @ ("String" | "Number" | "Boolean") => {
                self.report(
                    &NO_NEW_WRAPPERS,
                    new.span,
                    format!("Do not use {name} as a constructor"),
                );
            }
            "Promise" => {
                let executor_is_async = new
                    .arguments
                    .first()
                    .and_then(|arg| arg.as_expression())
                    .is_some_and(|executor| match executor.get_inner_expression() {
                        Expression::ArrowFunctionExpression(arrow) => arrow.r#async,
                        Expression::FunctionExpression(function) => function.r#async,
                        _ => false,
                    });
                if executor_is_async {
                    self.report(
                        &NO_ASYNC_PROMISE_EXECUTOR,
                        new.span,
                        "Promise executor functions should not be async",
                    );
                }
            }
            _ => {}
        }
    }

    fn check_binary(&mut self, binary: &oxc_ast::ast::BinaryExpression<'a>) {
        let operator = binary.operator;
        let left = binary.left.get_inner_expression();
        let right = binary.right.get_inner_expression();
        if matches!(
            operator,
            BinaryOperator::Equality | BinaryOperator::Inequality
        ) {
            let is_typeof = |e: &Expression<'_>| matches!(e, Expression::UnaryExpression(u) if u.operator == UnaryOperator::Typeof);
            let is_literal = |e: &Expression<'_>| e.is_literal();
            let smart_allowed = left.is_null()
                || right.is_null()
                || is_typeof(left)
                || is_typeof(right)
                || (is_literal(left) && is_literal(right));
            if !smart_allowed {
                let expected = if operator == BinaryOperator::Equality {
                    "==="
                } else {
                    "!=="
                };
                let actual = operator.as_str();
                self.report(
                    &EQEQEQ,
                    binary.span,
                    format!("Expected '{expected}' and instead saw '{actual}'"),
                );
            }
        }
        if operator.is_compare() || operator.is_equality() {
            if self.same_compact_text(left.span(), right.span()) {
                self.report(
                    &NO_SELF_COMPARE,
                    binary.span,
                    "Comparing to itself is potentially pointless",
                );
            }
            let is_nan = |e: &Expression<'_>| {
                e.is_specific_id("NaN")
                    || e.as_member_expression()
                        .is_some_and(|m| m.is_specific_member_access("Number", "NaN"))
            };
            if is_nan(left) || is_nan(right) {
                self.report(
                    &USE_ISNAN,
                    binary.span,
                    "Use the isNaN function to compare with NaN",
                );
            }
            let is_negative_zero = |e: &Expression<'_>| {
                matches!(e, Expression::UnaryExpression(u)
                    if u.operator == UnaryOperator::UnaryNegation
                        && matches!(&u.argument, Expression::NumericLiteral(n) if n.value == 0.0))
            };
            if is_negative_zero(left) || is_negative_zero(right) {
                let actual = operator.as_str();
                self.report(
                    &NO_COMPARE_NEG_ZERO,
                    binary.span,
                    format!("Do not use the '{actual}' operator to compare against -0"),
                );
            }
        }
        if operator.is_equality() {
            for (side, other) in [(left, right), (right, left)] {
                let Expression::UnaryExpression(unary) = side else {
                    continue;
                };
                if unary.operator != UnaryOperator::Typeof {
                    continue;
                }
                let literal = match other {
                    Expression::StringLiteral(literal) => Some(literal.value.as_str()),
                    Expression::TemplateLiteral(template) if template.expressions.is_empty() => {
                        template
                            .quasis
                            .first()
                            .map(|quasi| quasi.value.raw.as_str())
                    }
                    _ => None,
                };
                if let Some(value) = literal {
                    const VALID: &[&str] = &[
                        "undefined",
                        "object",
                        "boolean",
                        "number",
                        "string",
                        "function",
                        "symbol",
                        "bigint",
                    ];
                    if !VALID.contains(&value) {
                        self.report(
                            &VALID_TYPEOF,
                            other.span(),
                            format!("Invalid typeof comparison value '{value}'"),
                        );
                    }
                }
            }
        }
        if matches!(operator, BinaryOperator::In | BinaryOperator::Instanceof) {
            if let Expression::UnaryExpression(unary) = &binary.left {
                if unary.operator == UnaryOperator::LogicalNot {
                    let actual = operator.as_str();
                    self.report(
                        &NO_UNSAFE_NEGATION,
                        binary.span,
                        format!("Unexpected negating the left operand of '{actual}' operator"),
                    );
                }
            }
        }
    }

    fn check_dupe_keys(&mut self, object: &oxc_ast::ast::ObjectExpression<'a>) {
        // name → (seen as a value, seen as getter, seen as setter)
        let mut seen: FxHashMap<Cow<'a, str>, (bool, bool, bool)> = FxHashMap::default();
        for property in &object.properties {
            let ObjectPropertyKind::ObjectProperty(property) = property else {
                continue;
            };
            if property.computed
                && !matches!(
                    property.key.as_expression(),
                    Some(Expression::StringLiteral(_) | Expression::NumericLiteral(_))
                )
            {
                continue;
            }
            let Some(name) = property.key.static_name() else {
                continue;
            };
            if name == "__proto__" {
                continue;
            }
            let entry = seen.entry(name.clone()).or_insert((false, false, false));
            let duplicate = match property.kind {
                PropertyKind::Init => entry.0 || entry.1 || entry.2,
                PropertyKind::Get => entry.0 || entry.1,
                PropertyKind::Set => entry.0 || entry.2,
            };
            match property.kind {
                PropertyKind::Init => entry.0 = true,
                PropertyKind::Get => entry.1 = true,
                PropertyKind::Set => entry.2 = true,
            }
            if duplicate {
                self.report(
                    &NO_DUPE_KEYS,
                    property.key.span(),
                    format!("Duplicate key '{name}'"),
                );
            }
        }
    }

    fn check_dupe_class_members(&mut self, body: &oxc_ast::ast::ClassBody<'a>) {
        // (static, name) → (value member, getter, setter)
        let mut seen: HashMap<(bool, String), (bool, bool, bool)> = HashMap::new();
        for element in &body.body {
            let (key, is_static, kind, span) = match element {
                oxc_ast::ast::ClassElement::MethodDefinition(method) => {
                    // TypeScript overload signatures have no body and are not duplicates.
                    if method.computed
                        || method.value.body.is_none()
                        || method.kind == MethodDefinitionKind::Constructor
                    {
                        continue;
                    }
                    let kind = match method.kind {
                        MethodDefinitionKind::Get => PropertyKind::Get,
                        MethodDefinitionKind::Set => PropertyKind::Set,
                        _ => PropertyKind::Init,
                    };
                    (&method.key, method.r#static, kind, method.key.span())
                }
                oxc_ast::ast::ClassElement::PropertyDefinition(property) => {
                    if property.computed || property.declare {
                        continue;
                    }
                    (
                        &property.key,
                        property.r#static,
                        PropertyKind::Init,
                        property.key.span(),
                    )
                }
                _ => continue,
            };
            let Some(name) = key.static_name() else {
                continue;
            };
            let private = matches!(key, oxc_ast::ast::PropertyKey::PrivateIdentifier(_));
            let name = if private {
                format!("#{name}")
            } else {
                name.to_string()
            };
            let entry = seen
                .entry((is_static, name.clone()))
                .or_insert((false, false, false));
            let duplicate = match kind {
                PropertyKind::Init => entry.0 || entry.1 || entry.2,
                PropertyKind::Get => entry.0 || entry.1,
                PropertyKind::Set => entry.0 || entry.2,
            };
            match kind {
                PropertyKind::Init => entry.0 = true,
                PropertyKind::Get => entry.1 = true,
                PropertyKind::Set => entry.2 = true,
            }
            if duplicate {
                self.report(
                    &NO_DUPE_CLASS_MEMBERS,
                    span,
                    format!("Duplicate name '{name}'"),
                );
            }
        }
    }

    /// The first statement after one that always leaves the list.
    fn check_unreachable(&mut self, statements: &[Statement<'a>]) {
        let mut terminated = false;
        for statement in statements {
            if terminated {
                let hoisted_or_type_only = matches!(
                    statement,
                    Statement::FunctionDeclaration(_)
                        | Statement::EmptyStatement(_)
                        | Statement::TSTypeAliasDeclaration(_)
                        | Statement::TSInterfaceDeclaration(_)
                ) || matches!(statement, Statement::VariableDeclaration(declaration)
                    if declaration.kind == VariableDeclarationKind::Var
                        && declaration.declarations.iter().all(|declarator| declarator.init.is_none()));
                if !hoisted_or_type_only {
                    self.report(&NO_UNREACHABLE, statement.span(), "Unreachable code");
                    return;
                }
            } else if statement_terminates(statement) {
                terminated = true;
            }
        }
    }

    fn check_empty_block(&mut self, id: NodeId, span: Span, is_empty: bool) {
        if !is_empty || self.js.has_comment_between(span.start, span.end, |_| true) {
            return;
        }
        let parent = self.semantic().nodes().parent_kind(id);
        let what = match parent {
            AstKind::CatchClause(_) => "catch",
            AstKind::TryStatement(_) => "block",
            AstKind::IfStatement(_)
            | AstKind::ForStatement(_)
            | AstKind::ForInStatement(_)
            | AstKind::ForOfStatement(_)
            | AstKind::WhileStatement(_)
            | AstKind::DoWhileStatement(_)
            | AstKind::BlockStatement(_)
            | AstKind::Program(_)
            | AstKind::FunctionBody(_)
            | AstKind::SwitchCase(_)
            | AstKind::LabeledStatement(_) => "block",
            _ => return,
        };
        self.report(&NO_EMPTY, span, format!("Empty {what} statement"));
    }

    fn check_switch(&mut self, switch: &oxc_ast::ast::SwitchStatement<'a>) {
        let mut tests: HashSet<String> = HashSet::new();
        for case in &switch.cases {
            if let Some(test) = &case.test {
                if !tests.insert(self.compact_text(test.span())) {
                    self.report(&NO_DUPLICATE_CASE, case.span, "Duplicate case label");
                }
                if test.get_inner_expression().is_specific_id("NaN") {
                    self.report(
                        &USE_ISNAN,
                        case.span,
                        "'case NaN' can never match. Use Number.isNaN before the switch",
                    );
                }
            }
        }
        if switch
            .discriminant
            .get_inner_expression()
            .is_specific_id("NaN")
        {
            self.report(
                &USE_ISNAN,
                switch.span,
                "'switch(NaN)' can never match a case clause. Use Number.isNaN instead",
            );
        }
        for pair in switch.cases.windows(2) {
            let (case, next) = (&pair[0], &pair[1]);
            let Some(last) = case.consequent.last() else {
                continue;
            };
            if statement_list_terminates(&case.consequent) {
                continue;
            }
            let annotated =
                self.js
                    .has_comment_between(last.span().end, next.span.start, |comment| {
                        let lower = comment.to_ascii_lowercase();
                        lower.contains("falls through")
                            || lower.contains("fall through")
                            || lower.contains("fallthrough")
                    });
            if !annotated {
                let kind = if next.test.is_some() {
                    "case"
                } else {
                    "default"
                };
                self.report(
                    &NO_FALLTHROUGH,
                    next.span,
                    format!("Expected a 'break' statement before '{kind}'"),
                );
            }
        }
    }

    fn check_condition(&mut self, test: &Expression<'a>, _statement: &str) {
        self.check_cond_assign(test);
        self.check_constant(test);
    }

    fn check_cond_assign(&mut self, test: &Expression<'a>) {
        // With parentheses preserved, `if ((a = b))` is a ParenthesizedExpression: allowed.
        if let Expression::AssignmentExpression(assignment) = test {
            self.report(
                &NO_COND_ASSIGN,
                assignment.span,
                "Expected a conditional expression and instead saw an assignment",
            );
        }
    }

    fn check_constant(&mut self, test: &Expression<'a>) {
        if is_constant(test.get_inner_expression()) {
            self.report(
                &NO_CONSTANT_CONDITION,
                test.span(),
                "Unexpected constant condition",
            );
        }
    }

    fn check_dupe_else_if(&mut self, id: NodeId, statement: &oxc_ast::ast::IfStatement<'a>) {
        // Start only at the head of a chain, then walk down `else if`s.
        if let AstKind::IfStatement(parent) = self.semantic().nodes().parent_kind(id) {
            if parent
                .alternate
                .as_ref()
                .is_some_and(|alternate| alternate.span() == statement.span)
            {
                return;
            }
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut current = statement;
        loop {
            let test = self.compact_text(current.test.get_inner_expression().span());
            if !seen.insert(test) {
                self.report(
                    &NO_DUPE_ELSE_IF,
                    current.test.span(),
                    "This branch can never execute. Its condition is a duplicate of an earlier branch",
                );
            }
            match &current.alternate {
                Some(Statement::IfStatement(next)) => current = next,
                _ => break,
            }
        }
    }

    /// `return`, `throw`, or a `break`/`continue` that leaves a `finally` block.
    fn check_unsafe_finally(
        &mut self,
        id: NodeId,
        span: Span,
        keyword: &str,
        labelled: Option<bool>,
    ) {
        let nodes = self.semantic().nodes();
        let mut child_span: Option<Span> = None;
        for ancestor in nodes.ancestors(id) {
            match ancestor.kind() {
                AstKind::Function(_) | AstKind::ArrowFunctionExpression(_) | AstKind::Class(_) => {
                    return
                }
                AstKind::ForStatement(_)
                | AstKind::ForInStatement(_)
                | AstKind::ForOfStatement(_)
                | AstKind::WhileStatement(_)
                | AstKind::DoWhileStatement(_)
                    if labelled == Some(false) =>
                {
                    return;
                }
                AstKind::SwitchStatement(_) if labelled == Some(false) && keyword == "break" => {
                    return
                }
                AstKind::TryStatement(statement)
                    if statement
                        .finalizer
                        .as_ref()
                        .is_some_and(|finalizer| Some(finalizer.span) == child_span) =>
                {
                    self.report(
                        &NO_UNSAFE_FINALLY,
                        span,
                        format!("Unsafe usage of {keyword} in finally block"),
                    );
                    return;
                }
                _ => {}
            }
            child_span = Some(ancestor.kind().span());
        }
    }

    fn check_unused_variables(&mut self) {
        let semantic = self.semantic();
        let scoping = semantic.scoping();
        let nodes = semantic.nodes();
        let source_type = self.js.source_type;
        if source_type.is_typescript_definition() {
            return;
        }
        let text = self.js.source_text();
        // In a browser script, top-level names are globals other scripts may use.
        let top_level_is_shared = !source_type.is_module()
            && !text.contains("require(")
            && !text.contains("module.exports")
            && !text.contains("exports.");
        let has_jsx = text.contains("</") || text.contains("/>");
        let root_scope = scoping.root_scope_id();
        let mut unused: Vec<(Span, String, &str)> = Vec::new();
        for symbol_id in scoping.symbol_ids() {
            let flags = scoping.symbol_flags(symbol_id);
            let kind = if flags.intersects(SymbolFlags::Import) {
                "imported"
            } else if flags.intersects(SymbolFlags::Variable) {
                "assigned a value"
            } else if flags.intersects(SymbolFlags::Function | SymbolFlags::Class) {
                "defined"
            } else {
                continue;
            };
            if flags.intersects(SymbolFlags::Ambient) {
                continue;
            }
            let name = scoping.symbol_name(symbol_id);
            if name.starts_with('_') || (has_jsx && (name == "React" || name == "h")) {
                continue;
            }
            if top_level_is_shared && scoping.symbol_scope_id(symbol_id) == root_scope {
                continue;
            }
            let used = scoping
                .get_resolved_references(symbol_id)
                .any(|reference| reference.is_read() || reference.is_type());
            if used {
                continue;
            }
            let declaration = scoping.symbol_declaration(symbol_id);
            let mut skip = false;
            for ancestor in
                std::iter::once(nodes.kind(declaration)).chain(nodes.ancestor_kinds(declaration))
            {
                match ancestor {
                    // Parameters, catch bindings, exports and ambient declarations are out of scope.
                    AstKind::FormalParameter(_)
                    | AstKind::FormalParameterRest(_)
                    | AstKind::CatchParameter(_)
                    | AstKind::ExportNamedDeclaration(_)
                    | AstKind::ExportDeclaration(_)
                    | AstKind::ExportDefaultDeclaration(_)
                    | AstKind::TSGlobalDeclaration(_)
                    | AstKind::TSModuleBlock(_) => {
                        skip = true;
                        break;
                    }
                    // A named function expression's own name is only for recursion.
                    AstKind::Function(function) if function.is_expression() => {
                        if function.id.as_ref().and_then(|id| id.symbol_id.get()) == Some(symbol_id)
                        {
                            skip = true;
                        }
                        break;
                    }
                    AstKind::Class(class) if class.is_expression() => {
                        if class.id.as_ref().and_then(|id| id.symbol_id.get()) == Some(symbol_id) {
                            skip = true;
                        }
                        break;
                    }
                    AstKind::Program(_) => break,
                    _ => {}
                }
            }
            if skip {
                continue;
            }
            unused.push((scoping.symbol_span(symbol_id), name.to_owned(), kind));
        }
        for (span, name, kind) in unused {
            self.report(
                &NO_UNUSED_VARS,
                span,
                format!("'{name}' is {kind} but never used"),
            );
        }
    }

    /// `let` bindings that are initialised (or bound by `for...of`/`for...in`) and never
    /// reassigned. A destructuring declaration is reported only when none of its bindings is
    /// reassigned (ESLint's `destructuring: "all"`), since it could not become `const` otherwise.
    fn check_prefer_const(&mut self) {
        let semantic = self.semantic();
        let scoping = semantic.scoping();
        let nodes = semantic.nodes();
        let mut found: Vec<(Span, String)> = Vec::new();
        for node in nodes.iter() {
            let AstKind::VariableDeclaration(declaration) = node.kind() else {
                continue;
            };
            if declaration.kind != VariableDeclarationKind::Let || declaration.declare {
                continue;
            }
            let in_for_each = matches!(
                nodes.parent_kind(node.id()),
                AstKind::ForInStatement(_) | AstKind::ForOfStatement(_)
            );
            let in_classic_for = matches!(nodes.parent_kind(node.id()), AstKind::ForStatement(_));
            if in_classic_for {
                continue;
            }
            for declarator in &declaration.declarations {
                if declarator.init.is_none() && !in_for_each {
                    continue;
                }
                let bindings = declarator.id.get_binding_identifiers();
                let never_reassigned = bindings.iter().all(|binding| {
                    binding.symbol_id.get().is_some_and(|symbol_id| {
                        !scoping
                            .get_resolved_references(symbol_id)
                            .any(|reference| reference.is_write())
                    })
                });
                if never_reassigned {
                    for binding in bindings {
                        found.push((binding.span, binding.name.to_string()));
                    }
                }
            }
        }
        for (span, name) in found {
            self.report(
                &PREFER_CONST,
                span,
                format!("'{name}' is never reassigned. Use 'const' instead"),
            );
        }
    }
}

/// A condition whose truthiness is fixed when written.
fn is_constant(expression: &Expression<'_>) -> bool {
    match expression {
        Expression::BooleanLiteral(_)
        | Expression::NumericLiteral(_)
        | Expression::StringLiteral(_)
        | Expression::NullLiteral(_)
        | Expression::RegExpLiteral(_)
        | Expression::BigIntLiteral(_)
        | Expression::ObjectExpression(_)
        | Expression::ArrayExpression(_)
        | Expression::FunctionExpression(_)
        | Expression::ArrowFunctionExpression(_)
        | Expression::ClassExpression(_) => true,
        Expression::TemplateLiteral(template) => template.expressions.is_empty(),
        Expression::UnaryExpression(unary) => match unary.operator {
            UnaryOperator::Typeof | UnaryOperator::Void => true,
            UnaryOperator::LogicalNot | UnaryOperator::UnaryNegation | UnaryOperator::UnaryPlus => {
                is_constant(unary.argument.get_inner_expression())
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests;
