//! `rust`: checks on tree-sitter Rust trees. Rules:
//! - `unsafe-block` (LOW, INFO in tests): every `unsafe { ... }` block, so reviewers can find
//!   the code that the compiler does not check.
//! - `unwrap-in-library` (LOW): `.unwrap()` / `.expect(..)` in the non-test code of a library
//!   crate, where a panic takes down the caller's program instead of returning an error.
//! - `command-injection` (HIGH): `Command::new("sh" | "bash").arg("-c").arg(format!(..))` (also
//!   through `.args([..])`, a `+` concatenation, or a `let` variable holding the command).
//!
//! Test code is code under `tests/`, `benches/` or `examples/`, files named `tests.rs` or
//! `*_tests.rs` (the usual `#[cfg(test)] mod tests;` file, whose attribute sits in its parent),
//! a file opening with `#![cfg(test)]`, and items marked `#[cfg(test)]`, `#[test]` or
//! `#[<runtime>::test]`.
//!
//! Code inside macro invocations (`assert!(..)`, `vec![..]`) is a token tree to tree-sitter,
//! not parsed code, so these rules do not see into it.
//!
//! Whether a file belongs to a library crate needs the rest of the project (a `src/lib.rs`
//! beside it), so `unwrap-in-library` runs in [`Detector::check_project`] and reads the files
//! it needs from disk; the other rules run per file.

use crate::detector::{Detector, FileSink, Needs, ProjectFacts, ProjectSink, Rule};
use crate::detectors::tree_sitter_util::{
    ancestor_of_kind, descendants, named_children, parse, text, unparenthesized,
};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::{Language, LineIndex, SourceFile};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;
use tree_sitter::{Node, Tree};

pub const UNSAFE_BLOCK: Rule = Rule::new("unsafe-block", Category::Suspicious, Severity::Low)
    .confidence(1.0)
    .suggest("Keep unsafe blocks minimal and document the invariant that makes each one sound in a `// SAFETY:` comment.");
pub const UNWRAP_IN_LIBRARY: Rule =
    Rule::new("unwrap-in-library", Category::Correctness, Severity::Low)
        .confidence(0.7)
        .suggest("Return the error with `?` (or a typed error) so the caller decides; keep panics for broken invariants.");
pub const COMMAND_INJECTION: Rule =
    Rule::new("command-injection", Category::Security, Severity::High)
        .confidence(0.85)
        .suggest("Run the program directly with Command::new(program).arg(value) for each argument; never build a `sh -c` command line from input.");

const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/bash",
    "/bin/zsh",
];
const FUNCTION_KINDS: &[&str] = &["function_item", "closure_expression"];

pub struct RustDetector;

impl Detector for RustDetector {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn description(&self) -> &'static str {
        "Rust checks: unsafe blocks, unwrap/expect in libraries, sh -c command injection"
    }

    fn needs(&self) -> Needs {
        Needs {
            files: true,
            ..Needs::default()
        }
    }

    fn check_file(
        &self,
        file: &SourceFile<'_>,
        _js: Option<&ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        if file.language != Language::Rust {
            return;
        }
        let Some(tree) = parse_rust(file.text) else {
            return;
        };
        let source = file.text.as_bytes();
        let test_file = is_test_file(file.path, &tree, source);
        for node in descendants(tree.root_node()) {
            match node.kind() {
                "unsafe_block" => {
                    let in_test = test_file || in_test_item(node, source);
                    let finding = out.report(
                        &UNSAFE_BLOCK,
                        node.start_byte(),
                        node.end_byte(),
                        "unsafe block: the compiler does not check the memory safety of this code",
                    );
                    if in_test {
                        finding.severity = Severity::Info;
                    }
                }
                "call_expression" => check_shell_command(node, source, out),
                _ => {}
            }
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        let paths: HashSet<&str> = project
            .files
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        let library_files: Vec<&str> = project
            .files
            .iter()
            .map(|file| file.path.as_str())
            .filter(|path| is_library_source(path, &paths))
            .collect();
        let scanned: Vec<ScannedFile<'_>> = library_files
            .par_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(project.root.join(Path::new(path))).ok()?;
                // Most files have no such call; a substring test is far cheaper than a parse.
                if !text.contains(".unwrap()") && !text.contains(".expect(") {
                    return None;
                }
                let calls = panicking_calls(path, &text);
                Some(ScannedFile { path, text, calls })
            })
            .collect();
        for file in scanned {
            let lines = LineIndex::new(&file.text);
            for call in file.calls {
                out.report_in_text(
                    &UNWRAP_IN_LIBRARY,
                    file.path,
                    &file.text,
                    &lines,
                    call.start,
                    call.end,
                    format!(".{}() panics inside a library: the calling program crashes instead of handling an error", call.method),
                );
            }
        }
    }
}

