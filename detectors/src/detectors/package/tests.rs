use super::osv::{cvss3_base_score, AdvisoryIndex, Ecosystem, PyVersion};
use super::*;
use crate::engine::{Engine, RunOptions};
use crate::finding::Finding;
use std::cmp::Ordering;
use std::fs;
use std::path::PathBuf;

fn write(root: &Path, relative: &str, content: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn run_with(root: &Path, advisories: Option<PathBuf>) -> Vec<Finding> {
    let options = RunOptions {
        advisories_dir: advisories,
        ..RunOptions::default()
    };
    Engine::default()
        .run(root, &["package".to_owned()], &options)
        .unwrap()
        .findings
}

fn run(root: &Path) -> Vec<Finding> {
    run_with(root, None)
}

fn with_rule<'f>(findings: &'f [Finding], rule: &str) -> Vec<&'f Finding> {
    findings
        .iter()
        .filter(|finding| finding.rule_id == rule)
        .collect()
}

/// A package.json with these dependency sections, and a lockfile so that rule stays quiet.
fn package_json(sections: &str) -> String {
    format!("{{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\"{sections}\n}}\n")
}

fn locked_project(package: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "package.json", package);
    write(
        dir.path(),
        "package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": {}}\n",
    );
    dir
}

#[test]
fn an_invalid_package_json_is_reported_where_parsing_stopped() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        "{\n  \"name\": \"app\",\n  \"dependencies\": {,}\n}\n",
    );
    let findings = run(dir.path());
    let invalid = with_rule(&findings, "invalid-manifest");
    assert_eq!(invalid.len(), 1, "{findings:#?}");
    assert_eq!(
        (invalid[0].file_path.as_str(), invalid[0].line),
        ("package.json", 3)
    );
    assert_eq!(invalid[0].severity, Severity::High);

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        "{\"dependencies\": [\"react\"]}\n",
    );
    assert!(with_rule(&run(dir.path()), "invalid-manifest")[0]
        .message
        .contains("wrong shape"));
}

#[test]
fn a_clean_package_json_has_no_findings() {
    let dir = locked_project(&package_json(
        ",\n  \"dependencies\": {\n    \"react\": \"^18.2.0\",\n    \"a\": \"~1.0.0\",\n    \"b\": \"1.2.3\",\n    \"c\": \">=1.0.0 <2.0.0\",\n    \"d\": \"1.x\",\n    \"e\": \"workspace:*\",\n    \"f\": \"file:../f\",\n    \"g\": \"npm:real-g@^2.0.0\",\n    \"h\": \"user/repo#0123456789abcdef0123456789abcdef01234567\"\n  },\n  \"peerDependencies\": { \"react-dom\": \"^18\" },\n  \"devDependencies\": { \"react-dom\": \"^18\", \"i\": \"1.0.0 - 2.0.0\" }",
    ));
    assert_eq!(run(dir.path()), vec![]);
}

#[test]
fn wildcards_tags_git_urls_and_unbounded_ranges_are_reported() {
    let dir = locked_project(&package_json(
        ",\n  \"dependencies\": {\n    \"any\": \"*\",\n    \"empty\": \"\",\n    \"newest\": \"latest\",\n    \"canary\": \"next\",\n    \"gh\": \"github:user/repo\",\n    \"short\": \"user/repo#main\",\n    \"gitplus\": \"git+https://example.com/x.git#v1\",\n    \"tarball\": \"https://example.com/x-1.0.0.tgz\",\n    \"open\": \">=2.1.0\",\n    \"alias\": \"npm:real@latest\"\n  }",
    ));
    let findings = run(dir.path());
    let by_rule = |rule: &str| -> Vec<u32> {
        with_rule(&findings, rule)
            .iter()
            .map(|finding| finding.line)
            .collect()
    };
    assert_eq!(by_rule("wildcard-version"), vec![5, 6, 7, 8, 14]);
    assert_eq!(by_rule("git-dependency"), vec![9, 10, 11]);
    assert_eq!(by_rule("url-dependency"), vec![12]);
    assert_eq!(by_rule("unbounded-version-range"), vec![13]);
    assert_eq!(
        with_rule(&findings, "unbounded-version-range")[0].severity,
        Severity::Low
    );
    let any = with_rule(&findings, "wildcard-version")[0];
    assert_eq!(any.snippet.as_deref(), Some("\"any\": \"*\","));
    assert_eq!(any.column, 5);
    assert_eq!(findings.len(), 10, "{findings:#?}");
}

