//! OSV advisories (<https://ossf.github.io/osv-schema/>): loading a folder of them, comparing
//! versions the way each ecosystem orders them, and deciding whether a version is affected.
//!
//! Version order: npm and crates.io versions are SemVer (the `semver` crate; a leading `v` or
//! `=` is dropped). PyPI versions follow a simplified PEP 440: epoch, release numbers (trailing
//! zeros ignored), pre-release (`a`/`b`/`rc` and their spellings), post- and dev-releases;
//! local versions (`+...`) are ignored. A version that does not parse is matched only against
//! an advisory's explicit `versions` list.

use crate::finding::Severity;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// The package ecosystems whose lockfiles we read, by their OSV names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Npm,
    CratesIo,
    PyPI,
}

impl Ecosystem {
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        // OSV allows a suffix after a colon (`Debian:11`); none of ours use one.
        match name.split(':').next().unwrap_or(name) {
            "npm" => Some(Ecosystem::Npm),
            "crates.io" => Some(Ecosystem::CratesIo),
            "PyPI" => Some(Ecosystem::PyPI),
            _ => None,
        }
    }

    pub fn as_osv(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::PyPI => "PyPI",
        }
    }

    /// The form names are compared in: PyPI names are normalised as in PEP 503.
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::Npm | Ecosystem::CratesIo => name.to_owned(),
            Ecosystem::PyPI => {
                let lower = name.trim().to_ascii_lowercase();
                let mut normalized = String::with_capacity(lower.len());
                for c in lower.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        if !normalized.ends_with('-') {
                            normalized.push('-');
                        }
                    } else {
                        normalized.push(c);
                    }
                }
                normalized
            }
        }
    }

    /// Compares two versions of this ecosystem; `None` when either does not parse.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Ecosystem::Npm | Ecosystem::CratesIo => Some(parse_semver(a)?.cmp(&parse_semver(b)?)),
            Ecosystem::PyPI => Some(PyVersion::parse(a)?.cmp(&PyVersion::parse(b)?)),
        }
    }
}

fn parse_semver(version: &str) -> Option<semver::Version> {
    let trimmed = version
        .trim()
        .trim_start_matches('=')
        .trim_start_matches('v');
    semver::Version::parse(trimmed).ok()
}

/// A PEP 440 version, reduced to what ordering needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyVersion {
    epoch: u64,
    /// Without trailing zeros, so `1.0` equals `1`.
    release: Vec<u64>,
    /// (0 = alpha, 1 = beta, 2 = rc, number)
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl PyVersion {
    pub fn parse(version: &str) -> Option<PyVersion> {
        static PATTERN: OnceLock<Regex> = OnceLock::new();
        let pattern = PATTERN.get_or_init(|| {
            Regex::new(
                r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?(?P<post>-(?P<post_n1>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>\d+)?)?(?P<dev>[-_.]?dev[-_.]?(?P<dev_n>\d+)?)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$",
            )
            .expect("the PEP 440 pattern compiles")
        });
        let lower = version.trim().to_ascii_lowercase();
        let captures = pattern.captures(&lower)?;
        let number = |name: &str| -> Option<u64> { captures.name(name)?.as_str().parse().ok() };
        let mut release: Vec<u64> = captures["release"]
            .split('.')
            .map(|part| part.parse().ok())
            .collect::<Option<_>>()?;
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = captures.name("pre_l").map(|label| {
            let phase = match label.as_str() {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2,
            };
            (phase, number("pre_n").unwrap_or(0))
        });
        let post = captures
            .name("post")
            .map(|_| number("post_n1").or_else(|| number("post_n2")).unwrap_or(0));
        let dev = captures.name("dev").map(|_| number("dev_n").unwrap_or(0));
        Some(PyVersion {
            epoch: number("epoch").unwrap_or(0),
            release,
            pre,
            post,
            dev,
        })
    }

    /// The ordering key of PEP 440: a dev release of a final version sorts before its
    /// pre-releases, pre-releases before the final, post-releases after it.
    fn key(&self) -> (u64, &[u64], [(i8, u64); 3]) {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, 0),
            (None, _, _) => (3, 0),
            (Some((phase, number)), _, _) => (phase as i8, number),
        };
        let post = self.post.map_or((-1, 0), |number| (0, number));
        let dev = self.dev.map_or((1, 0), |number| (0, number));
        (self.epoch, &self.release, [pre, post, dev])
    }
}

