//! Small questions about oxc expressions that several detectors ask.

use oxc_ast::ast::{Argument, BinaryExpression, Expression, IdentifierReference};
use oxc_semantic::Semantic;
use oxc_syntax::operator::BinaryOperator;

/// A string whose value depends on run-time data: a template literal with `${}` parts, or a `+`
/// chain with at least one non-literal operand. The shapes that carry injections.
pub fn is_dynamic_string(expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::TemplateLiteral(template) => !template.expressions.is_empty(),
        Expression::BinaryExpression(binary) => is_dynamic_concatenation(binary),
        _ => false,
    }
}

fn is_dynamic_concatenation(binary: &BinaryExpression<'_>) -> bool {
    if binary.operator != BinaryOperator::Addition {
        return false;
    }
    let has_string_part =
        contains_string_literal(&binary.left) || contains_string_literal(&binary.right);
    has_string_part && (!is_literal_chain(&binary.left) || !is_literal_chain(&binary.right))
}

fn contains_string_literal(expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::StringLiteral(_) | Expression::TemplateLiteral(_) => true,
        Expression::BinaryExpression(binary) if binary.operator == BinaryOperator::Addition => {
            contains_string_literal(&binary.left) || contains_string_literal(&binary.right)
        }
        _ => false,
    }
}

fn is_literal_chain(expression: &Expression<'_>) -> bool {
    match expression.get_inner_expression() {
        Expression::StringLiteral(_) | Expression::NumericLiteral(_) => true,
        Expression::TemplateLiteral(template) => template.expressions.is_empty(),
        Expression::BinaryExpression(binary) if binary.operator == BinaryOperator::Addition => {
            is_literal_chain(&binary.left) && is_literal_chain(&binary.right)
        }
        _ => false,
    }
}

/// The literal text of a string expression: the concatenated string and template pieces,
/// ignoring the run-time parts (for "does this look like SQL").
pub fn static_text(expression: &Expression<'_>) -> String {
    let mut text = String::new();
    collect_static_text(expression, &mut text);
    text
}

fn collect_static_text(expression: &Expression<'_>, out: &mut String) {
    match expression.get_inner_expression() {
        Expression::StringLiteral(literal) => out.push_str(literal.value.as_str()),
        Expression::TemplateLiteral(template) => {
            for quasi in &template.quasis {
                out.push_str(quasi.value.raw.as_str());
                out.push(' ');
            }
        }
        Expression::BinaryExpression(binary) if binary.operator == BinaryOperator::Addition => {
            collect_static_text(&binary.left, out);
            out.push(' ');
            collect_static_text(&binary.right, out);
        }
        _ => out.push(' '),
    }
}

/// The first argument as an expression (not a spread).
pub fn first_argument<'b, 'a>(arguments: &'b [Argument<'a>]) -> Option<&'b Expression<'a>> {
    arguments.first().and_then(Argument::as_expression)
}

/// A reference to a global (nothing in scope declares it): `eval`, `Function`, `setTimeout`.
pub fn is_global_reference(semantic: &Semantic<'_>, identifier: &IdentifierReference<'_>) -> bool {
    semantic.is_reference_to_global_variable(identifier)
}

/// The initialiser of the variable an identifier refers to, when it is declared once with one
/// (`const sql = "SELECT " + id;` ... `db.query(sql)`).
pub fn declared_initializer<'a>(
    semantic: &Semantic<'a>,
    identifier: &IdentifierReference<'a>,
) -> Option<&'a Expression<'a>> {
    let reference_id = identifier.reference_id.get()?;
    let symbol_id = semantic.scoping().get_reference(reference_id).symbol_id()?;
    let declaration = semantic.symbol_declaration(symbol_id);
    match declaration.kind() {
        oxc_ast::AstKind::VariableDeclarator(declarator) => declarator.init.as_ref(),
        _ => None,
    }
}

/// Whether the source text of an expression mentions a password.
pub fn mentions_password(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("password")
        || lower.contains("passwd")
        || lower.contains("passphrase")
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == "pwd" || word == "pass")
}