/// A library source file read for `unwrap-in-library`, with the calls found in it.
struct ScannedFile<'p> {
    path: &'p str,
    text: String,
    calls: Vec<PanickingCall>,
}

/// An `.unwrap()` or `.expect(..)` call at the bytes `start..end`.
struct PanickingCall {
    start: usize,
    end: usize,
    method: &'static str,
}

fn parse_rust(text: &str) -> Option<Tree> {
    parse(&tree_sitter_rust::LANGUAGE.into(), text)
}

/// A `.rs` file under some crate's `src/`, where that crate has a `src/lib.rs`, excluding the
/// binary targets (`src/main.rs`, `src/bin/`) and test files.
fn is_library_source(path: &str, paths: &HashSet<&str>) -> bool {
    if !path.ends_with(".rs") || is_test_path(path) {
        return false;
    }
    let (crate_dir, inside) = match path.rfind("src/") {
        Some(0) => ("", &path[4..]),
        Some(index) if path[..index].ends_with('/') => (&path[..index], &path[index + 4..]),
        _ => return false,
    };
    inside != "main.rs"
        && !inside.starts_with("bin/")
        && paths.contains(format!("{crate_dir}src/lib.rs").as_str())
}

/// Test, bench and example targets, and the usual files of out-of-line test modules.
fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "tests.rs"
        || name == "test.rs"
        || name.ends_with("_tests.rs")
        || name.ends_with("_test.rs")
        || path
            .split('/')
            .any(|part| matches!(part, "tests" | "benches" | "examples"))
}

/// A test path, or a file whose inner attributes include `#![cfg(test)]`.
fn is_test_file(path: &str, tree: &Tree, source: &[u8]) -> bool {
    is_test_path(path)
        || named_children(tree.root_node())
            .into_iter()
            .filter(|item| item.kind() == "inner_attribute_item")
            .any(|attribute| is_test_attribute(text(attribute, source)))
}

/// `#[test]`, `#[tokio::test]`, `#[cfg(test)]`, `#[cfg(all(test, ...))]` and the like.
fn is_test_attribute(attribute: &str) -> bool {
    let compact: String = attribute.chars().filter(|c| !c.is_whitespace()).collect();
    let inner = compact
        .trim_start_matches("#!")
        .trim_start_matches('#')
        .trim_start_matches('[')
        .trim_end_matches(']');
    inner == "test"
        || inner.ends_with("::test")
        || (inner.starts_with("cfg(")
            && inner
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == "test")
            && !inner.contains("not(test"))
}

/// Whether `node` sits in an item marked as test code: the attributes of an item are the
/// `attribute_item` siblings just before it.
fn in_test_item(node: Node<'_>, source: &[u8]) -> bool {
    let mut current = node.parent();
    while let Some(item) = current {
        let mut previous = item.prev_named_sibling();
        while let Some(sibling) = previous {
            match sibling.kind() {
                "attribute_item" if is_test_attribute(text(sibling, source)) => return true,
                "attribute_item" | "line_comment" | "block_comment" => {}
                _ => break,
            }
            previous = sibling.prev_named_sibling();
        }
        current = item.parent();
    }
    false
}

/// The `.unwrap()` / `.expect(..)` calls outside test code.
fn panicking_calls(path: &str, text_of_file: &str) -> Vec<PanickingCall> {
    let Some(tree) = parse_rust(text_of_file) else {
        return Vec::new();
    };
    let source = text_of_file.as_bytes();
    if is_test_file(path, &tree, source) {
        return Vec::new();
    }
    descendants(tree.root_node())
        .into_iter()
        .filter(|node| node.kind() == "call_expression")
        .filter_map(|call| {
            let method = match method_of(call, source)? {
                "unwrap" => "unwrap",
                "expect" => "expect",
                _ => return None,
            };
            let function = call.child_by_field_name("function")?;
            let receiver = function.child_by_field_name("value")?;
            // Reported from the method name, not the receiver: in a chain spread over several
            // lines, that is the line with the `.unwrap()`.
            let name = function.child_by_field_name("field")?;
            (!is_lock_guard(receiver, source) && !in_test_item(call, source)).then(|| {
                PanickingCall {
                    start: name.start_byte(),
                    end: call.end_byte(),
                    method,
                }
            })
        })
        .collect()
}

