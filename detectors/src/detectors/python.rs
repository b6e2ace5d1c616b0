//! `python`: bandit-style checks on tree-sitter Python trees.
//!
//! Calls are resolved through the file's imports (`import subprocess as sp`,
//! `from yaml import load`), so aliases do not hide them. Rules:
//! - `subprocess-shell-true` (bandit B602/B604): a call with `shell=True`; HIGH when the command
//!   is built at run time, LOW when it is a constant string.
//! - `yaml-load` (B506): `yaml.load` without a safe loader, `yaml.unsafe_load`, `yaml.full_load`.
//! - `pickle-load` (B301): `pickle`/`cPickle`/`_pickle`/`dill` `load`/`loads`, which run code
//!   from the data they read.
//! - `eval-exec` (B307/B102): `eval`/`exec` of anything but a constant string.
//! - `assert-used` (B101): `assert` in non-test code, removed under `python -O`.

use crate::detector::{Detector, FileSink, Rule};
use crate::finding::{Category, Severity};
use crate::js::ParsedJs;
use crate::source::{Language, SourceFile};
use std::collections::HashMap;
use tree_sitter::{Node, Parser, Tree};

pub const SUBPROCESS_SHELL: Rule =
    Rule::new("subprocess-shell-true", Category::Security, Severity::High)
        .confidence(0.85)
        .suggest("Pass the command as a list with shell=False (the default); use shlex.quote only when a shell is unavoidable.");
pub const YAML_LOAD: Rule = Rule::new("yaml-load", Category::Security, Severity::High)
    .confidence(0.9)
    .suggest("Use yaml.safe_load(), or yaml.load(data, Loader=yaml.SafeLoader).");
pub const PICKLE_LOAD: Rule = Rule::new("pickle-load", Category::Security, Severity::Medium)
    .confidence(0.8)
    .suggest(
        "Never unpickle data that may come from outside; use JSON or another data-only format.",
    );
pub const EVAL_EXEC: Rule = Rule::new("eval-exec", Category::Security, Severity::High)
    .confidence(0.8)
    .suggest("Parse the input instead (ast.literal_eval for literals, json.loads for data).");
pub const ASSERT_USED: Rule = Rule::new("assert-used", Category::Suspicious, Severity::Low)
    .confidence(0.7)
    .suggest(
        "Raise an exception for checks that must hold in production: `python -O` removes asserts.",
    );

/// Loaders that build only plain data.
const SAFE_YAML_LOADERS: &[&str] = &["SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"];
const PICKLE_MODULES: &[&str] = &["pickle", "cPickle", "_pickle", "dill"];

pub struct PythonDetector;

impl Detector for PythonDetector {
    fn name(&self) -> &'static str {
        "python"
    }

    fn description(&self) -> &'static str {
        "Bandit-style security checks on Python: shell=True, yaml.load, pickle, eval/exec, assert"
    }

    fn check_file(
        &self,
        file: &SourceFile<'_>,
        _js: Option<&ParsedJs<'_>>,
        out: &mut FileSink<'_>,
    ) {
        if file.language != Language::Python {
            return;
        }
        let Some(tree) = parse(file.text) else {
            return;
        };
        let source = file.text.as_bytes();
        let aliases = import_aliases(tree.root_node(), source);
        let is_test = is_test_path(file.path);
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            match node.kind() {
                "call" => check_call(node, source, &aliases, out),
                "assert_statement" if !is_test => {
                    out.report(
                        &ASSERT_USED,
                        node.start_byte(),
                        node.end_byte(),
                        "assert is removed when Python runs with -O: this check disappears in optimised runs",
                    );
                }
                _ => {}
            }
            let mut cursor = node.walk();
            let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
    }
}

/// A tree-sitter Python tree of `text` (error nodes included: checks still run on the rest).
pub fn parse(text: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(text, None)
}

/// `test_*.py`, `*_test.py`, `conftest.py` or anything under a `tests`/`test` folder.
fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
        || path
            .split('/')
            .any(|part| part == "tests" || part == "test" || part == "testing")
}

fn text<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    node.utf8_text(source).unwrap_or("")
}