impl Ord for PyVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for PyVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One OSV record, with the fields matching needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    pub package: AffectedPackage,
    #[serde(default)]
    pub ranges: Vec<AffectedRange>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AffectedRange {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

/// Why a version is affected: the advisory and, when known, the first fixed version above it.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub advisory: &'a Advisory,
    pub fixed: Option<String>,
}

impl Advisory {
    /// From `database_specific.severity` (GHSA style, on the record or the matching package),
    /// else from a CVSS v3 vector, else HIGH: a known vulnerability with no rating is treated
    /// as serious until someone rates it.
    pub fn severity(&self, affected: Option<&Affected>) -> Severity {
        let named = affected
            .and_then(|affected| affected.database_specific.as_ref())
            .into_iter()
            .chain(self.database_specific.as_ref())
            .filter_map(|specific| specific["severity"].as_str())
            .find_map(|name| match name.to_ascii_uppercase().as_str() {
                "CRITICAL" => Some(Severity::Critical),
                "HIGH" => Some(Severity::High),
                "MODERATE" | "MEDIUM" => Some(Severity::Medium),
                "LOW" => Some(Severity::Low),
                _ => None,
            });
        if let Some(severity) = named {
            return severity;
        }
        self.severity
            .iter()
            .filter(|score| score.kind.starts_with("CVSS_V3"))
            .find_map(|score| cvss3_base_score(&score.score))
            .map_or(Severity::High, crate::detectors::sarif::severity_from_score)
    }
}

