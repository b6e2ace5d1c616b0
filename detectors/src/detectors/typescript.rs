//! `typescript`: syntax errors, and the semantic errors the language itself enforces
//! (redeclared `let`, misplaced `await`, duplicate labels, ...), from the oxc parser and its
//! semantic checker.

use crate::detector::{Detector, FileSink, Needs, Rule};
use crate::finding::{Category, Severity};
use crate::js::{main_label, main_label_span, ParsedJs};
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
            files: false,
            js_syntax_errors: true,
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
            let (start, end) = main_label_span(error)
                .map_or((0, 0), |span| (span.start as usize, span.end as usize));
            let mut message = error.message.to_string();
            if let Some(label) = main_label(error).and_then(|label| label.label()) {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::check;

    #[test]
    fn a_syntax_error_is_reported_where_it_is() {
        let findings = check(
            &TypeScriptDetector,
            "src/a.ts",
            "const ok = 1;\nconst broken = ;\n",
        );
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(
            (finding.rule_id.as_str(), finding.severity),
            ("syntax-error", Severity::High)
        );
        assert_eq!((finding.line, finding.column), (2, 16));
        assert!(
            finding.message.starts_with("Unexpected token"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn language_level_semantic_errors_are_reported() {
        let findings = check(&TypeScriptDetector, "a.js", "let a = 1;\nlet a = 2;\n");
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].line, 2);
        assert!(
            findings[0].message.contains("`a`"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn valid_modern_code_of_every_flavour_has_no_findings() {
        let cases = [
            ("a.ts", "export abstract class Repo<T extends { id: string }> {\n  abstract find(id: T['id']): Promise<T | undefined>;\n  #cache = new Map<string, T>();\n}\nexport type Keys = keyof typeof import('./x');\nconst v = <const T,>(x: T) => x;\n"),
            ("a.tsx", "export const App = ({ items }: { items: string[] }) => (\n  <ul>{items.map((i) => <li key={i}>{i}</li>)}</ul>\n);\n"),
            ("a.jsx", "export default function A() { return <><b>hi</b></>; }\n"),
            ("a.mjs", "const data = await import('./d.json', { with: { type: 'json' } });\nexport { data };\n"),
            ("a.cjs", "'use strict';\nif (!module.parent) return;\nmodule.exports = { a: 1 };\n"),
            ("a.js", "var x = 010;\nwith (Math) { x = max(1, 2); }\n"),
            ("a.d.ts", "declare module 'x' { export function f(): void; }\n"),
            ("a.mts", "export enum E { A, B }\nexport const x = E.A satisfies E;\n"),
        ];
        for (path, code) in cases {
            let findings = check(&TypeScriptDetector, path, code);
            assert!(findings.is_empty(), "{path}: {findings:?}");
        }
    }

    #[test]
    fn flow_files_are_not_reported() {
        assert!(check(
            &TypeScriptDetector,
            "a.js",
            "// @flow\ntype T = {| a: number |};\n"
        )
        .is_empty());
    }
}
