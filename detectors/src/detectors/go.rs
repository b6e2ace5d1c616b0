//! `go`: security and error-handling checks on tree-sitter Go trees.
//!
//! Package names are resolved through the file's imports (`import mrand "math/rand"`), so an
//! alias neither hides a call nor confuses `crypto/rand` with `math/rand`. Rules:
//! - `command-injection` (HIGH): `exec.Command("sh", "-c", cmd)` (or `bash`, or
//!   `CommandContext`) where `cmd` is built by `+` or `fmt.Sprintf`, directly or through a local
//!   variable of the same function.
//! - `tls-insecure-skip-verify` (HIGH): `InsecureSkipVerify: true` in a `tls.Config` literal.
//! - `weak-random-secret` (MEDIUM): a `math/rand` call whose result is stored under a name that
//!   says token, secret, password or key, or that sits in a function so named.
//! - `discarded-error` (LOW): `_ = f()` or `x, _ := f()` where `f` is an `os`, `io`,
//!   `io/ioutil`, `bufio` or `database/sql` call, or a method that only those types have
//!   (`Exec`, `Query`, `Commit`, `Rollback`, `Sync`, ...): the error is the last result.

use crate::detector::{Detector, FileSink, Rule};
use crate::detectors::tree_sitter_util::{
    ancestor_of_kind, descendants, is_dynamic_concatenation, named_children, names_a_secret, parse,
    text, unparenthesized,
};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::{Language, SourceFile};
use std::collections::HashMap;
use tree_sitter::Node;

pub const COMMAND_INJECTION: Rule =
    Rule::new("command-injection", Category::Security, Severity::High)
        .confidence(0.85)
        .suggest("Run the program directly with exec.Command(name, args...) and pass user input as separate arguments, never through `sh -c`.");
pub const INSECURE_SKIP_VERIFY: Rule = Rule::new(
    "tls-insecure-skip-verify",
    Category::Security,
    Severity::High,
)
.confidence(0.95)
.suggest("Remove InsecureSkipVerify; trust a private CA through tls.Config.RootCAs instead.");
pub const WEAK_RANDOM_SECRET: Rule = Rule::new(
    "weak-random-secret",
    Category::Security,
    Severity::Medium,
)
.confidence(0.75)
.suggest(
    "Use crypto/rand (rand.Read, rand.Text or rand.Int) for anything that must be unguessable.",
);
pub const DISCARDED_ERROR: Rule = Rule::new("discarded-error", Category::Correctness, Severity::Low)
    .confidence(0.7)
    .suggest("Handle the error, or at least log it: a failed write, close or query otherwise goes unnoticed.");

/// The shells whose `-c` argument is a whole command line.
const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/bash",
    "/bin/zsh",
];
/// Packages whose failures lose data or leave state half-changed when ignored.
const ERROR_CRITICAL_PACKAGES: &[&str] = &["os", "io", "io/ioutil", "bufio", "database/sql"];
/// Methods of `*sql.DB`/`*sql.Tx`/`*sql.Rows` and `*os.File`/`*bufio.Writer` whose names are
/// specific enough to stand for those types without type information. `Close` is left out on
/// purpose: `_ = f.Close()` on a file opened for reading is the accepted idiom.
const ERROR_CRITICAL_METHODS: &[&str] = &[
    "Exec",
    "ExecContext",
    "Query",
    "QueryContext",
    "Prepare",
    "PrepareContext",
    "Begin",
    "BeginTx",
    "Commit",
    "Rollback",
    "Scan",
    "Sync",
    "Flush",
    "WriteString",
    "WriteAt",
    "Truncate",
    "Chmod",
    "Chown",
];
const FUNCTION_KINDS: &[&str] = &["function_declaration", "method_declaration", "func_literal"];

pub struct GoDetector;

impl Detector for GoDetector {
    fn name(&self) -> &'static str {
        "go"
    }

    fn description(&self) -> &'static str {
        "Go checks: sh -c injection, InsecureSkipVerify, math/rand secrets, discarded errors"
    }

    fn check_file(
        &self,
        file: &SourceFile<'_>,
        _js: Option<&ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        if file.language != Language::Go {
            return;
        }
        let Some(tree) = parse(&tree_sitter_go::LANGUAGE.into(), file.text) else {
            return;
        };
        let go = GoFile {
            source: file.text.as_bytes(),
            imports: imports(tree.root_node(), file.text.as_bytes()),
        };
        for node in descendants(tree.root_node()) {
            match node.kind() {
                "call_expression" => {
                    go.check_shell_command(node, out);
                    go.check_weak_random(node, out);
                }
                "keyed_element" => go.check_insecure_skip_verify(node, out),
                "assignment_statement" | "short_var_declaration" => {
                    go.check_discarded_error(node, out)
                }
                _ => {}
            }
        }
    }
}