#[test]
fn a_package_in_two_dependency_kinds_is_reported_but_peer_plus_dev_is_not() {
    let dir = locked_project(&package_json(
        ",\n  \"dependencies\": { \"lodash\": \"^4.17.21\", \"react\": \"^18\" },\n  \"devDependencies\": {\n    \"lodash\": \"^4.17.21\",\n    \"react\": \"^18\"\n  },\n  \"peerDependencies\": { \"react\": \"^18\", \"vue\": \"^3\" },\n  \"optionalDependencies\": { \"vue\": \"^3\" }",
    ));
    let findings = run(dir.path());
    let duplicates: Vec<&str> = with_rule(&findings, "duplicate-dependency")
        .iter()
        .map(|finding| finding.message.as_str())
        .collect();
    assert_eq!(
        duplicates,
        vec![
            "'lodash' is listed in both dependencies and devDependencies",
            "'react' is listed in both dependencies and devDependencies",
            "'react' is listed in both dependencies and peerDependencies",
            "'vue' is listed in both peerDependencies and optionalDependencies",
        ]
    );
}

#[test]
fn dependencies_without_a_lockfile_are_reported_unless_a_workspace_root_locks_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/package.json",
        &package_json(",\n  \"dependencies\": { \"react\": \"^18\" }"),
    );
    write(
        root,
        "tools/package.json",
        &package_json(",\n  \"scripts\": { \"x\": \"y\" }"),
    );
    write(root, "mono/yarn.lock", "# yarn lockfile v1\n");
    write(
        root,
        "mono/packages/a/package.json",
        &package_json(",\n  \"devDependencies\": { \"jest\": \"^29\" }"),
    );
    let findings = run(root);
    let missing = with_rule(&findings, "missing-lockfile");
    assert_eq!(missing.len(), 1, "{findings:#?}");
    assert_eq!(
        (missing[0].file_path.as_str(), missing[0].line),
        ("app/package.json", 4)
    );
}

#[test]
fn imports_of_undeclared_packages_are_reported() {
    let dir = locked_project(&package_json(
        ",\n  \"dependencies\": { \"react\": \"^18\", \"lodash\": \"^4\", \"@scope/pkg\": \"^1\" },\n  \"devDependencies\": { \"@types/express\": \"^4\" }",
    ));
    let root = dir.path();
    write(
        root,
        "src/a.ts",
        "import React from 'react';\nimport fp from 'lodash/fp';\nimport sub from '@scope/pkg/sub';\nimport fs from 'fs';\nimport path from 'node:path';\nimport { x } from './x';\nimport type { Request } from 'express';\nimport Button from 'components/Button';\nimport self from 'app/feature';\nimport pad from 'left-pad';\nconst c = require('chalk');\nconst again = require('left-pad');\nexport { React, fp, sub, fs, path, x, Button, self, pad, c, again };\nexport type { Request };\n",
    );
    write(root, "src/x.ts", "export const x = 1;\n");
    write(root, "src/components/Button.ts", "export default 1;\n");
    write(
        root,
        "src/types.d.ts",
        "declare module 'untyped-thing';\nimport 'also-undeclared';\n",
    );
    let findings = run(root);
    let undeclared: Vec<(&str, u32, &str)> = with_rule(&findings, "undeclared-dependency")
        .iter()
        .map(|finding| {
            (
                finding.file_path.as_str(),
                finding.line,
                finding.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        undeclared,
        vec![
            (
                "src/a.ts",
                10,
                "'left-pad' is imported but not declared in package.json"
            ),
            (
                "src/a.ts",
                11,
                "'chalk' is imported but not declared in package.json"
            ),
        ]
    );
}

#[test]
fn packages_declared_by_a_workspace_root_are_declared_for_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "package.json",
        &package_json(",\n  \"devDependencies\": { \"vitest\": \"^1\" }"),
    );
    write(
        root,
        "package-lock.json",
        "{\"lockfileVersion\": 3, \"packages\": {}}\n",
    );
    write(
        root,
        "packages/ui/package.json",
        "{\"name\": \"@acme/ui\", \"dependencies\": {\"react\": \"^18\"}}\n",
    );
    write(
        root,
        "packages/ui/src/a.test.ts",
        "import { test } from 'vitest';\nimport React from 'react';\nimport { util } from '@acme/ui';\nimport dayjs from 'dayjs';\nexport { test, React, util, dayjs };\n",
    );
    let findings = run(root);
    let undeclared = with_rule(&findings, "undeclared-dependency");
    assert_eq!(undeclared.len(), 1, "{findings:#?}");
    assert!(undeclared[0]
        .message
        .starts_with("'dayjs' is imported but not declared in packages/ui/package.json"));
}

