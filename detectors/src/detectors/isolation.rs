//! `isolation`: module-boundary violations between the packages of a workspace (every folder
//! with a `package.json`), on the imports the engine collects from JS/TS files:
//! a relative import that climbs into another package's files, a workspace sibling imported by
//! name without being declared in the importer's `package.json`, and deep imports into a
//! package's internals (a sibling's files outside its `exports`, `internal` or `src` folders
//! of any package, paths through `node_modules`).

use crate::detector::{Detector, FileFacts, ImportRef, Needs, ProjectFacts, ProjectSink, Rule};
use crate::finding::{Category, Severity};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const CROSS_PACKAGE_RELATIVE: Rule =
    Rule::new("cross-package-relative-import", Category::Imports, Severity::High)
        .confidence(0.9)
        .suggest("Declare the other package as a dependency and import it by name, through its public entry point.");
pub const UNDECLARED_SIBLING: Rule =
    Rule::new("undeclared-workspace-dependency", Category::Imports, Severity::Medium)
        .confidence(0.85)
        .suggest("Add the workspace package to this package's dependencies (e.g. \"workspace:*\") so builds and publishing see it.");
pub const DEEP_IMPORT: Rule = Rule::new("deep-import", Category::Imports, Severity::Medium)
    .confidence(0.75)
    .suggest("Import the package's public entry point; its internal files can change or move in any release.");

pub const RULES: &[Rule] = &[CROSS_PACKAGE_RELATIVE, UNDECLARED_SIBLING, DEEP_IMPORT];

pub struct IsolationDetector;

/// One workspace package: its folder (`""` for the root) and what its manifest says.
struct Package {
    dir: String,
    name: Option<String>,
    declared: BTreeSet<String>,
    /// The keys of `exports` when it is an object of subpaths (`"."`, `"./utils"`, `"./*"`).
    exports: Option<Vec<String>>,
    /// A workspace root: `workspaces` in the manifest, or `pnpm-workspace.yaml`/`lerna.json`
    /// beside it.
    is_workspace_root: bool,
}

impl Detector for IsolationDetector {
    fn name(&self) -> &'static str {
        "isolation"
    }

    fn description(&self) -> &'static str {
        "Module boundaries in a workspace: relative imports into other packages, undeclared sibling packages, deep imports into internals"
    }

    fn needs(&self) -> Needs {
        Needs {
            imports: true,
            files: true,
            ..Needs::default()
        }
    }

    fn check_project(&self, project: &ProjectFacts<'_>, out: &mut ProjectSink) {
        let packages = load_packages(project);
        let by_name: BTreeMap<&str, &Package> = packages
            .iter()
            .filter_map(|package| package.name.as_deref().map(|name| (name, package)))
            .collect();
        for file in project.files {
            if file.imports.is_empty() {
                continue;
            }
            let owner = owning_package(&packages, &file.path);
            for import in &file.imports {
                check_import(file, import, owner, &packages, &by_name, out);
            }
        }
    }
}

/// The packages that are boundaries: named, and either top-level or inside workspace roots only.
/// A `package.json` nested in an ordinary package (`vue/jsx-runtime/package.json`, which only
/// points bundlers at a subpath entry) is part of that package, not a package of its own.
fn load_packages(project: &ProjectFacts<'_>) -> Vec<Package> {
    let all = load_manifests(project);
    let boundaries: Vec<bool> = all
        .iter()
        .map(|package| {
            package.name.is_some()
                && all
                    .iter()
                    .filter(|other| other.dir != package.dir && is_inside(&other.dir, &package.dir))
                    .all(|ancestor| ancestor.is_workspace_root)
        })
        .collect();
    all.into_iter()
        .zip(boundaries)
        .filter_map(|(package, keep)| keep.then_some(package))
        .collect()
}

fn load_manifests(project: &ProjectFacts<'_>) -> Vec<Package> {
    let workspace_files: Vec<&str> = project
        .files
        .iter()
        .map(|file| file.path.as_str())
        .filter(|path| path.ends_with("pnpm-workspace.yaml") || path.ends_with("lerna.json"))
        .collect();
    let mut packages = Vec::new();
    for file in project.files {
        let (dir, name) = match file.path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", file.path.as_str()),
        };
        if name != "package.json" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(project.root.join(&file.path)) else {
            continue;
        };
        let Ok(Value::Object(manifest)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut declared = BTreeSet::new();
        for section in [
            "dependencies",
            "devDependencies",
            "peerDependencies",
            "optionalDependencies",
        ] {
            if let Some(Value::Object(deps)) = manifest.get(section) {
                declared.extend(deps.keys().cloned());
            }
        }
        let exports = match manifest.get("exports") {
            Some(Value::Object(map)) if map.keys().all(|key| key.starts_with('.')) => {
                Some(map.keys().cloned().collect())
            }
            // A string or a conditions object: only the root entry is public.
            Some(Value::String(_)) | Some(Value::Object(_)) => Some(vec![".".to_owned()]),
            _ => None,
        };
        packages.push(Package {
            dir: dir.to_owned(),
            name: manifest
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            declared,
            exports,
            is_workspace_root: manifest.contains_key("workspaces")
                || workspace_files
                    .iter()
                    .any(|path| path.rsplit_once('/').map_or("", |(folder, _)| folder) == dir),
        });
    }
    // Deepest first, so the first folder that holds a path is its package.
    packages.sort_by(|a, b| b.dir.len().cmp(&a.dir.len()).then(a.dir.cmp(&b.dir)));
    packages
}

