//! `package`: problems in `package.json` and `Cargo.toml` manifests, and lockfile versions with
//! known vulnerabilities.
//!
//! Manifests: invalid JSON/TOML; `*`, `latest` and other dist-tag versions; git dependencies not
//! pinned to a commit (npm `#<sha>`, Cargo `rev`); tarball URLs; ranges without an upper bound;
//! the same npm package in two dependency kinds (a peer dependency repeated in
//! devDependencies is the normal pattern and is not reported); a `package.json` with
//! dependencies and no lockfile (npm, yarn, pnpm or bun) in its folder or above; a binary crate
//! with no `Cargo.lock` in its folder or above; a package imported by JS/TS code but declared in
//! no `package.json` from the file's folder up (Node built-ins, `@types/` declarations, the
//! project's own packages and folder aliases such as `src/...` are not reported).
//!
//! Vulnerabilities: with [`crate::RunOptions::advisories_dir`] set, the versions pinned by
//! `package-lock.json`/`npm-shrinkwrap.json` (v1–v3), `Cargo.lock` (registry packages) and pip
//! requirement files (`==` pins) are matched against the OSV advisories of that folder (see
//! [`osv`]). Lockfiles are read next to each manifest even when the walk skipped them (a
//! `Cargo.lock` is marked generated, and big npm lockfiles exceed the size bound). yarn and pnpm
//! lockfiles are not read for versions yet.

pub mod lockfiles;
pub mod osv;

#[cfg(test)]
mod tests;

use crate::detector::{Detector, FileFacts, Needs, ProjectFacts, ProjectSink, Rule, TextRange};
use crate::finding::{Category, Severity};
use crate::source::{Language, LineIndex};
use lockfiles::{kind_of, offset_in, LockfileKind};
use osv::AdvisoryIndex;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub const INVALID_MANIFEST: Rule = Rule::new("invalid-manifest", Category::Syntax, Severity::High)
    .confidence(1.0)
    .suggest("Fix the syntax: package managers refuse a manifest or lockfile they cannot parse.");
pub const WILDCARD_VERSION: Rule =
    Rule::new("wildcard-version", Category::Dependencies, Severity::Medium)
        .confidence(0.95)
        .suggest("Depend on a version range such as ^1.2.3: any version means any future breaking or malicious release.");
pub const GIT_DEPENDENCY: Rule =
    Rule::new("git-dependency", Category::Dependencies, Severity::Medium)
        .confidence(0.9)
        .suggest("Pin the git dependency to a commit (npm: #<commit sha>, Cargo: rev = \"<sha>\"), or use a registry release.");
pub const URL_DEPENDENCY: Rule = Rule::new(
    "url-dependency",
    Category::Dependencies,
    Severity::Medium,
)
.confidence(0.9)
.suggest(
    "Use a registry release: a tarball URL has no integrity check in the manifest and can change.",
);
pub const UNBOUNDED_RANGE: Rule = Rule::new(
    "unbounded-version-range",
    Category::Dependencies,
    Severity::Low,
)
.confidence(0.8)
.suggest("Give the range an upper bound (for example ^2.1.0 instead of >=2.1.0).");
pub const DUPLICATE_DEPENDENCY: Rule = Rule::new(
    "duplicate-dependency",
    Category::Dependencies,
    Severity::Low,
)
.confidence(0.95)
.suggest("Keep the package in one dependency kind.");
pub const MISSING_LOCKFILE: Rule =
    Rule::new("missing-lockfile", Category::Dependencies, Severity::Medium)
        .confidence(0.85)
        .suggest("Commit the lockfile so every install resolves the same versions.");
pub const UNDECLARED_DEPENDENCY: Rule = Rule::new(
    "undeclared-dependency",
    Category::Dependencies,
    Severity::Medium,
)
.confidence(0.8)
.suggest("Add the package to dependencies (or devDependencies for tests and tooling).");
pub const VULNERABLE_DEPENDENCY: Rule =
    Rule::new("vulnerable-dependency", Category::Security, Severity::High).confidence(0.9);