#[test]
fn an_invalid_cargo_toml_is_reported_at_the_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = = \"1\"\n",
    );
    let findings = run(dir.path());
    let invalid = with_rule(&findings, "invalid-manifest");
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].line, 3);
    assert!(invalid[0]
        .message
        .starts_with("Cargo.toml is not valid TOML"));
}

#[test]
fn cargo_wildcards_and_unpinned_git_dependencies_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"lib\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\nany = \"*\"\ntable = { version = \"*\", features = [\"x\"] }\nbranch = { git = \"https://example.com/a.git\", branch = \"main\" }\ntagged = { git = \"https://example.com/b.git\", tag = \"v1\" }\npinned = { git = \"https://example.com/c.git\", rev = \"0a1b2c3\" }\nlocal = { path = \"../local\" }\nshared = { workspace = true }\nnothing = { features = [\"y\"] }\n\n[target.'cfg(unix)'.dev-dependencies]\nlibc = \"*\"\n",
    );
    let findings = run(dir.path());
    let lines = |rule: &str| -> Vec<u32> {
        with_rule(&findings, rule)
            .iter()
            .map(|finding| finding.line)
            .collect()
    };
    assert_eq!(lines("wildcard-version"), vec![7, 8, 14, 17]);
    assert_eq!(lines("git-dependency"), vec![9, 10]);
    let git = with_rule(&findings, "git-dependency");
    assert_eq!(git[0].severity, Severity::Medium);
    assert_eq!(git[1].severity, Severity::Low);
    assert!(with_rule(&findings, "wildcard-version")[3]
        .message
        .contains("[target.cfg(unix).dev-dependencies]"));
    // A library without Cargo.lock is fine.
    assert!(lines("missing-lockfile").is_empty());
}

#[test]
fn a_binary_crate_needs_a_cargo_lock_in_its_folder_or_workspace_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let manifest = "[package]\nname = \"tool\"\nversion = \"0.1.0\"\n";
    write(root, "tool/Cargo.toml", manifest);
    write(root, "tool/src/main.rs", "fn main() {}\n");
    write(root, "ws/Cargo.toml", "[workspace]\nmembers = [\"cli\"]\n");
    write(root, "ws/Cargo.lock", "version = 4\n");
    write(root, "ws/cli/Cargo.toml", manifest);
    write(root, "ws/cli/src/main.rs", "fn main() {}\n");
    write(
        root,
        "bins/Cargo.toml",
        &format!("{manifest}\n[[bin]]\nname = \"b\"\npath = \"b.rs\"\n"),
    );
    let findings = run(root);
    let missing: Vec<(&str, u32)> = with_rule(&findings, "missing-lockfile")
        .iter()
        .map(|finding| (finding.file_path.as_str(), finding.line))
        .collect();
    assert_eq!(
        missing,
        vec![("bins/Cargo.toml", 1), ("tool/Cargo.toml", 1)]
    );
}

const NPM_LOCK_V3: &str = r#"{
  "name": "app",
  "lockfileVersion": 3,
  "packages": {
    "": { "name": "app", "dependencies": { "fixture-http-client": "^1.4.0" } },
    "node_modules/fixture-http-client": { "version": "1.4.1" },
    "node_modules/fixture-template": { "version": "3.1.0" },
    "node_modules/fixture-template-legacy": { "version": "0.9.1" },
    "node_modules/other/node_modules/fixture-http-client": { "version": "2.1.1" },
    "node_modules/third/node_modules/fixture-http-client": { "version": "2.0.5" },
    "node_modules/newer-template": { "name": "fixture-template", "version": "3.2.1" },
    "node_modules/linked": { "resolved": "packages/linked", "link": true },
    "packages/linked": { "name": "linked", "version": "0.0.1" }
  }
}
"#;