/// Local package name → import path: `rand` → `crypto/rand`, `mrand` → `math/rand`.
fn imports(root: Node<'_>, source: &[u8]) -> HashMap<String, String> {
    let mut imports = HashMap::new();
    for spec in descendants(root)
        .into_iter()
        .filter(|node| node.kind() == "import_spec")
    {
        let Some(path) = spec
            .child_by_field_name("path")
            .map(|path| string_value(path, source))
        else {
            continue;
        };
        let local = match spec.child_by_field_name("name") {
            Some(name) if name.kind() == "package_identifier" => text(name, source).to_owned(),
            Some(_) => continue, // `_` and `.` imports name nothing we can call through.
            None => default_package_name(path).to_owned(),
        };
        imports.insert(local, path.to_owned());
    }
    imports
}

/// The name a package is used by when imported without one: the last path element, skipping a
/// major-version suffix (`math/rand/v2` is used as `rand`).
fn default_package_name(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    let last = parts.next().unwrap_or(path);
    let is_version = last.len() > 1
        && last.starts_with('v')
        && last[1..].bytes().all(|byte| byte.is_ascii_digit());
    if is_version {
        parts.next().unwrap_or(last)
    } else {
        last
    }
}

fn is_string_literal(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "interpreted_string_literal" | "raw_string_literal"
    )
}

fn is_literal(node: Node<'_>) -> bool {
    is_string_literal(node)
        || matches!(
            node.kind(),
            "int_literal" | "float_literal" | "rune_literal" | "imaginary_literal"
        )
}

/// The value of a string literal without its quotes (escapes left as written).
fn string_value<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    let raw = text(node, source);
    raw.get(1..raw.len().saturating_sub(1)).unwrap_or("")
}

struct GoFile<'s> {
    source: &'s [u8],
    imports: HashMap<String, String>,
}

impl<'s> GoFile<'s> {
    /// The import path and function of a package-qualified call (`mrand.Intn` → `math/rand`,
    /// `Intn`); `None` for method calls and local functions.
    fn package_call(&self, call: Node<'_>) -> Option<(&str, &'s str)> {
        let function = call.child_by_field_name("function")?;
        if function.kind() != "selector_expression" {
            return None;
        }
        let operand = function.child_by_field_name("operand")?;
        if operand.kind() != "identifier" {
            return None;
        }
        let package = self.imports.get(text(operand, self.source))?;
        let name = text(function.child_by_field_name("field")?, self.source);
        Some((package.as_str(), name))
    }

