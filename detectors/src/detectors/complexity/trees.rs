//! The same measurements as for JS/TS, on tree-sitter trees of Python, Go, Java and Rust.
//!
//! Each language maps its node kinds onto the roles the JS visitor knows:
//! - *branches* (`if`, loops): a decision that nests, and a block for `max-nesting`;
//! - *containers* (`switch`, `match`, `select`, Rust `loop`): nest and add depth, no decision of
//!   their own; their *cases* are the decisions (Rust: every `match` arm but the last, since a
//!   `match` is exhaustive and its last arm is the `default`);
//! - *conditionals* (`?:`, Python `x if c else y`) and *catches* (`catch`, `except`): a decision
//!   that nests for cognitive complexity but is no block for `max-nesting`;
//! - *blocks* (`try`, Python `with`): depth only;
//! - `&&`/`||` (Python `and`/`or`): a decision each, cognitive 1 per run of the same operator;
//! - `else if`/`elif` cost 1 without nesting deeper, a plain `else` costs 1, a labelled
//!   `break`/`continue` (and Go `goto`) costs 1.
//!
//! Nested functions (closures, lambdas, function literals) are measured on their own.

use super::{Frame, FunctionMetrics};
use crate::detectors::tree_sitter_util::{named_children, parse, text};
use crate::source::{Language, SourceFile};
use oxc_span::Span;
use tree_sitter::Node;

/// How one grammar's node kinds play the roles above.
struct Roles {
    functions: &'static [&'static str],
    branches: &'static [&'static str],
    containers: &'static [&'static str],
    cases: &'static [&'static str],
    conditionals: &'static [&'static str],
    catches: &'static [&'static str],
    blocks: &'static [&'static str],
    /// Node kind of `a && b` / `a and b`.
    boolean: &'static str,
    /// Kinds of `break`/`continue`/`goto` that cost 1 when they carry a label.
    jumps: &'static [&'static str],
}

const PYTHON: Roles = Roles {
    functions: &["function_definition", "lambda"],
    branches: &["if_statement", "for_statement", "while_statement"],
    containers: &["match_statement"],
    // Comprehension `for`/`if` clauses are loops and filters too (as radon counts them).
    cases: &["case_clause", "for_in_clause", "if_clause"],
    conditionals: &["conditional_expression"],
    catches: &["except_clause"],
    blocks: &["try_statement", "with_statement"],
    boolean: "boolean_operator",
    jumps: &[],
};

const GO: Roles = Roles {
    functions: &["function_declaration", "method_declaration", "func_literal"],
    branches: &["if_statement", "for_statement"],
    containers: &[
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
    ],
    cases: &["expression_case", "type_case", "communication_case"],
    conditionals: &[],
    catches: &[],
    blocks: &[],
    boolean: "binary_expression",
    jumps: &["break_statement", "continue_statement", "goto_statement"],
};

const JAVA: Roles = Roles {
    functions: &[
        "method_declaration",
        "constructor_declaration",
        "compact_constructor_declaration",
        "lambda_expression",
    ],
    branches: &[
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
    ],
    containers: &["switch_expression"],
    cases: &["switch_label"],
    conditionals: &["ternary_expression"],
    catches: &["catch_clause"],
    blocks: &["try_statement", "try_with_resources_statement"],
    boolean: "binary_expression",
    jumps: &["break_statement", "continue_statement"],
};

const RUST: Roles = Roles {
    functions: &["function_item", "closure_expression"],
    branches: &["if_expression", "while_expression", "for_expression"],
    containers: &["match_expression", "loop_expression"],
    cases: &["match_arm"],
    conditionals: &[],
    catches: &[],
    blocks: &[],
    boolean: "binary_expression",
    jumps: &["break_expression", "continue_expression"],
};

