//! `complexity`: per-function cyclomatic complexity, cognitive complexity, length and nesting for
//! JS/TS on the oxc tree, and for Python, Go, Java and Rust on tree-sitter trees ([`trees`]),
//! all with the same rules and limits.
//!
//! Cyclomatic complexity counts decision points the way ESLint's `complexity` rule does (`if`,
//! `?:`, loops, `catch`, `case`, `&&`/`||`/`??` and their assignment forms), starting at 1.
//! Cognitive complexity follows SonarSource's definition: structures cost 1 plus their nesting,
//! `else`/`else if` cost 1, each run of like boolean operators costs 1, labelled jumps cost 1.
//! Nesting counts nested `if`/loop/`switch`/`try` blocks like ESLint's `max-depth`. Each function
//! is measured on its own: a nested function's body counts toward the nested function only.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::SourceFile;
use oxc_ast::ast::{PropertyKey, Statement};
use oxc_ast::AstKind;
use oxc_ast_visit::Visit;
use oxc_span::{GetSpan, Span};
use oxc_syntax::operator::AssignmentOperator;

pub mod trees;

pub const CYCLOMATIC: Rule = Rule::new(
    "cyclomatic-complexity",
    Category::Complexity,
    Severity::Medium,
)
.confidence(1.0)
.suggest("Split the function: extract branches into well-named helpers or use lookup tables.");
pub const COGNITIVE: Rule = Rule::new(
    "cognitive-complexity",
    Category::Complexity,
    Severity::Medium,
)
.confidence(1.0)
.suggest("Flatten the logic: return early, extract nested blocks into functions.");
pub const FUNCTION_LENGTH: Rule =
    Rule::new("function-length", Category::Complexity, Severity::Medium)
        .confidence(1.0)
        .suggest("Split the function into smaller ones that each do one thing.");
pub const MAX_NESTING: Rule = Rule::new("max-nesting", Category::Complexity, Severity::Medium)
    .confidence(1.0)
    .suggest("Reduce nesting with early returns, guard clauses or extracted functions.");

/// (limit, severity) pairs, checked from the most severe: a value over the limit gets that
/// severity. These are the original product's limits; cognitive complexity had none, so it uses
/// SonarSource's default of 15 for MEDIUM.
const CYCLOMATIC_LIMITS: [(u32, Severity); 3] = [
    (25, Severity::Critical),
    (18, Severity::High),
    (12, Severity::Medium),
];
const COGNITIVE_LIMITS: [(u32, Severity); 3] = [
    (40, Severity::Critical),
    (25, Severity::High),
    (15, Severity::Medium),
];
const LENGTH_LIMITS: [(u32, Severity); 3] = [
    (300, Severity::Critical),
    (200, Severity::High),
    (100, Severity::Medium),
];
const NESTING_LIMITS: [(u32, Severity); 3] = [
    (8, Severity::Critical),
    (6, Severity::High),
    (4, Severity::Medium),
];

fn severity_for(value: u32, limits: &[(u32, Severity); 3]) -> Option<(Severity, u32)> {
    limits
        .iter()
        .find(|(limit, _)| value > *limit)
        .map(|(_, severity)| (*severity, limits[2].0))
}

/// The measurements of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMetrics {
    pub name: String,
    pub span: Span,
    pub cyclomatic: u32,
    pub cognitive: u32,
    pub lines: u32,
    pub max_nesting: u32,
}

pub struct ComplexityDetector;