fn is_inside(dir: &str, path: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn owning_package<'p>(packages: &'p [Package], path: &str) -> Option<&'p Package> {
    packages
        .iter()
        .find(|package| is_inside(&package.dir, path))
}

/// `a/b/../c/./d` → `a/c/d`; `None` when it climbs above the root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// `@scope/name/sub/path` → (`@scope/name`, `sub/path`).
fn split_specifier(specifier: &str) -> Option<(&str, &str)> {
    if specifier.starts_with('.') || specifier.starts_with('/') || specifier.contains(':') {
        return None;
    }
    let mut slashes = specifier.match_indices('/').map(|(index, _)| index);
    let name_end = if specifier.starts_with('@') {
        slashes.nth(1)
    } else {
        slashes.next()
    };
    Some(match name_end {
        Some(end) => (&specifier[..end], &specifier[end + 1..]),
        None => (specifier, ""),
    })
}

/// Whether `./subpath` is one of the package's exported subpaths (`*` patterns included).
fn is_exported(exports: &[String], subpath: &str) -> bool {
    let wanted = format!("./{subpath}");
    exports.iter().any(|key| match key.split_once('*') {
        Some((prefix, suffix)) => wanted.starts_with(prefix) && wanted.ends_with(suffix),
        None => {
            key == &wanted
                || key
                    .strip_suffix('/')
                    .is_some_and(|folder| wanted.starts_with(folder))
        }
    })
}

fn is_internal_subpath(subpath: &str) -> bool {
    subpath
        .split('/')
        .any(|segment| segment == "internal" || segment == "internals" || segment == "src")
}