#[test]
fn vulnerable_versions_in_package_lock_v3_are_matched_against_osv_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "package.json",
        &package_json(",\n  \"dependencies\": { \"fixture-http-client\": \"^1.4.0\" }"),
    );
    write(root, "package-lock.json", NPM_LOCK_V3);
    let findings = run_with(root, Some(fixtures()));
    let vulnerable: Vec<(u32, Severity, &str)> = with_rule(&findings, "vulnerable-dependency")
        .iter()
        .map(|finding| (finding.line, finding.severity, finding.message.as_str()))
        .collect();
    assert_eq!(
        vulnerable,
        vec![
            (6, Severity::High, "npm fixture-http-client 1.4.1 is affected by INSIGHT-TEST-0001 (INSIGHT-TEST-ALIAS-0001): Request smuggling in fixture-http-client (test advisory, not real); fixed in 1.4.2"),
            (7, Severity::Critical, "npm fixture-template 3.1.0 is affected by INSIGHT-TEST-0002: Template injection in fixture-template (test advisory, not real); no fixed version is known"),
            (8, Severity::Critical, "npm fixture-template-legacy 0.9.1 is affected by INSIGHT-TEST-0002: Template injection in fixture-template (test advisory, not real); no fixed version is known"),
            (10, Severity::High, "npm fixture-http-client 2.0.5 is affected by INSIGHT-TEST-0001 (INSIGHT-TEST-ALIAS-0001): Request smuggling in fixture-http-client (test advisory, not real); fixed in 2.1.1"),
        ]
    );
    let first = with_rule(&findings, "vulnerable-dependency")[0];
    assert_eq!(first.category, Category::Security);
    assert_eq!(
        first.suggestion.as_deref(),
        Some("Upgrade fixture-http-client to 1.4.2 or later.")
    );
    assert_eq!(first.file_path, "package-lock.json");
}

#[test]
fn without_an_advisories_folder_no_vulnerabilities_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        &package_json(",\n  \"dependencies\": { \"fixture-http-client\": \"^1.4.0\" }"),
    );
    write(dir.path(), "package-lock.json", NPM_LOCK_V3);
    assert!(with_rule(&run(dir.path()), "vulnerable-dependency").is_empty());
}

#[test]
fn package_lock_v1_nested_dependencies_are_matched() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "package.json",
        &package_json(",\n  \"dependencies\": { \"a\": \"^1\" }"),
    );
    write(
        dir.path(),
        "package-lock.json",
        "{\n  \"lockfileVersion\": 1,\n  \"dependencies\": {\n    \"a\": {\n      \"version\": \"1.0.0\",\n      \"dependencies\": {\n        \"fixture-http-client\": { \"version\": \"1.0.0\" }\n      }\n    },\n    \"fixture-http-client\": { \"version\": \"1.4.2\" }\n  }\n}\n",
    );
    let findings = run_with(dir.path(), Some(fixtures()));
    let vulnerable = with_rule(&findings, "vulnerable-dependency");
    assert_eq!(vulnerable.len(), 1, "{findings:#?}");
    assert_eq!(vulnerable[0].line, 7);
}

#[test]
fn vulnerable_registry_crates_in_cargo_lock_are_matched_and_git_sources_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Cargo.toml", "[package]\nname = \"tool\"\nversion = \"0.1.0\"\n\n[dependencies]\nfixture-parser = \"0.3\"\n");
    write(root, "src/main.rs", "fn main() {}\n");
    write(
        root,
        "Cargo.lock",
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"fixture-parser\"\nversion = \"0.3.4\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n\n[[package]]\nname = \"fixture-parser\"\nversion = \"0.3.5\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"fixture-parser\"\nversion = \"0.3.1\"\nsource = \"git+https://example.com/fork.git#abc\"\n\n[[package]]\nname = \"tool\"\nversion = \"0.1.0\"\n",
    );
    let findings = run_with(root, Some(fixtures()));
    let vulnerable = with_rule(&findings, "vulnerable-dependency");
    assert_eq!(vulnerable.len(), 1, "{findings:#?}");
    assert_eq!(vulnerable[0].file_path, "Cargo.lock");
    assert_eq!(vulnerable[0].line, 6);
    // No severity in the record: a known vulnerability counts as HIGH.
    assert_eq!(vulnerable[0].severity, Severity::High);
    assert!(with_rule(&findings, "missing-lockfile").is_empty());
}

