//! Just enough control flow for `no-unreachable` and `no-fallthrough`: whether a statement
//! always leaves the statement list it is in.

use oxc_ast::ast::Statement;

/// `return`, `throw`, `break` and `continue` always leave; a block leaves when one of its
/// statements does; `if`/`else` when both branches do; `try` when its block and its `catch` both
/// do, or its `finally` does. Loops, labelled statements and nested `switch`es are assumed to
/// complete normally, which errs on the side of reporting nothing.
pub fn statement_terminates(statement: &Statement<'_>) -> bool {
    match statement {
        Statement::ReturnStatement(_)
        | Statement::ThrowStatement(_)
        | Statement::BreakStatement(_)
        | Statement::ContinueStatement(_) => true,
        Statement::BlockStatement(block) => statement_list_terminates(&block.body),
        Statement::IfStatement(statement) => {
            statement
                .alternate
                .as_ref()
                .is_some_and(statement_terminates)
                && statement_terminates(&statement.consequent)
        }
        Statement::TryStatement(statement) => {
            let finally_leaves = statement
                .finalizer
                .as_ref()
                .is_some_and(|finalizer| statement_list_terminates(&finalizer.body));
            let body_and_handler_leave = statement_list_terminates(&statement.block.body)
                && statement
                    .handler
                    .as_ref()
                    .is_none_or(|handler| statement_list_terminates(&handler.body.body));
            finally_leaves || body_and_handler_leave
        }
        _ => false,
    }
}

pub fn statement_list_terminates(statements: &[Statement<'_>]) -> bool {
    statements.iter().any(statement_terminates)
}