/// Local name → what it stands for: `sp` → `subprocess`, `load` → `yaml.load`.
fn import_aliases(root: Node<'_>, source: &[u8]) -> HashMap<String, String> {
    let mut aliases = HashMap::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "import_statement" => {
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    if name.kind() == "aliased_import" {
                        if let (Some(original), Some(alias)) = (
                            name.child_by_field_name("name"),
                            name.child_by_field_name("alias"),
                        ) {
                            aliases.insert(
                                text(alias, source).to_owned(),
                                text(original, source).to_owned(),
                            );
                        }
                    }
                }
            }
            "import_from_statement" => {
                let Some(module) = node.child_by_field_name("module_name") else {
                    continue;
                };
                let module = text(module, source);
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    let (original, local) = if name.kind() == "aliased_import" {
                        match (
                            name.child_by_field_name("name"),
                            name.child_by_field_name("alias"),
                        ) {
                            (Some(original), Some(alias)) => {
                                (text(original, source), text(alias, source))
                            }
                            _ => continue,
                        }
                    } else {
                        (text(name, source), text(name, source))
                    };
                    aliases.insert(local.to_owned(), format!("{module}.{original}"));
                }
            }
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.named_children(&mut cursor));
            }
        }
    }
    aliases
}

/// The dotted name a callee stands for (`sp.run` → `subprocess.run`), `None` for computed ones.
fn qualified_name(
    node: Node<'_>,
    source: &[u8],
    aliases: &HashMap<String, String>,
) -> Option<String> {
    match node.kind() {
        "identifier" => {
            let name = text(node, source);
            Some(
                aliases
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| name.to_owned()),
            )
        }
        "attribute" => {
            let object = qualified_name(node.child_by_field_name("object")?, source, aliases)?;
            let attribute = text(node.child_by_field_name("attribute")?, source);
            Some(format!("{object}.{attribute}"))
        }
        _ => None,
    }
}

/// A string literal without interpolation (`"ls -l"`, not `f"ls {path}"`).
fn is_constant_string(node: Node<'_>) -> bool {
    match node.kind() {
        "string" => {
            let mut cursor = node.walk();
            let constant = !node
                .named_children(&mut cursor)
                .any(|child| child.kind() == "interpolation");
            constant
        }
        "concatenated_string" => {
            let mut cursor = node.walk();
            let constant = node.named_children(&mut cursor).all(is_constant_string);
            constant
        }
        _ => false,
    }
}

fn check_call(
    call: Node<'_>,
    source: &[u8],
    aliases: &HashMap<String, String>,
    out: &mut FileSink<'_>,
) {
    let Some(function) = call.child_by_field_name("function") else {
        return;
    };
    let Some(arguments) = call.child_by_field_name("arguments") else {
        return;
    };
    let mut cursor = arguments.walk();
    let all: Vec<Node<'_>> = arguments.named_children(&mut cursor).collect();
    let positional: Vec<Node<'_>> = all
        .iter()
        .copied()
        .filter(|argument| !matches!(argument.kind(), "keyword_argument" | "comment"))
        .collect();
    let keyword = |wanted: &str| {
        all.iter()
            .filter(|argument| argument.kind() == "keyword_argument")
            .find(|argument| {
                argument
                    .child_by_field_name("name")
                    .is_some_and(|name| text(name, source) == wanted)
            })
            .and_then(|argument| argument.child_by_field_name("value"))
    };
    let name = qualified_name(function, source, aliases).unwrap_or_default();
    let (start, end) = (call.start_byte(), call.end_byte());

    if keyword("shell").is_some_and(|value| value.kind() == "true") {
        let constant = positional
            .first()
            .is_some_and(|command| is_constant_string(*command));
        let finding = out.report(
            &SUBPROCESS_SHELL,
            start,
            end,
            format!(
                "{} runs its command through a shell (shell=True){}",
                display(&name),
                if constant {
                    ""
                } else {
                    " with a command built at run time: shell injection"
                }
            ),
        );
        if constant {
            finding.severity = Severity::Low;
        }
    }

    let (module, function_name) = name.rsplit_once('.').unwrap_or(("", name.as_str()));
    if module == "yaml" || module.ends_with(".yaml") {
        let unsafe_call = match function_name {
            "unsafe_load" | "unsafe_load_all" | "full_load" | "full_load_all" => true,
            "load" | "load_all" => {
                let loader = keyword("Loader").or_else(|| positional.get(1).copied());
                !loader.is_some_and(|loader| {
                    let loader = text(loader, source);
                    let last = loader.rsplit('.').next().unwrap_or(loader);
                    SAFE_YAML_LOADERS.contains(&last)
                })
            }
            _ => false,
        };
        if unsafe_call {
            out.report(
                &YAML_LOAD,
                start,
                end,
                format!("{name}() can build arbitrary Python objects from the document: code execution on untrusted YAML"),
            );
        }
    }

    if PICKLE_MODULES.contains(&module) && matches!(function_name, "load" | "loads") {
        out.report(
            &PICKLE_LOAD,
            start,
            end,
            format!("{name}() runs code embedded in the data it reads"),
        );
    }

    if matches!(
        name.as_str(),
        "eval" | "exec" | "builtins.eval" | "builtins.exec"
    ) {
        let constant = positional
            .first()
            .is_some_and(|code| is_constant_string(*code));
        if !constant && !positional.is_empty() {
            out.report(
                &EVAL_EXEC,
                start,
                end,
                format!(
                    "{function_name}() of a value built at run time runs whatever code it contains"
                ),
            );
        }
    }
}