#[test]
fn requirements_pins_are_matched_with_pep_440_ordering_and_name_normalisation() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "requirements.txt",
        "# pinned\nfixture.yaml==5.3.1 \\\n    --hash=sha256:00\nfixture-web[async]==2.0 ; python_version >= \"3.8\"\nfixture-web==2.0.post1\nFixture_Yaml==5.4\nfixture-yaml>=5.0\n-r other.txt\n",
    );
    let findings = run_with(dir.path(), Some(fixtures()));
    let vulnerable: Vec<(u32, Severity)> = with_rule(&findings, "vulnerable-dependency")
        .iter()
        .map(|finding| (finding.line, finding.severity))
        .collect();
    assert_eq!(
        vulnerable,
        vec![(2, Severity::Critical), (4, Severity::Medium)]
    );
}

#[test]
fn osv_ranges_follow_introduced_fixed_and_last_affected_events() {
    let index = AdvisoryIndex::load(&fixtures());
    // 0001, 0002, 0003, 0004, 0007: the withdrawn record and the non-OSV file are left out.
    assert_eq!(index.len(), 5);
    let ids = |name: &str, version: &str| -> Vec<String> {
        index
            .matches(Ecosystem::Npm, name, version)
            .iter()
            .map(|(found, _)| found.advisory.id.clone())
            .collect()
    };
    assert_eq!(
        ids("fixture-http-client", "0.0.1"),
        vec!["INSIGHT-TEST-0001"]
    );
    assert!(ids("fixture-http-client", "1.4.2").is_empty());
    assert!(ids("fixture-http-client", "1.9.0").is_empty());
    assert_eq!(
        ids("fixture-http-client", "2.0.0"),
        vec!["INSIGHT-TEST-0001"]
    );
    assert!(ids("fixture-http-client", "2.1.1").is_empty());
    // A pre-release of a fixed version sorts before it.
    assert_eq!(
        ids("fixture-http-client", "2.1.1-rc.1"),
        vec!["INSIGHT-TEST-0001"]
    );
    assert!(ids("fixture-template", "2.9.9").is_empty());
    assert_eq!(ids("fixture-template", "3.2.0"), vec!["INSIGHT-TEST-0002"]);
    assert!(ids("fixture-template", "3.2.1").is_empty());
    assert!(
        ids("Fixture-Template", "3.1.0").is_empty(),
        "npm names are exact"
    );
    assert!(ids("fixture-http-client", "not-a-version").is_empty());
}

#[test]
fn pep_440_versions_order_dev_pre_final_and_post_releases() {
    let ordered = [
        "1.0.dev1",
        "1.0a1",
        "1.0a2.dev1",
        "1.0a2",
        "1.0b1",
        "1.0rc1",
        "1.0",
        "1.0.post1",
        "1.0.1",
        "1!0.1",
    ];
    for pair in ordered.windows(2) {
        assert_eq!(
            Ecosystem::PyPI.compare(pair[0], pair[1]),
            Some(Ordering::Less),
            "{} < {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(
        Ecosystem::PyPI.compare("1.0", "1.0.0"),
        Some(Ordering::Equal)
    );
    assert_eq!(
        Ecosystem::PyPI.compare("2.0-1", "2.0.post1"),
        Some(Ordering::Equal)
    );
    assert_eq!(
        Ecosystem::PyPI.compare("1.0+local.7", "1.0"),
        Some(Ordering::Equal)
    );
    assert!(PyVersion::parse("not a version").is_none());
    assert_eq!(
        Ecosystem::PyPI.normalize_name("Fixture_Yaml"),
        "fixture-yaml"
    );
    assert_eq!(
        Ecosystem::PyPI.normalize_name("fixture..yaml"),
        "fixture-yaml"
    );
}

#[test]
fn cvss_3_base_scores_match_the_specification() {
    assert_eq!(
        cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        Some(9.8)
    );
    assert_eq!(
        cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
        Some(6.1)
    );
    assert_eq!(
        cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
        Some(5.5)
    );
    assert_eq!(
        cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
        Some(0.0)
    );
    assert_eq!(cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
}

#[test]
fn lockfile_names_are_recognised() {
    assert_eq!(kind_of("a/package-lock.json"), Some(LockfileKind::Npm));
    assert_eq!(kind_of("Cargo.lock"), Some(LockfileKind::Cargo));
    assert_eq!(
        kind_of("requirements-dev.txt"),
        Some(LockfileKind::Requirements)
    );
    assert_eq!(
        kind_of("requirements/base.txt"),
        Some(LockfileKind::Requirements)
    );
    assert_eq!(kind_of("notes.txt"), None);
}