/// Lockfiles of the JS package managers: any of them means installs are reproducible.
const JS_LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
];

/// npm's dependency kinds, in the order they are reported.
const NPM_KINDS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

/// Lockfiles larger than this are not read (a real one is rarely over a few MB).
const MAX_LOCKFILE_BYTES: u64 = 64 * 1024 * 1024;

pub struct PackageDetector;

impl Detector for PackageDetector {
    fn name(&self) -> &'static str {
        "package"
    }

    fn description(&self) -> &'static str {
        "package.json and Cargo.toml problems, undeclared imports, and lockfile versions with known (OSV) vulnerabilities"
    }

    fn needs(&self) -> Needs {
        Needs {
            imports: true,
            ..Needs::default()
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        let mut npm_manifests: BTreeMap<String, Option<NpmManifest>> = BTreeMap::new();
        let mut manifest_dirs: BTreeSet<String> = BTreeSet::new();
        for file in project.files {
            let (dir, name) = split_path(&file.path);
            if name != "package.json" && name != "Cargo.toml" {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(project.root.join(&file.path)) else {
                continue;
            };
            manifest_dirs.insert(dir.to_owned());
            if name == "package.json" {
                let manifest = check_package_json(project.root, &file.path, &text, out);
                npm_manifests.insert(dir.to_owned(), manifest);
            } else {
                check_cargo_toml(project.root, &file.path, &text, out);
            }
        }
        check_undeclared(project, &npm_manifests, out);
        if let Some(folder) = project.advisories_dir {
            let index = AdvisoryIndex::load(folder);
            if !index.is_empty() {
                check_vulnerabilities(project, &manifest_dirs, &index, out);
            }
        }
    }
}

/// (`a/b`, `package.json`) from `a/b/package.json`; the folder is `""` at the root.
fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `dir` and every folder above it up to the root (`""`), nearest first.
fn self_and_ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(dir);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current.is_empty() {
            None
        } else {
            Some(current.rsplit_once('/').map_or("", |(parent, _)| parent))
        };
        Some(current)
    })
}

fn report_invalid(
    out: &mut ProjectSink,
    path: &str,
    text: &str,
    line: usize,
    column: usize,
    message: String,
) {
    let lines = LineIndex::new(text);
    let line = u32::try_from(line).unwrap_or(1).max(1);
    let column = u32::try_from(column).unwrap_or(1).max(1);
    let range = TextRange {
        line,
        column,
        end_line: line,
        end_column: column,
    };
    out.report_at(
        &INVALID_MANIFEST,
        path,
        range,
        lines.line_text(text, line),
        message,
    );
}

/// What undeclared-import checks need from a `package.json`.
#[derive(Debug, Clone, Default)]
struct NpmManifest {
    name: Option<String>,
    declared: BTreeSet<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageJson<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(borrow, default)]
    dependencies: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(borrow, default)]
    dev_dependencies: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(borrow, default)]
    peer_dependencies: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(borrow, default)]
    optional_dependencies: Option<BTreeMap<String, &'a RawValue>>,
}