fn display(name: &str) -> &str {
    if name.is_empty() {
        "this call"
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check, rule_ids};

    fn ids(path: &str, code: &str) -> Vec<String> {
        rule_ids(&check(&PythonDetector, path, code))
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn shell_true_is_high_for_built_commands_and_low_for_constants() {
        let code = "import subprocess as sp\nfrom subprocess import Popen\n\ndef run(name):\n    sp.call('ls ' + name, shell=True)\n    Popen(f'rm {name}', shell=True)\n    sp.run('ls -l', shell=True)\n    sp.run(['ls', name])\n    sp.run('ls', shell=False)\n";
        let findings = check(&PythonDetector, "app/run.py", code);
        let found: Vec<(u32, Severity)> = findings
            .iter()
            .map(|finding| (finding.line, finding.severity))
            .collect();
        assert_eq!(
            found,
            vec![(5, Severity::High), (6, Severity::High), (7, Severity::Low)]
        );
        assert!(findings[0].message.starts_with("subprocess.call runs"));
        assert!(findings[1].message.starts_with("subprocess.Popen runs"));
    }

    #[test]
    fn yaml_load_needs_a_safe_loader() {
        let code = "import yaml\nfrom yaml import load, SafeLoader\n\na = yaml.load(data)\nb = yaml.load(data, Loader=yaml.Loader)\nc = yaml.unsafe_load(data)\nd = yaml.load(data, Loader=yaml.SafeLoader)\ne = load(data, SafeLoader)\nf = yaml.safe_load(data)\ng = load(data)\n";
        let lines: Vec<u32> = check(&PythonDetector, "conf.py", code)
            .iter()
            .map(|finding| finding.line)
            .collect();
        assert_eq!(lines, vec![4, 5, 6, 10]);
    }

    #[test]
    fn pickle_loads_are_reported_and_dumps_are_not() {
        let code = "import pickle\nimport cPickle as cp\n\nobj = pickle.loads(request.body)\nother = cp.load(open(path, 'rb'))\npickle.dumps(obj)\njson.loads(body)\n";
        assert_eq!(ids("api.py", code), vec!["pickle-load", "pickle-load"]);
    }

    #[test]
    fn eval_and_exec_of_runtime_values_are_reported() {
        let code = "def f(expr, code):\n    eval(expr)\n    exec(code)\n    eval('1 + 2')\n    obj.eval(expr)\n";
        let findings = check(&PythonDetector, "calc.py", code);
        assert_eq!(rule_ids(&findings), vec!["eval-exec", "eval-exec"]);
        assert_eq!(findings[0].line, 2);
        assert_eq!(findings[1].line, 3);
    }

    #[test]
    fn assert_is_reported_outside_tests_only() {
        let code =
            "def withdraw(account, amount):\n    assert account.owner == user\n    return amount\n";
        assert_eq!(ids("bank/service.py", code), vec!["assert-used"]);
        assert!(ids("tests/test_service.py", code).is_empty());
        assert!(ids("bank/service_test.py", code).is_empty());
    }

    #[test]
    fn clean_code_and_other_languages_have_no_findings() {
        let clean = "import subprocess, yaml, json\n\ndef main(path):\n    subprocess.run(['cat', path], check=True)\n    return yaml.safe_load(open(path)), json.loads('{}')\n";
        assert!(ids("main.py", clean).is_empty());
        assert!(ids("main.js", "eval(x);\n").is_empty());
        // A syntax error further down does not hide what parses.
        assert_eq!(
            ids("broken.py", "eval(user_input)\n\ndef (:\n"),
            vec!["eval-exec"]
        );
    }
}
