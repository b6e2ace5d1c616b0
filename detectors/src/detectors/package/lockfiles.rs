//! The exact versions a lockfile pins: `package-lock.json`/`npm-shrinkwrap.json` (v1 nested
//! `dependencies`, v2/v3 `packages`), `Cargo.lock` (registry packages only: path and git
//! sources have no advisories by version) and pip requirements files (`name==version` pins).

use super::osv::Ecosystem;
use regex::Regex;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use toml::de::{DeTable, DeValue};

/// One pinned package and where the lockfile says so (byte range of the entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockfileKind {
    Npm,
    Cargo,
    Requirements,
}

/// The kind of lockfile a path names, from its file name.
pub fn kind_of(path: &str) -> Option<LockfileKind> {
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let lower = name.to_ascii_lowercase();
    match name {
        "package-lock.json" | "npm-shrinkwrap.json" => Some(LockfileKind::Npm),
        "Cargo.lock" => Some(LockfileKind::Cargo),
        _ if lower.ends_with(".txt")
            && (lower.starts_with("requirements")
                || lower.starts_with("constraints")
                || folder.rsplit('/').next() == Some("requirements")) =>
        {
            Some(LockfileKind::Requirements)
        }
        _ => None,
    }
}

/// The packages `text` pins, or why it cannot be read.
pub fn parse(kind: LockfileKind, text: &str) -> Result<Vec<LockedPackage>, String> {
    match kind {
        LockfileKind::Npm => parse_npm(text),
        LockfileKind::Cargo => parse_cargo(text),
        LockfileKind::Requirements => Ok(parse_requirements(text)),
    }
}

/// The byte offset of `part` inside `text` (`part` borrowed from `text`).
pub(super) fn offset_in(text: &str, part: &str) -> usize {
    (part.as_ptr() as usize)
        .saturating_sub(text.as_ptr() as usize)
        .min(text.len())
}

#[derive(Deserialize)]
struct NpmLock<'a> {
    #[serde(borrow, default)]
    packages: Option<BTreeMap<String, &'a RawValue>>,
    #[serde(borrow, default)]
    dependencies: Option<BTreeMap<String, &'a RawValue>>,
}

fn parse_npm(text: &str) -> Result<Vec<LockedPackage>, String> {
    let lock: NpmLock<'_> = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let mut found = Vec::new();
    if let Some(packages) = lock.packages {
        for (key, raw) in packages {
            // "" is the project itself; keys without node_modules are workspace folders.
            let Some(installed_as) = key
                .rsplit("node_modules/")
                .next()
                .filter(|_| key.contains("node_modules/"))
            else {
                continue;
            };
            let Ok(entry) = serde_json::from_str::<Value>(raw.get()) else {
                continue;
            };
            if entry["link"].as_bool() == Some(true) {
                continue;
            }
            let Some(version) = entry["version"].as_str() else {
                continue;
            };
            // An alias (`"x": "npm:real@1"`) is installed as x but is the package `name`.
            let name = entry["name"].as_str().unwrap_or(installed_as);
            let value_start = offset_in(text, raw.get());
            let start = text[..value_start]
                .rfind(&format!("\"{key}\""))
                .unwrap_or(value_start);
            found.push(LockedPackage {
                ecosystem: Ecosystem::Npm,
                name: name.to_owned(),
                version: version.to_owned(),
                start,
                end: start + key.len() + 2,
            });
        }
    } else if let Some(dependencies) = lock.dependencies {
        collect_v1(text, dependencies, &mut found, 0);
    }
    Ok(found)
}

/// lockfileVersion 1: `dependencies` nested under the packages that need another version.
fn collect_v1(
    text: &str,
    dependencies: BTreeMap<String, &RawValue>,
    found: &mut Vec<LockedPackage>,
    depth: usize,
) {
    #[derive(Deserialize)]
    struct Entry<'a> {
        version: Option<String>,
        #[serde(default)]
        bundled: bool,
        #[serde(borrow, default)]
        dependencies: Option<BTreeMap<String, &'a RawValue>>,
    }
    if depth > 64 {
        return;
    }
    for (name, raw) in dependencies {
        let Ok(entry) = serde_json::from_str::<Entry<'_>>(raw.get()) else {
            continue;
        };
        let value_start = offset_in(text, raw.get());
        let start = text[..value_start]
            .rfind(&format!("\"{name}\""))
            .unwrap_or(value_start);
        if let Some(version) = entry.version.filter(|version| !version.contains(':')) {
            if !entry.bundled {
                found.push(LockedPackage {
                    ecosystem: Ecosystem::Npm,
                    name: name.clone(),
                    version,
                    start,
                    end: start + name.len() + 2,
                });
            }
        }
        if let Some(nested) = entry.dependencies {
            collect_v1(text, nested, found, depth + 1);
        }
    }
}

fn parse_cargo(text: &str) -> Result<Vec<LockedPackage>, String> {
    let document = DeTable::parse(text).map_err(|error| error.message().to_owned())?;
    let mut found = Vec::new();
    let Some(packages) = document.get_ref().get("package") else {
        return Ok(found);
    };
    let DeValue::Array(packages) = packages.get_ref() else {
        return Ok(found);
    };
    for package in packages.iter() {
        let DeValue::Table(table) = package.get_ref() else {
            continue;
        };
        let field = |key: &str| {
            table.get(key).and_then(|value| match value.get_ref() {
                DeValue::String(text) => Some((text.to_string(), value.span())),
                _ => None,
            })
        };
        let (Some((name, name_span)), Some((version, version_span))) =
            (field("name"), field("version"))
        else {
            continue;
        };
        let from_registry = field("source").is_some_and(|(source, _)| {
            source.starts_with("registry+") || source.starts_with("sparse+")
        });
        if !from_registry {
            continue;
        }
        found.push(LockedPackage {
            ecosystem: Ecosystem::CratesIo,
            name,
            version,
            start: name_span.start,
            end: version_span.end.max(name_span.end),
        });
    }
    Ok(found)
}

/// `name==version` and `name[extras]==version` pins; ranges, URLs, options and includes are
/// not exact versions and are left out.
fn parse_requirements(text: &str) -> Vec<LockedPackage> {
    static PIN: OnceLock<Regex> = OnceLock::new();
    let pin = PIN.get_or_init(|| {
        Regex::new(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([A-Za-z0-9][A-Za-z0-9.!+_-]*)\s*(?:$|[;#\\]|--)")
            .expect("the requirement pattern compiles")
    });
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(captures) = pin.captures(content) {
            let name = captures.get(1).expect("group 1");
            let version = captures.get(2).expect("group 2");
            found.push(LockedPackage {
                ecosystem: Ecosystem::PyPI,
                name: name.as_str().to_owned(),
                version: version.as_str().to_owned(),
                start: offset + name.start(),
                end: offset + version.end(),
            });
        }
        offset += line.len();
    }
    found
}
