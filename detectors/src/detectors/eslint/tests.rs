use super::{EslintDetector, RULES};
use crate::testing::check;

/// Findings of one rule on `code` (as a `.ts` file unless the code needs JSX).
fn hits(rule: &str, path: &str, code: &str) -> usize {
    check(&EslintDetector, path, code)
        .iter()
        .filter(|finding| finding.rule_id == rule)
        .count()
}

/// (rule, code with the problem, code without it)
const CASES: &[(&str, &str, &str)] = &[
    ("no-debugger", "function f() { debugger; }", "function f() { return 1; }\nf();"),
    ("no-eval", "eval(code);", "const evaluate = (x: number) => x;\nevaluate(1);"),
    ("no-eval", "window.eval(code);", "function eval2(s: string) { return s; }\neval2('');"),
    ("eqeqeq", "if (a == b) {}", "if (a === b) {}\nif (x == null) {}\nif (typeof x == 'string') {}"),
    ("no-dupe-keys", "const o = { a: 1, b: 2, a: 3 };\nuse(o);", "const o = { a: 1, get b() { return 1; }, set b(v) {} };\nuse(o);"),
    ("no-unreachable", "function f() { return 1; console.log('x'); }\nf();", "function f() { return g(); function g() { return 1; } }\nf();"),
    ("no-unreachable", "function f(x) { if (x) { throw e; } else { return 2; } x++; }\nf(1);", "function f(x) { if (x) { return 1; } x++; }\nf(1);"),
    ("no-empty", "if (ok) {}\ntry { go(); } catch (e) {}", "if (ok) { /* nothing to do */ }\nfunction noop() {}\nnoop();"),
    ("no-self-compare", "if (x === x) {}", "if (x === y) {}"),
    ("no-var", "var count = 1;\nuse(count);", "let count = 1;\ncount++;\nuse(count);\ndeclare var legacy: number;"),
    ("prefer-const", "let total = 1;\nuse(total);\nfor (let item of items) { use(item); }", "let total = 1;\ntotal += 2;\nuse(total);\nfor (let i = 0; i < 3; i++) { use(i); }\nlet later;\nlater = 1;\nuse(later);"),
    ("no-unused-vars", "import { a, b } from './m';\nuse(a);\nconst unused = 1;\nfunction helper() {}", "import { a } from './m';\nimport type { T } from './t';\nlet v: T = a;\nuse(v);\nexport function api(unusedParam) {}\nconst _ignored = 1;"),
    ("no-duplicate-case", "switch (x) { case 1: break; case 1: break; }", "switch (x) { case 1: break; case 2: break; }"),
    ("no-cond-assign", "if (x = next()) {}\nwhile (node = node.parent) {}", "if ((x = next())) {}\nif (x === next()) {}"),
    ("no-constant-condition", "if (true) {}\nconst v = 1 ? a : b;\nif ({}) {}", "if (flag) {}\nwhile (true) { if (done()) break; }\nfor (;;) { break; }"),
    ("no-sparse-arrays", "const a = [1, , 3];\nuse(a);", "const a = [1, 2, 3];\nuse(a);"),
    ("no-with", "with (obj) { run(); }", "obj.run();"),
    ("use-isnan", "if (x === NaN) {}\nswitch (y) { case NaN: break; }", "if (Number.isNaN(x)) {}"),
    ("valid-typeof", "if (typeof x === 'strnig') {}", "if (typeof x === 'string') {}\nif (typeof y === kind) {}"),
    ("no-self-assign", "a = a;\nobj.prop = obj.prop;", "a = b;\nobj.prop = other.prop;\na = a + 1;"),
    ("no-dupe-else-if", "if (a) { f(); } else if (b) { g(); } else if (a) { h(); }", "if (a) { f(); } else if (b) { g(); } else { h(); }"),
    ("no-unsafe-finally", "function f() { try { return 1; } finally { return 2; } }\nf();", "function f() { try { return 1; } finally { cleanup(); for (;;) { break; } } }\nf();"),
    ("no-empty-pattern", "const {} = obj;\nfunction f([]) {}\nf([]);", "const { a } = obj;\nuse(a);"),
    ("no-fallthrough", "switch (x) { case 1: f(); case 2: g(); break; }", "switch (x) { case 1: f(); // falls through\n case 2: g(); break; case 3: case 4: return; default: h(); }"),
    ("no-compare-neg-zero", "if (x === -0) {}", "if (Object.is(x, -0)) {}\nif (x === 0) {}"),
    ("no-unsafe-negation", "if (!key in obj) {}", "if (!(key in obj)) {}"),
    ("no-dupe-class-members", "class A { foo() {} foo() {} }\nnew A();", "class A { get foo() { return 1; } set foo(v) {} static foo() {} }\nclass B { bar(x: string): void; bar(x: number): void; bar(x: any) {} }\nnew A(); new B();"),
    ("no-new-wrappers", "const s = new String('x');\nuse(s);", "const s = String(1);\nuse(s);"),
    ("no-throw-literal", "throw 'failed';", "throw new Error('failed');"),
    ("no-async-promise-executor", "new Promise(async (resolve) => resolve(await f()));", "new Promise((resolve) => resolve(1));"),
    ("no-useless-catch", "try { go(); } catch (e) { throw e; }", "try { go(); } catch (e) { log(e); throw e; }"),
    ("no-prototype-builtins", "if (obj.hasOwnProperty('a')) {}", "if (Object.prototype.hasOwnProperty.call(obj, 'a')) {}\nif (Object.hasOwn(obj, 'a')) {}"),
];