/// Measures every function of a Python, Go, Java or Rust file, in source order; `None` for
/// other languages.
pub fn measure(file: &SourceFile<'_>) -> Option<Vec<FunctionMetrics>> {
    let (grammar, roles): (tree_sitter::Language, &Roles) = match file.language {
        Language::Python => (tree_sitter_python::LANGUAGE.into(), &PYTHON),
        Language::Go => (tree_sitter_go::LANGUAGE.into(), &GO),
        Language::Java => (tree_sitter_java::LANGUAGE.into(), &JAVA),
        Language::Rust => (tree_sitter_rust::LANGUAGE.into(), &RUST),
        _ => return None,
    };
    let tree = parse(&grammar, file.text)?;
    let mut measurer = Measurer {
        file,
        source: file.text.as_bytes(),
        language: file.language,
        roles,
        frames: Vec::new(),
        done: Vec::new(),
    };
    // Enter/leave events from an explicit stack: deeply nested code cannot overflow it.
    let mut stack = vec![(tree.root_node(), false)];
    while let Some((node, entered)) = stack.pop() {
        if entered {
            measurer.leave(node);
            continue;
        }
        measurer.enter(node);
        stack.push((node, true));
        let children = named_children(node);
        stack.extend(children.into_iter().rev().map(|child| (child, false)));
    }
    measurer
        .done
        .sort_by_key(|metrics| (metrics.span.start, metrics.span.end));
    Some(measurer.done)
}

struct Measurer<'f, 's> {
    file: &'f SourceFile<'s>,
    source: &'s [u8],
    language: Language,
    roles: &'static Roles,
    frames: Vec<Frame>,
    done: Vec<FunctionMetrics>,
}

impl Measurer<'_, '_> {
    fn frame(&mut self) -> Option<&mut Frame> {
        self.frames.last_mut()
    }

    fn add_decision(&mut self) {
        if let Some(frame) = self.frame() {
            frame.cyclomatic += 1;
        }
    }

    fn add_cognitive(&mut self, cost: u32) {
        if let Some(frame) = self.frame() {
            frame.cognitive += cost;
        }
    }

    fn nest(&mut self, adds_depth: bool) {
        if let Some(frame) = self.frame() {
            frame.cognitive += 1 + frame.cognitive_nesting;
            frame.cognitive_nesting += 1;
            if adds_depth {
                frame.depth += 1;
                frame.max_depth = frame.max_depth.max(frame.depth);
            }
        }
    }

    fn unnest(&mut self, adds_depth: bool) {
        if let Some(frame) = self.frame() {
            frame.cognitive_nesting = frame.cognitive_nesting.saturating_sub(1);
            if adds_depth {
                frame.depth = frame.depth.saturating_sub(1);
            }
        }
    }

    fn add_depth(&mut self, delta: i32) {
        if let Some(frame) = self.frame() {
            frame.depth = frame.depth.saturating_add_signed(delta);
            frame.max_depth = frame.max_depth.max(frame.depth);
        }
    }

    /// An `if` that is the `else` branch of another `if`: costs 1 and does not nest deeper.
    fn is_else_if(&self, node: Node<'_>) -> bool {
        let Some(parent) = node.parent() else {
            return false;
        };
        match self.language {
            Language::Rust => parent.kind() == "else_clause",
            Language::Go | Language::Java => {
                parent.kind() == "if_statement"
                    && parent
                        .child_by_field_name("alternative")
                        .is_some_and(|alternative| alternative.id() == node.id())
            }
            _ => false,
        }
    }

    /// Whether this `if` ends in a plain `else` (which costs 1).
    fn has_plain_else(&self, node: Node<'_>) -> bool {
        let Some(alternative) = node.child_by_field_name("alternative") else {
            // Python keeps `elif`/`else` as children of the `if`.
            return self.language == Language::Python
                && named_children(node)
                    .iter()
                    .any(|child| child.kind() == "else_clause");
        };
        match self.language {
            Language::Rust => named_children(alternative)
                .iter()
                .all(|child| child.kind() != "if_expression"),
            Language::Python => named_children(node)
                .iter()
                .any(|child| child.kind() == "else_clause"),
            _ => alternative.kind() != "if_statement",
        }
    }

