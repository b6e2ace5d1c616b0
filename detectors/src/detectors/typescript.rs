//! `typescript`: syntax errors, and the semantic errors the language itself enforces
//! (redeclared `let`, misplaced `await`, duplicate labels, ...), from the oxc parser and its
//! semantic checker.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::{first_label_span, ParsedJs};
use crate::source::SourceFile;

pub const SYNTAX_ERROR: Rule = Rule::new("syntax-error", Category::Syntax, Severity::High)
    .confidence(0.95)
    .suggest("Fix the syntax: the file cannot be compiled or run as written.");

pub struct TypeScriptDetector;

impl Detector for TypeScriptDetector {
    fn name(&self) -> &'static str {
        "typescript"
    }

    fn description(&self) -> &'static str {
        "Syntax and language-level semantic errors in JS/TS/JSX/TSX (oxc parser and checker)"
    }

    fn needs(&self) -> Needs {
        Needs {
            js_syntax_tree: true,
            imports: false,
        }
    }

    fn check_file(&self, file: &SourceFile<'_>, js: Option<&ParsedJs<'_>>, out: &mut FileSink<'_>) {
        let Some(js) = js else {
            return;
        };
        // Flow files are valid in their own toolchain; oxc's errors on them are noise.
        if js.is_flow {
            return;
        }
        for error in &js.errors {
            let (start, end) = first_label_span(error)
                .map_or((0, 0), |span| (span.start as usize, span.end as usize));
            let mut message = error.message.to_string();
            if let Some(label) = error.labels.first().and_then(|label| label.label()) {
                if !label.is_empty() && !message.contains(label) {
                    message = format!("{message}: {label}");
                }
            }
            let finding = out.report(
                &SYNTAX_ERROR,
                start.min(file.text.len()),
                end.min(file.text.len()),
                message,
            );
            if let Some(help) = &error.help {
                finding.suggestion = Some(help.to_string());
            }
            if js.panicked {
                // The parser stopped here: whatever follows was never checked.
                finding.severity = Severity::Critical;
            }
        }
    }
}