#[test]
fn every_rule_reports_the_problem_and_stays_quiet_without_it() {
    for (rule, bad, good) in CASES {
        assert!(
            hits(rule, "src/a.ts", bad) > 0,
            "{rule} missed the problem in:\n{bad}"
        );
        assert_eq!(
            hits(rule, "src/a.ts", good),
            0,
            "{rule} reported clean code:\n{good}"
        );
    }
}

#[test]
fn every_rule_has_a_case() {
    assert!(RULES.len() >= 20);
    for rule in RULES {
        assert!(
            CASES.iter().any(|(id, _, _)| *id == rule.id),
            "{} has no test case",
            rule.id
        );
    }
}

#[test]
fn unused_vars_reports_each_name_with_its_kind() {
    let findings = check(
        &EslintDetector,
        "a.mjs",
        "import { a, b } from './m';\nuse(a);\nconst unused = 1;\nfunction helper() {}\n",
    );
    let messages: Vec<&str> = findings
        .iter()
        .filter(|finding| finding.rule_id == "no-unused-vars")
        .map(|finding| finding.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "'b' is imported but never used",
            "'unused' is assigned a value but never used",
            "'helper' is defined but never used"
        ]
    );
}

#[test]
fn react_is_used_by_jsx_and_browser_script_globals_are_left_alone() {
    assert_eq!(
        hits(
            "no-unused-vars",
            "a.jsx",
            "import React from 'react';\nexport const C = () => <div />;\n"
        ),
        0
    );
    assert_eq!(
        hits(
            "no-unused-vars",
            "a.js",
            "function onLoad() {}\nvar config = {};\n"
        ),
        0
    );
    assert_eq!(
        hits(
            "no-unused-vars",
            "a.js",
            "const fs = require('fs');\nmodule.exports = {};\n"
        ),
        1
    );
}

#[test]
fn findings_point_at_the_offending_code() {
    let findings = check(
        &EslintDetector,
        "a.js",
        "const x = 1;\n  debugger;\nexport { x };\n",
    );
    let debugger = findings
        .iter()
        .find(|finding| finding.rule_id == "no-debugger")
        .unwrap();
    assert_eq!(
        (
            debugger.line,
            debugger.column,
            debugger.end_line,
            debugger.end_column
        ),
        (2, 3, 2, 12)
    );
}

#[test]
fn files_that_do_not_parse_are_not_linted() {
    assert!(check(&EslintDetector, "a.ts", "const = ;;; debugger").is_empty());
}

#[test]
fn self_comparison_ignores_whitespace_inside_the_operands_but_not_tokens() {
    assert_eq!(hits("no-self-compare", "a.ts", "if (a . b === a.b) {}"), 1);
    assert_eq!(
        hits("no-self-compare", "a.ts", "if (f(x, y) <= f(x,y)) {}"),
        1
    );
    assert_eq!(
        hits("no-self-compare", "a.ts", "if (f(x, y) <= f(x, z)) {}"),
        0
    );
    assert_eq!(hits("no-self-compare", "a.ts", "if (ab === a.b) {}"), 0);
    assert_eq!(hits("no-self-assign", "a.ts", "obj .prop = obj.prop;"), 1);
}

#[test]
fn duplicate_keys_are_found_by_name_whatever_their_quoting() {
    assert_eq!(
        hits(
            "no-dupe-keys",
            "a.ts",
            "use({ 'a': 1, a: 2, \"b\": 3, 1: 4, '1': 5 });"
        ),
        2
    );
}