    fn boolean_operator<'n>(&self, node: Node<'n>) -> Option<&'n str> {
        if node.kind() != self.roles.boolean {
            return None;
        }
        let operator = node.child_by_field_name("operator")?.kind();
        matches!(operator, "&&" | "||" | "and" | "or").then_some(operator)
    }

    /// A case that is a decision: Java `default` labels and a Rust `match`'s last arm are not.
    fn is_decision_case(&self, node: Node<'_>) -> bool {
        match self.language {
            Language::Java => node.named_child_count() > 0,
            Language::Rust => node
                .next_named_sibling()
                .is_some_and(|next| next.kind() == "match_arm"),
            _ => true,
        }
    }

    fn function_name(&self, node: Node<'_>) -> String {
        if let Some(name) = node.child_by_field_name("name") {
            return text(name, self.source).to_owned();
        }
        let anonymous = match self.language {
            Language::Python | Language::Java => "<lambda>",
            Language::Rust => "<closure>",
            _ => "<anonymous>",
        };
        anonymous.to_owned()
    }

    fn enter(&mut self, node: Node<'_>) {
        let kind = node.kind();
        let roles = self.roles;
        if roles.functions.contains(&kind) {
            self.frames.push(Frame {
                name: self.function_name(node),
                span: Span::new(to_u32(node.start_byte()), to_u32(node.end_byte())),
                cyclomatic: 1,
                cognitive: 0,
                depth: 0,
                max_depth: 0,
                cognitive_nesting: 0,
            });
        } else if roles.branches.contains(&kind) {
            self.add_decision();
            if self.is_else_if(node) {
                self.add_cognitive(1);
            } else {
                self.nest(true);
            }
            if kind.starts_with("if") && self.has_plain_else(node) {
                self.add_cognitive(1);
            }
        } else if kind == "elif_clause" {
            self.add_decision();
            self.add_cognitive(1);
        } else if roles.containers.contains(&kind) {
            self.nest(true);
        } else if roles.cases.contains(&kind) {
            if self.is_decision_case(node) {
                self.add_decision();
            }
        } else if roles.conditionals.contains(&kind) || roles.catches.contains(&kind) {
            self.add_decision();
            self.nest(false);
        } else if roles.blocks.contains(&kind) {
            self.add_depth(1);
        } else if let Some(operator) = self.boolean_operator(node) {
            self.add_decision();
            let continues_run = node
                .parent()
                .and_then(|parent| self.boolean_operator(parent))
                .is_some_and(|parent_operator| parent_operator == operator);
            if !continues_run {
                self.add_cognitive(1);
            }
        } else if roles.jumps.contains(&kind) && self.has_label(node) {
            self.add_cognitive(1);
        }
    }

    fn has_label(&self, node: Node<'_>) -> bool {
        match self.language {
            // Every Go `goto` names a label.
            Language::Go => named_children(node)
                .iter()
                .any(|child| child.kind() == "label_name"),
            Language::Rust => named_children(node)
                .iter()
                .any(|child| child.kind() == "label"),
            _ => node.named_child_count() > 0,
        }
    }

    fn leave(&mut self, node: Node<'_>) {
        let kind = node.kind();
        let roles = self.roles;
        if roles.functions.contains(&kind) {
            self.finish_function();
        } else if roles.branches.contains(&kind) {
            if !self.is_else_if(node) {
                self.unnest(true);
            }
        } else if roles.containers.contains(&kind) {
            self.unnest(true);
        } else if roles.conditionals.contains(&kind) || roles.catches.contains(&kind) {
            self.unnest(false);
        } else if roles.blocks.contains(&kind) {
            self.add_depth(-1);
        }
    }

    fn finish_function(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let lines = self.file.lines;
        let (start_line, _) = lines.line_column(self.file.text, frame.span.start as usize);
        let (end_line, _) = lines.line_column(self.file.text, frame.span.end as usize);
        self.done.push(FunctionMetrics {
            name: frame.name,
            span: frame.span,
            cyclomatic: frame.cyclomatic,
            cognitive: frame.cognitive,
            lines: end_line - start_line + 1,
            max_nesting: frame.max_depth,
        });
    }
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::LineIndex;
    use std::path::Path;

    fn metrics(path: &str, code: &str) -> Vec<(String, u32, u32, u32)> {
        let lines = LineIndex::new(code);
        let file = SourceFile {
            path,
            text: code,
            language: Language::from_path(Path::new(path)),
            lines: &lines,
        };
        measure(&file)
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.cyclomatic, m.cognitive, m.max_nesting))
            .collect()
    }

    fn one(name: &str, cyclomatic: u32, cognitive: u32, nesting: u32) -> (String, u32, u32, u32) {
        (name.to_owned(), cyclomatic, cognitive, nesting)
    }

    #[test]
    fn python_functions_count_elif_boolean_runs_and_except() {
        let code = "def f(a, b):\n    if a and b and c:\n        for x in a:\n            if x or y:\n                g()\n            else:\n                h()\n    elif b:\n        return 1 if b else 2\n    try:\n        g()\n    except ValueError:\n        pass\n\ndef plain():\n    return 1\n";
        // cyclomatic: 1 + if + and + and + for + if + or + elif + ternary + except = 10
        // cognitive: if 1 + and-run 1 + for 2 + inner if 3 + or 1 + else 1 + elif 1
        //            + ternary 2 + except 1 = 13
        assert_eq!(
            metrics("a.py", code),
            vec![one("f", 10, 13, 3), one("plain", 1, 0, 0)]
        );
    }

    #[test]
    fn go_functions_count_cases_else_if_and_labels() {
        let code = "package main\n\nfunc f(x int) int {\nouter:\n\tfor i := 0; i < x; i++ {\n\t\tswitch {\n\t\tcase i > 1 && x > 2:\n\t\t\tcontinue outer\n\t\tcase i < 0:\n\t\tdefault:\n\t\t}\n\t}\n\tif x > 1 {\n\t} else if x > 2 {\n\t} else {\n\t}\n\tgo func() {}()\n\treturn 0\n}\n";
        // cyclomatic: 1 + for + 2 cases + && + if + else-if = 7
        // cognitive: for 1 + switch 2 + && 1 + labelled continue 1 + if 1 + else-if 1 + else 1 = 8
        assert_eq!(
            metrics("a.go", code),
            vec![one("f", 7, 8, 2), one("<anonymous>", 1, 0, 0)]
        );
    }

    #[test]
    fn java_methods_count_labels_ternaries_and_catches() {
        let code = "class A {\n  int f(int x) {\n    switch (x) {\n      case 1: return 1;\n      case 2: return 2;\n      default: return 0;\n    }\n  }\n  int g(int x) {\n    try {\n      while (x > 0) { if (x > 2 || x < -2) { x--; } }\n    } catch (Exception e) {\n      return x > 0 ? 1 : 2;\n    }\n    return 0;\n  }\n}\n";
        // f: 1 + 2 cases = 3, cognitive: switch 1; nesting 1.
        // g: 1 + while + if + || + catch + ?: = 6; cognitive: while 1 + if 2 + || 1 + catch 1
        //    + ?: 2 = 7; nesting: try, while, if = 3.
        assert_eq!(
            metrics("A.java", code),
            vec![one("f", 3, 1, 1), one("g", 6, 7, 3)]
        );
    }

    #[test]
    fn rust_functions_count_match_arms_and_closures_separately() {
        let code = "fn f(x: Option<u8>) -> u8 {\n    let g = |y: u8| if y > 1 { 1 } else { 2 };\n    match x {\n        Some(v) if v > 1 => v,\n        Some(_) => 1,\n        None => 0,\n    }\n}\n";
        // f: 1 + 2 of 3 arms = 3; cognitive: match 1; nesting 1.
        // closure: 1 + if = 2; cognitive: if 1 + else 1 = 2.
        assert_eq!(
            metrics("a.rs", code),
            vec![one("f", 3, 1, 1), one("<closure>", 2, 2, 1)]
        );
    }
}