/// Checks one `package.json`; returns what it declares, `None` when it does not parse.
fn check_package_json(
    root: &Path,
    path: &str,
    text: &str,
    out: &mut ProjectSink,
) -> Option<NpmManifest> {
    let manifest: PackageJson<'_> = match serde_json::from_str(text) {
        Ok(manifest) => manifest,
        Err(error) => {
            let message = if error.is_data() {
                format!("package.json has the wrong shape: {error}")
            } else {
                format!("package.json is not valid JSON: {error}")
            };
            report_invalid(out, path, text, error.line(), error.column(), message);
            return None;
        }
    };
    let lines = LineIndex::new(text);
    let kinds = [
        (NPM_KINDS[0], &manifest.dependencies),
        (NPM_KINDS[1], &manifest.dev_dependencies),
        (NPM_KINDS[2], &manifest.peer_dependencies),
        (NPM_KINDS[3], &manifest.optional_dependencies),
    ];
    let mut declared = NpmManifest {
        name: manifest.name.clone(),
        declared: BTreeSet::new(),
    };
    let mut seen_in: BTreeMap<&str, &str> = BTreeMap::new();
    for (kind, entries) in kinds {
        for (name, raw) in entries.iter().flat_map(|entries| entries.iter()) {
            declared.declared.insert(name.clone());
            let value_start = offset_in(text, raw.get());
            let start = text[..value_start]
                .rfind(&format!("\"{name}\""))
                .unwrap_or(value_start);
            let end = value_start + raw.get().len();
            if let Some(first_kind) = seen_in.get(name.as_str()) {
                let expected_pair = *first_kind == "peerDependencies" && kind == "devDependencies"
                    || *first_kind == "devDependencies" && kind == "peerDependencies";
                if !expected_pair {
                    out.report_in_text(
                        &DUPLICATE_DEPENDENCY,
                        path,
                        text,
                        &lines,
                        start,
                        end,
                        format!("'{name}' is listed in both {first_kind} and {kind}"),
                    );
                }
            } else {
                seen_in.insert(name, kind);
            }
            let Ok(spec) = serde_json::from_str::<String>(raw.get()) else {
                continue;
            };
            if let Some((rule, message)) = classify_npm_spec(name, &spec) {
                out.report_in_text(rule, path, text, &lines, start, end, message);
            }
        }
    }

    let installs_something = [
        &manifest.dependencies,
        &manifest.dev_dependencies,
        &manifest.optional_dependencies,
    ]
    .iter()
    .any(|entries| entries.as_ref().is_some_and(|entries| !entries.is_empty()));
    let (dir, _) = split_path(path);
    let locked = self_and_ancestors(dir).any(|folder| {
        JS_LOCKFILES
            .iter()
            .any(|lockfile| root.join(join(folder, lockfile)).is_file())
    });
    if installs_something && !locked {
        let start = NPM_KINDS
            .iter()
            .find_map(|kind| text.find(&format!("\"{kind}\"")))
            .unwrap_or(0);
        let end = start + text[start..].find(':').unwrap_or(0);
        out.report_in_text(
            &MISSING_LOCKFILE,
            path,
            text,
            &lines,
            start,
            end,
            format!("{path} declares dependencies but no lockfile (package-lock.json, yarn.lock, pnpm-lock.yaml, bun.lock) is committed with it"),
        );
    }
    Some(declared)
}

