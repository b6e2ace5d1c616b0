//! Parsing JavaScript and TypeScript with oxc, once per file, for every detector that reads the
//! syntax tree (`typescript`, `eslint`, `security` sinks, `complexity`, `import`, `performance`).

use oxc_allocator::Allocator;
use oxc_ast::ast::Program;
use oxc_diagnostics::OxcDiagnostic;
use oxc_parser::{ParseOptions, Parser};
use oxc_semantic::{Semantic, SemanticBuilder};
use oxc_span::{SourceType, Span};

/// A parsed file: the tree, its scopes and symbols, and every error found on the way.
pub struct ParsedJs<'a> {
    pub program: &'a Program<'a>,
    pub semantic: Semantic<'a>,
    pub source_type: SourceType,
    /// Errors from the parser and from oxc's semantic checks (redeclarations; misplaced
    /// `await`, duplicate labels, ... when parsed with `check_syntax`), in source order.
    pub errors: Vec<OxcDiagnostic>,
    /// The parser gave up: `program` is empty, so AST detectors have nothing to look at.
    pub panicked: bool,
    /// The file carries a `@flow` pragma: oxc does not parse Flow types, so its errors are not
    /// the file's fault and are not reported.
    pub is_flow: bool,
}

impl ParsedJs<'_> {
    pub fn source_text(&self) -> &str {
        self.program.source_text
    }

    /// The source text covered by a span.
    pub fn text_of(&self, span: Span) -> &str {
        self.program
            .source_text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// Whether a comment between `start` and `end` matches `predicate` (for `// falls through`).
    pub fn has_comment_between(
        &self,
        start: u32,
        end: u32,
        predicate: impl Fn(&str) -> bool,
    ) -> bool {
        self.program
            .comments
            .iter()
            .filter(|comment| comment.span.start >= start && comment.span.end <= end)
            .any(|comment| predicate(self.text_of(comment.content_span())))
    }
}

/// Parses `text` as the language its `path` names; `None` when the extension is not a JS/TS one.
/// `check_syntax` runs oxc's additional syntax checks ([`crate::detector::Needs::js_syntax_errors`]);
/// without them `errors` holds only the parser's errors and redeclarations.
///
/// To avoid false errors on real code, a `.js`/`.mjs`/`.cjs` file that fails to parse is tried
/// again with JSX enabled (React projects put JSX in `.js` files), and plain `.js` files allow a
/// top-level `return` (legal in Node's CommonJS wrapper).
pub fn parse<'a>(
    allocator: &'a Allocator,
    path: &str,
    text: &'a str,
    check_syntax: bool,
) -> Option<ParsedJs<'a>> {
    let source_type = SourceType::from_path(path).ok()?;
    let is_plain_javascript = source_type.is_javascript() && !source_type.is_jsx();
    let options = ParseOptions {
        allow_return_outside_function: source_type.is_javascript(),
        ..ParseOptions::default()
    };

    let mut result = Parser::new(allocator, text, source_type)
        .with_options(options)
        .parse();
    if is_plain_javascript && (result.panicked || !result.diagnostics.is_empty()) {
        let jsx_type = source_type.with_jsx(true);
        let retry = Parser::new(allocator, text, jsx_type)
            .with_options(options)
            .parse();
        if !retry.panicked && retry.diagnostics.is_empty() {
            result = retry;
        }
    }

    let panicked = result.panicked;
    let is_flow = result.is_flow_language;
    let mut errors: Vec<OxcDiagnostic> = result.diagnostics.into_vec();
    let program = allocator.alloc(result.program);
    let semantic_result = SemanticBuilder::new()
        .with_build_nodes(true)
        .with_check_syntax_error(check_syntax && !panicked)
        .build(program);
    errors.extend(semantic_result.diagnostics.into_vec());
    errors.sort_by_key(|error| main_label_span(error).map_or(0, |span| span.start));

    Some(ParsedJs {
        program,
        semantic: semantic_result.semantic,
        // Resolved by the parser: an "unambiguous" file is now a module or a script.
        source_type: program.source_type,
        errors,
        panicked,
        is_flow,
    })
}

/// Where a diagnostic points: its primary label, else its last one. Errors with several labels
/// put the context first ("declared here") and the offence last ("cannot be redeclared here").
pub fn main_label(error: &OxcDiagnostic) -> Option<&oxc_span::LabeledSpan> {
    error
        .labels
        .iter()
        .find(|label| label.primary())
        .or_else(|| error.labels.iter().max_by_key(|label| label.offset()))
}

/// The span of [`main_label`].
pub fn main_label_span(error: &OxcDiagnostic) -> Option<Span> {
    main_label(error).map(|label| {
        let start = label.offset();
        let end = start.saturating_add(label.len());
        Span::new(start, end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_count(path: &str, text: &str) -> usize {
        let allocator = Allocator::default();
        parse(&allocator, path, text, true)
            .expect("a JS/TS path")
            .errors
            .len()
    }

    #[test]
    fn modern_typescript_parses_without_errors() {
        let text = "type A<T> = T extends string ? `x${T}` : never;\n\
                    export const f = <T,>(x: T): T => x satisfies unknown as T;\n\
                    enum E { A = 1 }\nclass C { #p = 1; static { } accessor a = 2; }\n\
                    using x = null as any;\n";
        assert_eq!(error_count("a.ts", text), 0);
    }

    #[test]
    fn jsx_in_a_js_file_and_commonjs_return_are_accepted() {
        assert_eq!(
            error_count("a.js", "const el = <div className=\"x\">{1}</div>;\n"),
            0
        );
        assert_eq!(
            error_count("a.js", "if (done) return;\nmodule.exports = 1;\n"),
            0
        );
    }

    #[test]
    fn syntax_and_semantic_errors_are_collected() {
        assert!(error_count("a.ts", "const x = ;\n") > 0);
        assert!(error_count("a.js", "let a = 1; let a = 2;\n") > 0);
    }

    #[test]
    fn the_additional_syntax_checks_run_only_when_asked_for() {
        let text = "let a = 1; let a = 2;\ndelete a;\n";
        let allocator = Allocator::default();
        let checked = parse(&allocator, "a.mjs", text, true).expect("a JS path");
        assert_eq!(checked.errors.len(), 2);
        let unchecked = parse(&allocator, "a.mjs", text, false).expect("a JS path");
        // The redeclaration comes from the binder; `delete` of a name only from the checker.
        assert_eq!(unchecked.errors.len(), 1);
    }

    #[test]
    fn non_script_files_are_not_parsed() {
        let allocator = Allocator::default();
        assert!(parse(&allocator, "README.md", "# hi", true).is_none());
    }
}