impl Detector for ComplexityDetector {
    fn name(&self) -> &'static str {
        "complexity"
    }

    fn description(&self) -> &'static str {
        "Cyclomatic and cognitive complexity, length and nesting of each JS/TS, Python, Go, Java and Rust function"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            imports: false,
            files: false,
            js_syntax_errors: false,
        }
    }

    fn check_file(&self, file: &SourceFile<'_>, js: Option<&ParsedJs<'_>>, out: &mut FileSink<'_>) {
        let measured = match js {
            Some(js) if !js.panicked => measure(js, file),
            Some(_) => return,
            None => match trees::measure(file) {
                Some(measured) => measured,
                None => return,
            },
        };
        for metrics in measured {
            let (start, end) = (metrics.span.start as usize, metrics.span.end as usize);
            let name = &metrics.name;
            let checks = [
                (
                    &CYCLOMATIC,
                    metrics.cyclomatic,
                    &CYCLOMATIC_LIMITS,
                    "a cyclomatic complexity of",
                ),
                (
                    &COGNITIVE,
                    metrics.cognitive,
                    &COGNITIVE_LIMITS,
                    "a cognitive complexity of",
                ),
                (
                    &FUNCTION_LENGTH,
                    metrics.lines,
                    &LENGTH_LIMITS,
                    "a length in lines of",
                ),
                (
                    &MAX_NESTING,
                    metrics.max_nesting,
                    &NESTING_LIMITS,
                    "blocks nested",
                ),
            ];
            for (rule, value, limits, what) in checks {
                if let Some((severity, base_limit)) = severity_for(value, limits) {
                    let message = if rule.id == MAX_NESTING.id {
                        format!("Function '{name}' has {what} {value} deep (limit {base_limit})")
                    } else {
                        format!("Function '{name}' has {what} {value} (limit {base_limit})")
                    };
                    out.report(rule, start, end, message).severity = severity;
                }
            }
        }
    }
}

/// Measures every function of a parsed file, in source order.
pub fn measure(js: &ParsedJs<'_>, file: &SourceFile<'_>) -> Vec<FunctionMetrics> {
    let mut visitor = MetricsVisitor {
        source: js.source_text(),
        file,
        parents: Vec::new(),
        frames: Vec::new(),
        done: Vec::new(),
    };
    visitor.visit_program(js.program);
    visitor
        .done
        .sort_by_key(|metrics| (metrics.span.start, metrics.span.end));
    visitor.done
}

struct Frame {
    name: String,
    span: Span,
    cyclomatic: u32,
    cognitive: u32,
    /// Current block depth for `max-nesting`.
    depth: u32,
    max_depth: u32,
    /// Current nesting level for cognitive complexity increments.
    cognitive_nesting: u32,
}

struct MetricsVisitor<'s, 'f, 'a> {
    source: &'s str,
    file: &'s SourceFile<'f>,
    /// Kinds of the nodes entered and not yet left, innermost last.
    parents: Vec<AstKind<'a>>,
    frames: Vec<Frame>,
    done: Vec<FunctionMetrics>,
}

impl<'a> MetricsVisitor<'_, '_, 'a> {
    fn parent(&self) -> Option<AstKind<'a>> {
        self.parents.last().copied()
    }

    fn is_else_if(&self, span: Span) -> bool {
        matches!(self.parent(), Some(AstKind::IfStatement(parent))
            if parent.alternate.as_ref().is_some_and(|alternate| alternate.span() == span))
    }

    fn function_name(&self, own_name: Option<&str>) -> String {
        if let Some(name) = own_name {
            return name.to_owned();
        }
        let key_name = |key: &PropertyKey<'_>| key.static_name().map(|name| name.to_string());
        let from_parent = match self.parent() {
            Some(AstKind::VariableDeclarator(declarator)) => declarator
                .id
                .get_binding_identifier()
                .map(|id| id.name.to_string()),
            Some(AstKind::ObjectProperty(property)) => key_name(&property.key),
            Some(AstKind::MethodDefinition(method)) => key_name(&method.key),
            Some(AstKind::PropertyDefinition(property)) => key_name(&property.key),
            Some(AstKind::CallExpression(call)) => call
                .callee_name()
                .map(|callee| format!("{callee}() callback")),
            Some(AstKind::AssignmentExpression(assignment)) => self
                .source
                .get(assignment.left.span().start as usize..assignment.left.span().end as usize)
                .map(str::to_owned),
            _ => None,
        };
        from_parent.unwrap_or_else(|| "<anonymous>".to_owned())
    }

    fn push_frame(&mut self, name: String, span: Span) {
        self.frames.push(Frame {
            name,
            span,
            cyclomatic: 1,
            cognitive: 0,
            depth: 0,
            max_depth: 0,
            cognitive_nesting: 0,
        });
    }

    fn pop_frame(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let (start_line, _) = self
            .file
            .lines
            .line_column(self.source, frame.span.start as usize);
        let (end_line, _) = self
            .file
            .lines
            .line_column(self.source, frame.span.end as usize);
        self.done.push(FunctionMetrics {
            name: frame.name,
            span: frame.span,
            cyclomatic: frame.cyclomatic,
            cognitive: frame.cognitive,
            lines: end_line - start_line + 1,
            max_nesting: frame.max_depth,
        });
    }

    fn frame(&mut self) -> Option<&mut Frame> {
        self.frames.last_mut()
    }

    fn add_decision(&mut self) {
        if let Some(frame) = self.frame() {
            frame.cyclomatic += 1;
        }
    }

    /// A structure that costs 1 plus the nesting level and nests what it contains.
    fn enter_nesting_structure(&mut self, increases_depth: bool) {
        if let Some(frame) = self.frame() {
            frame.cognitive += 1 + frame.cognitive_nesting;
            frame.cognitive_nesting += 1;
            if increases_depth {
                frame.depth += 1;
                frame.max_depth = frame.max_depth.max(frame.depth);
            }
        }
    }

    fn leave_nesting_structure(&mut self, increases_depth: bool) {
        if let Some(frame) = self.frame() {
            frame.cognitive_nesting = frame.cognitive_nesting.saturating_sub(1);
            if increases_depth {
                frame.depth = frame.depth.saturating_sub(1);
            }
        }
    }
}