    /// The method name of a call on a value (`db.Exec` → `Exec`), when the receiver is not an
    /// imported package.
    fn method_name(&self, call: Node<'_>) -> Option<&'s str> {
        let function = call.child_by_field_name("function")?;
        if function.kind() != "selector_expression" || self.package_call(call).is_some() {
            return None;
        }
        Some(text(function.child_by_field_name("field")?, self.source))
    }

    /// A string built at run time: `"ls " + dir`, `fmt.Sprintf(...)`, or a variable of the
    /// enclosing function assigned one of those.
    fn is_built_string(&self, node: Node<'_>) -> bool {
        self.is_built_expression(node)
            || (node.kind() == "identifier" && self.is_built_variable(node))
    }

    fn is_built_expression(&self, node: Node<'_>) -> bool {
        let node = unparenthesized(node);
        match node.kind() {
            "binary_expression" => {
                is_dynamic_concatenation(node, "binary_expression", &is_string_literal, &is_literal)
            }
            "call_expression" => self.package_call(node) == Some(("fmt", "Sprintf")),
            _ => false,
        }
    }

    /// Whether `identifier` is assigned a built string anywhere in its enclosing function.
    fn is_built_variable(&self, identifier: Node<'_>) -> bool {
        let name = text(identifier, self.source);
        let Some(function) = ancestor_of_kind(identifier, FUNCTION_KINDS) else {
            return false;
        };
        descendants(function).into_iter().any(|node| {
            let (targets, values) = match node.kind() {
                "short_var_declaration" | "assignment_statement" => (
                    node.child_by_field_name("left"),
                    node.child_by_field_name("right"),
                ),
                "var_spec" => (Some(node), node.child_by_field_name("value")),
                _ => return false,
            };
            let (Some(targets), Some(values)) = (targets, values) else {
                return false;
            };
            let names: Vec<Node<'_>> = named_children(targets)
                .into_iter()
                .filter(|target| target.kind() == "identifier")
                .collect();
            let values = named_children(values);
            names.iter().zip(values.iter()).any(|(target, value)| {
                text(*target, self.source) == name && self.is_built_expression(*value)
            })
        })
    }

    fn check_shell_command(&self, call: Node<'_>, out: &mut FileSink<'_>) {
        let skip = match self.package_call(call) {
            Some(("os/exec", "Command")) => 0,
            // The first argument of CommandContext is the context.
            Some(("os/exec", "CommandContext")) => 1,
            _ => return,
        };
        let Some(arguments) = call.child_by_field_name("arguments") else {
            return;
        };
        let arguments: Vec<Node<'_>> = named_children(arguments)
            .into_iter()
            .filter(|argument| argument.kind() != "comment")
            .skip(skip)
            .collect();
        let is_shell = arguments.first().is_some_and(|program| {
            is_string_literal(*program) && SHELLS.contains(&string_value(*program, self.source))
        });
        if !is_shell {
            return;
        }
        let Some(flag) = arguments.iter().position(|argument| {
            is_string_literal(*argument) && string_value(*argument, self.source) == "-c"
        }) else {
            return;
        };
        if let Some(command) = arguments.get(flag + 1) {
            if self.is_built_string(*command) {
                out.report(
                    &COMMAND_INJECTION,
                    call.start_byte(),
                    call.end_byte(),
                    format!(
                        "{} -c runs a command line built at run time: shell injection",
                        string_value(arguments[0], self.source)
                    ),
                );
            }
        }
    }

    fn check_insecure_skip_verify(&self, element: Node<'_>, out: &mut FileSink<'_>) {
        let is_skip_key = element
            .child_by_field_name("key")
            .is_some_and(|key| text(key, self.source).trim() == "InsecureSkipVerify");
        let is_true = element
            .child_by_field_name("value")
            .is_some_and(|value| text(value, self.source).trim() == "true");
        if !(is_skip_key && is_true) {
            return;
        }
        // keyed_element → literal_value → composite_literal whose type is tls.Config.
        let literal_type = element
            .parent()
            .and_then(|body| body.parent())
            .filter(|literal| literal.kind() == "composite_literal")
            .and_then(|literal| literal.child_by_field_name("type"));
        let is_tls_config = literal_type.is_some_and(|literal_type| {
            literal_type.kind() == "qualified_type"
                && literal_type
                    .child_by_field_name("package")
                    .and_then(|package| self.imports.get(text(package, self.source)))
                    .is_some_and(|path| path == "crypto/tls")
                && literal_type
                    .child_by_field_name("name")
                    .is_some_and(|name| text(name, self.source) == "Config")
        });
        if is_tls_config {
            out.report(
                &INSECURE_SKIP_VERIFY,
                element.start_byte(),
                element.end_byte(),
                "InsecureSkipVerify: true accepts any certificate: connections can be intercepted",
            );
        }
    }

    fn check_weak_random(&self, call: Node<'_>, out: &mut FileSink<'_>) {
        let Some((package, function)) = self.package_call(call) else {
            return;
        };
        // Seeding produces no value; the values come from the calls that follow.
        if !matches!(package, "math/rand" | "math/rand/v2") || function == "Seed" {
            return;
        }
        let Some(name) = self.secret_name_receiving(call) else {
            return;
        };
        out.report(
            &WEAK_RANDOM_SECRET,
            call.start_byte(),
            call.end_byte(),
            format!("math/rand is predictable, but its result feeds '{name}', which must be unguessable"),
        );
    }

    /// The secret-sounding name `call`'s value is stored under: an assigned variable, a struct
    /// field, or failing those the enclosing function (`func newSessionToken() string`).
    fn secret_name_receiving(&self, call: Node<'_>) -> Option<&'s str> {
        let mut current = call.parent();
        while let Some(node) = current {
            let targets = match node.kind() {
                "short_var_declaration" | "assignment_statement" => {
                    node.child_by_field_name("left").map(named_children)
                }
                "var_spec" => Some(
                    named_children(node)
                        .into_iter()
                        .filter(|child| child.kind() == "identifier")
                        .collect(),
                ),
                "keyed_element" => node.child_by_field_name("key").map(|key| vec![key]),
                _ => None,
            };
            if let Some(targets) = targets {
                return targets
                    .into_iter()
                    .map(|target| text(target, self.source))
                    .find(|name| names_a_secret(name));
            }
            if FUNCTION_KINDS.contains(&node.kind()) {
                return node
                    .child_by_field_name("name")
                    .map(|name| text(name, self.source))
                    .filter(|name| names_a_secret(name));
            }
            current = node.parent();
        }
        None
    }

    fn check_discarded_error(&self, statement: Node<'_>, out: &mut FileSink<'_>) {
        let (Some(left), Some(right)) = (
            statement.child_by_field_name("left"),
            statement.child_by_field_name("right"),
        ) else {
            return;
        };
        let is_blank_last = named_children(left)
            .last()
            .is_some_and(|last| text(*last, self.source) == "_");
        let values = named_children(right);
        let [call] = values.as_slice() else {
            return;
        };
        if !is_blank_last || call.kind() != "call_expression" {
            return;
        }
        let callee = match self.package_call(*call) {
            Some((package, function)) if ERROR_CRITICAL_PACKAGES.contains(&package) => {
                format!("{package}.{function}")
            }
            Some(_) => return,
            None => match self.method_name(*call) {
                Some(method) if ERROR_CRITICAL_METHODS.contains(&method) => format!(".{method}"),
                _ => return,
            },
        };
        out.report(
            &DISCARDED_ERROR,
            statement.start_byte(),
            statement.end_byte(),
            format!("The error returned by {callee}() is discarded with `_`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check, rule_ids};

    fn lines_of(rule: &str, code: &str) -> Vec<u32> {
        check(&GoDetector, "cmd/app/main.go", code)
            .into_iter()
            .filter(|finding| finding.rule_id == rule)
            .map(|finding| finding.line)
            .collect()
    }

    #[test]
    fn sh_dash_c_with_a_built_command_is_injection() {
        let code = r#"package main

import (
	"context"
	"fmt"
	"os/exec"
)

func run(ctx context.Context, dir, name string) {
	exec.Command("sh", "-c", "ls "+dir)
	exec.CommandContext(ctx, "bash", "-c", fmt.Sprintf("rm %s", name))
	script := "cat " + name
	exec.Command("/bin/sh", "-c", script)
	exec.Command("sh", "-c", "ls -l")
	exec.Command("ls", dir)
	exec.Command("sh", "-c", "echo "+"constant")
}
"#;
        assert_eq!(lines_of("command-injection", code), vec![10, 11, 13]);
    }

    #[test]
    fn insecure_skip_verify_is_reported_in_tls_configs_only() {
        let code = r#"package main

import (
	"crypto/tls"
	"net/http"
)

var insecure = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
var secure = &tls.Config{InsecureSkipVerify: false, MinVersion: tls.VersionTLS12}
var unrelated = Options{InsecureSkipVerify: true}
"#;
        assert_eq!(lines_of("tls-insecure-skip-verify", code), vec![8]);
    }

    #[test]
    fn math_rand_feeding_a_secret_is_reported_but_crypto_rand_is_not() {
        let code = r#"package main

import (
	crand "crypto/rand"
	"math/rand"
)

func newSessionToken() string {
	return fmt.Sprint(rand.Int63())
}

func setup(user *User) {
	resetToken := rand.Intn(1000000)
	user.Secret = fmt.Sprint(rand.Int())
	cfg := Config{APIKey: rand.Int63()}
	jitter := rand.Intn(100)
	buf := make([]byte, 32)
	crand.Read(buf)
	rand.Seed(42)
}
"#;
        assert_eq!(lines_of("weak-random-secret", code), vec![9, 13, 14, 15]);
    }

    #[test]
    fn crypto_rand_under_the_name_rand_is_not_math_rand() {
        let code = "package main\n\nimport \"crypto/rand\"\n\nfunc newToken(b []byte) {\n\ttoken, _ := rand.Read(b)\n\t_ = token\n}\n";
        assert!(lines_of("weak-random-secret", code).is_empty());
    }

    #[test]
    fn discarded_errors_of_io_and_sql_calls_are_reported() {
        let code = r#"package main

import (
	"os"
	"strconv"
)

func save(db *sql.DB, f *os.File, s string) {
	_ = os.Remove("/tmp/x")
	file, _ := os.Open("data.txt")
	_, _ = db.Exec("DELETE FROM t")
	_ = f.Sync()
	n, _ := strconv.Atoi(s)
	_ = f.Close()
	if err := os.Remove("y"); err != nil {
		return
	}
	value, err := os.ReadFile("z")
}
"#;
        assert_eq!(lines_of("discarded-error", code), vec![9, 10, 11, 12]);
    }

    #[test]
    fn clean_code_and_other_languages_have_no_findings() {
        let clean = r#"package main

import (
	"crypto/rand"
	"crypto/tls"
	"os"
	"os/exec"
)

func main() {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	out, err := exec.Command("git", "status").Output()
	if err := os.WriteFile("out", out, 0o600); err != nil {
		panic(err)
	}
	_ = cfg
}
"#;
        assert!(rule_ids(&check(&GoDetector, "main.go", clean)).is_empty());
        assert!(check(&GoDetector, "main.py", "_ = os.remove(x)\n").is_empty());
    }
}