/// `mutex.lock()`, `rwlock.read()`, `rwlock.write()`: unwrapping these only re-raises a panic
/// that already happened in another thread (poisoning), the accepted idiom.
fn is_lock_guard(receiver: Node<'_>, source: &[u8]) -> bool {
    receiver.kind() == "call_expression"
        && matches!(method_of(receiver, source), Some("lock" | "read" | "write"))
        && receiver
            .child_by_field_name("arguments")
            .is_some_and(|arguments| arguments.named_child_count() == 0)
}

/// The method name of a method call (`x.arg(..)` → `arg`).
fn method_of<'s>(call: Node<'_>, source: &'s [u8]) -> Option<&'s str> {
    let function = call.child_by_field_name("function")?;
    (function.kind() == "field_expression")
        .then(|| function.child_by_field_name("field"))
        .flatten()
        .map(|field| text(field, source))
}

fn call_arguments(call: Node<'_>) -> Vec<Node<'_>> {
    call.child_by_field_name("arguments")
        .map(named_children)
        .unwrap_or_default()
        .into_iter()
        .filter(|argument| !argument.kind().ends_with("comment"))
        .collect()
}

/// `&x` → `x`, `(x)` → `x`.
fn without_reference(node: Node<'_>) -> Node<'_> {
    let node = unparenthesized(node);
    if node.kind() == "reference_expression" {
        node.child_by_field_name("value")
            .map_or(node, unparenthesized)
    } else {
        node
    }
}

fn string_value<'s>(node: Node<'_>, source: &'s [u8]) -> Option<&'s str> {
    let node = without_reference(node);
    (node.kind() == "string_literal").then(|| {
        let raw = text(node, source);
        raw.get(1..raw.len().saturating_sub(1)).unwrap_or("")
    })
}

/// The arguments of `.arg(x)`, or the elements of `.args([..])` / `.args(&[..])`.
fn command_arguments<'t>(call: Node<'t>, method: &str) -> Vec<Node<'t>> {
    let arguments = call_arguments(call);
    if method != "args" {
        return arguments;
    }
    arguments
        .into_iter()
        .map(without_reference)
        .flat_map(|argument| {
            if argument.kind() == "array_expression" {
                named_children(argument)
            } else {
                vec![argument]
            }
        })
        .collect()
}

/// `format!` with arguments or inline `{name}` captures, or a `+` concatenation; or a `let`
/// variable of the enclosing function holding one of those.
fn is_built_string(node: Node<'_>, source: &[u8]) -> bool {
    let node = without_reference(node);
    if node.kind() == "identifier" {
        return let_value(node, source).is_some_and(|value| is_built_expression(value, source));
    }
    is_built_expression(node, source)
}

fn is_built_expression(node: Node<'_>, source: &[u8]) -> bool {
    let node = without_reference(node);
    match node.kind() {
        "binary_expression" => node
            .child_by_field_name("operator")
            .is_some_and(|operator| operator.kind() == "+"),
        "macro_invocation" => {
            let is_format = node
                .child_by_field_name("macro")
                .is_some_and(|name| text(name, source) == "format");
            let tokens = named_children(node)
                .into_iter()
                .find(|child| child.kind() == "token_tree")
                .map(named_children)
                .unwrap_or_default();
            let captures = tokens.first().is_some_and(|template| {
                template.kind() == "string_literal"
                    && text(*template, source).replace("{{", "").contains('{')
            });
            is_format && (tokens.len() > 1 || captures)
        }
        _ => false,
    }
}