impl<'a> Visit<'a> for MetricsVisitor<'_, '_, 'a> {
    fn enter_node(&mut self, kind: AstKind<'a>) {
        match kind {
            AstKind::Function(function) => {
                let name = self.function_name(function.id.as_ref().map(|id| id.name.as_str()));
                if function.body.is_some() {
                    self.push_frame(name, function.span);
                }
            }
            AstKind::ArrowFunctionExpression(arrow) => {
                let name = self.function_name(None);
                self.push_frame(name, arrow.span);
            }
            AstKind::IfStatement(statement) => {
                self.add_decision();
                if self.is_else_if(statement.span) {
                    // `else if` costs 1 and does not nest deeper than its `if`.
                    if let Some(frame) = self.frame() {
                        frame.cognitive += 1;
                    }
                } else {
                    self.enter_nesting_structure(true);
                }
                if statement
                    .alternate
                    .as_ref()
                    .is_some_and(|alternate| !matches!(alternate, Statement::IfStatement(_)))
                {
                    if let Some(frame) = self.frame() {
                        frame.cognitive += 1;
                    }
                }
            }
            AstKind::ConditionalExpression(_) => {
                self.add_decision();
                self.enter_nesting_structure(false);
            }
            AstKind::ForStatement(_)
            | AstKind::ForInStatement(_)
            | AstKind::ForOfStatement(_)
            | AstKind::WhileStatement(_)
            | AstKind::DoWhileStatement(_) => {
                self.add_decision();
                self.enter_nesting_structure(true);
            }
            AstKind::SwitchStatement(_) => self.enter_nesting_structure(true),
            AstKind::SwitchCase(case) if case.test.is_some() => {
                self.add_decision();
            }
            AstKind::TryStatement(_) => {
                if let Some(frame) = self.frame() {
                    frame.depth += 1;
                    frame.max_depth = frame.max_depth.max(frame.depth);
                }
            }
            AstKind::CatchClause(_) => {
                self.add_decision();
                self.enter_nesting_structure(false);
            }
            AstKind::LogicalExpression(logical) => {
                self.add_decision();
                let continues_run = matches!(self.parent(), Some(AstKind::LogicalExpression(parent)) if parent.operator == logical.operator);
                if !continues_run {
                    if let Some(frame) = self.frame() {
                        frame.cognitive += 1;
                    }
                }
            }
            AstKind::AssignmentExpression(assignment) => {
                if matches!(
                    assignment.operator,
                    AssignmentOperator::LogicalAnd
                        | AssignmentOperator::LogicalOr
                        | AssignmentOperator::LogicalNullish
                ) {
                    self.add_decision();
                }
            }
            AstKind::BreakStatement(statement) if statement.label.is_some() => {
                if let Some(frame) = self.frame() {
                    frame.cognitive += 1;
                }
            }
            AstKind::ContinueStatement(statement) if statement.label.is_some() => {
                if let Some(frame) = self.frame() {
                    frame.cognitive += 1;
                }
            }
            _ => {}
        }
        self.parents.push(kind);
    }

    fn leave_node(&mut self, kind: AstKind<'a>) {
        self.parents.pop();
        match kind {
            AstKind::Function(function) if function.body.is_some() => {
                self.pop_frame();
            }
            AstKind::ArrowFunctionExpression(_) => self.pop_frame(),
            AstKind::IfStatement(statement) if !self.is_else_if(statement.span) => {
                self.leave_nesting_structure(true);
            }
            AstKind::ConditionalExpression(_) | AstKind::CatchClause(_) => {
                self.leave_nesting_structure(false)
            }
            AstKind::ForStatement(_)
            | AstKind::ForInStatement(_)
            | AstKind::ForOfStatement(_)
            | AstKind::WhileStatement(_)
            | AstKind::DoWhileStatement(_)
            | AstKind::SwitchStatement(_) => self.leave_nesting_structure(true),
            AstKind::TryStatement(_) => {
                if let Some(frame) = self.frame() {
                    frame.depth = frame.depth.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Language, LineIndex};
    use crate::testing::{check, rule_ids};
    use oxc_allocator::Allocator;

    fn metrics(code: &str) -> Vec<FunctionMetrics> {
        let allocator = Allocator::default();
        let js = crate::js::parse(&allocator, "a.ts", code, false).unwrap();
        let lines = LineIndex::new(code);
        let file = SourceFile {
            path: "a.ts",
            text: code,
            language: Language::TypeScript,
            lines: &lines,
        };
        measure(&js, &file)
    }

    #[test]
    fn a_straight_function_has_complexity_one() {
        let found = metrics("function plain(a) { return a + 1; }\n");
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].name.as_str(),
                found[0].cyclomatic,
                found[0].cognitive,
                found[0].max_nesting
            ),
            ("plain", 1, 0, 0)
        );
    }

    #[test]
    fn decisions_nesting_and_boolean_runs_are_counted() {
        let code = "const f = (a, b) => {\n  if (a && b && c) {\n    for (const x of a) {\n      if (x || y) { g(); } else { h(); }\n    }\n  } else if (b) {\n    return b ? 1 : 2;\n  }\n};\n";
        let found = metrics(code);
        let f = &found[0];
        assert_eq!(f.name, "f");
        // 1 + if + && + && + for + if + || + else-if + ?:
        assert_eq!(f.cyclomatic, 9);
        // if 1 + && run 1 + for 2 + inner if 3 + || 1 + else 1 + else-if 1 + ?: 2
        assert_eq!(f.cognitive, 12);
        assert_eq!(f.max_nesting, 3);
        assert_eq!(f.lines, 9);
    }

    #[test]
    fn nested_functions_are_measured_separately_with_their_names() {
        let found = metrics("class A { run() { const inner = () => { if (a) {} }; } }\nconst o = { go: function () {} };\n");
        let names: Vec<(&str, u32)> = found
            .iter()
            .map(|m| (m.name.as_str(), m.cyclomatic))
            .collect();
        assert_eq!(names, vec![("run", 1), ("inner", 2), ("go", 1)]);
    }

    fn branchy_function(branches: usize) -> String {
        let mut code = String::from("export function branchy(x) {\n");
        for index in 0..branches {
            code.push_str(&format!("  if (x === {index}) {{ return {index}; }}\n"));
        }
        code.push_str("  return -1;\n}\n");
        code
    }

    #[test]
    fn thresholds_give_the_original_severities() {
        let findings = |code: &str| -> Vec<(String, Severity)> {
            check(&ComplexityDetector, "a.js", code)
                .into_iter()
                .filter(|f| f.rule_id == "cyclomatic-complexity")
                .map(|f| (f.message, f.severity))
                .collect()
        };
        assert!(findings(&branchy_function(11)).is_empty());
        assert_eq!(findings(&branchy_function(12))[0].1, Severity::Medium);
        assert_eq!(findings(&branchy_function(18))[0].1, Severity::High);
        assert_eq!(findings(&branchy_function(25))[0].1, Severity::Critical);
        assert_eq!(
            findings(&branchy_function(12))[0].0,
            "Function 'branchy' has a cyclomatic complexity of 13 (limit 12)"
        );
    }

    #[test]
    fn long_and_deeply_nested_functions_are_reported() {
        let mut long = String::from("function long() {\n");
        for index in 0..150 {
            long.push_str(&format!("  call({index});\n"));
        }
        long.push_str("}\n");
        let found = check(&ComplexityDetector, "a.js", &long);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].rule_id.as_str(), found[0].severity),
            ("function-length", Severity::Medium)
        );

        let deep =
            "function deep(a) { if (a) { if (a) { if (a) { if (a) { if (a) { go(); } } } } } }\n";
        let found = check(&ComplexityDetector, "a.js", deep);
        assert!(found
            .iter()
            .any(|f| f.rule_id == "max-nesting" && f.severity == Severity::Medium));
        let shallow = "function shallow(a) { if (a) { if (a) { go(); } } }\n";
        assert!(check(&ComplexityDetector, "a.js", shallow).is_empty());
    }

    /// One function with `branches` sequential `if`s, in each tree-sitter language.
    fn branchy_in(language: &str, branches: usize) -> (&'static str, String) {
        let ifs = |line: &dyn Fn(usize) -> String| (0..branches).map(line).collect::<String>();
        match language {
            "python" => (
                "a.py",
                format!(
                    "def branchy(x):\n{}    return -1\n",
                    ifs(&|i| format!("    if x == {i}:\n        return {i}\n"))
                ),
            ),
            "go" => (
                "a.go",
                format!(
                    "package a\n\nfunc branchy(x int) int {{\n{}\treturn -1\n}}\n",
                    ifs(&|i| format!("\tif x == {i} {{\n\t\treturn {i}\n\t}}\n"))
                ),
            ),
            "java" => (
                "A.java",
                format!(
                    "class A {{\n  int branchy(int x) {{\n{}    return -1;\n  }}\n}}\n",
                    ifs(&|i| format!("    if (x == {i}) {{ return {i}; }}\n"))
                ),
            ),
            _ => (
                "a.rs",
                format!(
                    "fn branchy(x: i32) -> i32 {{\n{}    -1\n}}\n",
                    ifs(&|i| format!("    if x == {i} {{\n        return {i};\n    }}\n"))
                ),
            ),
        }
    }

    #[test]
    fn tree_sitter_languages_use_the_same_cyclomatic_thresholds() {
        for language in ["python", "go", "java", "rust"] {
            let severities = |branches: usize| -> Vec<Severity> {
                let (path, code) = branchy_in(language, branches);
                check(&ComplexityDetector, path, &code)
                    .into_iter()
                    .filter(|f| f.rule_id == "cyclomatic-complexity")
                    .map(|f| f.severity)
                    .collect()
            };
            assert!(severities(11).is_empty(), "{language}");
            assert_eq!(severities(12), vec![Severity::Medium], "{language}");
            assert_eq!(severities(18), vec![Severity::High], "{language}");
            assert_eq!(severities(25), vec![Severity::Critical], "{language}");
        }
        let (path, code) = branchy_in("go", 12);
        assert_eq!(
            check(&ComplexityDetector, path, &code)[0].message,
            "Function 'branchy' has a cyclomatic complexity of 13 (limit 12)"
        );
    }

    #[test]
    fn long_and_deep_functions_are_reported_in_tree_sitter_languages() {
        let mut long = String::from("def long():\n");
        for index in 0..210 {
            long.push_str(&format!("    call({index})\n"));
        }
        let found = check(&ComplexityDetector, "long.py", &long);
        assert_eq!(
            rule_ids(&found),
            vec!["function-length"],
            "211 lines is over the 200-line limit"
        );
        assert_eq!(found[0].severity, Severity::High);

        let deep = "fn deep(a: bool) {\n    if a { if a { if a { if a { if a { if a { if a { go(); } } } } } } }\n}\n";
        let found = check(&ComplexityDetector, "deep.rs", deep);
        assert!(found
            .iter()
            .any(|f| f.rule_id == "max-nesting" && f.severity == Severity::High));
        let shallow = "func shallow(a bool) {\n\tif a {\n\t\tfor {\n\t\t}\n\t}\n}\n";
        assert!(check(&ComplexityDetector, "shallow.go", shallow).is_empty());
        assert!(check(&ComplexityDetector, "notes.txt", "if if if").is_empty());
    }
}