/// The problem with an npm version spec, if any.
fn classify_npm_spec(name: &str, spec: &str) -> Option<(&'static Rule, String)> {
    let spec = spec.trim();
    // `npm:real-name@range` aliases: judge the range.
    if let Some(alias) = spec.strip_prefix("npm:") {
        let range = alias
            .get(1..)
            .and_then(|rest| rest.find('@').map(|at| &alias[at + 2..]))
            .unwrap_or("*");
        return classify_npm_spec(name, range);
    }
    let local = [
        "file:",
        "link:",
        "portal:",
        "workspace:",
        "patch:",
        "catalog:",
    ];
    if local.iter().any(|prefix| spec.starts_with(prefix)) {
        return None;
    }
    let git_prefixes = ["git+", "git:", "github:", "gitlab:", "bitbucket:", "gist:"];
    let is_github_shorthand = {
        let base = spec.split('#').next().unwrap_or(spec);
        let mut parts = base.split('/');
        matches!((parts.next(), parts.next(), parts.next()), (Some(user), Some(repo), None)
            if !user.is_empty() && !repo.is_empty()
                && !user.starts_with('@')
                && user.chars().chain(repo.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    };
    if git_prefixes.iter().any(|prefix| spec.starts_with(prefix)) || is_github_shorthand {
        let pinned = spec.rsplit_once('#').is_some_and(|(_, reference)| {
            reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit())
        });
        return (!pinned).then(|| {
            (
                &GIT_DEPENDENCY,
                format!("'{name}' comes from git ({spec}) without a pinned commit: every install may get different code"),
            )
        });
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Some((
            &URL_DEPENDENCY,
            format!("'{name}' is installed from a URL ({spec}) instead of the registry"),
        ));
    }
    let any_version = spec.is_empty()
        || spec
            .split("||")
            .map(str::trim)
            .any(|part| matches!(part, "*" | "x" | "X" | "" | "latest"));
    if any_version {
        return Some((
            &WILDCARD_VERSION,
            format!("'{name}' accepts any version ('{spec}')"),
        ));
    }
    let is_tag = spec.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && spec
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !spec.starts_with('v');
    if is_tag {
        return Some((
            &WILDCARD_VERSION,
            format!("'{name}' follows the dist-tag '{spec}': whatever is published under it next is installed"),
        ));
    }
    let unbounded = spec
        .split("||")
        .map(str::trim)
        .any(|part| part.contains('>') && !part.contains('<') && !part.contains(" - "));
    if unbounded {
        return Some((
            &UNBOUNDED_RANGE,
            format!("'{name}' accepts every future major version ('{spec}')"),
        ));
    }
    None
}

fn table_of<'t, 'i>(value: &'t Spanned<DeValue<'i>>) -> Option<&'t DeTable<'i>> {
    match value.get_ref() {
        DeValue::Table(table) => Some(table),
        _ => None,
    }
}

/// Cargo's dependency tables, wherever they may appear.
const CARGO_KINDS: [&str; 5] = [
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    "dev_dependencies",
    "build_dependencies",
];

fn check_cargo_toml(root: &Path, path: &str, text: &str, out: &mut ProjectSink) {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(error) => {
            let lines = LineIndex::new(text);
            let (start, end) = error.span().map_or((0, 0), |span| (span.start, span.end));
            let range = TextRange::of_bytes(text, &lines, start, end);
            out.report_at(
                &INVALID_MANIFEST,
                path,
                range,
                lines.line_text(text, range.line),
                format!(
                    "Cargo.toml is not valid TOML: {}",
                    error.message().trim_end()
                ),
            );
            return;
        }
    };
    let lines = LineIndex::new(text);
    let top = document.get_ref();
    let mut tables: Vec<(String, &DeTable<'_>)> = Vec::new();
    for kind in CARGO_KINDS {
        if let Some(table) = top.get(kind).and_then(table_of) {
            tables.push((kind.to_owned(), table));
        }
    }
    if let Some(targets) = top.get("target").and_then(table_of) {
        for (target, spec) in targets.iter() {
            let Some(spec) = table_of(spec) else { continue };
            for kind in CARGO_KINDS {
                if let Some(table) = spec.get(kind).and_then(table_of) {
                    tables.push((format!("target.{}.{kind}", target.get_ref()), table));
                }
            }
        }
    }
    if let Some(table) = top
        .get("workspace")
        .and_then(table_of)
        .and_then(|workspace| workspace.get("dependencies"))
        .and_then(table_of)
    {
        tables.push(("workspace.dependencies".to_owned(), table));
    }

    for (kind, table) in tables {
        for (name, value) in table.iter() {
            let name_span = name.span();
            let name = name.get_ref();
            let (start, end) = (name_span.start, value.span().end.max(name_span.end));
            let string_of = |value: Option<&Spanned<DeValue<'_>>>| match value.map(Spanned::get_ref)
            {
                Some(DeValue::String(text)) => Some(text.to_string()),
                _ => None,
            };
            match value.get_ref() {
                DeValue::String(version) if version.trim() == "*" => {
                    out.report_in_text(
                        &WILDCARD_VERSION,
                        path,
                        text,
                        &lines,
                        start,
                        end,
                        format!("'{name}' in [{kind}] accepts any version (\"*\")"),
                    );
                }
                DeValue::Table(spec) => {
                    let version = string_of(spec.get("version"));
                    let git = string_of(spec.get("git"));
                    let local = spec.contains_key("path")
                        || spec.contains_key("workspace")
                        || spec.contains_key("registry");
                    if let Some(git) = git {
                        if !spec.contains_key("rev") {
                            let tagged = spec.contains_key("tag");
                            let finding = out.report_in_text(
                                &GIT_DEPENDENCY,
                                path,
                                text,
                                &lines,
                                start,
                                end,
                                if tagged {
                                    format!("'{name}' in [{kind}] comes from git ({git}) by tag: a tag can be moved, a rev cannot")
                                } else {
                                    format!("'{name}' in [{kind}] comes from git ({git}) without a rev: every update may get different code")
                                },
                            );
                            if tagged {
                                finding.severity = Severity::Low;
                            }
                        }
                    } else if version.as_deref().map(str::trim) == Some("*")
                        || (version.is_none() && !local)
                    {
                        out.report_in_text(
                            &WILDCARD_VERSION,
                            path,
                            text,
                            &lines,
                            start,
                            end,
                            format!("'{name}' in [{kind}] accepts any version"),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    // A binary's exact dependency versions belong in version control (Cargo's own advice).
    let Some(package) = top.get("package") else {
        return;
    };
    let (dir, _) = split_path(path);
    let has_bin_section = top
        .get("bin")
        .is_some_and(|bins| matches!(bins.get_ref(), DeValue::Array(bins) if !bins.is_empty()));
    let is_binary = has_bin_section
        || root.join(join(dir, "src/main.rs")).is_file()
        || root.join(join(dir, "src/bin")).is_dir();
    let locked =
        self_and_ancestors(dir).any(|folder| root.join(join(folder, "Cargo.lock")).is_file());
    if is_binary && !locked {
        let span = package.span();
        // `package.span()` covers the table's content; the header line is the clearer place.
        let start = text[..span.start.min(text.len())]
            .rfind("[package]")
            .unwrap_or(span.start);
        out.report_in_text(
            &MISSING_LOCKFILE,
            path,
            text,
            &lines,
            start,
            start + "[package]".len().min(text.len() - start),
            format!("{path} builds a binary but no Cargo.lock is committed with it"),
        );
    }
}

/// Node's built-in modules (`node:` prefixed imports are recognised by the prefix).
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
    "test",
];

/// The npm package a bare import specifier names (`lodash/fp` → `lodash`, `@a/b/c` → `@a/b`),
/// or `None` for relative, absolute, built-in, URL and alias-looking specifiers.
fn package_name(specifier: &str) -> Option<&str> {
    let first = specifier.chars().next()?;
    if matches!(first, '.' | '/' | '#' | '~' | '$' | '\\')
        || specifier.contains(':')
        || specifier.starts_with("@/")
        || specifier.contains('!')
    {
        return None;
    }
    let mut parts = specifier.splitn(3, '/');
    let head = parts.next()?;
    let name = if head.starts_with('@') {
        let second = parts.next()?;
        &specifier[..head.len() + 1 + second.len()]
    } else {
        head
    };
    if NODE_BUILTINS.contains(&head) {
        return None;
    }
    let valid = name.chars().all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '@' | '/')
    });
    valid.then_some(name)
}

/// `@types/` package that carries the types of `name` (`@a/b` → `@types/a__b`).
fn types_package(name: &str) -> String {
    match name.strip_prefix('@') {
        Some(scoped) => format!("@types/{}", scoped.replacen('/', "__", 1)),
        None => format!("@types/{name}"),
    }
}

fn check_undeclared(
    project: &ProjectFacts<'_>,
    manifests: &BTreeMap<String, Option<NpmManifest>>,
    out: &mut ProjectSink,
) {
    if manifests.is_empty() {
        return;
    }
    let own_packages: BTreeSet<&str> = manifests
        .values()
        .flatten()
        .filter_map(|manifest| manifest.name.as_deref())
        .collect();
    for file in project.files {
        if !is_checked_source(file) {
            continue;
        }
        let (dir, _) = split_path(&file.path);
        let chain: Vec<(&str, &Option<NpmManifest>)> = self_and_ancestors(dir)
            .filter_map(|folder| manifests.get_key_value(folder))
            .map(|(folder, manifest)| (folder.as_str(), manifest))
            .collect();
        // No manifest, or the nearest does not parse (already reported): nothing to judge by.
        let Some((package_dir, Some(_))) = chain.first() else {
            continue;
        };
        let declared = |name: &str| {
            chain
                .iter()
                .filter_map(|(_, manifest)| manifest.as_ref())
                .any(|manifest| {
                    manifest.declared.contains(name)
                        || manifest.declared.contains(&types_package(name))
                })
        };
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for import in &file.imports {
            let Some(name) = package_name(&import.specifier) else {
                continue;
            };
            if declared(name) || own_packages.contains(name) || reported.contains(name) {
                continue;
            }
            // `baseUrl`-style imports of the package's own folders (`components/Button`).
            let is_folder_alias = [
                join(package_dir, name),
                join(package_dir, &format!("src/{name}")),
            ]
            .iter()
            .any(|candidate| project.root.join(candidate).exists());
            if is_folder_alias {
                continue;
            }
            reported.insert(name);
            let manifest_path = join(package_dir, "package.json");
            out.report_at_import(
                &UNDECLARED_DEPENDENCY,
                &file.path,
                import,
                format!("'{name}' is imported but not declared in {manifest_path}"),
            );
        }
    }
}

/// JS/TS sources, not declaration files (`declare module "x"` names no dependency).
fn is_checked_source(file: &FileFacts) -> bool {
    Language::from_path(Path::new(&file.path)).is_js_family()
        && !file.path.ends_with(".d.ts")
        && !file.path.ends_with(".d.mts")
        && !file.path.ends_with(".d.cts")
}

fn check_vulnerabilities(
    project: &ProjectFacts<'_>,
    manifest_dirs: &BTreeSet<String>,
    index: &AdvisoryIndex,
    out: &mut ProjectSink,
) {
    let mut lockfile_paths: BTreeSet<String> = project
        .files
        .iter()
        .filter(|file| kind_of(&file.path).is_some())
        .map(|file| file.path.clone())
        .collect();
    for dir in manifest_dirs {
        for name in ["package-lock.json", "npm-shrinkwrap.json", "Cargo.lock"] {
            let candidate = join(dir, name);
            if project.root.join(&candidate).is_file() {
                lockfile_paths.insert(candidate);
            }
        }
    }
    for path in lockfile_paths {
        let Some(kind) = kind_of(&path) else { continue };
        let absolute = project.root.join(&path);
        let too_large = std::fs::metadata(&absolute)
            .map(|meta| meta.len() > MAX_LOCKFILE_BYTES)
            .unwrap_or(true);
        if too_large {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&absolute) else {
            continue;
        };
        let packages = match lockfiles::parse(kind, &text) {
            Ok(packages) => packages,
            Err(error) => {
                let what = if kind == LockfileKind::Cargo {
                    "TOML"
                } else {
                    "JSON"
                };
                report_invalid(
                    out,
                    &path,
                    &text,
                    1,
                    1,
                    format!("{path} is not valid {what}: {error}"),
                );
                continue;
            }
        };
        let lines = LineIndex::new(&text);
        for package in packages {
            for (found, severity) in
                index.matches(package.ecosystem, &package.name, &package.version)
            {
                let advisory = found.advisory;
                let aliases = if advisory.aliases.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", advisory.aliases.join(", "))
                };
                let fix = found.fixed.as_deref().map_or_else(
                    || "no fixed version is known".to_owned(),
                    |fixed| format!("fixed in {fixed}"),
                );
                let summary = if advisory.summary.is_empty() {
                    String::new()
                } else {
                    format!(": {}", advisory.summary)
                };
                let finding = out.report_in_text(
                    &VULNERABLE_DEPENDENCY,
                    &path,
                    &text,
                    &lines,
                    package.start,
                    package.end,
                    format!(
                        "{} {} {} is affected by {}{aliases}{summary}; {fix}",
                        package.ecosystem.as_osv(),
                        package.name,
                        package.version,
                        advisory.id,
                    ),
                );
                finding.severity = severity;
                finding.suggestion = Some(match &found.fixed {
                    Some(fixed) => format!("Upgrade {} to {fixed} or later.", package.name),
                    None => format!(
                        "Replace {} or check the advisory for a workaround.",
                        package.name
                    ),
                });
            }
        }
    }
}