/// The base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/...`), as the specification
/// computes it; `None` for anything else.
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    let mut metrics: HashMap<&str, &str> = HashMap::new();
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    for part in parts {
        let (key, value) = part.split_once(':')?;
        metrics.insert(key, value);
    }
    let changed = match *metrics.get("S")? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let attack_vector = match *metrics.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let complexity = match *metrics.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let privileges = match (*metrics.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let interaction = match *metrics.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let impact_of = |key: &str| -> Option<f64> {
        match *metrics.get(key)? {
            "H" => Some(0.56),
            "L" => Some(0.22),
            "N" => Some(0.0),
            _ => None,
        }
    };
    let (c, i, a) = (impact_of("C")?, impact_of("I")?, impact_of("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
    } else {
        6.42 * iss
    };
    if impact <= 0.0 {
        return Some(0.0);
    }
    let exploitability = 8.22 * attack_vector * complexity * privileges * interaction;
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(round_up(raw))
}

/// CVSS v3.1's Roundup: the smallest one-decimal number not below the input.
fn round_up(value: f64) -> f64 {
    let scaled = (value * 100_000.0).round() as i64;
    if scaled % 10_000 == 0 {
        scaled as f64 / 100_000.0
    } else {
        ((scaled / 10_000) + 1) as f64 / 10.0
    }
}

/// Whether `version` is affected according to one `affected` entry, and the fix above it.
pub fn affects(ecosystem: Ecosystem, affected: &Affected, version: &str) -> Option<Option<String>> {
    let listed = affected.versions.iter().any(|listed| {
        listed == version || ecosystem.compare(listed, version) == Some(Ordering::Equal)
    });
    let mut fixed_above: Option<String> = None;
    let mut in_range = false;
    for range in &affected.ranges {
        if !matches!(range.kind.as_str(), "SEMVER" | "ECOSYSTEM") {
            continue;
        }
        if let Some(fixed) = range_affects(ecosystem, range, version) {
            in_range = true;
            if fixed_above.is_none() {
                fixed_above = fixed;
            }
        }
    }
    (listed || in_range).then_some(fixed_above)
}

/// The OSV evaluation of one range: events sorted by version (`introduced: "0"` first), then
/// each event at or below the version switches "affected" on (introduced) or off (fixed;
/// last_affected only once the version is above it). Returns the first fix above the version
/// when affected. `None` when not affected or when versions do not parse.
fn range_affects(
    ecosystem: Ecosystem,
    range: &AffectedRange,
    version: &str,
) -> Option<Option<String>> {
    ecosystem.compare(version, version)?;
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Introduced,
        LastAffected,
        Fixed,
    }
    let mut events: Vec<(Kind, &str)> = range
        .events
        .iter()
        .flat_map(|event| {
            [
                event.introduced.as_deref().map(|v| (Kind::Introduced, v)),
                event
                    .last_affected
                    .as_deref()
                    .map(|v| (Kind::LastAffected, v)),
                event.fixed.as_deref().map(|v| (Kind::Fixed, v)),
            ]
        })
        .flatten()
        // An event version that does not parse cannot be placed; "0" always can.
        .filter(|(_, v)| *v == "0" || ecosystem.compare(v, v).is_some())
        .collect();
    let order = |a: &str, b: &str| match (a, b) {
        ("0", "0") => Ordering::Equal,
        ("0", _) => Ordering::Less,
        (_, "0") => Ordering::Greater,
        _ => ecosystem.compare(a, b).unwrap_or(Ordering::Equal),
    };
    events.sort_by(|(kind_a, a), (kind_b, b)| order(a, b).then(kind_a.cmp(kind_b)));
    let mut affected = false;
    for (kind, event_version) in &events {
        let relation = order(version, event_version);
        match kind {
            Kind::Introduced if relation != Ordering::Less => affected = true,
            Kind::Fixed if relation != Ordering::Less => affected = false,
            Kind::LastAffected if relation == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    if !affected {
        return None;
    }
    let fix = events
        .iter()
        .filter(|(kind, fixed)| *kind == Kind::Fixed && order(fixed, version) == Ordering::Greater)
        .map(|(_, fixed)| (*fixed).to_owned())
        .next();
    Some(fix)
}

/// Every advisory of a folder, indexed by ecosystem and package name.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    by_package: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
}

impl AdvisoryIndex {
    /// Reads every `*.json` file under `folder` (recursively): one OSV record or an array of
    /// them per file. Files that are not OSV records, and withdrawn records, are left out.
    pub fn load(folder: &Path) -> AdvisoryIndex {
        let mut files = Vec::new();
        collect_json_files(folder, &mut files, 0);
        files.sort();
        let mut index = AdvisoryIndex::default();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let records = match value {
                Value::Array(records) => records,
                record => vec![record],
            };
            for record in records {
                if let Ok(advisory) = serde_json::from_value::<Advisory>(record) {
                    index.add(advisory);
                }
            }
        }
        index
    }

    pub fn add(&mut self, advisory: Advisory) {
        if advisory.withdrawn.is_some() {
            return;
        }
        let position = self.advisories.len();
        for (affected_index, affected) in advisory.affected.iter().enumerate() {
            let Some(ecosystem) = Ecosystem::from_osv(&affected.package.ecosystem) else {
                continue;
            };
            self.by_package
                .entry((ecosystem, ecosystem.normalize_name(&affected.package.name)))
                .or_default()
                .push((position, affected_index));
        }
        self.advisories.push(advisory);
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The advisories affecting `name@version`, each once, with its severity for that package.
    pub fn matches(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Vec<(Match<'_>, Severity)> {
        let key = (ecosystem, ecosystem.normalize_name(name));
        let mut found: Vec<(Match<'_>, Severity)> = Vec::new();
        for &(advisory_index, affected_index) in self.by_package.get(&key).into_iter().flatten() {
            let advisory = &self.advisories[advisory_index];
            let affected = &advisory.affected[affected_index];
            if found.iter().any(|(m, _)| m.advisory.id == advisory.id) {
                continue;
            }
            if let Some(fixed) = affects(ecosystem, affected, version) {
                let severity = advisory.severity(Some(affected));
                found.push((Match { advisory, fixed }, severity));
            }
        }
        found
    }
}

fn collect_json_files(folder: &Path, files: &mut Vec<std::path::PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            collect_json_files(&path, files, depth + 1);
        } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
}