fn check_import(
    file: &FileFacts,
    import: &ImportRef,
    owner: Option<&Package>,
    packages: &[Package],
    by_name: &BTreeMap<&str, &Package>,
    out: &mut ProjectSink,
) {
    let specifier = import.specifier.as_str();
    if specifier.starts_with('.') {
        let dir = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let Some(target) = normalize(&format!("{dir}/{specifier}")) else {
            return;
        };
        let Some(target_owner) = owning_package(packages, &target) else {
            return;
        };
        // The root of a workspace is its shell (build scripts, configs), not a package.
        let Some(owner) = owner.filter(|owner| !owner.dir.is_empty()) else {
            return;
        };
        if owner.dir == target_owner.dir || target_owner.dir.is_empty() {
            return;
        }
        let name = target_owner
            .name
            .clone()
            .unwrap_or_else(|| target_owner.dir.clone());
        out.report_at_import(
            &CROSS_PACKAGE_RELATIVE,
            &file.path,
            import,
            format!("'{specifier}' reaches into the files of workspace package '{name}' by relative path"),
        );
        return;
    }
    if specifier.contains("node_modules/") {
        out.report_at_import(
            &DEEP_IMPORT,
            &file.path,
            import,
            format!("'{specifier}' imports through a node_modules path"),
        );
        return;
    }
    let Some((name, subpath)) = split_specifier(specifier) else {
        return;
    };
    match by_name.get(name) {
        Some(sibling) => {
            let Some(owner) = owner else {
                return;
            };
            if owner.dir == sibling.dir {
                return;
            }
            if !owner.declared.contains(name) && !owner.dir.is_empty() {
                out.report_at_import(
                    &UNDECLARED_SIBLING,
                    &file.path,
                    import,
                    format!("workspace package '{name}' is imported but not declared in {}/package.json", owner.dir),
                );
            }
            if subpath.is_empty() {
                return;
            }
            let outside_exports = sibling
                .exports
                .as_ref()
                .is_some_and(|exports| !is_exported(exports, subpath));
            if outside_exports || is_internal_subpath(subpath) {
                out.report_at_import(
                    &DEEP_IMPORT,
                    &file.path,
                    import,
                    format!("'{specifier}' imports an internal file of workspace package '{name}'"),
                );
            }
        }
        None => {
            if is_internal_subpath(subpath) {
                out.report_at_import(
                    &DEEP_IMPORT,
                    &file.path,
                    import,
                    format!("'{specifier}' imports an internal module of '{name}', outside its public API"),
                )
                .severity = Severity::Low;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn import(specifier: &str) -> ImportRef {
        ImportRef {
            specifier: specifier.to_owned(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 2,
            line_text: format!("import x from '{specifier}';"),
            type_only: false,
            dynamic: false,
        }
    }

    /// A workspace: a root manifest, `packages/ui` (exports `.` and `./button`) and
    /// `packages/app` (depends on `@acme/ui` only).
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        };
        write(
            "package.json",
            r#"{"name":"acme","private":true,"workspaces":["packages/*"]}"#,
        );
        write(
            "packages/ui/package.json",
            r#"{"name":"@acme/ui","exports":{".":"./dist/index.js","./button":"./dist/button.js"}}"#,
        );
        write("packages/core/package.json", r#"{"name":"@acme/core"}"#);
        write(
            "packages/app/package.json",
            r#"{"name":"@acme/app","dependencies":{"@acme/ui":"workspace:*","rxjs":"^7"}}"#,
        );
        dir
    }

    fn run(files: Vec<(&str, Vec<&str>)>) -> Vec<(String, String)> {
        let dir = workspace();
        let mut facts: Vec<FileFacts> = [
            "package.json",
            "packages/app/package.json",
            "packages/core/package.json",
            "packages/ui/package.json",
        ]
        .iter()
        .map(|path| FileFacts {
            path: (*path).to_owned(),
            imports: vec![],
        })
        .collect();
        for (path, imports) in files {
            facts.push(FileFacts {
                path: path.to_owned(),
                imports: imports.into_iter().map(import).collect(),
            });
        }
        let project = ProjectFacts {
            root: Path::new(dir.path()),
            files: &facts,
            advisories_dir: None,
        };
        let mut sink = ProjectSink::new("isolation");
        IsolationDetector.check_project(&project, &mut sink);
        sink.into_parts()
            .0
            .into_iter()
            .map(|located| (located.finding.rule_id, located.finding.message))
            .collect()
    }

    #[test]
    fn a_relative_import_into_another_package_is_reported() {
        let found = run(vec![(
            "packages/app/src/main.ts",
            vec!["../../ui/src/button", "./local"],
        )]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "cross-package-relative-import");
        assert!(found[0].1.contains("'@acme/ui'"), "{}", found[0].1);
    }

    #[test]
    fn an_undeclared_sibling_is_reported_and_a_declared_one_is_not() {
        let found = run(vec![(
            "packages/app/src/main.ts",
            vec!["@acme/core", "@acme/ui"],
        )]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "undeclared-workspace-dependency");
        assert!(found[0].1.contains("'@acme/core'"));
    }

    #[test]
    fn deep_imports_outside_exports_or_into_internals_are_reported() {
        let found = run(vec![(
            "packages/app/src/main.ts",
            vec![
                "@acme/ui/button",
                "@acme/ui/dist/theme",
                "rxjs/internal/Observable",
                "rxjs/operators",
                "lodash/node_modules/x/y",
            ],
        )]);
        let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["deep-import", "deep-import", "deep-import"]);
        assert!(found[0].1.contains("@acme/ui/dist/theme"));
        assert!(found[1].1.contains("rxjs/internal/Observable"));
    }

    #[test]
    fn imports_within_a_package_and_without_a_workspace_are_fine() {
        let found = run(vec![
            (
                "packages/ui/src/index.ts",
                vec!["./button", "../package.json"],
            ),
            ("scripts/build.js", vec!["../packages/ui/package.json"]),
        ]);
        // The root is the workspace's shell, not a package: its scripts may read packages.
        assert!(found.is_empty(), "{found:?}");
        assert!(run(vec![("packages/core/src/a.ts", vec!["./b", "react"])]).is_empty());
    }

    #[test]
    fn a_manifest_nested_in_an_ordinary_package_is_not_a_boundary() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("vue/package.json", r#"{"name":"vue"}"#),
            ("vue/jsx-runtime/package.json", r#"{"main":"index.js"}"#),
            ("chart/package.json", r#"{"name":"chart"}"#),
            (
                "chart/auto/package.json",
                r#"{"name":"chart-auto","private":true}"#,
            ),
        ] {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let mut facts: Vec<FileFacts> = [
            "chart/auto/package.json",
            "chart/package.json",
            "vue/jsx-runtime/package.json",
            "vue/package.json",
        ]
        .iter()
        .map(|path| FileFacts {
            path: (*path).to_owned(),
            imports: vec![],
        })
        .collect();
        facts.push(FileFacts {
            path: "vue/jsx-runtime/index.js".into(),
            imports: vec![import("vue")],
        });
        facts.push(FileFacts {
            path: "chart/auto/auto.js".into(),
            imports: vec![import("../dist/chart.js")],
        });
        let project = ProjectFacts {
            root: dir.path(),
            files: &facts,
            advisories_dir: None,
        };
        let mut sink = ProjectSink::new("isolation");
        IsolationDetector.check_project(&project, &mut sink);
        assert!(sink.into_parts().0.is_empty());
    }

    #[test]
    fn specifiers_split_into_package_and_subpath() {
        assert_eq!(split_specifier("@a/b/c/d"), Some(("@a/b", "c/d")));
        assert_eq!(split_specifier("lodash"), Some(("lodash", "")));
        assert_eq!(split_specifier("node:fs"), None);
        assert_eq!(normalize("a/b/../../../c"), None);
        assert_eq!(normalize("a/./b/../c").as_deref(), Some("a/c"));
    }
}