/// The value of the nearest `let name = value;` before `identifier` in its function.
fn let_value<'t>(identifier: Node<'t>, source: &[u8]) -> Option<Node<'t>> {
    let name = text(identifier, source);
    let function = ancestor_of_kind(identifier, FUNCTION_KINDS)?;
    descendants(function)
        .into_iter()
        .rfind(|node| {
            node.kind() == "let_declaration"
                && node.end_byte() <= identifier.start_byte()
                && node.child_by_field_name("pattern").is_some_and(|pattern| {
                    text(pattern, source).trim_start_matches("mut ").trim() == name
                })
        })
        .and_then(|declaration| declaration.child_by_field_name("value"))
}

/// What a chain of builder calls (`Command::new(..).arg(..).arg(..)`) shows below one call.
struct ChainFacts {
    shell: Option<String>,
    dash_c: bool,
}

/// Walks down the receivers of `node` to `Command::new(..)`, through a `let` variable if the
/// chain starts at one, noting the program and whether `-c` was passed on the way.
fn chain_facts(mut node: Node<'_>, source: &[u8], facts: &mut ChainFacts, hops: u32) {
    loop {
        node = unparenthesized(node);
        match node.kind() {
            "call_expression" => {
                let Some(function) = node.child_by_field_name("function") else {
                    return;
                };
                if let Some(method) = method_of(node, source) {
                    if matches!(method, "arg" | "args") {
                        facts.dash_c |= command_arguments(node, method)
                            .iter()
                            .any(|argument| string_value(*argument, source) == Some("-c"));
                    }
                    match function.child_by_field_name("value") {
                        Some(receiver) => node = receiver,
                        None => return,
                    }
                } else {
                    let callee: String = text(function, source)
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    if callee == "Command::new" || callee.ends_with("::Command::new") {
                        facts.shell = call_arguments(node)
                            .first()
                            .and_then(|program| string_value(*program, source))
                            .filter(|program| SHELLS.contains(program))
                            .map(str::to_owned);
                    }
                    return;
                }
            }
            "identifier" if hops < 2 => {
                // `let mut command = Command::new("sh"); command.arg("-c").arg(...)`: the
                // builder was started in a `let`, and `-c` may be passed in another statement.
                let name = text(node, source);
                if let Some(function) = ancestor_of_kind(node, FUNCTION_KINDS) {
                    facts.dash_c |= descendants(function).into_iter().any(|call| {
                        call.kind() == "call_expression"
                            && matches!(method_of(call, source), Some("arg" | "args"))
                            && chain_root(call, source) == Some(name)
                            && command_arguments(call, method_of(call, source).unwrap_or(""))
                                .iter()
                                .any(|argument| string_value(*argument, source) == Some("-c"))
                    });
                }
                if let Some(value) = let_value(node, source) {
                    chain_facts(value, source, facts, hops + 1);
                }
                return;
            }
            _ => return,
        }
    }
}

/// The variable a method chain starts from (`command` in `command.arg(..).arg(..)`).
fn chain_root<'s>(mut node: Node<'_>, source: &'s [u8]) -> Option<&'s str> {
    loop {
        match node.kind() {
            "call_expression" => {
                node = node
                    .child_by_field_name("function")?
                    .child_by_field_name("value")?
            }
            "identifier" => return Some(text(node, source)),
            _ => return None,
        }
    }
}

fn check_shell_command(call: Node<'_>, source: &[u8], out: &mut FileSink<'_>) {
    let Some(method) = method_of(call, source).filter(|method| matches!(*method, "arg" | "args"))
    else {
        return;
    };
    let arguments = command_arguments(call, method);
    let Some(built) = arguments
        .iter()
        .position(|argument| is_built_string(*argument, source))
    else {
        return;
    };
    let mut facts = ChainFacts {
        shell: None,
        dash_c: arguments[..built]
            .iter()
            .any(|argument| string_value(*argument, source) == Some("-c")),
    };
    if let Some(receiver) = call
        .child_by_field_name("function")
        .and_then(|function| function.child_by_field_name("value"))
    {
        chain_facts(receiver, source, &mut facts, 0);
    }
    if let (Some(shell), true) = (facts.shell, facts.dash_c) {
        out.report(
            &COMMAND_INJECTION,
            call.start_byte(),
            call.end_byte(),
            format!("{shell} -c runs a command line built at run time: shell injection"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, RunOptions};
    use crate::finding::Finding;
    use crate::testing::check;
    use std::fs;

    fn found(path: &str, code: &str) -> Vec<(String, u32, Severity)> {
        check(&RustDetector, path, code)
            .into_iter()
            .map(|finding| (finding.rule_id, finding.line, finding.severity))
            .collect()
    }

    #[test]
    fn unsafe_blocks_are_low_in_code_and_info_in_tests() {
        let code = "pub fn read(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn reads() {\n        let x = 1u8;\n        let y = unsafe { *(&x as *const u8) };\n        assert_eq!(y, 1);\n    }\n}\n";
        assert_eq!(
            found("src/lib.rs", code),
            vec![
                ("unsafe-block".to_owned(), 2, Severity::Low),
                ("unsafe-block".to_owned(), 10, Severity::Info),
            ]
        );
        assert!(found("tests/it.rs", code)
            .iter()
            .all(|(_, _, severity)| *severity == Severity::Info));
        assert!(found("src/lib.rs", "pub unsafe fn f() {}\npub fn g() {}\n").is_empty());
    }

    #[test]
    fn sh_dash_c_with_a_formatted_command_is_injection() {
        let code = r#"use std::process::Command;

fn run(dir: &str, name: &str) {
    Command::new("sh").arg("-c").arg(format!("ls {}", dir)).status();
    std::process::Command::new("bash").args(["-c", &format!("rm {name}")]).spawn();
    let mut command = Command::new("sh");
    command.arg("-c");
    let script = "cat ".to_owned() + name;
    command.arg(script);
    Command::new("sh").arg("-c").arg("ls -l").status();
    Command::new("ls").arg(format!("{dir}/x")).status();
    Command::new("sh").arg(format!("{dir}/script.sh")).status();
    Command::new("sh").arg("-c").arg(format!("echo {{}}")).status();
}
"#;
        let lines: Vec<u32> = found("src/main.rs", code)
            .into_iter()
            .filter(|(rule, _, _)| rule == "command-injection")
            .map(|(_, line, _)| line)
            .collect();
        assert_eq!(lines, vec![4, 5, 9]);
    }

    fn write(root: &Path, relative: &str, content: &str) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn unwraps(root: &Path) -> Vec<(String, u32)> {
        let findings: Vec<Finding> = Engine::default()
            .run(root, &["rust".to_owned()], &RunOptions::default())
            .unwrap()
            .findings;
        findings
            .into_iter()
            .filter(|finding| finding.rule_id == "unwrap-in-library")
            .map(|finding| (finding.file_path, finding.line))
            .collect()
    }

    const PANICKY: &str = "pub fn parse(s: &str) -> u32 {\n    let n = s.parse::<u32>().unwrap();\n    let guard = LOCK.lock().unwrap();\n    let rest = s\n        .len()\n        .checked_sub(1)\n        .expect(\"non-empty\") as u32;\n    n + rest + s.parse::<u32>().unwrap_or(0)\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn parses() {\n        assert_eq!(super::parse(\"1\"), \"1\".parse().unwrap());\n    }\n}\n";

    #[test]
    fn unwrap_and_expect_are_reported_in_library_code_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "core/src/lib.rs", PANICKY);
        write(root, "core/src/parse/mod.rs", PANICKY);
        write(root, "core/src/parse/tests.rs", PANICKY);
        write(root, "core/src/bin/tool.rs", PANICKY);
        write(root, "core/tests/it.rs", PANICKY);
        // A binary-only crate: panicking on bad input is its own business.
        write(root, "cli/src/main.rs", PANICKY);
        write(root, "cli/src/args.rs", PANICKY);
        assert_eq!(
            unwraps(root),
            vec![
                ("core/src/lib.rs".to_owned(), 2),
                // The line of `.expect(`, not of the chain's start.
                ("core/src/lib.rs".to_owned(), 7),
                ("core/src/parse/mod.rs".to_owned(), 2),
                ("core/src/parse/mod.rs".to_owned(), 7),
            ]
        );
    }

    #[test]
    fn a_library_without_unwraps_has_no_findings() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "src/lib.rs",
            "pub fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {\n    s.parse()\n}\n",
        );
        assert!(unwraps(dir.path()).is_empty());
        assert!(found("src/lib.rs", "pub fn f() -> u8 { 1 }\n").is_empty());
        assert!(found("main.go", "package main\n").is_empty());
    }
}
